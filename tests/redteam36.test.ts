// Red team 36 (a helper that did not write the code): focalLoss's float32 column kernel
// (assembly/focal.ts focalColumns) with its per-position step moved from float64 lanes to float32
// lanes (u, p_t and 1 / S rounded to float32 once each; log S from logRestV; mod, slope, G, the
// loss and the gradient factor in f32x4). Oracle: helpers/focal.ts focalAccurate (focalRef here),
// the formula in float64 from the float32 inputs (x_c - max rounded to float32, log S = 0 where
// S = 1 + R rounds to 1, u = -expm1(lp_t)); PyTorch 1.13 autograd for the signs of zeros.
// Builds: WASM_XENT_BUILD=simd npx jest tests/redteam36.test.ts; WASM_XENT_BUILD=scalar ...
//
// FINDINGS (describe 'findings'; each fixed in assembly/focal.ts, and the fix noted after it):
//  F1 (SIMD builds only; new with this change) the uniform upstream factor is rounded to float32
//     before it meets the class weight: kv = f32x4.splat(<f32>scale). With 'mean' the factor is
//     gradOutput / sum(w_t), formed in float64 by the host, and it leaves float32's normal range
//     whenever the weights are large or gradOutput small, although k w is an ordinary number.
//     [16, 2] rows, weight [1e20, 1e20], gradOutput 1e-25, 'mean': scale 1.6e-47 rounds to 0 and
//     the whole gradient is 0; float64 (and the scalar build) give +-1.3e-27 .. 1.9e-26. Weight
//     [3e38, 3e38], 400 positions, gradOutput 1: scale 8.3e-42 (subnormal) -> 286-361 ulps.
//     Fixed: a uniform factor outside float32's normal range sends every lane to focalPosition.
//  F2 (SIMD builds only; new) float32 intermediates underflow where the result is a normal number:
//     mod * lp_t (about u^(gamma + 1)) for the loss, and mod = u^gamma for G, then scaled back up
//     by a weight or gradOutput. Near-converged positions (margin 22-37) with gamma >= 1.5:
//     gamma 2, weight [1e6, 1], rows [30.7, 0]: loss 1.00341380e-34, want 1.00340726e-34 (57 ulps);
//     weight 1000 at margin 31.869: 332 ulps; weight 1e20 at margin 36.666: loss 0, want 1.58e-27.
//     gamma 3, gradOutput 1e25 (per position), rows [30.7, 0]: gradient 99 ulps; gradOutput 1e30
//     at margin 35.53: gradient 0, want 7.8e-31. A random sweep with class weights up to 100
//     (inverse-frequency weights) measured 41-50 ulps on the loss at gamma 1.5-3; up to 1000: 432.
//     Fixed: a lane with u != 0 whose u^gamma lp_t falls below float32's normal numbers goes to
//     focalPosition (gamma 2: u in [2^-53, 2^-42), margins of about 29-37); weights up to 1000
//     now within the bound (red team 37: at most 13.2 / 14.4 ulps at gamma 3, below).
//  F3 (SIMD builds only; new) the returned total adds the float32-rounded lane losses (it was the
//     float64 lane losses): a weighted 'mean' or 'sum' overflows or underflows where the per-position
//     loss leaves float32's range. [4, 2] rows [0, 5], target 0, weight [1e38, 1e38], gamma 2,
//     'mean': Infinity, want 4.939921 (PyTorch float64, the scalar build); weight [1e-45, 1e-45]
//     'mean', forward only: 0, want 0.0385861; weight 1e-40: 2.9e-5 relative. The grad flag changes
//     the answer (with grad: true the overflowing G sends the lane to focalPosition, float64).
//     Fixed: a lane whose float32 loss is infinite, or below the normal numbers with u and w != 0,
//     goes to focalPosition.
//  F4 (both builds; NOT from this change: focalPosition does the same) the non-target gradient
//     entries are -0 where PyTorch's log_softmax backward, 0 - s_c G, gives +0: wherever G is +0,
//     i.e. p_t = 1 (S rounds to 1) with gamma >= 1 and gradOutput > 0, or k w = -0 (a zero weight
//     with a negative gradOutput, gradOutput -0). [40, 0, 0] target 0, gamma 2: [0, -0, -0].
//     Fixed: both paths scale the exps by (0 - G) / S (+0 for G of either sign), and the column
//     kernel adds +0 to each entry (an exp flushed to 0 times a negative factor). The per-position
//     path still gives -0 for an exp that underflowed to 0 times a negative factor.
//
// HELD (describe 'held'): the random sweep (rows C = 2-63 regrouped, NCHW with L not a multiple of
// 4; near-converged, S rounding to 1, ties, ignored targets, targets far below, weights 0 and
// negative, gradOutput 1e3 with zeros) within 16 ulps per gamma 0.5, 1, 1.5, 2, 3 (measured over
// 26k positions per gamma, from a generator that repeated after 11k draws: at most 11.8 loss /
// 12.4 gradient ulps, gamma 3; scalar build 3.9 / 4.3; red team 37, 476k positions: 13.2 / 14.4); S stepped ulp by ulp through sqrt(2), 2, R = 2^-29, 2^-53 and S = 1 within 16 ulps; large
// gamma within 4 gamma + 4 ulps (measured 17.5 at gamma 5, 27.7 at 8, 61 at 20: the error grows
// about 3.3 ulps per unit of gamma, the scalar build's about 1.05: u from float32 vector exps
// (2 ulp) and rounded to float32, raised to gamma).
// RED TEAM 37 (a second helper, on the fixes above; describe 'red team 37'):
//  R1 (all builds; F4 incomplete) focalPosition's confident-max target entry is stored as G u
//     (the `exact` branch), without the + 0 the column kernel adds, so it is -0 wherever G is -0:
//     gradOutput 0, a zero weight, gradOutput -0 with a negative weight... PyTorch's G - G s_t is +0.
//     The scalar build and float64 inputs always; the SIMD builds in tails and in every lane that
//     the F1-F3 fallbacks send to focalPosition (rows [30, 0, 0] with a zero weight, gamma 2, go
//     there by F2). Rows [2, -1, 0.5], target 0, 'sum', gradOutput 0: [-0, 0, 0].
//     Fixed: focalPosition stores G u + 0.
//  R2 (SIMD builds) the 16-ulp promise at gamma 3 was exceeded: 2-class rows, target the max,
//     weight 1.3, gradOutput -0.3: d/dx_t 16.2-16.3 ulps (an exhaustive float32 scan of the other
//     logit over [-16, -1.5] found 2 of 25M over 16; the relaxed build 7.3, scalar 0-1.8).
//     Kept: the README promises 17 ulps for gamma up to 3 (p_t is e_t times 1 / S in float32).
//  R3 (SIMD builds, forward only) F3 sends a lane to focalPosition when its float32 loss is
//     infinite, but a loss that the float32 lane rounds down to 3.4028235e38 while the float64
//     formula (and focalPosition) rounds to Infinity stays: [0, 3.1116436], weight 1.17666e38,
//     gamma 2, grad false: 3.4028235e38; with grad: true (an intermediate k w lp_t overflows, so
//     focalPosition) and in the scalar build, Infinity. About 5% of losses within 2e-7 of the
//     threshold (gamma 0.5-3). Fixed: a lane whose float32 loss reaches float32's max falls back.
import * as X from '../src';
import { rng, normals, ints, uniforms } from './helpers/random';
import { focalAccurate as focalRef, randomFocalCase, worstUlps } from './helpers/focal';

