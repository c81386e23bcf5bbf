// Red team 38 (a helper that did not write the code): float32 gradients whose upstream factor
// k w (gradOutput times the class weight) lies beyond float32's max, while the entries themselves
// fit. Oracle: helpers/focal.ts focalAccurate (the formula in float64 from the float32 inputs) and
// the float64 build of the same op.
// Builds: WASM_XENT_BUILD=simd npx jest tests/redteam38.test.ts; WASM_XENT_BUILD=scalar ...
//
// FINDING (fixed in assembly/focal.ts and assembly/math.ts):
//  D1 focalLoss float32, gradOutput 3e38 (or a weight of 1e38 times 3): [0, 1.5], target 0, gamma
//     2, 'sum' gave [-Infinity, 2.88e38] for float64's [-2.88e38, 2.88e38] (every build: the
//     target's term G = d loss / d lp_t was rounded to float32 before s_t - 1 scaled it); rows of
//     70 classes, gamma 0.001, weight 1.5 gave 67 entries of Infinity for about 1.5e27 (the SIMD
//     builds only: rowScale splatted the factor -G / S, 4.4e38, into float32 lanes, where the
//     scalar build multiplies in float64, so the builds disagreed; crossEntropy's rows the same).
//     Fixed: focalPosition adds G in float64 where float32 cannot hold it, and rowScale takes its
//     float64 loop for a factor beyond float32's max.
import * as X from '../src';
import { rng, uniforms } from './helpers/random';
import { focalAccurate, randomFocalCase, worstUlps } from './helpers/focal';
import { checkNearMax, FLT_MAX } from './helpers/same';

beforeAll(() => X.init());

describe('D1 focalLoss float32 with k w beyond float32', () => {
  const cases: [string, number[], number[], Record<string, unknown>, (p: number) => number, number[] | null][] = [
    ["[0, 1.5] 'sum' gradOutput 3e38", [0, 1.5], [1, 2], { reduction: 'sum', gradOutput: 3e38 }, () => Math.fround(3e38), null],
    ["[0, 1.5] 'none' gradOutput [3e38]", [0, 1.5], [1, 2], { reduction: 'none', gradOutput: [3e38] }, () => Math.fround(3e38), null],
    ['[0, 1.5] weight [1e38, 1] gradOutput 3', [0, 1.5], [1, 2], { reduction: 'sum', gradOutput: 3, weight: [1e38, 1] }, () => 3, [1e38, 1]],
  ];
  test.each(cases)('%s: [-2.88e38, 2.88e38] as float64 (was [-Infinity, 2.88e38])', (_, data, shape, opts, k, weight) => {
    const got = X.focalLoss({ data: new Float32Array(data), shape }, [0], { grad: true, ...opts });
    const want = focalAccurate(new Float32Array(data), shape, [0], 2, weight ? Float32Array.from(weight) : null, k);
    expect(Array.from(got.grad!).every(Number.isFinite)).toBe(true);
    expect(worstUlps(got.grad!, want.grad)).toBeLessThanOrEqual(4);
  });

  test('70 classes, gamma 0.001, weight 1.5, gradOutput 3e38: no Infinity (was 67 entries on SIMD)', () => {
    const row = new Float32Array(70);
    for (let c = 0; c < 70; c++) row[c] = Math.sin(c * 1.7) * 3;
    row[12] = 26.4;
    const weight = new Float32Array(70).fill(1.5);
    const got = X.focalLoss({ data: row, shape: [1, 70] }, [12], { gamma: 0.001, reduction: 'sum', gradOutput: 3e38, weight, grad: true });
    const want = focalAccurate(row, [1, 70], [12], 0.001, weight, () => Math.fround(3e38));
    expect(Array.from(got.grad!).filter((v) => !Number.isFinite(v))).toEqual([]);
    expect(worstUlps(got.grad!, want.grad)).toBeLessThanOrEqual(4);
  });

  test.each([0.5, 2, 3])('gamma %p: random rows and NCHW, gradOutput 1e37-3.4e38 times weights 0.5-8, within 17 ulps or the right infinity', (gamma) => {
    const r = rng(3800 + gamma * 10);
    for (const shape of [[64, 2], [48, 5], [12, 21], [6, 70], [3, 5, 9], [2, 3, 13]]) {
      const { C, positions, x, t, targetShape } = randomFocalCase(r, shape, 2.5);
      const weight = Float32Array.from(uniforms(r, C, 0.5, 8));
      const gradOutput = Float32Array.from({ length: positions }, () => (r() < 0.5 ? -1 : 1) * 10 ** (37 + 1.53 * r()));
      const got = X.focalLoss({ data: x, shape }, { data: t, shape: targetShape }, { gamma, weight, reduction: 'none', grad: true, gradOutput });
      const want = focalAccurate(x, shape, t, gamma, weight, (p) => gradOutput[p]);
      checkNearMax(got.grad!, want.grad, 17);
      expect(worstUlps(got.loss as Float32Array, want.loss)).toBeLessThanOrEqual(17);
    }
  });
});

