// Red team 17: gradients at upstream gradients near the type's largest value (gradOutput 3e38 in
// float32, 1.7e308 in float64), where the order of the products decides between a finite number
// and an overflow, and where two roundings of a large term leave a residue PyTorch does not have;
// `out` sharing memory with arrays the call reads. Oracle: PyTorch 1.13 (the values below were
// computed with it, f32 and f64 as named).
//
// FINDINGS (fixed in the commit that added this file; each test failed before it):
//  F1 binaryCrossEntropyWithLogits float32 on the SIMD and relaxed builds: x = -3 (9 elements),
//     y = 0.5, weight 2, 'sum', gradOutput 3e38: grad -Infinity in the eight vector lanes where
//     torch gives -2.715444897601884e38. The vector line formed (k w)(lw sigmoid - pw y), and
//     k w = 6e38 overflows float32; PyTorch forms ((lw sigmoid - pw y) g) w. assembly/bce.ts now
//     takes PyTorch's order in the vector lines and in the per-element f64 line (float64 had the
//     same overflow at gradOutput 1.7e308, weight 2).
//  F2 crossEntropy with labelSmoothing where the softmax is exactly 1 and W = w_t (C = 1, or the
//     other classes -inf with weight 0): float64 [2, 1], eps 0.1, 'sum', gradOutput 3e38 gave
//     grad [-3.78e22, ...] where PyTorch's g - p sum(g) gives exactly [0, 0] (eps 0.3, weight [1],
//     gradOutput 1e30: 1.4e14). The per-position path rounded e_t a - k (eps / C) w_t and then
//     subtracted k (1 - eps) w_t: a's numerator k ((1 - eps) w_t + (eps / C) W) is not the sum of
//     the two terms in floating point. It now forms the target's entry in one expression with a's
//     numerator summed the same way (smoothedTarget, assembly/cross_entropy.ts).
//  F4 crossEntropy accepted an `out` that partly overlaps `weight` or a 'none' gradOutput where the
//     README's error table promised a RangeError. The numbers were right: class weights, short BCE
//     weights and gradOutput are copied into wasm memory in whole before anything is written. The
//     README now says so; the streamed arrays (input, targets, full-shape BCE weights) are refused.
//
// OBSERVATION (no test): linearCrossEntropy float32 at gradOutput +-3e38 'sum' (N 5, D 4, C 6):
// gradInput / gradWeight entries whose exact values lie near float32's largest (|v| ~3.2e38)
// overflow in the float32 GEMM's partial sums in a different order than PyTorch's: -inf where
// torch gives -3.1966e38, NaN (inf - inf) where torch gives inf. Both overflow an intermediate;
// matching would need PyTorch's summation order. At gradOutput 1e38 every entry agrees.
import * as X from '../src';

import { ulp32 } from './helpers/same';

beforeAll(() => X.init());

/** |got - want| in units of `scale`'s last place (f32 or f64), 0 for the same infinity. */
function ulps(got: number, want: number, f32: boolean, scale = want): number {
  if (Object.is(got, want) || got === want) return 0;
  if (!Number.isFinite(got) || !Number.isFinite(want)) return Infinity;
  const unit = f32 ? ulp32(scale) : Math.max(Math.abs(scale) * 2 ** -52, 5e-324);
  return Math.abs(got - want) / unit;
}

