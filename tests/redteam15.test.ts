// Red team 15: the float32 lanes of indexColumns' per-position step (indexStepLanes, chosen per
// kernel call by indexStepFits), logSumsV / log32V, attacked from outside. Oracles: an independent
// float64 reference written here (refPosition; BCE and klDiv by their PyTorch formulas with
// Math.log1p, evaluated in float64 on the float32 inputs, then compared in float32 ulps), and the
// library's other layouts / thread counts for bit-identity.
//
// FINDINGS (describe 'FINDINGS'; SIMD and relaxed builds fail, the scalar build passes):
//  F1 indexStepLanes rounds the smoothing term's shift sum_c w_c (x_c - m) (formed in f64) to f32
//     before multiplying by eps / C: indexStepFits bounds weights and eps / C but not the logits, so
//     the shift overflows though the loss is an ordinary number. 9 rows [0, -1e30, -1e30], target
//     0, weight Float32Array [2^38, 2^38, 2^38] (inside 2^-40..2^40, sum 3 * 2^38 too),
//     labelSmoothing 3 * 2^-40 (eps / C = 2^-40), 'none': expected 5e29 per row (float64: 2^-40 *
//     2 * 2^38 * 1e30; the scalar build and row 8, the f64 tail, give 5.0000001e29), got Infinity
//     for rows 0-7. 'sum': expected 4.5000001e30, got Infinity. (The wide step kept the shift in f64.)
//  F2 The per-position loss w_t (logS - (x_t - m)) is formed in f32 lanes and overflows before the
//     float64 'sum': 9 rows [1e30, 0, 0], target 1, weight [2^38] x 3, 'sum': expected
//     2.4739012e42 (float64; scalar build 2.4739011997219442e42), got Infinity. ('mean' is right:
//     1.0000000150e30.) Low severity: the value is beyond float32's range, but the result is a
//     float64 number and depends on the build / on the row's place (tail rows are f64).
//  F3 Layout and batch dependence: indexStepFits runs per kernel call, i.e. per stream chunk, and
//     [N, C] rows and [C, N] dim 0 are cut into chunks at different positions (43690 vs 43688 rows
//     for C = 3), so one per-position gradOutput above 2^40 switches a different set of positions
//     to the f64 step. [200000, 3] random logits, weight [0.3, 0.7, 1.9], 'none', gradOutput 0.5..1.5
//     with gradOutput[43688] = 2^41: [N, C] and [C, N] dim 0 differ in 51597 gradient entries and
//     23727 losses (1-2 ulps each), expected bit-identical ([C, N] dim 0 and [1, C, N] are). The
//     same mechanism makes a row's bits depend on another row's gradOutput in the same chunk.
//  F4 binaryCrossEntropy (probabilities) gradient on the SIMD builds with a weight and subnormal x:
//     x = 3 * 2^-149, y = 0, weight 2.5: expected 1.0509739e-32 (torch 1.13 f32 and f64; scalar
//     build 1.0509739e-32), got 1.1210388e-32 (+6.7%): w (x - y) = 1.05e-44 is rounded to the
//     subnormal 8 * 2^-149 before the division by max((1 - x) x, 1e-12); PyTorch divides first.
//
// OBSERVATION (no test, every build): C = 1 with weight 2^39 and gradOutput 3e38 gives a +Infinity
// gradient; torch f32 gives NaN (-inf + inf), torch f64 0.
//
// HELD (the `held:` tests): values at and just past the indexStepFits boundaries (weights, weight
// sums, per-position and scalar gradOutput, 'mean' scales, eps / C) within a few f32 ulps of float64;
// gradOutput 16 / 1e3 / 1e30 / 3e38; [N, C] / [C, N] dim 0 / [1, C, N] bit-identical when chunks
// coincide; setThreads(2) bit-identical to 1 thread on a 5-chunk call with one chunk on the f64 step;
// empty dims and C = 1; binaryCrossEntropy on probabilities at 0, 1, subnormals, 1 - 2^-24 (log
// clamped at -100; unweighted gradient too); klDiv with subnormal targets. Not attacked for lack of
// time: hostile option getters / Proxy arrays / overlapping out buffers, wasmArray growth mid-call.
import * as X from '../src';