describe('D1 crossEntropy float32 with k w beyond float32: PyTorch float64\'s rows, on every build and layout', () => {
  // (float32 [0, 0], weight 1.5, gradOutput 3e38 gave [-inf, 2.25e38]; rows regrouped into columns
  // and NCHW gave Infinity for every other class on the SIMD builds, finite values on the scalar
  // build. Such rows are now formed as PyTorch composes them (src/ops/cross_entropy.ts Literal),
  // in float64 from the float32 softmax: measured at most 71 ulps of each entry's own value against
  // the float64 op on the same inputs, at entries where p_c sum(w q) - w_c q_c cancels; the kernel
  // at gradOutput 1 is 675 ulps off on the same [8, 70] probabilities, PyTorch float32's order.)
  test('[0, 0], weight 1.5, gradOutput 3e38: [-2.25e38, 2.25e38]', () => {
    const got = X.crossEntropy({ data: new Float32Array(2), shape: [1, 2] }, [0], { reduction: 'sum', gradOutput: 3e38, weight: [1.5, 1.5], grad: true }).grad!;
    expect(Array.from(got)).toEqual([Math.fround(-1.5 * Math.fround(3e38) / 2), Math.fround(1.5 * Math.fround(3e38) / 2)]);
  });

  const wave = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.37) * 4);
  const cases: [string, number[], (shape: number[]) => { target: unknown; target64: unknown }, Record<string, unknown>][] = [];
  for (const shape of [[64, 2], [32, 5], [8, 70], [2, 21, 9]]) {
    const [N, C] = shape;
    const positions = shape.length > 2 ? N * shape[2] : N;
    const t = Int32Array.from({ length: positions }, (_, i) => i % C);
    const idx = () => ({ target: shape.length > 2 ? { data: t, shape: [N, shape[2]] } : t, target64: shape.length > 2 ? { data: t, shape: [N, shape[2]] } : t });
    const name = JSON.stringify(shape);
    const weight = new Array(C).fill(1.5);
    cases.push([`${name} 'sum'`, shape, idx, { reduction: 'sum', gradOutput: 3e38, weight }]);
    cases.push([`${name} label smoothing 0.2`, shape, idx, { reduction: 'sum', gradOutput: 3e38, weight, labelSmoothing: 0.2 }]);
    cases.push([`${name} 'mean' over weights of 1e-3`, shape, idx, { reduction: 'mean', gradOutput: 3e38, weight: new Array(C).fill(1e-3) }]);
    const gradOutput = Float32Array.from({ length: positions }, (_, i) => (i % 2 ? -3e38 : 3e38));
    cases.push([`${name} 'none' gradOutput +-3e38`, shape, idx, { reduction: 'none', gradOutput, weight }]);
    if (shape.length === 2) {
      const p = Float32Array.from({ length: N * C }, (_, i) => (i % C === 0 ? 0.7 : 0.3 / (C - 1)));
      cases.push([`${name} probabilities`, shape, () => ({ target: { data: p, shape }, target64: { data: Float64Array.from(p), shape } }), { reduction: 'sum', gradOutput: 3e38, weight }]);
    }
  }
  test.each(cases)('%s: within 128 ulps of float64, or its infinity', (_, shape, targets, opts) => {
    const x = wave(shape.reduce((a, b) => a * b, 1));
    const { target, target64 } = targets(shape);
    const wide = (v: unknown) => (v instanceof Float32Array ? Float64Array.from(v) : Array.isArray(v) ? v.map(Math.fround) : typeof v === 'number' ? Math.fround(v) : v);
    const got = X.crossEntropy({ data: x, shape }, target as never, { ...opts, grad: true } as never).grad!;
    const want = X.crossEntropy({ data: Float64Array.from(x), shape }, target64 as never, { ...opts, weight: wide(opts.weight), gradOutput: wide(opts.gradOutput), grad: true } as never).grad!;
    checkNearMax(got, want, 128);
  });
});