beforeAll(() => X.init());

/** Rows [a, b] repeated n times (float32), for the column kernel (16 positions: four groups). */
function rows2(a: number, b: number, n = 16): Float32Array {
  const x = new Float32Array(2 * n);
  for (let p = 0; p < n; p++) { x[2 * p] = a; x[2 * p + 1] = b; }
  return x;
}

describe('held', () => {
  const shapes: number[][] = [[600, 2], [300, 3], [200, 5], [40, 21], [16, 63], [4, 2, 75], [2, 5, 53], [2, 21, 3, 7]];
  test.each([0.5, 1, 1.5, 2, 3])('gamma %p: random rows and NCHW within 16 ulps of float64 (loss and gradient)', (gamma) => {
    const r = rng(3600 + gamma * 10);
    for (const shape of shapes) {
      const { C, positions, x, t, at: index, targetShape } = randomFocalCase(r, shape, 2.5);
      for (let p = 0; p < positions; p++) {
        const at = (c: number) => index(p, c);
        let m = -Infinity;
        for (let c = 0; c < C; c++) m = Math.max(m, x[at(c)]);
        const v = r();
        if (v < 0.3) x[at(t[p])] = m + (v < 0.02 ? 1e4 : 45 * r()); // near-converged; S rounds to 1 from ~37
        else if (v < 0.35) x[at((t[p] + 1) % C)] = x[at(t[p])] = m; // a tie for the max
        else if (v < 0.4) t[p] = -100;
        else if (v < 0.45) x[at(t[p])] -= 20 * r(); // the target far below
      }
      const weight = Float32Array.from(uniforms(r, C, 0.2, 2));
      weight[C - 1] = 0;
      if (C > 2) weight[1] = -1;
      const gradOutput = Float32Array.from(normals(r, positions, 1e3));
      gradOutput[1] = 0;
      gradOutput[positions - 2] = -0;
      const got = X.focalLoss({ data: x, shape }, { data: t, shape: targetShape }, { gamma, weight, reduction: 'none', grad: true, gradOutput });
      const want = focalRef(x, shape, t, gamma, weight, (p) => gradOutput[p]);
      expect(worstUlps(got.loss as Float32Array, want.loss)).toBeLessThanOrEqual(16);
      expect(worstUlps(got.grad!, want.grad)).toBeLessThanOrEqual(16);
    }
  });

  test('S stepped ulp by ulp through sqrt(2), 2, R = 2^-29 and 2^-53, and S = 1: within 16 ulps', () => {
    const centres = [Math.log(Math.SQRT2 - 1), Math.log(1 - 1e-7), -1e-7, Math.log(2 ** -29), Math.log(2 ** -53), -36.04, -36.74, -37.5, -16.6];
    const ds: number[] = [];
    for (const c0 of centres) {
      let d = Math.fround(c0);
      for (let k = 0; k < 60; k++) d = Math.fround(d - Math.abs(d) * 2 ** -24);
      for (let k = 0; k < 120; k++) {
        ds.push(d);
        d = Math.fround(d + Math.abs(d) * 2 ** -24);
      }
    }
    const N = ds.length;
    for (const gamma of [0.5, 1, 2, 3]) {
      for (const target of [0, 1]) {
        const x = new Float32Array(2 * N);
        const k = new Float32Array(N);
        for (let p = 0; p < N; p++) { x[2 * p + 1] = ds[p]; k[p] = p % 2 ? 1 : -1000; }
        const t = new Int32Array(N).fill(target);
        const weight = Float32Array.from([0.7, 1.3]);
        const got = X.focalLoss({ data: x, shape: [N, 2] }, t, { gamma, weight, reduction: 'none', grad: true, gradOutput: k });
        const want = focalRef(x, [N, 2], t, gamma, weight, (p) => k[p]);
        expect(worstUlps(got.loss as Float32Array, want.loss)).toBeLessThanOrEqual(16);
        expect(worstUlps(got.grad!, want.grad)).toBeLessThanOrEqual(16);
      }
    }
  });

  test.each([5, 8])('gamma %p: within 4 gamma + 4 ulps (the error grows with gamma: u^gamma from float32 exps)', (gamma) => {
    const r = rng(3650 + gamma);
    for (const C of [2, 3, 5]) {
      const N = 1200;
      const x = Float32Array.from(normals(r, N * C, 1.5));
      const t = ints(r, N, C);
      const got = X.focalLoss({ data: x, shape: [N, C] }, t, { gamma, reduction: 'none', grad: true });
      const want = focalRef(x, [N, C], t, gamma, null, () => 1);
      expect(worstUlps(got.loss as Float32Array, want.loss)).toBeLessThanOrEqual(4 * gamma + 4);
      expect(worstUlps(got.grad!, want.grad)).toBeLessThanOrEqual(4 * gamma + 4);
    }
  });
});