import { ulp32 } from './helpers/same';
import { maxAbsDiff } from './runtimes/reference';
import * as Ref from './reference';

beforeAll(() => X.init());

const f = Math.fround;
const MIN_NORMAL = 1.1754943508222875e-38;
type Num = number;

/** |got - ref| in f32 ulps of max(|scale|, |ref|); 0 when equal / both NaN; Infinity on a finite mismatch with a non-finite. */
function ulps(got: Num, ref: Num, scale = 0): Num {
  if (Object.is(got, ref) || (Number.isNaN(got) && Number.isNaN(ref))) return 0;
  if (!Number.isFinite(got) || !Number.isFinite(ref)) {
    if (Number.isFinite(ref) && Math.abs(f(ref)) === Infinity && got === Math.sign(ref) * Infinity) return 0;
    return Infinity;
  }
  return Math.abs(got - ref) / ulp32(Math.max(Math.abs(scale), Math.abs(ref)));
}

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

/** One position of class-index CE in float64 (log S as log1p of the non-max exps). */
function refPosition(x: ArrayLike<Num>, t: Num, w: ArrayLike<Num> | undefined, eps: Num, k: Num) {
  const C = x.length;
  const wc = (c: Num) => (w ? w[c] : 1);
  let m = -Infinity, cm = -1;
  for (let c = 0; c < C; c++) if (x[c] > m) { m = x[c]; cm = c; }
  let rest = 0;
  for (let c = 0; c < C; c++) if (c !== cm) rest += Math.exp(x[c] - m);
  const logS = Math.log1p(rest), S = 1 + rest;
  let W = 0, Wabs = 0;
  for (let c = 0; c < C; c++) { W += wc(c); Wabs += Math.abs(wc(c)); }
  let shift = 0;
  for (let c = 0; c < C; c++) shift += wc(c) * (x[c] - m);
  const nll = wc(t) * (logS - (x[t] - m));
  const loss = eps ? (1 - eps) * nll + (eps / C) * (W * logS - shift) : nll;
  const grad = new Float64Array(C);
  for (let j = 0; j < C; j++) {
    const s = (j === cm ? 1 : Math.exp(x[j] - m)) / S;
    grad[j] = k * (s * ((1 - eps) * wc(t) + (eps / C) * W) - (j === t ? (1 - eps) * wc(t) : 0) - (eps / C) * wc(j));
  }
  const scale = (1 - eps) * Math.abs(wc(t)) + (eps / C) * Wabs;
  return { loss, grad, lossScale: scale, gradScale: Math.abs(k) * scale };
}

function randomRows(N: number, C: number, seed: number, spread = 6) {
  const r = lcg(seed);
  const x = new Float32Array(N * C);
  for (let i = 0; i < x.length; i++) x[i] = f((r() - 0.5) * spread);
  const t = Int32Array.from({ length: N }, () => Math.floor(r() * C));
  return { x, t };
}

function transpose(x: Float32Array, N: number, C: number) {
  const y = new Float32Array(N * C);
  for (let i = 0; i < N; i++) for (let c = 0; c < C; c++) y[c * N + i] = x[i * C + c];
  return y;
}

