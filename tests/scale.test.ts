// Gradual underflow under large scales, on whichever build runs (npm test runs this file on the
// SIMD build and again with WASM_XENT_BUILD=scalar): exps below the smallest normal number must
// stay subnormal, not 0, because a huge weight or upstream gradient turns them back into normal
// numbers (the red team's case: float32 logits [0, -95 x 7], weight 3e38, 'sum': PyTorch gives
// 1.66e-3 per non-target class; the SIMD build gave 0). References are float64 in the test;
// tests/fixtures (numerics/subnormal-exp/...) check the cross-entropy cases against PyTorch too.
import * as X from '../src';

beforeAll(() => X.init());

/** Within 1e-5 relative, plus `abs`: one subnormal ulp times the scale, the most a result rounded
 *  onto the subnormal grid (as PyTorch's float32 exp(-95) is) can differ from the exact value. */
const close = (a: ArrayLike<number>, e: number[], abs: number) => {
  expect(a.length).toBe(e.length);
  for (let i = 0; i < e.length; i++) {
    if (!(Math.abs(a[i] - e[i]) <= 1e-5 * Math.abs(e[i]) + abs)) throw new Error(`[${i}]: got ${a[i]}, expected ${e[i]}`);
  }
};
const subnormalUlp = (Ctor: Float32ArrayConstructor | Float64ArrayConstructor) => (Ctor === Float32Array ? 2 ** -149 : 2 ** -1074);

/** Row-wise softmax in float64 (the rows here have max 0, so no shift is needed). */
function softmaxRow(x: number[]): number[] {
  const e = x.map(Math.exp);
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

test.each([
  ['float32', Float32Array, -95, Math.fround(3e38)],
  ['float64', Float64Array, -720, 1e308],
] as const)('%s crossEntropy: exps in the subnormal band, scaled back by a huge weight', (_name, Ctor, low, big) => {
  const abs = big * subnormalUlp(Ctor);
  const x = [0, low, low, low, low, low, low, low];
  const logits = { data: new Ctor(x.map((v) => Math.fround(v))), shape: [1, 8] };
  const s = softmaxRow(Array.from(logits.data));
  expect(s[1]).toBeLessThan(Ctor === Float32Array ? 1.17549435e-38 : 2.2250738585072014e-308); // really subnormal
  // d loss / d x_j = big s_j for j != 0. (The target's big (s_0 - 1) cancels to 0 in PyTorch's
  // own float64 arithmetic too, so it is left to the fixtures.)
  const expected = s.map((v) => big * v).slice(1);
  // through the weight (float32: 3e38 is a float32 number) and through gradOutput
  const weight = new Array(8).fill(big);
  close((X.crossEntropy(logits, [0], { weight, reduction: 'sum', grad: true }).grad as Float32Array).subarray(1), expected, abs);
  close((X.crossEntropy(logits, [0], { reduction: 'sum', gradOutput: big, grad: true }).grad as Float32Array).subarray(1), expected, abs);
  // class-probability targets (the same one-hot row)
  const onehot = { data: new Ctor([1, 0, 0, 0, 0, 0, 0, 0]), shape: [1, 8] };
  close((X.crossEntropy(logits, onehot, { reduction: 'sum', gradOutput: big, grad: true }).grad as Float32Array).subarray(1), expected, abs);
});

test.each([
  ['float32', Float32Array, [-95, -88, -100, -103.5, -1e4, -90, -87.5, -102], Math.fround(3e38)],
  ['float64', Float64Array, [-720, -709, -740, -745, -1e4, -730, -708.5, -744], 1e308],
] as const)('%s binaryCrossEntropyWithLogits: sigmoid and softplus in the subnormal band, scaled back', (_name, Ctor, xs, big) => {
  const abs = big * subnormalUlp(Ctor);
  const input = { data: new Ctor(xs), shape: [8] };
  const target = { data: new Ctor(8), shape: [8] };
  const x = Array.from(input.data);
  // y = 0: loss = w log1p(exp(x)), gradient = w sigmoid(x); both exp(x) here, to 1e-30 relative
  const { loss, grad } = X.binaryCrossEntropyWithLogits(input, target, { reduction: 'none', gradOutput: new Ctor(8).fill(big), grad: true });
  close(grad as ArrayLike<number>, x.map((v) => big * Math.exp(v)), abs);
  const sum = X.binaryCrossEntropyWithLogits(input, target, { reduction: 'sum', weight: new Array(8).fill(big) });
  close([sum.loss as number], [x.reduce((a, v) => a + big * Math.exp(v), 0)], 8 * abs);
  expect((loss as ArrayLike<number>)[4]).toBe(0); // exp(-1e4) is 0 even scaled
});

test.each([
  ['float32', Float32Array, 1.17549435e-38],
  ['float64', Float64Array, 2.2250738585072014e-308],
] as const)('%s: outputs below the smallest normal number are within it of PyTorch (SIMD: 0, scalar: subnormal)', (_name, Ctor, minNormal) => {
  const low = Ctor === Float32Array ? -95 : -720;
  const x = { data: new Ctor([0, low, 1, low / 2]), shape: [1, 4] };
  const s = softmaxRow(Array.from(x.data));
  const out = X.softmax(x) as Float32Array | Float64Array;
  for (let j = 0; j < 4; j++) {
    if (s[j] < minNormal) expect(Math.abs(out[j] - s[j])).toBeLessThan(minNormal);
    else expect(Math.abs(out[j] - s[j])).toBeLessThanOrEqual(1e-6 * s[j]);
  }
  const g = X.crossEntropy(x, [2], { grad: true }).grad as Float32Array | Float64Array;
  expect(Math.abs(g[1] - s[1])).toBeLessThan(minNormal);
});
