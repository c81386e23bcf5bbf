// Where PyTorch's result hangs on infinities (an infinite or overflowing upstream factor, a
// non-finite class weight or target), crossEntropy, binaryCrossEntropyWithLogits and
// sigmoidFocalLoss form those values in JavaScript as PyTorch composes them (src/ops/cross_entropy.ts
// Literal, src/ops/bce.ts literalWhereNonFinite). The values themselves are checked against PyTorch
// by the fixtures (tests/fixtures/generate.py gen_infinite_upstream, bceLogits/non-finite,
// sigmoidFocal/non-finite-target); this file checks that the other ways in give the same bits as
// the plain-array calls the fixtures make: wasmArray inputs when the call grows wasm memory (found
// while writing it: the rows were read from a detached view, all NaN), `out` = the input,
// half-precision logits, and channels-last / NCHW layouts.
import * as X from '../src';
import { expectSame } from './helpers/same';

beforeAll(() => X.init());

const C = 3;
const N = 20000; // (lanes of 240 KB: a reserve larger than the page of slack a wasmArray leaves)
const logits = Float32Array.from({ length: N * C }, (_, i) => Math.sin(i) * 3);
const targets = Int32Array.from({ length: N }, (_, i) => (i % 7 === 3 ? -100 : i % C));
const probs = Float32Array.from({ length: N * C }, (_, i) => [0.5, 0, 0.5][i % C]);

// [name, target, options]: every case has some +-inf or NaN in its gradient and some not
const CASES: [string, () => unknown, Record<string, unknown>][] = [
  ['index, gradOutput inf', () => targets, { reduction: 'sum', gradOutput: Infinity }],
  ['index, gradOutput -inf, weight', () => targets, { reduction: 'mean', gradOutput: -Infinity, weight: [2, 1, 0.5] }],
  ['index, gradOutput 1e300 x weight 1e38', () => targets, { reduction: 'sum', gradOutput: 1e300, weight: [1, 1e38, 1], labelSmoothing: 0.1 }],
  ['index, infinite weight', () => targets, { reduction: 'none', weight: [1, Infinity, 1], labelSmoothing: 0.2 }],
  ['probabilities, gradOutput inf', () => ({ data: probs, shape: [N, C] }), { reduction: 'sum', gradOutput: Infinity }],
];

describe.each(CASES)('%s', (_, target, options) => {
  const plain = () => X.crossEntropy({ data: logits, shape: [N, C] }, target() as never, { ...options, grad: true });

  test('has both non-finite and finite gradient entries, or a non-finite loss (the case is not vacuous)', () => {
    const r = plain();
    const grad = Array.from(r.grad!);
    const loss = typeof r.loss === 'number' ? [r.loss] : Array.from(r.loss);
    expect(grad.some((v) => !Number.isFinite(v)) || loss.some((v) => !Number.isFinite(v))).toBe(true);
    expect(grad.some((v) => Number.isFinite(v) && v !== 0) || loss.some((v) => Number.isFinite(v))).toBe(true);
  });

  test('a wasmArray input, with memory grown by the call, gives the same bits', () => {
    const want = plain();
    const x = X.wasmArray(Float32Array, N * C);
    x.array.set(logits);
    // a second live array as large as the memory moves the arena's top past it, so that this
    // call's stream grows wasm memory again (checked: else the test would prove nothing)
    const spare = X.wasmArray(Float32Array, X.wasmMemoryBytes() / 4);
    const before = X.wasmMemoryBytes();
    const got = X.crossEntropy({ data: x.array, shape: [N, C] }, target() as never, { ...options, grad: true });
    expect(X.wasmMemoryBytes()).toBeGreaterThan(before);
    expectSame('grad', got.grad, want.grad);
    expectSame('loss', got.loss, want.loss);
    x.free();
    spare.free();
  });

  test("out = the input gives the same bits (the rows are formed before the kernel overwrites it)", () => {
    const want = plain();
    const x = logits.slice();
    const got = X.crossEntropy({ data: x, shape: [N, C] }, target() as never, { ...options, out: x });
    expectSame('grad', got.grad, want.grad);
  });

  test('channels-last (dim -1) and (N, C, L) layouts give the same values, transposed', () => {
    const want = plain();
    const L = 4;
    const M = N / L;
    // (M, C, L): element (m, c, l) holds row m L + l's class c
    const ncl = new Float32Array(N * C);
    for (let m = 0; m < M; m++) for (let c = 0; c < C; c++) for (let l = 0; l < L; l++) ncl[(m * C + c) * L + l] = logits[(m * L + l) * C + c];
    const t = target() as { data: Float32Array } | Int32Array;
    const nclTarget = t instanceof Int32Array
      ? { data: t, shape: [M, L] }
      : { data: Float32Array.from({ length: N * C }, (_, e) => { const m = Math.floor(e / (C * L)), c = Math.floor(e / L) % C, l = e % L; return t.data[(m * L + l) * C + c]; }), shape: [M, C, L] };
    const got = X.crossEntropy({ data: ncl, shape: [M, C, L] }, nclTarget as never, { ...options, grad: true });
    const back = new Float32Array(N * C);
    for (let m = 0; m < M; m++) for (let c = 0; c < C; c++) for (let l = 0; l < L; l++) back[(m * L + l) * C + c] = got.grad![(m * C + c) * L + l];
    // the same pattern of infinities and NaNs; finite entries to float32 rounding of another kernel
    for (let i = 0; i < back.length; i++) {
      const a = back[i], b = want.grad![i];
      if (Number.isFinite(b)) expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(b)));
      else expect(Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))).toBe(true);
    }
  });
});

