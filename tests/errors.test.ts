// Bad input throws a JS error in PyTorch's words, with the function's name in front, before any
// wasm call; the module keeps giving right answers afterwards.
import * as X from '../src';

beforeAll(() => X.init());

const logits = { data: new Float32Array([1, 2, 3, 1, 2, 3]), shape: [2, 3] };
const probs = { data: new Float32Array([0.1, 0.5, 0.9, 0.2, 0.4, 0.6]), shape: [2, 3] };

type Case = [name: string, call: () => unknown, kind: new (...a: never[]) => Error, message: string | RegExp];

const cases: Case[] = [
  ['target out of bounds', () => X.crossEntropy(logits, new Int32Array([0, 5])), RangeError, 'crossEntropy: Target 5 is out of bounds.'],
  ['negative target out of bounds', () => X.crossEntropy(logits, [-3, 0]), RangeError, 'crossEntropy: Target -3 is out of bounds.'],
  ['out-of-bounds position is named', () => X.nllLoss({ data: new Float64Array(12), shape: [2, 3, 2] }, { data: new Uint8Array([0, 1, 2, 7]), shape: [2, 2] }), RangeError, /nllLoss: Target 7 is out of bounds\. \(at position \[1, 1\]/],
  ['BigInt target out of bounds', () => X.crossEntropy(logits, new BigInt64Array([0n, 3n])), RangeError, 'crossEntropy: Target 3 is out of bounds.'],
  ['fractional target', () => X.crossEntropy(logits, [0.5, 1]), TypeError, 'crossEntropy: target 0.5 at position [0] is not an integer class index'],
  ['batch size mismatch', () => X.crossEntropy(logits, { data: new Int32Array([0, 1, 2]), shape: [3] }), RangeError, 'crossEntropy: Expected input batch_size (2) to match target batch_size (3).'],
  ['K-dim target mismatch', () => X.crossEntropy({ data: new Float32Array(2 * 3 * 4), shape: [2, 3, 4] }, { data: new Int32Array(10), shape: [2, 5] }), RangeError, 'crossEntropy: Expected target size [2, 4], got [2, 5]'],
  ['bare target of the wrong length', () => X.crossEntropy(logits, new Int32Array([0, 1, 2])), RangeError, 'crossEntropy: Expected input batch_size (2) to match target batch_size (3).'],
  ['bare K-dim target of the wrong length', () => X.crossEntropy({ data: new Float32Array(24), shape: [2, 3, 4] }, new Int32Array(7)), RangeError, 'crossEntropy: target has 7 elements but the expected shape [2, 4] holds 8'],
  ['integer target of the input shape', () => X.crossEntropy(logits, { data: new Int32Array(6), shape: [2, 3] }), TypeError, 'crossEntropy: Expected floating point type for target with class probabilities, got Int32Array'],
  ['float target of the index shape', () => X.crossEntropy(logits, new Float32Array([0, 1])), TypeError, "crossEntropy: a Float32Array target holds class probabilities and must have the input's shape [2, 3]; pass class indices as an integer array"],
  ['float target of another length', () => X.crossEntropy(logits, new Float32Array(5)), RangeError, 'crossEntropy: target has 5 elements but the expected shape [2, 3] holds 6'],
  ['wrong weight length', () => X.crossEntropy(logits, [0, 1], { weight: [1, 2] }), RangeError, 'crossEntropy: weight tensor should be defined either for all 3 classes or no classes but got weight tensor of shape: [2]'],
  ['unknown reduction', () => X.crossEntropy(logits, [0, 1], { reduction: 'avg' as never }), RangeError, "crossEntropy: avg is not a valid value for reduction (expected 'mean', 'sum' or 'none')"],
  ['dim out of range', () => X.crossEntropy(logits, [0, 1], { dim: 2 }), RangeError, 'crossEntropy: Dimension out of range (expected to be in range of [-2, 1], but got 2)'],
  ['softmax dim out of range', () => X.softmax(logits, { dim: -3 }), RangeError, 'softmax: Dimension out of range (expected to be in range of [-2, 1], but got -3)'],
  ['label smoothing above 1', () => X.crossEntropy(logits, [0, 1], { labelSmoothing: 1.5 }), RangeError, 'crossEntropy: label_smoothing must be between 0.0 and 1.0. Got: 1.5'],
  ['label smoothing below 0', () => X.crossEntropy(logits, [0, 1], { labelSmoothing: -0.1 }), RangeError, 'crossEntropy: label_smoothing must be between 0.0 and 1.0. Got: -0.1'],
  ['ignoreIndex with probability targets', () => X.crossEntropy(logits, probs.data, { ignoreIndex: 1 }), TypeError, 'crossEntropy: ignore_index is not supported for floating point target'],
  ['gradOutput array for mean', () => X.crossEntropy(logits, [0, 1], { grad: true, gradOutput: [1, 2] }), TypeError, "crossEntropy: gradOutput must be a number for reduction 'mean', got Array"],
  ['gradOutput of the wrong length for none', () => X.crossEntropy(logits, [0, 1], { reduction: 'none', grad: true, gradOutput: [1, 2, 3] }), RangeError, 'crossEntropy: gradOutput has 3 elements but the expected shape [2] holds 2'],
  ['out of the wrong type', () => X.crossEntropy(logits, [0, 1], { out: new Float64Array(6) as never }), TypeError, 'crossEntropy: out must be a Float32Array like the input, got Float64Array'],
  ['out of the wrong length', () => X.crossEntropy(logits, [0, 1], { out: new Float32Array(5) }), RangeError, 'crossEntropy: out has 5 elements but the input has 6'],
  ['unknown option (snake_case)', () => X.crossEntropy(logits, [0, 1], { ignore_index: 0 } as never), TypeError, "crossEntropy: unknown option 'ignore_index' (did you mean 'ignoreIndex'?)"],
  ['input not a float tensor', () => X.crossEntropy({ data: [1, 2, 3], shape: [1, 3] } as never, [0]), TypeError, 'crossEntropy: input.data must be a Float32Array or Float64Array, got Array'],
  ['shape disagrees with data', () => X.logSoftmax({ data: new Float32Array(5), shape: [2, 3] }), RangeError, 'logSoftmax: input shape [2, 3] holds 6 elements but its data has 5'],
  ['negative shape entry', () => X.softmax({ data: new Float32Array(0), shape: [-1, 0] }), TypeError, 'softmax: input.shape[0] must be a non-negative integer, got -1'],
  ['nllLoss with probability targets', () => X.nllLoss(logits, probs.data), TypeError, /^nllLoss: target must hold class indices .* got a Float32Array \(nllLoss takes no class probabilities: use crossEntropy for those\)$/],
  ['BCE input above 1', () => X.binaryCrossEntropy({ data: new Float32Array([0.5, 1.5]), shape: [2] }, new Float32Array([0, 1])), RangeError, 'binaryCrossEntropy: all elements of input should be between 0 and 1 (input[1] = 1.5)'],
  ['BCE input NaN', () => X.binaryCrossEntropy({ data: new Float32Array([NaN]), shape: [1] }, new Float32Array([0])), RangeError, 'binaryCrossEntropy: all elements of input should be between 0 and 1'],
  ['BCE target size', () => X.binaryCrossEntropy(probs, { data: new Float32Array(3), shape: [3] }), RangeError, 'binaryCrossEntropy: Using a target size (torch.Size([3])) that is different to the input size (torch.Size([2, 3])) is deprecated. Please ensure they have the same size.'],
  ['BCE-with-logits target size', () => X.binaryCrossEntropyWithLogits(logits, { data: new Float32Array(3), shape: [1, 3] }), RangeError, 'binaryCrossEntropyWithLogits: Target size (torch.Size([1, 3])) must be the same as input size (torch.Size([2, 3]))'],
  ['BCE integer target', () => X.binaryCrossEntropyWithLogits(logits, new Int32Array(6)), TypeError, 'binaryCrossEntropyWithLogits: target must be a Float32Array, Float64Array or an array of numbers, got Int32Array'],
  ['posWeight not broadcastable', () => X.binaryCrossEntropyWithLogits(logits, probs.data, { posWeight: [1, 2] }), RangeError, 'binaryCrossEntropyWithLogits: posWeight of shape [2] is not broadcastable to the input shape [2, 3]'],
  ['weight not broadcastable', () => X.binaryCrossEntropy(probs, probs.data, { weight: { data: new Float32Array(3), shape: [3, 1] } }), RangeError, 'binaryCrossEntropy: weight of shape [3, 1] is not broadcastable to the input shape [2, 3]'],
  ['softmax backward shapes', () => X.softmaxBackward({ data: new Float32Array(6), shape: [3, 2] }, logits), RangeError, 'softmaxBackward: gradOutput of shape [3, 2] does not match output of shape [2, 3]'],
  ['oneHot out of range', () => X.oneHot([0, 3], 3), RangeError, 'oneHot: Class values must be smaller than num_classes: target[1] = 3, numClasses 3'],
];

describe.each(cases)('%s', (_name, call, kind, message) => {
  test('throws the right error type and message', () => {
    let thrown: unknown;
    try {
      call();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(kind);
    // Messages may add detail after PyTorch's words (the position of a bad target, say).
    if (typeof message === 'string') expect((thrown as Error).message.startsWith(message) ? message : (thrown as Error).message).toBe(message);
    else expect((thrown as Error).message).toMatch(message);
  });
});

test('the module is still correct after every error', () => {
  for (const [, call] of cases) expect(call).toThrow();
  const { loss } = X.crossEntropy({ data: new Float64Array([1, 2, 3]), shape: [1, 3] }, [2]);
  expect(loss).toBeCloseTo(0.4076059644443804, 12);
});
