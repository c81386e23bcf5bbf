// onnxruntime-web Tensors ({ data, dims, type }) wherever wasm-xent takes a tensor: real ones,
// from onnxruntime-web 1.30 (its Tensor class needs no wasm), checked against the float64 reference.
import { Tensor as OrtTensor } from 'onnxruntime-web';
import * as X from '../src';
import * as R from './reference';
import { rng, normals, uniforms, ints } from './helpers/random';

beforeAll(() => X.init());

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

// (N, C, L) = (4, 5, 3): logits as an ORT float32 and float64 tensor, targets as ORT int64.
const shape = [4, 5, 3];
const values = normals(rng(31), 4 * 5 * 3, 2);
const targets = ints(rng(32), 4 * 3, 5);
const int64 = new OrtTensor('int64', BigInt64Array.from(targets, (t) => BigInt(t)), [4, 3]);

describe.each([['float32', Float32Array], ['float64', Float64Array]] as const)('ORT %s logits', (type, T) => {
  const logits = new OrtTensor(type, T.from(values), shape);
  const exact = R.crossEntropyIndex({ data: Float64Array.from(logits.data as ArrayLike<number>), shape }, targets, { reduction: 'none' });
  const tolerance = type === 'float32' ? 2e-6 : 1e-13;

  test('crossEntropy with int64 targets: the reference loss and gradient', () => {
    const r = X.crossEntropy(logits as never, int64 as never, { grad: true, reduction: 'none' });
    expect(r.loss).toBeInstanceOf(T);
    expect(maxDiff(r.loss as ArrayLike<number>, exact.loss as Float64Array)).toBeLessThan(tolerance);
    const ref = R.crossEntropyIndex({ data: Float64Array.from(logits.data as ArrayLike<number>), shape }, targets, { reduction: 'none', gradOutput: new Float64Array(12).fill(1) });
    expect(maxDiff(r.grad!, ref.grad!)).toBeLessThan(tolerance);
  });

  test('int32 targets, a readonly dims array, and the same answer as { data, shape }', () => {
    const t32 = new OrtTensor('int32', Int32Array.from(targets), Object.freeze([4, 3]) as readonly number[]);
    const a = X.crossEntropy(logits as never, t32 as never);
    const b = X.crossEntropy({ data: logits.data as InstanceType<typeof T>, shape }, targets);
    expect(a.loss).toBe(b.loss);
    expect(Math.abs(a.loss - (exact.loss as Float64Array).reduce((s, v) => s + v, 0) / 12)).toBeLessThan(tolerance);
  });

  test('softmax, BCE with logits (ORT probabilities and posWeight), klDiv', () => {
    const probs = new OrtTensor(type, T.from(uniforms(rng(33), 60)), shape);
    expect(maxDiff(X.softmax(logits as never, { dim: 1 }), R.softmax({ data: values, shape }, 1))).toBeLessThan(tolerance);
    const pw = new OrtTensor(type, T.from([1, 2, 3]), [3]);
    const bce = X.binaryCrossEntropyWithLogits(logits as never, probs as never, { posWeight: pw as never }).loss;
    const bceRef = R.binaryCrossEntropyWithLogits({ data: Float64Array.from(logits.data as ArrayLike<number>), shape }, Float64Array.from(probs.data as ArrayLike<number>), { posWeight: { data: [1, 2, 3], shape: [3] } }).loss as number;
    expect(Math.abs(bce - bceRef)).toBeLessThan(tolerance);
    const lp = new OrtTensor(type, T.from(R.logSoftmax({ data: values, shape }, 1)), shape);
    const kl = X.klDiv(lp as never, probs as never).loss as number;
    const klRef = R.klDiv({ data: Float64Array.from(lp.data as ArrayLike<number>), shape }, Float64Array.from(probs.data as ArrayLike<number>)).loss as number;
    expect(Math.abs(kl - klRef)).toBeLessThan(tolerance);
  });
});

test('a real float16 ORT tensor to an op without half-precision support gets a clear error, not its bits read as integers', () => {
  const half = new OrtTensor('float16', new Uint16Array(6), [2, 3]);
  expect(() => X.nllLoss(half as never, [0, 1])).toThrow(new TypeError('nllLoss: input.data must be a Float32Array or Float64Array, got Uint16Array'));
});

test("ORT 'float16' logits (a Uint16Array of raw bits) are half-precision input: the same as { data, shape, dtype: 'float16' }", () => {
  // float16 bits of [1, 2, 3, 0.5, -1, 2]
  const bits = new Uint16Array([0x3c00, 0x4000, 0x4200, 0x3800, 0xbc00, 0x4000]);
  const t = new OrtTensor('float16', bits, [2, 3]);
  const viaOrt = X.crossEntropy(t as never, [2, 0], { grad: true });
  const viaDtype = X.crossEntropy({ data: bits, shape: [2, 3], dtype: 'float16' }, [2, 0], { grad: true });
  expect(viaOrt.loss).toBe(viaDtype.loss);
  expect(viaOrt.grad).toEqual(viaDtype.grad);
  expect(viaOrt.grad).toBeInstanceOf(Float32Array);
  const exact = R.crossEntropyIndex({ data: [1, 2, 3, 0.5, -1, 2], shape: [2, 3] }, [2, 0]);
  expect(Math.abs((viaOrt.loss as number) - (exact.loss as number))).toBeLessThan(1e-6);
  expect(X.softmax(t as never)).toEqual(X.softmax({ data: bits, shape: [2, 3], dtype: 'float16' }));
});
