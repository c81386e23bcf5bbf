// Red team 40 (a helper that did not write the code): float32 element-wise losses with huge
// upstream gradients, and saturated logits. Oracles: tests/reference.ts in float64 (PyTorch 1.13's
// formulas), mpmath values written below, and sigmoid(x) - 1 = -1 / (1 + e^x) in float64.
// Builds: WASM_XENT_BUILD=simd npx jest tests/redteam40.test.ts; WASM_XENT_BUILD=scalar ...
//
// FINDINGS (fixed in assembly/bce.ts; linearCrossEntropy's in tests/linear_cross_entropy.test.ts):
//  F5 binaryCrossEntropyWithLogits, SIMD float32 lanes: x = 20, y = 1 gave a gradient of 0 for
//     -2.06e-9 (lw sigmoid(x) - pw y with sigmoid(x) rounded to 1; up to 1.7e7 ulps on normal
//     values, the scalar build and the tail elements right): now (1 - y) - lw sigmoid(-x) for x >= 0.
//  F2 binaryCrossEntropy and binaryCrossEntropyWithLogits, SIMD float32 lanes: a gradOutput near
//     float32's max times a weight below 1 (or 'mean' over n with a weight above 1) overflowed a
//     float32 step and gave +-inf where float64 (and the scalar build, and the call's own scalar
//     tail) gave 3e38: 8 x Infinity then 3.0000000054977558e+38. Now lanes that come out inf or
//     NaN are formed again in float64, the scalar build's arithmetic.
import * as X from '../src';
import * as R from './reference';
import { rng, uniforms } from './helpers/random';
import { checkNearMax, ulps } from './helpers/same';

beforeAll(() => X.init());

const f32 = (a: ArrayLike<number>) => Float32Array.from(a);
const fill = (n: number, v: number) => new Float32Array(n).fill(v);

describe('F5 binaryCrossEntropyWithLogits where sigmoid(x) rounds to 1', () => {
  // d loss / d x = sigmoid(x) - 1 = -1 / (1 + e^x) at y = 1 (mpmath, 40 digits)
  test.each([[20, -2.0611536181902036e-9], [30, -9.357622968839299e-14], [50, -1.9287498479639178e-22], [80, -1.8048513878454152e-35]])(
    'x = %p, y = 1: the gradient is %p in every lane and the tail', (x, exact) => {
      for (const n of [1, 8, 11]) {
        const r = X.binaryCrossEntropyWithLogits({ data: fill(n, x), shape: [n] }, { data: fill(n, 1), shape: [n] }, { reduction: 'sum', grad: true });
        for (let i = 0; i < n; i++) expect(ulps(r.grad![i], exact, true)).toBeLessThanOrEqual(2);
      }
    });

  test('float64, x = 700: -9.86e-305, not 0', () => {
    const r = X.binaryCrossEntropyWithLogits({ data: new Float64Array(5).fill(700), shape: [5] }, { data: new Float64Array(5).fill(1), shape: [5] }, { reduction: 'sum', grad: true });
    for (const g of r.grad!) expect(ulps(g, -9.8596765437597709e-305, false)).toBeLessThanOrEqual(4);
  });

  test('random saturated logits, soft targets near 1, posWeight and weight: within 4 ulps of the float64 form without cancellation', () => {
    const r = rng(40);
    for (let trial = 0; trial < 40; trial++) {
      const n = 1 + Math.floor(r() * 37);
      const x = f32(uniforms(r, n, -90, 90));
      const y = f32(Array.from({ length: n }, () => (r() < 0.5 ? 1 : r() < 0.5 ? 0 : 1 - 2 ** -Math.floor(1 + r() * 23))));
      const pw = f32(uniforms(r, n, 0.25, 8));
      const w = f32(uniforms(r, n, 0.5, 4));
      const got = X.binaryCrossEntropyWithLogits({ data: x, shape: [n] }, { data: y, shape: [n] }, { weight: w, posWeight: pw, reduction: 'sum', grad: true, gradOutput: 3 });
      for (let i = 0; i < n; i++) {
        // lw sigmoid(x) - pw y with sigmoid(x) = 1 - 1 / (1 + e^x) for x >= 0 (there lw - pw y = 1 - y)
        const lw = 1 + (pw[i] - 1) * y[i];
        const factor = x[i] >= 0 ? (1 - y[i]) - lw / (1 + Math.exp(x[i])) : lw / (1 + Math.exp(-x[i])) - pw[i] * y[i];
        const want = w[i] * 3 * factor;
        // (a factor that cancels, |want| far below its terms, is ill-conditioned in any form)
        const size = Math.abs(1 - y[i]) + lw / (1 + Math.exp(Math.abs(x[i])));
        expect(ulps(got.grad![i], want, true, x[i] >= 0 ? w[i] * 3 * size : want)).toBeLessThanOrEqual(4);
      }
    }
  });
});

