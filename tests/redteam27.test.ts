// Red team 27 (a helper that did not write the code, on fd12b23).
//
// Attacked today's three commits: 3049eaf (class-index targets range-checked in wasm from 1024
// targets on, through a static 16 KB block or in place for an Int32Array in wasm memory; NCHW
// runs of three regrouped by vectors, assembly/layout.ts runsOf3) and fd12b23 (float32 [N, 2]
// rows read interleaved by indexColumnsPair / indexPairRows; the C = 3 column kernel
// indexColumnsTriple). Oracle: tests/redteam27/generate.py (PyTorch 1.13 float64, and float32 for
// its overflow behaviour) writes tests/redteam27/cases.json; tests/reference.ts (float64) and
// other layouts of the same data elsewhere.
// (The interleaved [N, 2] path and indexColumnsTriple were taken out again two commits later, to
// keep xent.wasm under 32 KB gzip: [N, 2] and [N, 3] rows are regrouped into columns by the host
// once more; the held tests stand for the code that landed.)
// Builds: npx jest tests/redteam27.test.ts (SIMD), WASM_XENT_BUILD=scalar npx jest ...,
// node scripts/jest-relaxed.mjs tests/redteam27.test.ts (relaxed SIMD).
//
// FINDINGS (each fails on fd12b23 on the SIMD and relaxed-SIMD builds and
// passes on the scalar build; none is new today: the new kernels reproduce the former column path
// bit for bit, this included). One cause: the SIMD kernels add a position's exps in float32 before
// widening into float64, so exps below half an ulp of the max's 1 vanish (1 + e^-20 is 1 in
// float32), where the scalar build sums the float32 exps in float64 (compensated, red team 22).
// README: "The SIMD and scalar builds give the same bits everywhere"; "A float32 mean over a
// million positions stays within 1e-6 relative of the float64 result"; "the log adds no error of
// its own to a sum just above 1". (It also says the SIMD kernels "add at most 16 terms per lane in
// the input's type before widening into float64": that is the cause; the promises above are what it
// breaks.) PyTorch float32 loses them too (its loss is -0 on F1's rows); PyTorch float64, mpmath
// and the scalar build do not.
//  F1 crossEntropy, float32 class indices, the column kernels (rows of <= 16 classes, NCHW):
//     [16, 2] rows [20, 0] target 0 'none' (indexColumnsPair, read interleaved), and [1, 2, 16]:
//       got -0 per position, want log1p(e^-20) = 2.0611536e-9 (scalar build 2.0611537e-9)
//     [16, 3] rows [20, 0, 0] (indexColumnsTriple) and [1, 3, 16]: got -0, want 4.1223072e-9
//     [16, 10] rows [20, 0 x 9] (indexColumnsLean) and [1, 10, 16]: got 4.1223069e-9, want 1.8550382e-8
//     realistic: [65536, 2], seeded, the target logit 10..20 and the other -1..1 (a trained binary
//     classifier), 'mean': got 5.352026e-6, float64 reference (tests/reference.ts) 5.355857e-6,
//     7.2e-4 relative (scalar build 3e-8). Asked: 1e-6 relative (README's own bound).
//  F2 the same float32 sum decides "softmax exactly 1" (softmaxOnes / exactOneGrad), which with
//     labelSmoothing sets the max class's gradient to k (1 - eps) w_t + k eps / C (W - w_j) and so
//     drops k ((1 - eps) w_t + eps W / C)(1 - p_j), not small when a class weight is large:
//     [8, 2] rows [0, 30], target 0, weight [1, 1e12], labelSmoothing 0.2, 'sum': grad per row
//     got [-0.8906424, 0.9] (the row's gradient no longer sums to 0), want (mpmath)
//     [-0.8906424, 0.8906424]; scalar build 0.8906403, PyTorch float64 0.8906458. (With weight
//     [1, 1e20]: got 0.8, want -935761.4.) Asked: 1e-5 relative. Needs weights 1e8+ apart.
//  F3 the row path's vector sum (math.ts expSumVectors, 16 lanes of float32 partial sums):
//     crossEntropy rows of 20 classes, logSoftmax and tokenScores: float32 [16, 20] rows
//     [20, 0 x 19]: loss / -logSoftmax[0] got 3.2978e-8, -logProb 3.0917e-8, want log1p(19 e^-20)
//     = 3.9162e-8; [16, 100] [20, 0 x 99]: got 1.7314e-7, want 2.0405e-7 (scalar build within
//     5e-9 relative). Asked: 1e-6 relative.
//
// F1-F3 were OPEN at the landing commit and are fixed since (describe 'findings F1-F3 (fixed)', at
// the end): the loss within 1e-6 relative of log1p((C - 1) e^-20) on the rows above in both
// layouts (and -logSoftmax, -logProb), [65536, 2] margins 10..20 'mean' within 1e-6 of
// tests/reference.ts, F2's max-class gradient 0.8906423770310765 per row within 1e-5 (1e-12 float64).
//
// HELD (describe 'held'):
//  - 900 PyTorch cases (float32 [8|13|16|40, 2], [8|11|16, 3], [2, 3, 16], [1, 3, 21], [2, 3, 4, 5];
//    float32 and float64 [4, 2, 3], [3, 3, 3], [5, 1, 3], [6, 4, 3], [1, 5, 3]): logits with 0-60%
//    specials (+-inf, NaN, +-1e30, +-3e38, 1e-40, 87.5, -103, ...), ties of 5 / 1e30 / -3e38, 12%
//    ignored targets, weights, labelSmoothing, zLoss (with lse out), reduction none / sum / mean,
//    gradOutput 1e30, 3e38 ('mean'), 1e-38, +inf, per position (1e30, 0, -1, inf, -inf, NaN): loss,
//    gradient and lse within 2e-5 (float32; 1e-10 float64) of PyTorch float64, or PyTorch float32's
//    own overflow (NaN / inf where float32 w k overflows), or +-inf where float64's value is beyond
//    float32's range. (Also checked outside the tests, 10k more such cases: none off at that
//    tolerance, which is absolute below 1 and so blind to F1-F3.)
//  - targets checked by the module: crossEntropy, nllLoss, focalLoss and tokenScores with 1023 /
//    1024 / 4097 / 8195 targets, every integer kind (Int8..Int32, Uint32, BigInt64) and an Int32Array
//    view of a wasmArray (in place), ignoreIndex -100, -1, -2^31, -2^31 - 1, 2^31, 2^40, 7 (>= C,
//    present or not), 2 (a class), bad targets (C, -1, 127, 255, -100, 65535, 2^31 - 1) at
//    positions 0, 3, 4095, 4096 and the last: the same error message (value and position) and the
//    same bits as number[] targets; 'mean' denominators as tests/reference.ts.
//  - in-place (wasm) targets when the call grows memory, and with setThreads(2): same bits.
//  - NCHW runs of three: [70001, 3, 3] float32, [30001, 5, 3] float64, [1, 1, 3], [1, 4, 3],
//    C = 1: as the same data laid out [N, 3, C] (dim 2, another kernel path), with wasmArray input
//    and out and out === input giving the plain call's bits; 1 and 2 threads the same bits.
//  - float32 [200013, 2] (over three chunks): the plain call = wasmArray input / out / gradOutput /
//    targets = out === input, bit for bit; = the former column layout [1, 2, N] bit for bit with
//    smoothing, z-loss, lse, ignore and a 1e30 gradOutput; 1 and 2 threads the same bits.
//
// Explored, not in tests (not defects): float64 [40, 0] gives loss -0 for log1p(e^-40) = 4.2e-18
// on every build, as PyTorch float64 (1 + 4e-18 is 1 in float64). float32 class weight w and
// gradOutput k with w k beyond float32's range give -inf for a target gradient whose exact value fits (weight [2, 1], 'sum',
// gradOutput 3e38, logits [0, 0], target 0: got -inf, float64 -3e38, PyTorch float32 NaN); every
// layout and build (not new), and README documents overflow "in PyTorch's order". PyTorch float64
// autograd of z * logsumexp^2 is itself off by 2x at ties of huge logits (exp(x - lse) rounds to 1
// at [1e30, 1e30]); the library's 2 z lse softmax is right there.
import * as fs from 'fs';
import * as path from 'path';
import * as X from '../src';
import * as R from './reference';
import { expectClose, expectSame, jsonNumber } from './helpers/same';
import { rng } from './helpers/random';