describe('FINDINGS (fixed in the commit after this merge; each failed before it)', () => {
  const N = 9;
  const w38 = new Float32Array([2 ** 38, 2 ** 38, 2 ** 38]);
  test('F1 smoothing shift rounded to f32: weight 2^38, rows [0, -1e30, -1e30], eps/C = 2^-40 give Infinity, expected 5e29', () => {
    const x = new Float32Array(N * 3);
    for (let i = 0; i < N; i++) x.set([0, -1e30, -1e30], i * 3);
    const t = new Array(N).fill(0);
    const eps = 3 * 2 ** -40;
    const ref = refPosition([0, f(-1e30), f(-1e30)], 0, w38, eps, 1).loss; // 5.0000001e29
    const none = X.crossEntropy({ data: x, shape: [N, 3] }, t, { weight: w38, labelSmoothing: eps, reduction: 'none' });
    expect(Array.from(none.loss as Float32Array, (v) => ulps(v, ref) <= 2)).toEqual(new Array(N).fill(true));
    const sum = X.crossEntropy({ data: x, shape: [N, 3] }, t, { weight: w38, labelSmoothing: eps, reduction: 'sum' });
    expect(ulps(f(sum.loss as number), N * ref)).toBeLessThanOrEqual(2);
  });

  test("F2 per-position loss formed in f32 lanes: weight 2^38, rows [1e30, 0, 0], target 1, 'sum' gives Infinity, expected 2.4739e42", () => {
    const x = new Float32Array(N * 3);
    for (let i = 0; i < N; i++) x.set([1e30, 0, 0], i * 3);
    const ref = N * refPosition([f(1e30), 0, 0], 1, w38, 0, 1).loss;
    const got = X.crossEntropy({ data: x, shape: [N, 3] }, new Array(N).fill(1), { weight: w38, reduction: 'sum' }).loss as number;
    expect(Math.abs(got - ref) / ref).toBeLessThan(1e-6);
  });

  test('F3 [N, C] vs [C, N] dim 0 not bit-identical when one gradOutput > 2^40 lands in different chunks', () => {
    const N2 = 200000, C = 3;
    const { x, t } = randomRows(N2, C, 99, 8);
    const xT = transpose(x, N2, C);
    const r = lcg(7);
    const g = new Float32Array(N2);
    for (let i = 0; i < N2; i++) g[i] = f(0.5 + r());
    g[43688] = 2 ** 41;
    const weight = new Float32Array([0.3, 0.7, 1.9]);
    const a = X.crossEntropy({ data: x, shape: [N2, C] }, t, { reduction: 'none', grad: true, gradOutput: g, weight });
    const b = X.crossEntropy({ data: xT, shape: [C, N2] }, t, { dim: 0, reduction: 'none', grad: true, gradOutput: g, weight });
    let dg = 0, dl = 0;
    const al = a.loss as Float32Array, bl = b.loss as Float32Array, ag = a.grad!, bg = b.grad!;
    for (let i = 0; i < N2; i++) {
      if (!Object.is(al[i], bl[i])) dl++;
      for (let c = 0; c < C; c++) if (!Object.is(ag[i * C + c], bg[c * N2 + i])) dg++;
    }
    expect({ gradDiffs: dg, lossDiffs: dl }).toEqual({ gradDiffs: 0, lossDiffs: 0 });
  });
  test('F4 binaryCrossEntropy gradient, weighted, subnormal x: weight multiplied before the division rounds w (x - y) to a subnormal', () => {
    // x = 3 * 2^-149, y = 0, weight 2.5: PyTorch (f32 and f64) 1.0509739e-32 = 2.5 * (x / 1e-12)
    // 16 elements, so they run in vector lanes (a lone element takes the scalar tail, which is right)
    const n = 16;
    const r = X.binaryCrossEntropy({ data: new Float32Array(n).fill(3 * 2 ** -149), shape: [n] }, { data: new Float32Array(n), shape: [n] }, { reduction: 'none', grad: true, weight: { data: new Float32Array(n).fill(2.5), shape: [n] } });
    const ref = (2.5 * 3 * 2 ** -149) / 1e-12;
    expect(Array.from(r.grad!, (g) => ulps(g, ref) <= 2)).toEqual(new Array(n).fill(true));
  });
});

