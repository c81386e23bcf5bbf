// The seeds' own examples, with the values PyTorch prints for them (4 decimals, as in the notes).
import * as X from '../src';

beforeAll(() => X.init());

test('cross_entropy([[1, 2, 3]], [2]) = 0.4076', () => {
  for (const Arr of [Float32Array, Float64Array]) {
    const { loss } = X.crossEntropy({ data: new Arr([1, 2, 3]), shape: [1, 3] }, new Int32Array([2]));
    expect(loss).toBeCloseTo(0.4076, 4);
  }
});

test('log_softmax([1, 2, 3]) and softmax([1, 2, 3])', () => {
  const x = { data: new Float64Array([1, 2, 3]), shape: [3] };
  const ls = X.logSoftmax(x);
  [-2.4076, -1.4076, -0.4076].forEach((v, i) => expect(ls[i]).toBeCloseTo(v, 4));
  const s = X.softmax(x);
  [0.09, 0.2447, 0.6652].forEach((v, i) => expect(s[i]).toBeCloseTo(v, 4));
});

test('nll_loss on [[1, 2, 3]] x3 with targets 0, 1, 2 is -1, -2, -3', () => {
  const input = { data: new Float32Array([1, 2, 3, 1, 2, 3, 1, 2, 3]), shape: [3, 3] };
  const { loss } = X.nllLoss(input, [0, 1, 2], { reduction: 'none' });
  expect(Array.from(loss as Float32Array)).toEqual([-1, -2, -3]);
});