jest.setTimeout(300000);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
type Want = { loss: Any[]; grad: Any[]; lse: Any[] };
type Case = { id: number; shape: number[]; dtype: 'f32' | 'f64'; x: Any[]; t: number[]; opts: Record<string, Any>; want64: Want; want32: Want | null };
const FILE = JSON.parse(fs.readFileSync(path.join(__dirname, 'redteam27', 'cases.json'), 'utf8'));
const CASES: Case[] = FILE.cases;
const nums = (a: Any[]): number[] => a.map(jsonNumber);
const F32_MAX = 3.4028234663852886e38;

beforeAll(() => X.init());

/** got against PyTorch float64 (w64) within tol (plus tol / 10 of the largest |gradOutput|, float32's
 *  rounding of 1 - p scaled by it), or PyTorch float32 (w32) likewise, or +-inf where w64 is beyond
 *  float32's range. */
function near(got: number, w64: number, w32: number | undefined, tol: number, K: number): boolean {
  const same = (a: number, b: number) =>
    Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)) || (Number.isFinite(a) && Number.isFinite(b) && Math.abs(a - b) <= tol * (1 + Math.abs(b)) + (tol / 10) * K);
  if (same(got, w64)) return true;
  if (w32 !== undefined && same(got, w32)) return true;
  return w32 !== undefined && Math.abs(w64) > F32_MAX && Math.abs(got) === Infinity && Math.sign(got) === Math.sign(w64);
}