describe('FINDINGS (fixed)', () => {
  // torch 1.13: x = [-3 x4, 2 x4, -3], y = [0.5 x4, 0.25 x4, 0.5], gradOutput 3e38 (f32) / 1.7e308 (f64)
  const x = [-3, -3, -3, -3, 2, 2, 2, 2, -3];
  const y = [0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.5];
  const cases: [string, 'sum' | 'mean', { weight?: number; posWeight?: number }, number[]][] = [
    ['float32', 'sum', { weight: 2.0 }, [-2.715444897601884e+38, -2.715444897601884e+38, -2.715444897601884e+38, -2.715444897601884e+38, Infinity, Infinity, Infinity, Infinity, -2.715444897601884e+38]],
    ['float32', 'sum', { posWeight: 3.0 }, [-Infinity, -Infinity, -Infinity, -Infinity, 1.7135867566174763e+38, 1.7135867566174763e+38, 1.7135867566174763e+38, 1.7135867566174763e+38, -Infinity]],
    ['float32', 'sum', { weight: 2.0, posWeight: 3.0 }, [-Infinity, -Infinity, -Infinity, -Infinity, Infinity, Infinity, Infinity, Infinity, -Infinity]],
    ['float32', 'mean', { weight: 2.0 }, [-3.0171610536754535e+37, -3.0171610536754535e+37, -3.0171610536754535e+37, -3.0171610536754535e+37, Infinity, Infinity, Infinity, Infinity, -3.0171610536754535e+37]],
    ['float32', 'mean', { posWeight: 3.0 }, [-Infinity, -Infinity, -Infinity, -Infinity, 1.903985341470556e+37, 1.903985341470556e+37, 1.903985341470556e+37, 1.903985341470556e+37, -Infinity]],
    ['float64', 'sum', { weight: 2.0 }, [-1.538752031196273e+308, -1.538752031196273e+308, -1.538752031196273e+308, -1.538752031196273e+308, Infinity, Infinity, Infinity, Infinity, -1.538752031196273e+308]],
    // (float64 with posWeight: the finite entries are the exact value rounded (mpmath, 50 digits),
    // to which torch's lw sigmoid - pw y is 1.4 ulps ('sum') and 2.6 ulps ('mean') off: torch gives
    // 9.710325488436e+307 and 1.0789250542706666e+307; since red team 40 the library forms
    // (1 - y) - lw sigmoid(-x) for x >= 0, 0.6 and 0.4 ulps off)
    ['float64', 'sum', { posWeight: 3.0 }, [-Infinity, -Infinity, -Infinity, -Infinity, 9.710325488436001e+307, 9.710325488436001e+307, 9.710325488436001e+307, 9.710325488436001e+307, -Infinity]],
    ['float64', 'mean', { weight: 2.0 }, [-1.7097244791069698e+307, -1.7097244791069698e+307, -1.7097244791069698e+307, -1.7097244791069698e+307, Infinity, Infinity, Infinity, Infinity, -1.7097244791069698e+307]],
    ['float64', 'mean', { posWeight: 3.0 }, [-Infinity, -Infinity, -Infinity, -Infinity, 1.0789250542706669e+307, 1.0789250542706669e+307, 1.0789250542706669e+307, 1.0789250542706669e+307, -Infinity]],
  ];
  test.each(cases)('F1 binaryCrossEntropyWithLogits %s %s %j at gradOutput near the max: PyTorch order, no early overflow', (...[type, reduction, opts, want]) => {
    const f32 = type === 'float32';
    const T = f32 ? Float32Array : Float64Array;
    const r = X.binaryCrossEntropyWithLogits({ data: new T(x), shape: [9] }, { data: new T(y), shape: [9] }, { ...opts, reduction, grad: true, gradOutput: f32 ? 3e38 : 1.7e308 });
    const got = Array.from(r.grad!);
    // 'mean': PyTorch overflows (d g) w before it divides by 9 (x = 2, weight 2: the exact value is
    // 2.4e37 / 2.4e307; x = -3, posWeight 3: -4.7e37 / -2.7e307), the library divides g first;
    // there only torch's infinity or a finite value of its sign is asked for.
    // (float64: within 2 ulps of the exact value, the form's two roundings and the division by n)
    const bad = got.filter((v, i) => !(ulps(v, want[i], f32) <= (f32 ? 1 : 2) || (reduction === 'mean' && Math.abs(want[i]) === Infinity && Math.sign(v) === Math.sign(want[i]))));
    expect([got.length, bad]).toEqual([9, []]); // before: -Infinity in lanes 0-7 (f32 'sum' weight 2)
  });

  // The gradient of each position's target where the softmax is exactly 1 and W = w_t: PyTorch's
  // g - 1 * g is exactly 0 in f32 and f64 (torch 1.13, the C = 1 inputs below, eps 0.1 and 0.3,
  // weight none / [0.75] / [1], gradOutput 3e38 and 1.7e308: zeros everywhere; so for C = 2 with the
  // other logit -inf and weight [w, 0]).
  const logits = [1.4949090480804443, -0.2625911831855774, 0.5, -1.25, 3, 0, -7.5, 2.25, 1];
  const zeroCases: [string, number[] | null, number[]][] = [];
  for (const shape of [[2, 1], [9, 1], [1, 1, 9], [2, 1, 9]]) for (const weight of [null, [0.75], [1]]) zeroCases.push([`C = 1 ${JSON.stringify(shape)}`, weight, shape]);
  for (const shape of [[2, 2], [9, 2], [1, 2, 9], [2, 2, 9]]) for (const weight of [[0.75, 0], [1, 0]]) zeroCases.push([`C = 2, x_1 = -inf ${JSON.stringify(shape)}`, weight, shape]);
  test.each(zeroCases)('F2 crossEntropy labelSmoothing, softmax exactly 1: %s weight %j gives a zero gradient in f32 and f64', (...[, weight, shape]) => {
    const C = shape[1];
    const inner = shape[2] ?? 1;
    const n = shape.reduce((a, b) => a * b);
    const values = Array.from({ length: n }, (_, i) => (C === 2 && Math.floor(i / inner) % 2 === 1 ? -Infinity : logits[i % logits.length]));
    const targetShape = [shape[0], ...shape.slice(2)];
    for (const [T, gradOutput] of [[Float32Array, 3e38], [Float64Array, 1.7e308], [Float64Array, 3e38], [Float32Array, 1e30]] as const) {
      for (const labelSmoothing of [0.1, 0.3]) {
        const r = X.crossEntropy({ data: new T(values), shape }, { data: new Int32Array(n / C), shape: targetShape }, {
          labelSmoothing, weight: weight ?? undefined, reduction: 'sum', grad: true, gradOutput,
        });
        const nonzero = Array.from(r.grad!).map((v, i) => [i, v]).filter(([, v]) => v !== 0);
        expect([T.name, gradOutput, labelSmoothing, nonzero]).toEqual([T.name, gradOutput, labelSmoothing, []]); // before: -3.78e22 (f64 [2, 1], eps 0.1)
      }
    }
  });

  test('F2 the same composition where the softmax is 1 but W > w_t: PyTorch\'s k (eps / C) (W - w_t) within a few ulps', () => {
    // torch 1.13, x = [[1.4949, -inf], [-0.2626, -inf]], targets [0, 0], no weight, 'sum'
    const want: [typeof Float32Array | typeof Float64Array, number, number, number[]][] = [
      [Float32Array, 3e38, 0.1, [1.4999997999247818e+37, -1.500000053454902e+37]],
      [Float32Array, 3e38, 0.3, [4.4999993997743455e+37, -4.499999906834586e+37]],
      [Float64Array, 1.7e308, 0.1, [8.500000000000006e+306, -8.500000000000001e+306]],
      [Float64Array, 1.7e308, 0.3, [2.5499999999999997e+307, -2.5499999999999997e+307]],
      [Float64Array, 3e38, 0.1, [1.499999999999999e+37, -1.5e+37]],
    ];
    for (const [T, gradOutput, labelSmoothing, [gt, gOther]] of want) {
      const r = X.crossEntropy({ data: new T([logits[0], -Infinity, logits[1], -Infinity]), shape: [2, 2] }, [0, 0], { labelSmoothing, reduction: 'sum', grad: true, gradOutput });
      const f32 = T === Float32Array;
      const errors = Array.from(r.grad!).map((v, i) => ulps(v, i % 2 ? gOther : gt, f32, gOther));
      // (torch f32's own result is 2 ulps from the exact k eps / 2; 4 allows either side of it)
      expect([T.name, labelSmoothing, errors.every((e) => e <= 4), errors]).toEqual([T.name, labelSmoothing, true, errors]);
    }
  });

  test('F4 out may share memory with class weights and gradOutput (copied in whole first): the same numbers as separate arrays', () => {
    const C = 4;
    const N = 3;
    const x = Float64Array.from({ length: N * C }, (_, i) => Math.sin(i + 1) * 3);
    const target = [1, 0, 3];
    // out = the first 12 of 16, weight = the last 4 (overlapping out's last row), gradOutput = 3 of them
    for (const [name, at] of [['weight', 8], ['gradOutput', 9]] as const) {
      const buffer = new Float64Array(16);
      const out = buffer.subarray(0, N * C);
      const shared = buffer.subarray(at, at + (name === 'weight' ? C : N));
      shared.set(name === 'weight' ? [0.5, 2, 1, 0.25] : [1.5, -2, 0.75]);
      const separate = Float64Array.from(shared);
      const opts = name === 'weight' ? { weight: separate, reduction: 'sum' as const } : { gradOutput: separate, reduction: 'none' as const };
      const reference = X.crossEntropy({ data: x, shape: [N, C] }, target, { ...opts, grad: true });
      const sharedOpts = name === 'weight' ? { weight: shared, reduction: 'sum' as const } : { gradOutput: shared, reduction: 'none' as const };
      const r = X.crossEntropy({ data: x, shape: [N, C] }, target, { ...sharedOpts, out });
      expect([name, Array.from(r.grad!), r.loss]).toEqual([name, Array.from(reference.grad!), reference.loss]);
    }
  });

  test('F4 an out that partly overlaps a streamed array (input, full-shape BCE weight) is a RangeError naming both', () => {
    const buffer = new Float32Array(24);
    const x = buffer.subarray(0, 12);
    x.set([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.25, 0.75, 0.5]);
    expect(() => X.crossEntropy({ data: x, shape: [3, 4] }, [0, 1, 2], { out: buffer.subarray(4, 16) })).toThrow(/crossEntropy: out partly overlaps input/);
    // A weight of the input's shape longer than the 2^14 elements kept in wasm memory streams beside the input.
    const n = 20000;
    const long = new Float32Array(2 * n);
    const weight = long.subarray(0, n).fill(1);
    const p = new Float32Array(n).fill(0.25);
    const y = new Float32Array(n).fill(0.5);
    expect(() => X.binaryCrossEntropy({ data: p, shape: [n] }, { data: y, shape: [n] }, { weight: { data: weight, shape: [n] }, out: long.subarray(n / 2, n / 2 + n) }))
      .toThrow(/binaryCrossEntropy: out partly overlaps weight/);
    // ... and the same arrays apart give the loss: 0.25 -> -(0.5 log 0.25 + 0.5 log 0.75) per element
    const r = X.binaryCrossEntropy({ data: p, shape: [n] }, { data: y, shape: [n] }, { weight: { data: weight, shape: [n] }, out: long.subarray(n, 2 * n) });
    expect(Math.abs((r.loss as number) + 0.5 * Math.log(0.25) + 0.5 * Math.log(0.75))).toBeLessThan(1e-6);
  });
});
