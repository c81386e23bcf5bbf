// The float32 column path of crossEntropyIndex (NCHW, (N, C, L), `dim`, and short rows regrouped
// into columns) has two kernels: indexColumns, which serves every option, and indexColumnsLean,
// which takes its common case (no smoothing, z-loss or lse out, the fast exp, weights in range)
// with the per-position values in registers. The lean one is written to do the same operations in
// the same order, so it must give the same bits: this runs the shipped kernel (through the
// test-only build, assembly/testing.ts) with the lean kernel allowed and not, on cases that
// reach every branch of it: 2 to 40 classes (selects up to 8, gathers above), weights, ignored
// positions, a per-position gradOutput (with -0, 0 and large values), the per-position loss,
// forward only, scalar tails, and logits with -inf, +inf, NaN, huge and subnormal values.
// Except where an exp lands in float32's subnormal band (x_c - max in [-104, -87.34)): since
// 2026-12-03 indexColumns always takes the exact exp, which keeps it (simd.ts), where the lean
// kernel's flushing exp gives 0; those positions may differ, and only those.
import { IndexCall, loadTesting } from './helpers/testing-wasm';
import { rng } from './helpers/random';

const RELAXED = process.env.WASM_XENT_BUILD === 'relaxed';
const mod = loadTesting(RELAXED ? 'relaxed' : 'simd');

/** Logits: mostly normal, with a sprinkling of the values that exercise the edge handling. */
function logits(r: () => number, n: number, hostile: boolean): Float32Array {
  const x = new Float32Array(n);
  const specials = [-Infinity, Infinity, NaN, 3e38, -3e38, 1e-40, -1e-45, 0, -0, 88, -104];
  for (let i = 0; i < n; i++) {
    x[i] = hostile && r() < 0.03 ? specials[Math.floor(r() * specials.length)] : (r() - 0.5) * (r() < 0.1 ? 60 : 6);
  }
  return x;
}

function makeCall(seed: number): IndexCall & { what: string } {
  const r = rng(seed);
  const C = [2, 3, 4, 5, 7, 8, 9, 10, 16, 21, 40][seed % 11];
  const inner = [8, 16, 24, 40, 64, 13, 27][Math.floor(r() * 7)];
  const outer = 1 + Math.floor(r() * 3);
  const positions = outer * inner;
  const hostile = seed % 3 === 0;
  const ignoredShare = [0, 0.1, 0.9, 1][Math.floor(r() * 4)];
  const t = new Int32Array(positions);
  for (let p = 0; p < positions; p++) t[p] = r() < ignoredShare ? -1 : Math.floor(r() * C);
  // weights stay within (0, 1] or are 0, and |gradOutput| <= 1, so that the fast exp serves and the
  // lean kernel applies (a weight or gradOutput above 1 takes the exact exp, in both runs alike)
  const weight = r() < 0.5 ? null : Float32Array.from({ length: C }, () => (r() < 0.15 ? 0 : Math.fround(0.01 + r())) / 1.01);
  let gradPerPosition: Float32Array | null = null;
  if (r() < 0.4) {
    gradPerPosition = Float32Array.from({ length: positions }, () => {
      const u = r();
      return u < 0.05 ? -0 : u < 0.1 ? 0 : u < 0.15 ? 1 : (r() - 0.5) * 2;
    });
  }
  const scale = gradPerPosition ? 0 : [1, 1 / positions, -0, 0.37][Math.floor(r() * 4)];
  const loss = r() < 0.5;
  const grad = r() < 0.85;
  const x = logits(r, outer * C * inner, hostile);
  const what = `seed ${seed}: (${outer}, ${C}, ${inner})${weight ? ' weight' : ''} ignored ${ignoredShare}${gradPerPosition ? ' per-position gradOutput' : ` scale ${scale}`}${loss ? ' loss out' : ''}${grad ? '' : ' forward only'}${hostile ? ' hostile logits' : ''}`;
  return { what, x, t, weight, outer, C, inner, eps: 0, loss, grad, scale, gradPerPosition };
}

/** The positions with an exp in float32's subnormal band: some x_c - max, rounded to float32, in
 *  [-104, -87.34) (simd.ts's exp floor, and where exp(x) falls below the smallest normal number). */
function subnormalBand(call: IndexCall): Set<number> {
  const band = new Set<number>();
  for (let o = 0; o < call.outer; o++) {
    for (let i = 0; i < call.inner; i++) {
      const at = (c: number) => (o * call.C + c) * call.inner + i;
      let m = -Infinity;
      for (let c = 0; c < call.C; c++) if (call.x[at(c)] > m) m = call.x[at(c)];
      for (let c = 0; c < call.C; c++) {
        const d = Math.fround(call.x[at(c)] - m);
        if (d >= -104 && d < -87.34) band.add(o * call.inner + i);
      }
    }
  }
  return band;
}

/** Indices where a and b differ as values (-0 and +0 differ, NaN equals NaN). */
function differences(a: Float32Array, b: Float32Array): number[] {
  const at: number[] = [];
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) at.push(i);
  return at;
}

describe('float32 column path: the lean kernel gives indexColumns\' bits', () => {
  const seeds = Array.from({ length: 330 }, (_, i) => i + 1);
  test.each(seeds)('seed %i', (seed) => {
    const call = makeCall(seed);
    const lean = mod.crossEntropyIndexF32(call, true);
    const generic = mod.crossEntropyIndexF32(call, false);
    const band = subnormalBand(call);
    const position = (k: number) => Math.floor(k / (call.C * call.inner)) * call.inner + (k % call.inner);
    if (band.size === 0) expect([call.what, lean.total]).toEqual([call.what, generic.total]);
    if (call.loss) expect([call.what, differences(lean.loss!, generic.loss!).filter((p) => !band.has(p))]).toEqual([call.what, []]);
    if (call.grad) expect([call.what, differences(lean.grad!, generic.grad!).filter((k) => !band.has(position(k)))]).toEqual([call.what, []]);
  });

  test('the cases reach the lean kernel\'s branches', () => {
    // (guards the generator: a change that moved every case off the lean path would leave the
    // comparison above passing without comparing anything new)
    const calls = seeds.map(makeCall);
    const leanDomain = calls.filter((c) => c.inner >= 8);
    expect(leanDomain.filter((c) => c.C > 8 && c.weight && c.grad).length).toBeGreaterThan(10);
    expect(leanDomain.filter((c) => c.C <= 8 && c.weight && c.grad).length).toBeGreaterThan(10);
    expect(leanDomain.filter((c) => c.gradPerPosition && c.grad).length).toBeGreaterThan(10);
    expect(leanDomain.filter((c) => c.t.some((t) => t < 0) && c.grad).length).toBeGreaterThan(10);
    expect(leanDomain.filter((c) => !c.grad).length).toBeGreaterThan(10);
    expect(leanDomain.filter((c) => c.inner % 8 !== 0).length).toBeGreaterThan(10);
    // and most compare every position (no exp in the subnormal band)
    expect(calls.filter((c) => subnormalBand(c).size === 0).length).toBeGreaterThan(250);
  });
});
