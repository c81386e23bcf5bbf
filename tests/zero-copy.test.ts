// The zero-copy path: arrays allocated in wasm-xent's memory with wasmArray() are read and written
// in place, give the same numbers as ordinary arrays, and survive memory growth.
import * as X from '../src';
import { ints, normals, rng } from './helpers/random';

beforeAll(() => X.init());

/** Bit-for-bit equality (Object.is per element, so -0 and NaN count), reporting the first difference. */
function expectSame(a: ArrayLike<number>, b: ArrayLike<number>): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) throw new Error(`element ${i}: ${a[i]} vs ${b[i]}`);
  }
}

const r = rng(2024);

test('crossEntropy reads a wasmArray input and writes a wasmArray out in place, same numbers as the copy path', () => {
  const shape = [300, 700];
  const n = 300 * 700;
  const values = new Float32Array(normals(r, n, 2));
  const target = ints(r, 300, 700);
  const logits = X.wasmArray(Float32Array, n);
  const grad = X.wasmArray(Float32Array, n);
  logits.array.set(values);
  const expected = X.crossEntropy({ data: values, shape }, target, { grad: true, labelSmoothing: 0.05 });
  const res = X.crossEntropy({ data: logits.array, shape }, target, { out: grad.array, labelSmoothing: 0.05 });
  expect(res.loss).toBe(expected.loss);
  expect(res.grad).toBe(grad.array); // the same view: nothing grew
  expectSame(grad.array, expected.grad!);
  // the input is untouched
  expectSame(logits.array, values);
  logits.free();
  grad.free();
});

test('logSoftmax and softmax with a wasmArray input and out', () => {
  const shape = [64, 1000];
  const values = new Float64Array(normals(r, 64000, 3));
  const x = X.wasmArray(Float64Array, 64000);
  const y = X.wasmArray(Float64Array, 64000);
  x.array.set(values);
  const out = X.logSoftmax({ data: x.array, shape }, { out: y.array });
  expectSame(out, X.logSoftmax({ data: values, shape }));
  // out aliasing the input (in place) is handled: the result goes through the workspace
  const inPlace = X.softmax({ data: x.array, shape }, { out: x.array });
  expectSame(inPlace, X.softmax({ data: values, shape }));
  x.free();
  y.free();
});

describe('wasmArrays over a sliced inner dim (an NCHW image over the chunk size: its rows are copied by wasm, copyRows) give the same numbers', () => {
  const [N, C, H, W] = [2, 7, 150, 150];
  const shape = [N, C, H, W];
  const n = N * C * H * W;
  const values = new Float32Array(normals(r, n));
  const target = { data: ints(r, N * H * W, C), shape: [N, H, W] };
  const pin = (data: Float32Array | null, length = n) => {
    const a = X.wasmArray(Float32Array, length);
    if (data) a.array.set(data);
    return a;
  };

  test('crossEntropy: the input, out, and out aliasing the input', () => {
    const want = X.crossEntropy({ data: values, shape }, target, { grad: true, weight: [1, 2, 3, 4, 5, 6, 7], labelSmoothing: 0.1 });
    const x = pin(values);
    const g = pin(null);
    try {
      const opts = { weight: [1, 2, 3, 4, 5, 6, 7], labelSmoothing: 0.1 };
      const a = X.crossEntropy({ data: x.array, shape }, target, { ...opts, grad: true });
      expect(a.loss).toBe(want.loss);
      expectSame(a.grad!, want.grad!);
      const b = X.crossEntropy({ data: x.array, shape }, target, { ...opts, out: g.array });
      expect(b.loss).toBe(want.loss);
      expectSame(g.array, want.grad!);
      expectSame(x.array, values); // the input is untouched
      const c = X.crossEntropy({ data: x.array, shape }, target, { ...opts, out: x.array }); // in place
      expect(c.loss).toBe(want.loss);
      expectSame(x.array, want.grad!);
    } finally {
      x.free();
      g.free();
    }
  });

  test('per-position wasmArrays too: gradOutput for \'none\', and probability targets', () => {
    const gradOutput = new Float32Array(normals(r, N * H * W));
    const want = X.crossEntropy({ data: values, shape }, target, { reduction: 'none', gradOutput: { data: gradOutput, shape: [N, H, W] }, grad: true });
    const x = pin(values);
    const go = pin(gradOutput, N * H * W);
    const g = pin(null);
    try {
      const a = X.crossEntropy({ data: x.array, shape }, target, { reduction: 'none', gradOutput: { data: go.array, shape: [N, H, W] }, out: g.array });
      expectSame(a.loss as Float32Array, want.loss as Float32Array);
      expectSame(g.array, want.grad!);
      const probs = X.softmax({ data: new Float32Array(normals(r, n)), shape }, { dim: 1 });
      const p = pin(probs);
      const wantP = X.crossEntropy({ data: values, shape }, { data: probs, shape }, { grad: true });
      const b = X.crossEntropy({ data: x.array, shape }, { data: p.array, shape }, { out: g.array });
      expect(b.loss).toBe(wantP.loss);
      expectSame(g.array, wantP.grad!);
      p.free();
    } finally {
      x.free();
      go.free();
      g.free();
    }
  });

  test('softmax and logSoftmaxBackward over dim 1', () => {
    const want = X.softmax({ data: values, shape }, { dim: 1 });
    const x = pin(values);
    const y = pin(null);
    try {
      X.softmax({ data: x.array, shape }, { dim: 1, out: y.array });
      expectSame(y.array, want);
      const gradOut = new Float32Array(normals(r, n));
      const wantB = X.logSoftmaxBackward({ data: gradOut, shape }, { data: want, shape }, { dim: 1 });
      const go = pin(gradOut);
      X.logSoftmaxBackward({ data: go.array, shape }, { data: y.array, shape }, { dim: 1, out: x.array });
      expectSame(x.array, wantB);
      go.free();
    } finally {
      x.free();
      y.free();
    }
  });
});