describe('F2 binaryCrossEntropy / binaryCrossEntropyWithLogits float32 near float32\'s max', () => {
  test('the reproducer: 9 elements, weight 0.5, gradOutput 3e38 give 3e38 in every lane and the tail', () => {
    const r = X.binaryCrossEntropy({ data: fill(9, 0.5), shape: [9] }, { data: fill(9, 0), shape: [9] }, { weight: f32([0.5]), reduction: 'sum', grad: true, gradOutput: 3e38 });
    for (const g of r.grad!) expect(g).toBe(Math.fround(3e38));
    const l = X.binaryCrossEntropyWithLogits({ data: fill(9, 0), shape: [9] }, { data: fill(9, 1), shape: [9] }, { weight: f32([0.5]), posWeight: f32([8]), reduction: 'sum', grad: true, gradOutput: 1e38 });
    for (const g of l.grad!) expect(ulps(g, -2e38, true)).toBeLessThanOrEqual(1);
  });

  test('out = the input (an exact alias): the lanes formed again read the input, not the gradient written over it', () => {
    for (const logits of [false, true]) {
      const x = f32(Array.from({ length: 13 }, (_, i) => (logits ? i - 6 : (i + 1) / 14)));
      const y = f32(Array.from({ length: 13 }, (_, i) => i % 2));
      const options = { weight: f32([0.5]), reduction: 'sum' as const, gradOutput: 3e38 };
      const fresh = logits
        ? X.binaryCrossEntropyWithLogits({ data: x, shape: [13] }, { data: y, shape: [13] }, { ...options, grad: true })
        : X.binaryCrossEntropy({ data: x, shape: [13] }, { data: y, shape: [13] }, { ...options, grad: true });
      const buf = x.slice();
      const aliased = logits
        ? X.binaryCrossEntropyWithLogits({ data: buf, shape: [13] }, { data: y, shape: [13] }, { ...options, out: buf })
        : X.binaryCrossEntropy({ data: buf, shape: [13] }, { data: y, shape: [13] }, { ...options, out: buf });
      expect(Array.from(aliased.grad!)).toEqual(Array.from(fresh.grad!));
      const want = logits
        ? R.binaryCrossEntropyWithLogits({ data: x, shape: [13] }, y, { weight: { data: f32([0.5]), shape: [1] }, reduction: 'sum', gradOutput: Math.fround(3e38) }).grad
        : R.binaryCrossEntropy({ data: x, shape: [13] }, y, { weight: { data: f32([0.5]), shape: [1] }, reduction: 'sum', gradOutput: Math.fround(3e38) }).grad;
      checkNearMax(fresh.grad!, want, 8);
    }
  });

  const reductions = ['sum', 'mean', 'none'] as const;
  test.each(reductions)("random sweep, '%s': within 4 (8 with logits) ulps of float64 where it fits, its signed infinity beyond", (reduction) => {
    const r = rng(4000 + reductions.indexOf(reduction));
    for (let trial = 0; trial < 60; trial++) {
      const n = 1 + Math.floor(r() * 40);
      const logits = trial % 2 === 1;
      const x = f32(logits ? uniforms(r, n, -6, 6) : uniforms(r, n, 0.01, 0.99));
      // (hard labels for logits: a soft one can make lw sigmoid(x) - pw y cancel, ill-conditioned in float32 lanes)
      const y = f32(logits ? Array.from({ length: n }, () => (r() < 0.5 ? 0 : 1)) : uniforms(r, n, 0, 1));
      const w = f32(uniforms(r, n, 0.5, 8));
      const pw = f32(uniforms(r, n, 0.5, 8));
      const sign = r() < 0.3 ? -1 : 1;
      const g = reduction === 'none' ? f32(uniforms(r, n, 1e37, 3.4e38).map((v) => sign * v)) : Math.fround(sign * Math.exp(Math.log(1e37) + r() * Math.log(34)));
      const weight = { data: w, shape: [n] };
      const options = { weight, reduction, grad: true as const, gradOutput: g };
      const refGrad = (g: number | Float32Array) => (logits
        ? R.binaryCrossEntropyWithLogits({ data: x, shape: [n] }, y, { weight, posWeight: { data: pw, shape: [n] }, reduction, gradOutput: g })
        : R.binaryCrossEntropy({ data: x, shape: [n] }, y, { weight, reduction, gradOutput: g })).grad;
      const got = logits
        ? X.binaryCrossEntropyWithLogits({ data: x, shape: [n] }, { data: y, shape: [n] }, { ...options, posWeight: pw })
        : X.binaryCrossEntropy({ data: x, shape: [n] }, { data: y, shape: [n] }, options);
      checkNearMax(got.grad!, refGrad(g), logits ? 8 : 4);
    }
  });
});