describe('held: indexStepFits boundaries against float64', () => {
  const N = 19; // 16 positions in lanes, 3 in the f64 tail
  const C = 3;
  const { x, t } = randomRows(N, C, 5);
  const up = (v: Num) => v * (1 + 2 ** -20);
  const dn = (v: Num) => v * (1 - 2 ** -20);
  const cases: [string, { weight?: Float32Array; eps?: Num; go?: Num | Float32Array; red: 'none' | 'sum' | 'mean' }][] = [
    ['weight 2^40 / 3 each (sum just under 2^40)', { weight: new Float32Array([dn(2 ** 40 / 3), dn(2 ** 40 / 3), dn(2 ** 40 / 3)]), red: 'none' }],
    ['weight sum just over 2^40', { weight: new Float32Array([up(2 ** 40 / 3), up(2 ** 40 / 3), up(2 ** 40 / 3)]), red: 'none' }],
    ['weight 2^-40 exactly', { weight: new Float32Array([2 ** -40, 2 ** -40, 2 ** -40]), red: 'none' }],
    ['weight just under 2^-40', { weight: new Float32Array([dn(2 ** -40), 2 ** -40, 1]), red: 'none' }],
    ['mean, weight sum ~2^40 (scale just inside)', { weight: new Float32Array([2 ** 36, 2 ** 36, 2 ** 36]), red: 'mean', go: 1 }],
    ['mean, tiny weights (scale 2^40 and past)', { weight: new Float32Array([2 ** -44, 2 ** -44, 2 ** -44]), red: 'mean', go: 1 }],
    ['eps/C = 2^-40', { eps: 3 * 2 ** -40, red: 'none' }],
    ['eps/C just under 2^-40', { eps: dn(3 * 2 ** -40), red: 'none' }],
    ['eps/C = 2^-40 with weights', { eps: 3 * 2 ** -40, weight: new Float32Array([0.25, 3, 1e3]), red: 'none' }],
    ['scalar gradOutput 2^40', { go: 2 ** 40, red: 'sum' }],
    ['scalar gradOutput 2^41', { go: 2 ** 41, red: 'sum' }],
    ['scalar gradOutput 2^-40', { go: 2 ** -40, red: 'sum', weight: new Float32Array([1, 2, 3]) }],
    ['scalar gradOutput 16', { go: 16, red: 'sum', eps: 0.1 }],
    ['scalar gradOutput 1e3', { go: 1e3, red: 'mean', weight: new Float32Array([0.5, 2, 1]) }],
    ['scalar gradOutput 1e30', { go: 1e30, red: 'sum' }],
    ['scalar gradOutput 3e38', { go: 3e38, red: 'sum' }],
  ];
  for (const [name, o] of cases) {
    test(name, () => {
      const weight = o.weight;
      const gradOutput = o.go;
      const res = X.crossEntropy({ data: x, shape: [N, C] }, t, { weight, labelSmoothing: o.eps, reduction: o.red, grad: true, gradOutput });
      let denom = N;
      if (o.red === 'mean' && weight) { denom = 0; for (let i = 0; i < N; i++) denom += weight[t[i]]; }
      const k = o.red === 'mean' ? f(typeof gradOutput === 'number' ? gradOutput : 1) / denom : f(typeof gradOutput === 'number' ? gradOutput : 1);
      let total = 0, worstG = 0, worstL = 0;
      for (let i = 0; i < N; i++) {
        const p = refPosition(x.subarray(i * C, i * C + C), t[i], weight, o.eps ?? 0, k);
        total += p.loss;
        if (o.red === 'none') worstL = Math.max(worstL, ulps((res.loss as Float32Array)[i], p.loss, p.lossScale));
        for (let c = 0; c < C; c++) worstG = Math.max(worstG, ulps(res.grad![i * C + c], p.grad[c], p.gradScale));
      }
      if (o.red !== 'none') {
        const ref = o.red === 'mean' ? total / denom : total;
        expect(Math.abs((res.loss as number) - ref) / Math.abs(ref)).toBeLessThan(2e-7);
      }
      expect(worstL).toBeLessThanOrEqual(4);
      expect(worstG).toBeLessThanOrEqual(4);
    });
  }

  test('per-position gradOutput at 2^40, just over, 2^-40, 0, -0 and ordinary values: within 4 ulps', () => {
    const g = new Float32Array(N);
    const vals = [2 ** 40, up(2 ** 40), 2 ** -40, dn(2 ** -40), 0, -0, 16, 1e3, -3];
    for (let i = 0; i < N; i++) g[i] = f(vals[i % vals.length]);
    for (const only of [[0, 2, 4, 6, 7, 8], [0, 1, 2, 3, 4, 5, 6, 7, 8]]) {
      const gg = g.map((v, i) => (only.includes(i % vals.length) ? v : 1));
      const res = X.crossEntropy({ data: x, shape: [N, C] }, t, { reduction: 'none', grad: true, gradOutput: gg, weight: new Float32Array([0.5, 1.5, 2]) });
      for (let i = 0; i < N; i++) {
        const p = refPosition(x.subarray(i * C, i * C + C), t[i], [0.5, 1.5, 2], 0, gg[i]);
        for (let c = 0; c < C; c++) {
          const got = res.grad![i * C + c];
          expect(ulps(got, p.grad[c], p.gradScale)).toBeLessThanOrEqual(4);
          if (Object.is(gg[i], -0)) expect(Object.is(got, 0)).toBe(true); // PyTorch: +0
        }
      }
    }
  });
});

