// A float target (or weight) of the other float type than the input is converted to the input's
// type, never reinterpreted: results equal those of a same-type target. (Regression: a Float64Array
// target once fed a float32 kernel as raw bytes.)
import * as X from '../src';

beforeAll(() => X.init());

const x = [1.2, -0.8, 0.3, -1.5, 0.4, 2];
const shape = [2, 3];

test.each([
  [Float32Array, Float64Array],
  [Float64Array, Float32Array],
])('input %p with a %p target', (InputType, TargetType) => {
  const input = { data: new InputType(x), shape };
  const hard = [1, 0, 1, 0, 0, 1];
  const soft = [0.2, 0.3, 0.5, 0.1, 0.1, 0.8];
  const sigmoid = x.map((v) => 1 / (1 + Math.exp(-v)));
  const calls: [string, (t: Float32Array | Float64Array) => X.LossResult][] = [
    ['bce with logits', (t) => X.binaryCrossEntropyWithLogits(input, t, { grad: true, posWeight: new TargetType([2, 1, 0.5]) })],
    ['bce', (t) => X.binaryCrossEntropy({ data: new InputType(sigmoid), shape }, t, { grad: true, weight: new TargetType([1, 2, 3]) })],
    ['cross entropy, soft', (t) => X.crossEntropy(input, { data: t, shape }, { grad: true, weight: new TargetType([1, 2, 3]) })],
  ];
  for (const [name, call] of calls) {
    const values = name.includes('soft') ? soft : hard;
    const same = call(new InputType(new TargetType(values))); // the same numbers, already in the input type
    const mixed = call(new TargetType(values));
    expect([name, mixed.loss]).toEqual([name, same.loss]);
    expect(mixed.grad).toBeInstanceOf(InputType);
    expect(Array.from(mixed.grad!)).toEqual(Array.from(same.grad!));
  }
  // and the value itself, against a plain float64 computation (BCE with logits, pos_weight 1)
  const expected = x.reduce((s, v, i) => s + (Math.max(v, 0) - v * hard[i] + Math.log1p(Math.exp(-Math.abs(v)))), 0) / 6;
  const loss = X.binaryCrossEntropyWithLogits(input, new TargetType(hard)).loss as number;
  expect(Math.abs(loss - expected)).toBeLessThan(1e-6);
});