describe('findings', () => {
  test('F1: a weighted mean whose upstream factor gradOutput / sum(w) is below float32 normal range', () => {
    // [16, 2], weight 1e20, gradOutput 1e-25: factor 1.6e-47 (k w = 6.25e-27)
    const x = new Float32Array(32);
    for (let p = 0; p < 16; p++) { x[2 * p] = [1, 0.5, 2, -0.25][p % 4]; x[2 * p + 1] = [0, -1, 1, 0.75][p % 4]; }
    const t = Int32Array.from({ length: 16 }, (_, p) => (p % 4 < 2 ? 0 : 1));
    const weight = Float32Array.from([1e20, 1e20]);
    const got = X.focalLoss({ data: x, shape: [16, 2] }, t, { gamma: 2, weight, reduction: 'mean', grad: true, gradOutput: 1e-25 });
    const den = focalRef(x, [16, 2], t, 2, weight, () => 1).denominator;
    const want = focalRef(x, [16, 2], t, 2, weight, () => Math.fround(1e-25) / den);
    expect(worstUlps(got.grad!, want.grad)).toBeLessThanOrEqual(16);

    // 400 positions, weight 3e38, gradOutput 1: factor 8.3e-42, a float32 subnormal
    const N = 400;
    const y = new Float32Array(2 * N);
    for (let p = 0; p < N; p++) { y[2 * p] = 0.5 + 0.25 * (p % 4); y[2 * p + 1] = -0.5; }
    const u = new Int32Array(N);
    const heavy = Float32Array.from([3e38, 3e38]);
    for (const gamma of [1, 2]) {
      const g = X.focalLoss({ data: y, shape: [N, 2] }, u, { gamma, weight: heavy, reduction: 'mean', grad: true });
      const w = focalRef(y, [N, 2], u, gamma, heavy, () => 1 / (N * heavy[0]));
      expect(worstUlps(g.grad!, w.grad)).toBeLessThanOrEqual(16);
    }
  });

  test('F2: near-converged positions with a large weight or gradOutput (float32 u^(gamma + 1) and u^gamma underflow)', () => {
    // the loss, gamma 2: w u^3 with u = e^-margin
    for (const [margin, w0] of [[30.7, 1e6], [31.869, 1000], [36.666, 1e20]]) {
      const x = rows2(margin, 0);
      const t = new Int32Array(16);
      const weight = Float32Array.from([w0, 1]);
      const got = X.focalLoss({ data: x, shape: [16, 2] }, t, { gamma: 2, weight, reduction: 'none' });
      const want = focalRef(x, [16, 2], t, 2, weight, () => 1);
      expect(worstUlps(got.loss as Float32Array, want.loss)).toBeLessThanOrEqual(16);
    }
    // the gradient, gamma 3: G = -4 k w u^3 with gradOutput 1e25 / 1e30 per position
    for (const [margin, k0] of [[30.7, 1e25], [35.53, 1e30]]) {
      const x = rows2(margin, 0);
      const t = new Int32Array(16);
      const gradOutput = new Float32Array(16).fill(k0);
      const got = X.focalLoss({ data: x, shape: [16, 2] }, t, { gamma: 3, reduction: 'none', grad: true, gradOutput });
      const want = focalRef(x, [16, 2], t, 3, null, () => gradOutput[0]);
      expect(worstUlps(got.grad!, want.grad)).toBeLessThanOrEqual(16);
    }
  });

  test('F3: a weighted mean or sum whose per-position losses leave float32 range (the total of float32 lane losses)', () => {
    const x = rows2(0, 5, 4);
    const t = new Int32Array(4);
    const big = Float32Array.from([1e38, 1e38]);
    const want = focalRef(x, [4, 2], t, 2, big, () => 1);
    for (const grad of [false, true]) {
      const mean = X.focalLoss({ data: x, shape: [4, 2] }, t, { gamma: 2, weight: big, reduction: 'mean', grad }).loss as number;
      expect(Math.abs(mean - want.total / want.denominator)).toBeLessThanOrEqual(1e-6 * (want.total / want.denominator)); // 4.939921
      const sum = X.focalLoss({ data: x, shape: [4, 2] }, t, { gamma: 2, weight: big, reduction: 'sum', grad }).loss as number;
      expect(Math.abs(sum - want.total)).toBeLessThanOrEqual(1e-6 * want.total); // 1.976e39
    }
    const y = Float32Array.from([0.3, -0.2, 1.5, 0, -1, 0.25, 2, 2.5]);
    const u = Int32Array.from([0, 0, 1, 1]);
    for (const tiny of [1e-45, 1e-40]) {
      const weight = Float32Array.from([tiny, tiny]);
      const w = focalRef(y, [4, 2], u, 2, weight, () => 1);
      const mean = X.focalLoss({ data: y, shape: [4, 2] }, u, { gamma: 2, weight, reduction: 'mean' }).loss as number;
      expect(Math.abs(mean - w.total / w.denominator)).toBeLessThanOrEqual(1e-6 * (w.total / w.denominator)); // 0.0385861
    }
  });

  test('F4: zero gradient entries are +0, as PyTorch\'s log_softmax backward (0 - s_c G) gives them', () => {
    // p_t = 1 (S rounds to 1: margins 40, 45), a zero weight with gradOutput -1, gradOutput -0
    // with a zero weight; PyTorch 1.13 float32 and float64: every entry +0, for gamma 1, 2 and 3.
    const x = Float32Array.from([40, 0, 0, 0, 45, 1, 1, 2, 3, 0, 0, 50]);
    const t = Int32Array.from([0, 1, 2, 2]);
    const weight = Float32Array.from([1, 1, 0]);
    const gradOutput = Float32Array.from([1, 1, -1, -0]);
    for (const gamma of [1, 2, 3]) {
      const got = X.focalLoss({ data: x, shape: [4, 3] }, t, { gamma, weight, reduction: 'none', grad: true, gradOutput });
      const signs = Array.from(got.grad!, (v) => (Object.is(v, -0) ? '-0' : String(v)));
      expect(signs).toEqual(new Array(12).fill('0'));
    }
  });
});