test('memory growth detaches old views; .array gives a fresh view with the data intact, and ops reject the stale one', () => {
  const small = X.wasmArray(Float32Array, 1000);
  small.array.set(new Float32Array(normals(r, 1000)));
  const before = Float32Array.from(small.array);
  const stale = small.array;
  const big = X.wasmArray(Float32Array, 8 << 20); // 32 MB: grows memory
  expect(stale.length).toBe(0); // detached by the growth
  expectSame(small.array, before);
  expect(() => X.logSoftmax({ data: stale, shape: [10, 100] })).toThrow(/logSoftmax/);
  expect(X.logSoftmax({ data: small.array, shape: [10, 100] })).toHaveLength(1000);
  big.free();
  small.free();
});

test('freed arrays are reused: allocating and freeing in a loop does not grow memory', () => {
  const a = X.wasmArray(Float32Array, 100000);
  a.free();
  const memory = X.wasmMemoryBytes();
  for (let i = 0; i < 200; i++) {
    const b = X.wasmArray(Float32Array, 100000);
    b.array[0] = i;
    X.softmax({ data: b.array, shape: [100, 1000] });
    b.free();
  }
  expect(X.wasmMemoryBytes()).toBe(memory);
  expect(() => a.array).toThrow(/freed/);
});

test('a hand-made view of wasm-xent memory outside any wasmArray is rejected', () => {
  const a = X.wasmArray(Float32Array, 16);
  const buffer = a.array.buffer;
  a.free();
  const rogue = new Float32Array(buffer, 0, 16);
  expect(() => X.softmax({ data: rogue, shape: [4, 4] })).toThrow(TypeError);
  expect(() => X.softmax({ data: rogue, shape: [4, 4] })).toThrow(/outside any live wasmArray/);
});

test('wasmArray validates its arguments', () => {
  expect(() => X.wasmArray(Int32Array as unknown as Float32ArrayConstructor, 4)).toThrow(TypeError);
  expect(() => X.wasmArray(Float32Array, -1)).toThrow(RangeError);
  expect(() => X.wasmArray(Float32Array, 1.5)).toThrow(RangeError);
});

// Red team 4 (issue 10): a new wasmArray must not show bytes of earlier arrays or calls.
test.each([Float32Array, Float64Array])('a new %p wasmArray is zero-filled, like new Float32Array(n)', (T) => {
  const n = 50000;
  const a = X.wasmArray(T, n);
  a.array.fill(-7.5);
  a.free();
  const b = X.wasmArray(T, n); // first fit: a's block
  try {
    expect(b.array.every((v) => Object.is(v, 0))).toBe(true);
  } finally {
    b.free();
  }
  // The call regions sit above the arena: a larger array reaches into a call's scratch space.
  X.softmax({ data: Float32Array.from(normals(r, 4 * n)).fill(3), shape: [200, n / 50] });
  const c = X.wasmArray(T, 4 * n);
  try {
    expect(c.array.every((v) => Object.is(v, 0))).toBe(true);
  } finally {
    c.free();
  }
});