function runCase(c: Case): { loss: number[]; grad: number[]; lse: number[] | null } {
  const T = c.dtype === 'f32' ? Float32Array : Float64Array;
  const pshape = c.shape.filter((_, i) => i !== 1);
  const o: Record<string, Any> = { ...c.opts, grad: true };
  if (Array.isArray(o.gradOutput)) o.gradOutput = { data: T.from(nums(o.gradOutput)), shape: pshape };
  else if (o.gradOutput !== undefined) o.gradOutput = jsonNumber(o.gradOutput);
  const r = X.crossEntropy({ data: T.from(nums(c.x)), shape: c.shape }, { data: Int32Array.from(c.t), shape: pshape }, o as never);
  return {
    loss: typeof r.loss === 'number' ? [r.loss] : Array.from(r.loss as ArrayLike<number>),
    grad: Array.from(r.grad as ArrayLike<number>),
    lse: r.lse ? Array.from(r.lse as ArrayLike<number>) : null,
  };
}

describe('held', () => {
  test(`crossEntropy [N, 2], [N, 3], NCHW C = 3 and [N, C, 3] against PyTorch 1.13 (${CASES.length} cases)`, () => {
    expect(CASES.length).toBe(900);
    const off: string[] = [];
    for (const c of CASES) {
      const got = runCase(c);
      const tol = c.dtype === 'f32' ? 2e-5 : 1e-10;
      const go = c.opts.gradOutput;
      const finite = (Array.isArray(go) ? nums(go) : go === undefined ? [1] : [jsonNumber(go)]).filter(Number.isFinite).map(Math.abs);
      const K = Math.max(1, ...finite);
      const w64 = { loss: nums(c.want64.loss), grad: nums(c.want64.grad), lse: nums(c.want64.lse) };
      const w32 = c.want32 ? { loss: nums(c.want32.loss), grad: nums(c.want32.grad), lse: nums(c.want32.lse) } : null;
      const check = (what: 'loss' | 'grad' | 'lse', g: number[], k: number) => {
        for (let i = 0; i < g.length; i++) {
          if (!near(g[i], w64[what][i], w32 ? w32[what][i] : undefined, tol, k)) {
            off.push(`case ${c.id} ${c.dtype} [${c.shape}] ${JSON.stringify(c.opts).slice(0, 120)}: ${what}[${i}] got ${g[i]}, torch float64 ${w64[what][i]}`);
            return;
          }
        }
      };
      check('loss', got.loss, 1);
      check('grad', got.grad, K);
      if (got.lse) check('lse', got.lse, 1);
    }
    expect(off).toEqual([]);
  });

  describe('targets checked by the module (>= 1024): the same errors and bits as number[] targets', () => {
    const C = 5;
    type Op = [string, (x: Any, t: Any, o: Any) => Any];
    const OPS: Op[] = [
      ['crossEntropy', (x, t, o) => X.crossEntropy(x, t, { ...o, grad: true })],
      ['nllLoss', (x, t, o) => X.nllLoss(x, t, { ...o, grad: true })],
      ['focalLoss', (x, t, o) => X.focalLoss(x, t, { ...o, grad: true })],
      ['tokenScores', (x, t, o) => X.tokenScores(x, t, o)],
    ];
    const KINDS = [Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array] as const;
    const outcome = (f: () => Any): Any => {
      try {
        const r = f();
        const keep = (v: Any) => (ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v);
        return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, keep(v)]));
      } catch (e) {
        return `${(e as Error).constructor.name}: ${(e as Error).message}`;
      }
    };
    test.each([1023, 1024, 4097, 8195])('%d positions', (P) => {
      const r = rng(P);
      const x = { data: Float32Array.from({ length: P * C }, () => r() * 6 - 3), shape: [P, C] };
      const mismatches: string[] = [];
      for (const ignoreIndex of [undefined, -100, -1, -(2 ** 31), -(2 ** 31) - 1, 2 ** 31, 2 ** 40, 7, 2]) {
        for (const present of [false, true]) {
          for (const badAt of [-1, 0, 3, 4095, 4096, P - 1]) {
            if (badAt >= P) continue;
            const ign = ignoreIndex ?? -100;
            const plain = Array.from({ length: P }, (_, p) => (present && p % 9 === 4 ? ign : Math.floor(r() * C)));
            if (badAt >= 0) plain[badAt] = [C, -1, 127, 255, -100, 65535, 2 ** 31 - 1][(badAt + P) % 7];
            for (const [name, f] of OPS) {
              const o = { ignoreIndex };
              const want = outcome(() => f(x, plain, o));
              for (const K of KINDS) {
                const t = K === BigInt64Array ? BigInt64Array.from(plain.map((v) => BigInt(v))) : (K as Any).from(plain);
                if (Array.from(t as ArrayLike<number | bigint>).some((v, i) => Number(v) !== plain[i])) continue;
                const got = outcome(() => f(x, t, o));
                if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`${name} ${K.name} ignoreIndex ${ignoreIndex} present ${present} bad at ${badAt}: ${JSON.stringify(got).slice(0, 160)} vs ${JSON.stringify(want).slice(0, 160)}`);
              }
              if (plain.some((v) => (v | 0) !== v)) continue;
              const a = X.wasmArray(Float32Array, P);
              try {
                const t = new Int32Array(a.array.buffer, a.array.byteOffset, P);
                t.set(plain);
                const got = outcome(() => f(x, t, o));
                if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`${name} in wasm ignoreIndex ${ignoreIndex} present ${present} bad at ${badAt}: ${JSON.stringify(got).slice(0, 160)} vs ${JSON.stringify(want).slice(0, 160)}`);
              } finally {
                a.free();
              }
            }
          }
        }
      }
      expect(mismatches).toEqual([]);
    });

    test("'mean' denominators with ignored positions (Int8Array, in wasm) as the float64 reference", () => {
      const P = 8195;
      const r = rng(77);
      const x64 = Float64Array.from({ length: P * C }, () => r() * 4 - 2);
      for (const ignoreIndex of [-1, -100, -(2 ** 31)]) {
        const plain = Array.from({ length: P }, (_, p) => (p % 5 === 1 ? ignoreIndex : Math.floor(r() * C)));
        const refCe = R.crossEntropyIndex({ data: x64, shape: [P, C] }, plain, { ignoreIndex });
        const refNll = R.nllLoss({ data: x64, shape: [P, C] }, plain, { ignoreIndex });
        const kinds: ArrayLike<number>[] = [Int32Array.from(plain)];
        if (ignoreIndex >= -128) kinds.push(Int8Array.from(plain), Int16Array.from(plain));
        for (const t of kinds) {
          expectClose('ce', X.crossEntropy({ data: x64, shape: [P, C] }, t as never, { ignoreIndex }).loss as number, refCe.loss as number, 1e-12);
          expectClose('nll', X.nllLoss({ data: x64, shape: [P, C] }, t as never, { ignoreIndex }).loss as number, refNll.loss as number, 1e-12);
        }
        const a = X.wasmArray(Float32Array, P);
        const t = new Int32Array(a.array.buffer, a.array.byteOffset, P);
        t.set(plain);
        expectClose('ce in wasm', X.crossEntropy({ data: x64, shape: [P, C] }, t, { ignoreIndex }).loss as number, refCe.loss as number, 1e-12);
        a.free();
      }
    });

    test('targets in wasm memory read in place while the call grows memory', () => {
      for (const [N, C2, L] of [[5000, 2, 1], [2000, 7, 3], [3000, 1000, 1]]) {
        const r = rng(N + C2);
        const x = Float32Array.from({ length: N * C2 * L }, () => r() * 10 - 5);
        const P = N * L;
        const plain = Array.from({ length: P }, () => (r() < 0.1 ? -100 : Math.floor(r() * C2)));
        const shape = L > 1 ? [N, C2, L] : [N, C2];
        const tshape = L > 1 ? [N, L] : [N];
        const a = X.wasmArray(Float32Array, P);
        const t = new Int32Array(a.array.buffer, a.array.byteOffset, P);
        t.set(plain);
        const got = X.crossEntropy({ data: x, shape }, { data: t, shape: tshape }, { grad: true, zLoss: 1e-3 });
        const grown = X.wasmMemoryBytes();
        const want = X.crossEntropy({ data: x, shape }, { data: plain, shape: tshape }, { grad: true, zLoss: 1e-3 });
        a.free();
        expect(grown).toBeGreaterThan(0);
        expectSame(`[${shape}]`, { loss: got.loss, grad: got.grad }, { loss: want.loss, grad: want.grad });
      }
    });
  });

  /** [N, C, 3] as [N, 3, C] (dim 2): the same numbers through another path (rows, no runsOf3). */
  function asRows<T extends Float32Array | Float64Array>(x: T, N: number, C: number): Float64Array {
    const y = new Float64Array(x.length);
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let l = 0; l < 3; l++) y[(n * 3 + l) * C + c] = x[(n * C + c) * 3 + l];
    return y;
  }

  function nchw3(N: number, C: number, T: typeof Float32Array | typeof Float64Array, seed: number) {
    const r = rng(seed);
    const specials = [Infinity, -Infinity, NaN, 1e30, -1e30];
    const x = T.from(Array.from({ length: N * C * 3 }, () => (r() < 0.01 ? specials[Math.floor(r() * 5)] : r() * 20 - 10)));
    const t = Int32Array.from({ length: N * 3 }, () => (r() < 0.05 ? -100 : Math.floor(r() * C)));
    return { x, t };
  }

  test.each([
    [70001, 3, 'f32'], [30001, 5, 'f64'], [1, 1, 'f32'], [1, 4, 'f32'], [1, 4, 'f64'], [9, 1, 'f64'], [60001, 1, 'f32'],
  ] as const)('NCHW runs of three [%d, %d, 3] %s: as [N, 3, C] dim 2; zero-copy and out === input the same bits', (N, C, dt) => {
    const T = dt === 'f32' ? Float32Array : Float64Array;
    const { x, t } = nchw3(N, C, T, N * 7 + C);
    const shape = [N, C, 3];
    const ts = { data: t, shape: [N, 3] };
    for (const o of [{}, { reduction: 'none' }, { labelSmoothing: 0.2, returnLse: true }, { zLoss: 1e-3 }] as const) {
      const plain = X.crossEntropy({ data: x, shape }, ts, { ...o, grad: true });
      const ref = X.crossEntropy({ data: asRows(x, N, C), shape: [N, 3, C] }, ts, { ...o, grad: true, dim: 2 });
      const tol = dt === 'f32' ? 1e-5 : 1e-12;
      expectClose('loss', plain.loss as Any, ref.loss as Any, tol);
      const g = plain.grad as ArrayLike<number>;
      const back = new Float64Array(g.length);
      for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let l = 0; l < 3; l++) back[(n * 3 + l) * C + c] = g[(n * C + c) * 3 + l];
      expectClose('grad', back, ref.grad as Any, tol);
      const wx = X.wasmArray(T, x.length);
      const wo = X.wasmArray(T, x.length);
      wx.array.set(x);
      const z = X.crossEntropy({ data: wx.array, shape }, ts, { ...o, out: wo.array });
      expectSame('zero-copy', { loss: z.loss, grad: T.from(wo.array) }, { loss: plain.loss, grad: plain.grad });
      const al = X.crossEntropy({ data: wx.array, shape }, ts, { ...o, out: wx.array });
      expectSame('out === input', { loss: al.loss, grad: T.from(wx.array) }, { loss: plain.loss, grad: plain.grad });
      wx.free();
      wo.free();
    }
  });

  test('float32 [200013, 2]: zero-copy, out === input and the column layout [1, 2, N] bit for bit', () => {
    const N = 200013;
    const r = rng(3);
    const x = Float32Array.from({ length: 2 * N }, () => (r() < 0.001 ? [Infinity, -Infinity, NaN][Math.floor(r() * 3)] : r() * 30 - 15));
    const t = Int32Array.from({ length: N }, () => (r() < 0.05 ? -100 : Math.floor(r() * 2)));
    const g = Float32Array.from({ length: N }, () => (r() < 0.01 ? 1e30 : r() * 2 - 1));
    const cols = new Float32Array(2 * N);
    for (let n = 0; n < N; n++) for (let c = 0; c < 2; c++) cols[c * N + n] = x[n * 2 + c];
    for (const o of [{}, { labelSmoothing: 0.1 }, { zLoss: 0.01, returnLse: true }, { reduction: 'sum', gradOutput: 1e30 }, { reduction: 'none' }] as Any[]) {
      const per = o.reduction === 'none';
      const plain = X.crossEntropy({ data: x, shape: [N, 2] }, t, { ...o, grad: true, ...(per ? { gradOutput: g } : {}) });
      const col = X.crossEntropy({ data: cols, shape: [1, 2, N] }, { data: t, shape: [1, N] }, { ...o, grad: true, ...(per ? { gradOutput: { data: g, shape: [1, N] } } : {}) });
      const cg = col.grad as Float32Array;
      const back = new Float32Array(2 * N);
      for (let n = 0; n < N; n++) for (let c = 0; c < 2; c++) back[n * 2 + c] = cg[c * N + n];
      expectSame('column layout', { loss: col.loss, grad: back, ...(col.lse ? { lse: col.lse } : {}) }, { loss: plain.loss, grad: plain.grad, ...(plain.lse ? { lse: plain.lse } : {}) });
      const wx = X.wasmArray(Float32Array, 2 * N);
      const wo = X.wasmArray(Float32Array, 2 * N);
      const wg = X.wasmArray(Float32Array, N);
      const wt = X.wasmArray(Float32Array, N);
      wx.array.set(x);
      wg.array.set(g);
      new Int32Array(wt.array.buffer, wt.array.byteOffset, N).set(t);
      const tv = () => new Int32Array(wt.array.buffer, wt.array.byteOffset, N);
      const z = X.crossEntropy({ data: wx.array, shape: [N, 2] }, tv(), { ...o, out: wo.array, ...(per ? { gradOutput: wg.array } : {}) });
      expectSame('zero-copy', { loss: z.loss, grad: Float32Array.from(wo.array) }, { loss: plain.loss, grad: plain.grad });
      const al = X.crossEntropy({ data: wx.array, shape: [N, 2] }, tv(), { ...o, out: wx.array, ...(per ? { gradOutput: wg.array } : {}) });
      expectSame('out === input', { loss: al.loss, grad: Float32Array.from(wx.array) }, { loss: plain.loss, grad: plain.grad });
      wx.free();
      wo.free();
      wg.free();
      wt.free();
    }
  });

  describe('setThreads(2)', () => {
    type Shot = { loss: Any; grad: Float32Array | Float64Array };
    const shapes: [number[], 'f32' | 'f64'][] = [[[200013, 2], 'f32'], [[150001, 3], 'f32'], [[70001, 5, 3], 'f32'], [[40001, 4, 3], 'f64'], [[3, 3, 70001], 'f32']];
    const options: Any[] = [{}, { labelSmoothing: 0.2 }, { zLoss: 1e-3, returnLse: true }, { reduction: 'sum', gradOutput: 3e30 }, { ignoreIndex: 1 }];
    function shots(): Shot[] {
      const out: Shot[] = [];
      shapes.forEach(([shape, dt], k) => {
        const T = dt === 'f32' ? Float32Array : Float64Array;
        const r = rng(100 + k);
        const n = shape.reduce((a, b) => a * b, 1);
        const C = shape[1];
        const x = T.from(Array.from({ length: n }, () => (r() < 0.002 ? [Infinity, -Infinity, NaN, 1e30][Math.floor(r() * 4)] : r() * 20 - 10)));
        const ps = shape.filter((_, i) => i !== 1);
        const P = ps.reduce((a, b) => a * b, 1);
        for (const o of options) {
          const t = Array.from({ length: P }, () => (r() < 0.05 ? o.ignoreIndex ?? -100 : Math.floor(r() * C)));
          const a = X.wasmArray(Float32Array, P);
          const tv = new Int32Array(a.array.buffer, a.array.byteOffset, P);
          tv.set(t);
          const res = X.crossEntropy({ data: x, shape }, { data: tv, shape: ps }, { ...o, grad: true });
          a.free();
          out.push({ loss: res.loss, grad: res.grad as Float32Array });
        }
      });
      return out;
    }
    afterAll(() => X.setThreads(1));
    test('[N, 2], [N, 3], [N, C, 3] f32 / f64, NCHW C = 3, in-wasm targets: 1 and 2 threads the same bits', async () => {
      const one = shots();
      const threads = await X.setThreads(2);
      expect(threads).toBeGreaterThanOrEqual(1);
      const two = shots();
      one.forEach((s, i) => expectSame(`shot ${i}`, two[i], s));
    });
  });
});