describe('held: layouts and threads', () => {
  test('[N, C] / [C, N] dim 0 / [1, C, N] bit-identical, fits and not-fits calls, N 7..33', () => {
    for (const N of [7, 8, 9, 16, 17, 33]) for (const C of [1, 2, 3, 5, 16]) {
      const { x, t } = randomRows(N, C, N * 100 + C);
      const xT = transpose(x, N, C);
      const weight = Float32Array.from({ length: C }, (_, c) => (c % 2 ? 2 ** 39 : 2 ** -39));
      const g = Float32Array.from({ length: N }, (_, i) => (i === N - 1 ? 2 ** 41 : 1 + i));
      for (const opts of [{ weight }, { labelSmoothing: 0.2 }, { gradOutput: g }, { gradOutput: g.map((v) => Math.min(v, 8)), weight: new Float32Array(C).fill(0.5), labelSmoothing: 0.05 }]) {
        const a = X.crossEntropy({ data: x, shape: [N, C] }, t, { reduction: 'none', grad: true, ...opts });
        const b = X.crossEntropy({ data: xT, shape: [C, N] }, t, { dim: 0, reduction: 'none', grad: true, ...opts });
        const go = (opts as { gradOutput?: Float32Array }).gradOutput;
        const c = X.crossEntropy({ data: xT, shape: [1, C, N] }, { data: t, shape: [1, N] }, { reduction: 'none', grad: true, ...opts, ...(go ? { gradOutput: { data: go, shape: [1, N] } } : {}) });
        expect(Array.from(b.loss as Float32Array)).toEqual(Array.from(a.loss as Float32Array));
        expect(Array.from(c.loss as Float32Array)).toEqual(Array.from(a.loss as Float32Array));
        expect(Array.from(b.grad!)).toEqual(Array.from(transpose(a.grad as Float32Array, N, C)));
        expect(Array.from(c.grad!)).toEqual(Array.from(b.grad!));
      }
    }
  });

  // Red team 57: the 'mean' of [65536, 2] rows (one chunk of regrouped rows, two for [C, N] dim 0
  // under the aliasing rule, src/stream.ts) differed from the other layouts' in the last bit, and
  // so did [2048 | 4096 | 32768, 3 | 5] with smoothing and weights and focalLoss. The chunk ends of
  // regrouped rows now follow [C, N]'s; 28 of these comparisons differed before. The scalar build
  // regroups nothing (its row kernel walks rows): there the rows' chunks are its own, their sum of
  // the same per-position losses rounds differently, and only [C, N] and [1, C, N] share bits.
  test.each([[2, 65536], [2, 131073], [3, 2048], [3, 4096], [3, 32768], [5, 2048], [5, 4096]])('[N, C] / [C, N] dim 0 / [1, C, N] reduced losses bit-identical at chunk boundaries: C %i, N %i', (C, N) => {
    const { x, t } = randomRows(N, C, N + C);
    const xT = transpose(x, N, C);
    const ops: [string, object][] = [['crossEntropy', {}], ['crossEntropy', { labelSmoothing: 0.1, weight: Float32Array.from({ length: C }, (_, c) => c + 1) }], ['focalLoss', { gamma: 2 }], ['focalLoss', { gamma: 0.5 }], ['nllLoss', {}]];
    for (const [op, o] of ops) {
      const f = (X as unknown as Record<string, (...a: unknown[]) => { loss: number; grad: Float32Array }>)[op];
      const a = f({ data: x, shape: [N, C] }, t, { ...o, grad: true });
      const b = f({ data: xT, shape: [C, N] }, t, { ...o, dim: 0, grad: true });
      const c = f({ data: xT, shape: [1, C, N] }, { data: t, shape: [1, N] }, { ...o, grad: true });
      if (X.wasmBuild() === 'scalar') {
        expect([op, c.loss]).toEqual([op, b.loss]);
        expect(Math.abs(a.loss / b.loss - 1)).toBeLessThan(1e-13);
      } else {
        expect([op, b.loss, c.loss]).toEqual([op, a.loss, a.loss]);
      }
      expect(Buffer.from(b.grad.buffer).equals(Buffer.from(transpose(a.grad, N, C).buffer))).toBe(true);
    }
  });

  test('setThreads(2) bit-identical to 1 thread: [200000, 3] with one chunk on the f64 step', async () => {
    const N = 200000, C = 3;
    const { x, t } = randomRows(N, C, 3, 10);
    for (let i = 0; i < N; i += 97) t[i] = -100;
    const g = Float32Array.from({ length: N }, (_, i) => 0.25 + (i % 13));
    g[150001] = 2 ** 42;
    const call = () => X.crossEntropy({ data: x, shape: [N, C] }, t, { reduction: 'none', grad: true, gradOutput: g, weight: new Float32Array([0.3, 0.7, 1.9]), labelSmoothing: 0.1 });
    const call2 = () => X.crossEntropy({ data: x, shape: [N, C] }, t, { reduction: 'mean', grad: true, weight: new Float32Array([0.3, 0.7, 1.9]) });
    const one = call(), oneM = call2();
    await X.setThreads(2);
    try {
      const two = call(), twoM = call2();
      expect(Buffer.from((two.loss as Float32Array).buffer).equals(Buffer.from((one.loss as Float32Array).buffer))).toBe(true);
      expect(Buffer.from(two.grad!.buffer).equals(Buffer.from(one.grad!.buffer))).toBe(true);
      expect(twoM.loss).toBe(oneM.loss);
      expect(Buffer.from(twoM.grad!.buffer).equals(Buffer.from(oneM.grad!.buffer))).toBe(true);
    } finally {
      await X.setThreads(1);
    }
  });
});