test('bfloat16 logits give the bits of the float32 call on their values', () => {
  const bits = Uint16Array.from(new Uint32Array(logits.buffer), (u) => u >>> 16);
  const values = new Float32Array(new Uint32Array(Array.from(bits, (b) => b << 16)).buffer);
  for (const [, target, options] of CASES) {
    const want = X.crossEntropy({ data: values, shape: [N, C] }, target() as never, { ...options, grad: true });
    const got = X.crossEntropy({ data: bits, shape: [N, C], dtype: 'bfloat16' }, target() as never, { ...options, grad: true });
    expectSame('grad', got.grad, want.grad);
  }
});

test('binaryCrossEntropyWithLogits and sigmoidFocalLoss with a wasmArray input grown past give the plain bits', () => {
  const n = 8 * 5000; // (a reserve larger than the page of slack a wasmArray leaves)
  const x = Float64Array.from({ length: n }, (_, i) => [1.5, -1.5, 0, 3, -0.5, 2, -4, 0.25][i % 8]);
  const y = Float64Array.from({ length: n }, (_, i) => [Infinity, Infinity, 0.5, 0.5, -Infinity, 0.25, NaN, 1][i % 8]);
  type Fn = (input: { data: Float64Array; shape: number[] }, target: Float64Array, options: object) => X.LossResult<Float64Array>;
  // (sigmoidFocalLoss with alpha off and gamma 0, where its loss is the BCE term's +-inf)
  const calls = [[X.binaryCrossEntropyWithLogits, {}], [X.sigmoidFocalLoss, { alpha: -1, gamma: 0 }]] as unknown as [Fn, object][];
  for (const [fn, extra] of calls) {
    const want = fn({ data: x, shape: [n] }, y, { ...extra, reduction: 'none', grad: true });
    const xa = X.wasmArray(Float64Array, n);
    xa.array.set(x);
    const spare = X.wasmArray(Float64Array, X.wasmMemoryBytes() / 8);
    const before = X.wasmMemoryBytes();
    const got = fn({ data: xa.array, shape: [n] }, y, { ...extra, reduction: 'none', grad: true });
    expectSame('loss', got.loss, want.loss);
    expectSame('grad', got.grad, want.grad);
    expect(X.wasmMemoryBytes()).toBeGreaterThan(before);
    expect((want.loss as Float64Array).some((v) => v === Infinity || v === -Infinity)).toBe(true);
    xa.free();
    spare.free();
  }
});

test('a wasmArray input with a separate wasmArray out, on a call that grows memory, keeps the loss fix (red team 31: the detached views compared equal as "out is the input")', () => {
  const n = N * C;
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i) + 0.5);
  const options = { reduction: 'none', weight: [1, Infinity, 1] } as const;
  const probsTarget = { data: new Float32Array(n).fill(0.5), shape: [N, C] };
  const want = X.crossEntropy({ data: x, shape: [N, C] }, probsTarget, { ...options, grad: true });
  const y = Float32Array.from({ length: n }, (_, i) => (i === 0 ? Infinity : 0.5));
  const wantBce = X.binaryCrossEntropyWithLogits({ data: x, shape: [n] }, y, { reduction: 'none', grad: true });
  expect(Array.from(want.loss as Float32Array).every((v) => v === Infinity)).toBe(true);
  expect((wantBce.loss as Float32Array)[0]).toBe(-Infinity);
  for (const call of ['crossEntropy', 'bce'] as const) {
    const xa = X.wasmArray(Float32Array, n);
    const out = X.wasmArray(Float32Array, n);
    xa.array.set(x);
    const spare = X.wasmArray(Float32Array, X.wasmMemoryBytes() / 4);
    const before = X.wasmMemoryBytes();
    const got = call === 'crossEntropy'
      ? X.crossEntropy({ data: xa.array, shape: [N, C] }, probsTarget, { ...options, out: out.array })
      : X.binaryCrossEntropyWithLogits({ data: xa.array, shape: [n] }, y, { reduction: 'none', out: out.array });
    expect(X.wasmMemoryBytes()).toBeGreaterThan(before);
    expectSame('loss', got.loss, call === 'crossEntropy' ? want.loss : wantBce.loss);
    expectSame('grad', got.grad, call === 'crossEntropy' ? want.grad : wantBce.grad);
    xa.free();
    out.free();
    spare.free();
  }
});

test('float32 input: a posWeight, weight or target beyond float32 is read as its float32 value, +-inf (red team 31)', () => {
  const x = { data: Float32Array.of(0.25, -1.5, 0.5), shape: [3] };
  const y = Float32Array.of(0.5, 1, 0);
  for (const [big, inf] of [[1e300, Infinity], [-1e300, -Infinity]]) {
    const want = X.binaryCrossEntropyWithLogits(x, y, { reduction: 'none', grad: true, posWeight: inf });
    expectSame('posWeight', X.binaryCrossEntropyWithLogits(x, y, { reduction: 'none', grad: true, posWeight: big }), want);
    const wantT = X.binaryCrossEntropyWithLogits(x, Float64Array.of(inf, 1, 0), { reduction: 'none', grad: true });
    expectSame('target', X.binaryCrossEntropyWithLogits(x, Float64Array.of(big, 1, 0), { reduction: 'none', grad: true }), wantT);
    const logits = { data: Float32Array.of(0.5, -0.25), shape: [1, 2] };
    const wantP = X.crossEntropy(logits, { data: [inf, 0.5], shape: [1, 2] }, { reduction: 'none', grad: true });
    expectSame('probability', X.crossEntropy(logits, { data: Float64Array.of(big, 0.5), shape: [1, 2] }, { reduction: 'none', grad: true }), wantP);
  }
});