const signs = (a: ArrayLike<number>) => Array.from(a, (v) => (Object.is(v, -0) ? '-0' : String(v)));

/** Rows `row` repeated n times. */
function repeat(row: number[], n: number, type: typeof Float32Array | typeof Float64Array = Float32Array) {
  const x = new type(row.length * n);
  for (let p = 0; p < n; p++) x.set(row, p * row.length);
  return x;
}

describe('red team 37', () => {
  test('R1: the target entry of a confident row is +0 where G is 0 of either sign (PyTorch G - G s_t)', () => {
    // gradOutput 0 with 'sum': G = -0 (k w = +0 times a negative lp_t...); 1 and 5 rows put the row in
    // the per-position code of the SIMD builds (a tail), 4 rows in the column kernel
    for (const type of [Float32Array, Float64Array]) {
      for (const n of [1, 4, 5]) {
        const got = X.focalLoss({ data: repeat([2, -1, 0.5], n, type), shape: [n, 3] }, new Int32Array(n), { gamma: 2, reduction: 'sum', grad: true, gradOutput: 0 });
        expect(signs(got.grad!)).toEqual(new Array(3 * n).fill('0'));
      }
    }
    // a zero weight on a near-converged row ([30, 0, 0]: u^2 lp_t below float32's normal numbers, so
    // the SIMD builds' F2 fallback), gradOutput 1; and weight -1 with gradOutput -0 (G = -0 too)
    for (const gamma of [1.5, 2, 3]) {
      const zero = X.focalLoss({ data: repeat([30, 0, 0], 4), shape: [4, 3] }, new Int32Array(4), { gamma, weight: [0, 1, 1], reduction: 'none', grad: true });
      expect(signs(zero.grad!)).toEqual(new Array(12).fill('0'));
      const neg = X.focalLoss({ data: repeat([30, 0, 0], 4), shape: [4, 3] }, new Int32Array(4), { gamma, weight: [-1, 1, 1], reduction: 'none', grad: true, gradOutput: new Float32Array(4).fill(-0) });
      expect(signs(neg.grad!)).toEqual(new Array(12).fill('0'));
    }
  });

  test('R2: gamma 3, two classes, weight 1.3, gradOutput -0.3: within 17 ulps (16.2 and 16.3, the worst of an exhaustive scan)', () => {
    for (const d of [-3.1942696571350098, -14.846869468688965]) {
      const x = repeat([0, d], 4);
      const t = new Int32Array(4);
      const weight = Float32Array.from([1.3, 0.7]);
      const gradOutput = new Float32Array(4).fill(-0.3);
      const got = X.focalLoss({ data: x, shape: [4, 2] }, t, { gamma: 3, weight, reduction: 'none', grad: true, gradOutput });
      const want = focalRef(x, [4, 2], t, 3, weight, () => gradOutput[0]);
      expect(worstUlps(got.loss as Float32Array, want.loss)).toBeLessThanOrEqual(16);
      expect(worstUlps(got.grad!, want.grad)).toBeLessThanOrEqual(17); // SIMD: 16.21 and 16.30 (README: within 17)
    }
  });

  test('R3: a loss just beyond float32 range is Infinity with and without the gradient', () => {
    const x = repeat([0, 3.1116435527801514], 4);
    const t = new Int32Array(4);
    const weight = Float32Array.from([1.1766609726209515e38, 1]);
    const want = focalRef(x, [4, 2], t, 2, weight, () => 1);
    expect(Math.fround(want.loss[0])).toBe(Infinity); // 3.4028238e38 in float64
    for (const grad of [false, true]) {
      const got = X.focalLoss({ data: x, shape: [4, 2] }, t, { gamma: 2, weight, reduction: 'none', grad });
      expect(Array.from(got.loss as Float32Array)).toEqual([Infinity, Infinity, Infinity, Infinity]); // (it was 3.4028235e38 in the SIMD builds, grad false)
    }
  });
});