describe('held: edges', () => {
  test('empty dims: N = 0 mean NaN / sum 0; L = 0; C = 1 gives loss 0 and gradient 0', () => {
    const e = X.crossEntropy({ data: new Float32Array(0), shape: [0, 3] }, [], { reduction: 'mean', grad: true });
    expect(e.loss).toBeNaN();
    expect(X.crossEntropy({ data: new Float32Array(0), shape: [0, 3] }, [], { reduction: 'sum' }).loss).toBe(0);
    const l0 = X.crossEntropy({ data: new Float32Array(0), shape: [2, 3, 0] }, { data: new Int32Array(0), shape: [2, 0] }, { reduction: 'sum', grad: true });
    expect(l0.loss).toBe(0);
    expect(l0.grad!.length).toBe(0);
    const N = 11;
    const x = Float32Array.from({ length: N }, (_, i) => i * 1e3 - 4e3);
    const r = X.crossEntropy({ data: x, shape: [N, 1] }, new Array(N).fill(0), { reduction: 'none', grad: true, weight: [2], gradOutput: new Float32Array(N).fill(16) });
    expect(Array.from(r.loss as Float32Array).every((v) => v === 0)).toBe(true);
    expect(Array.from(r.grad!).every((v) => v === 0)).toBe(true);
  });

  test('-inf / +inf / NaN logits and ignoreIndex everywhere in lanes', () => {
    const rows = [[0, -Infinity, 1], [-Infinity, -Infinity, -Infinity], [Infinity, 0, 0], [NaN, 0, 1], [0, 0, 0], [5, -Infinity, -Infinity], [1, 2, 3], [0, -Infinity, 0], [2, 2, 2]];
    const x = Float32Array.from(rows.flat());
    const N = rows.length;
    const ign = X.crossEntropy({ data: x, shape: [N, 3] }, new Array(N).fill(-100), { reduction: 'sum', grad: true, weight: new Float32Array([2 ** 40, 1, 1]) });
    expect(ign.loss).toBe(0);
    const m = X.crossEntropy({ data: x, shape: [N, 3] }, new Array(N).fill(-100), { reduction: 'mean' });
    expect(m.loss).toBeNaN();
    const t = [0, 0, 1, 2, 1, 0, 2, 2, 0];
    const r = X.crossEntropy({ data: x, shape: [N, 3] }, t, { reduction: 'none', grad: true, weight: new Float32Array([0.5, 2, 1]) });
    const l = r.loss as Float32Array;
    expect(l[0]).toBeCloseTo(0.5 * (Math.log(1 + Math.E) - 0), 6);
    expect(l[1]).toBeNaN();
    expect(l[2]).toBeNaN();
    expect(l[3]).toBeNaN();
    expect(Object.is(l[5], -0)).toBe(true); // PyTorch: -(w lp) at lp = 0
    expect(l[7]).toBeCloseTo(Math.log(2), 6);
    expect(r.grad![7 * 3 + 1]).toBe(0);
    expect(r.grad![5 * 3 + 1]).toBe(0);
  });
});