// F1-F3 (fixed): the kernels sum R, the exps other than the max's 1, apart (simd.ts besideOne), and
// where S < 2 take S as 1 + R in float64 (math.ts rowExpSum, cross_entropy.ts sumBesideOne): what
// PyTorch float64 keeps (float64 [40, 0] stays loss 0 as PyTorch float64's: 1 + 4e-18 is 1). The
// max class's gradient there is formed from the terms that cancel exactly, less ce R (maxClassGrad).
describe('findings F1-F3 (fixed): confident rows keep their small exps', () => {
  const rel = (got: number, want: number) => Math.abs(got - want) / Math.abs(want);
  const confident = (T: Float32ArrayConstructor | Float64ArrayConstructor, top: number, C: number, P: number, layout: 'rows' | 'ncl') => {
    const data = new T(P * C);
    for (let p = 0; p < P; p++) data[layout === 'rows' ? p * C : p] = top; // class 0 of every position
    return layout === 'rows' ? { data, shape: [P, C] } : { data, shape: [1, C, P] };
  };
  test.each([2, 3, 10, 20, 100])('float32, C = %i, rows [20, 0, ...]: loss, -logSoftmax, -logProb = log1p((C - 1) e^-20) within 1e-6', (C) => {
    const want = Math.log1p((C - 1) * Math.exp(-20));
    for (const P of [16, 37]) {
      for (const layout of ['rows', 'ncl'] as const) {
        const x = confident(Float32Array, 20, C, P, layout);
        const r = X.crossEntropy(x, { data: new Int32Array(P), shape: layout === 'rows' ? [P] : [1, P] }, { reduction: 'none' });
        (r.loss as Float32Array).forEach((v, p) => { if (!(rel(v, want) <= 1e-6)) throw new Error(`${layout} P ${P} loss[${p}] ${v}, want ${want}`); });
        const ls = X.logSoftmax(x, { dim: 1 });
        for (let p = 0; p < P; p++) expect(rel(-ls[layout === 'rows' ? p * C : p], want)).toBeLessThanOrEqual(1e-6);
      }
      const ts = X.tokenScores(confident(Float32Array, 20, C, P, 'rows'), new Array(P).fill(0));
      for (let p = 0; p < P; p++) expect(rel(-ts.logProb![p], want)).toBeLessThanOrEqual(1e-6);
    }
  });
  test('float32 [65536, 2], target logit 10..20 and the other -1..1: mean within 1e-6 of the float64 reference', () => {
    const N = 65536;
    const r = rng(2707);
    const data = new Float32Array(2 * N);
    const t = Int32Array.from({ length: N }, (_, i) => i % 2);
    for (let i = 0; i < N; i++) {
      data[2 * i + t[i]] = 10 + 10 * r();
      data[2 * i + 1 - t[i]] = -1 + 2 * r();
    }
    const got = X.crossEntropy({ data, shape: [N, 2] }, t).loss as number;
    const want = R.crossEntropyIndex({ data, shape: [N, 2] }, t).loss as number;
    expect(rel(got, want)).toBeLessThanOrEqual(1e-6);
  });
  test.each([Float32Array, Float64Array])('%p [8, 2] rows [0, 30], weight [1, 1e12], labelSmoothing 0.2: the max class gets 0.8906423770310765 (mpmath)', (T) => {
    const data = new T(16);
    for (let i = 0; i < 8; i++) data[2 * i + 1] = 30;
    const want = 0.8906423770310765;
    const nchw = new T(16).fill(30, 8); // [1, 2, 8]: class 1 is 30 at every position
    for (const x of [{ data, shape: [8, 2] }, { data: nchw, shape: [1, 2, 8] }]) {
      const r = X.crossEntropy(x, { data: new Int32Array(8), shape: x.shape.length === 2 ? [8] : [1, 8] }, { weight: [1, 1e12], labelSmoothing: 0.2, reduction: 'sum', grad: true });
      const g = r.grad as Float32Array;
      const at = (p: number, c: number) => (x.shape.length === 2 ? g[2 * p + c] : g[c * 8 + p]);
      for (let p = 0; p < 8; p++) {
        expect(rel(at(p, 1), want)).toBeLessThanOrEqual(T === Float32Array ? 1e-5 : 1e-12);
        expect(rel(-at(p, 0), want)).toBeLessThanOrEqual(T === Float32Array ? 1e-5 : 1e-12);
      }
    }
  });
});