describe('held: binaryCrossEntropy on probabilities (log32V) and klDiv', () => {
  test('x at 0, 1, subnormals, 1 - 2^-24, 2^-24: loss and gradient vs float64 PyTorch formula', () => {
    const xs = [0, 1, 2 ** -149, 3 * 2 ** -149, 2 ** -126, f(1.17e-38), 1 - 2 ** -24, 1 - 2 ** -23, 2 ** -24, 0.5, f(1e-30), f(0.9999), f(1e-7), 0.25, 0.75, 2 ** -100, f(Math.exp(-100)), f(Math.exp(-101))];
    const ys = [0, 1, 0.5, f(0.3), 2 ** -149];
    const n = xs.length * ys.length;
    const x = new Float32Array(n), y = new Float32Array(n), w = new Float32Array(n);
    let k = 0;
    for (const a of xs) for (const b of ys) { x[k] = a; y[k] = b; w[k] = k % 3 === 0 ? 2.5 : 1; k++; }
    for (const weighted of [false, true]) {
      const r = X.binaryCrossEntropy({ data: x, shape: [n] }, { data: y, shape: [n] }, { reduction: 'none', grad: true, ...(weighted ? { weight: { data: w, shape: [n] } } : {}) });
      for (let i = 0; i < n; i++) {
        const wi = weighted ? w[i] : 1;
        const lx = Math.max(Math.log(x[i]), -100), l1 = Math.max(Math.log1p(-x[i]), -100);
        const ref = -wi * (y[i] * lx + (1 - y[i]) * l1);
        const gref = (wi * (x[i] - y[i])) / Math.max((1 - x[i]) * x[i], 1e-12);
        expect([x[i], y[i], ulps((r.loss as Float32Array)[i], ref)]).toEqual([x[i], y[i], expect.any(Number)]);
        expect(ulps((r.loss as Float32Array)[i], ref, wi * 1e-7)).toBeLessThanOrEqual(3);
        if (!weighted || x[i] >= MIN_NORMAL) expect(ulps(r.grad![i], gref)).toBeLessThanOrEqual(3); // (weighted subnormal x: FINDINGS F4)
      }
    }
    // the clamp: log(0) -> -100
    const c = X.binaryCrossEntropy({ data: new Float32Array([0, 1]), shape: [2] }, { data: new Float32Array([1, 0]), shape: [2] }, { reduction: 'none' });
    expect(Array.from(c.loss as Float32Array)).toEqual([100, 100]);
  });

  test('x = -0 in every vector lane (f32, f64; none / sum / mean): PyTorch\'s clamp, log(-0) = -100', () => {
    // logV read -0's sign bit as exponent: loss -73.47 (f32) / -710.48 (f64) in place of 100 (SIMD
    // and relaxed builds; the scalar build and the scalar tail were right)
    const ys = [1, 0.3, 0, 1, 1, 0.5, 2 ** -20, 1, 0.75];
    for (const Type of [Float32Array, Float64Array]) {
      for (let lane = 0; lane < 8; lane++) {
        const x = new Type(ys.length).fill(0.5);
        x[lane] = -0;
        x[8] = -0; // the scalar tail too
        const y = Type.from(ys);
        const ref = Ref.binaryCrossEntropy({ data: x, shape: [x.length] }, y, { reduction: 'none' });
        const none = X.binaryCrossEntropy({ data: x, shape: [x.length] }, { data: y, shape: [y.length] }, { reduction: 'none', grad: true });
        const tol = Type === Float32Array ? 2e-6 : 1e-13;
        expect(maxAbsDiff(none.loss as ArrayLike<number>, ref.loss as ArrayLike<number>)).toBeLessThan(tol * 100);
        expect(Array.from(none.loss as ArrayLike<number>).filter((l) => l < 0)).toEqual([]);
        for (const reduction of ['sum', 'mean'] as const) {
          const r = X.binaryCrossEntropy({ data: x, shape: [x.length] }, { data: y, shape: [y.length] }, { reduction });
          const want = Ref.binaryCrossEntropy({ data: x, shape: [x.length] }, y, { reduction }).loss as number;
          expect([Type.name, lane, reduction, Math.abs((r.loss as number) - want) <= tol * Math.abs(want)]).toEqual([Type.name, lane, reduction, true]);
        }
      }
    }
  });

  test('klDiv with subnormal and tiny targets: target (log target - input), 0 at target 0', () => {
    const ts = [0, 2 ** -149, 3 * 2 ** -149, 2 ** -126, f(1e-30), f(1e-7), 0.5, 1, f(0.3)];
    const ins = [-1, -100, 0, -1e-3, f(-87.3)];
    const n = ts.length * ins.length;
    const inp = new Float32Array(n), tg = new Float32Array(n);
    let k = 0;
    for (const a of ins) for (const b of ts) { inp[k] = a; tg[k] = b; k++; }
    const r = X.klDiv({ data: inp, shape: [n] }, { data: tg, shape: [n] }, { reduction: 'none', grad: true });
    for (let i = 0; i < n; i++) {
      const ref = tg[i] === 0 ? 0 : tg[i] * (Math.log(tg[i]) - inp[i]);
      // 4: log t - input cancels in f32 (t = 2^-126, input -100: 3 ulps, as torch f32 computes it)
      expect(ulps((r.loss as Float32Array)[i], f(ref))).toBeLessThanOrEqual(4);
      expect(ulps(r.grad![i], -tg[i])).toBeLessThanOrEqual(0);
    }
  });
});
