// The shapes of the bench's "shapes" table (issue 8's speed cliffs) whose kernels have paths of
// their own: softmax and logSoftmax (and their backward passes) with the class dim not last, whose
// SIMD build puts positions in vector lanes and ends each slice with a vector that overlaps the one
// before it (inner not a multiple of the lane count); and BCE with short weight
// periods, which the SIMD build tiles to a multiple of the vector width; and crossEntropy's
// regrouped chunks (src/stream.ts Relayout, assembly/layout.ts): short rows and NCHW inputs with
// short position runs go through the column kernel, probability targets with the class dim not
// last through the row kernel, in chunks that span many outer indices or slice the inner dim. Each case is checked
// against the float64 reference (tests/reference.ts), on whichever build the suite runs.
import * as X from '../src';
import { getWorkspace } from '../src/loader';
import * as ref from './reference';
import { normals, rng, uniforms } from './helpers/random';

beforeAll(() => X.init());

type Float = Float32ArrayConstructor | Float64ArrayConstructor;
const TYPES: [string, Float, number][] = [['float32', Float32Array, 2e-5], ['float64', Float64Array, 1e-10]];

/** Largest |a - b| / (floor + |b|); NaN where exactly one of them is NaN counts as Infinity. */
function maxError(a: ArrayLike<number>, b: ArrayLike<number>, floor: number): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    if (Object.is(a[i], b[i]) || (a[i] === b[i] && !Number.isFinite(a[i]))) continue; // equal infinities
    if (Number.isNaN(a[i]) || Number.isNaN(b[i])) return Infinity;
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / (floor + Math.abs(b[i])));
  }
  return worst;
}

// (N, C, inner) with the class dim 1: inner below, at and around the lane counts (2 and 4), so the
// overlapping last vector writes 1, 2 or 3 new lanes; C = 1 and C not a multiple of 8 (the groups
// the per-position sums are widened in).
// Inner 128 and 256 (float32 rows 512 and 1024 bytes apart) go through softmax.ts's tileColumns
// (several vectors of positions per walk of the classes; float32 only); with C = 100 its walks of
// 40 positions leave the last positions to columns().
// Float32 rows of few classes or with a scalar tail, and inner 2 or 3, are regrouped into columns
// (src/ops/softmax.ts REGROUP): [70000, 2, 1] and [30001, 3, 1] span two chunks, 47, 20 and 15
// classes end in a tail, [3000, 21, 2] and [300, 64, 2] (class rows of 128 positions once regrouped:
// the tile walk) have short position runs.
const SHAPES = [[2, 1, 5], [2, 3, 2], [3, 9, 3], [2, 20, 4], [2, 7, 5], [1, 17, 7], [2, 9, 9], [1, 33, 18], [4, 1000, 1], [2, 6, 7], [2, 5, 128], [1, 19, 256], [1, 100, 128], [2, 11, 64],
  [70000, 2, 1], [30001, 3, 1], [2001, 47, 1], [5000, 20, 1], [999, 15, 1], [3000, 21, 2], [300, 64, 2], [9, 6, 1]];

describe.each(TYPES)('%s', (_name, Type, tol) => {
  test.each(SHAPES)('softmax and logSoftmax over dim 1 of [%i, %i, %i], into out and in place', (...shape) => {
    const n = shape[0] * shape[1] * shape[2];
    const x = Type.from(normals(rng(n + shape[1]), n, 3));
    x[n >> 1] = -Infinity; // exp(-inf) = 0 in one lane
    for (const op of ['softmax', 'logSoftmax'] as const) {
      const want = ref[op]({ data: x, shape }, 1);
      expect(maxError(X[op]({ data: x, shape }, { dim: 1 }), want, 1e-6)).toBeLessThan(tol);
      // In place (out is the input, pinned in wasm memory): allowed, as documented.
      const w = X.wasmArray(Type, n);
      w.array.set(x);
      X[op]({ data: w.array, shape }, { dim: 1, out: w.array });
      expect(maxError(w.array, want, 1e-6)).toBeLessThan(tol);
      w.free();
    }
  });

  test.each(SHAPES)('logSoftmaxBackward and softmaxBackward over dim 1 of [%i, %i, %i], in place too', (...shape) => {
    const n = shape[0] * shape[1] * shape[2];
    const r = rng(7 * n + shape[2]);
    const g = Type.from(normals(r, n));
    for (const [op, fwd] of [['logSoftmaxBackward', 'logSoftmax'], ['softmaxBackward', 'softmax']] as const) {
      const y = X[fwd]({ data: Type.from(normals(r, n, 2)), shape }, { dim: 1 });
      const want = ref[op]({ data: g, shape }, { data: y, shape }, 1);
      // Relative to 1 + |value|, as the fixtures are: g - exp(y) sum(g) and g - sum(g y) cancel.
      expect(maxError(X[op]({ data: g, shape }, { data: y, shape }, { dim: 1 }), want, 1)).toBeLessThan(tol);
      const w = X.wasmArray(Type, n);
      w.array.set(g);
      X[op]({ data: w.array, shape }, { data: y, shape }, { dim: 1, out: w.array });
      expect(maxError(w.array, want, 1)).toBeLessThan(tol);
      w.free();
    }
  });

  test.each([13, 100])('the tile path (inner a multiple of 512 bytes) gives the bits of the one-vector path, for every op, C = %i', (C) => {
    // [1, C, 128] goes through tileColumns (and columns() for what its walks leave); [1, C, 132]
    // (rows 528 bytes apart) through columns() only. The same values at positions 0..127 of both
    // must give the same bits: NaN, +-inf and a y above 0 (logSoftmaxBackward's scalar fallback,
    // which tileColumns takes per vector) included.
    const W = 128, wide = 132;
    const r = rng(29);
    const make = (values: ArrayLike<number>) => {
      const line = new Type(C * W), other = new Type(C * wide);
      for (let c = 0; c < C; c++) for (let i = 0; i < wide; i++) {
        const v = values[c * wide + i];
        other[c * wide + i] = v;
        if (i < W) line[c * W + i] = v;
      }
      return [line, other] as const;
    };
    const xs = normals(r, C * wide, 5);
    xs[3 * wide + 5] = NaN;
    xs[7 * wide + 40] = Infinity;
    xs[9 * wide + 126] = NaN; // in the positions columns() finishes when C = 100
    for (let c = 0; c < C; c++) xs[c * wide + 77] = -Infinity; // a position of all -inf
    xs[2 * wide + 90] = -Infinity;
    xs[4 * wide + 100] = Type === Float32Array ? 1e4 : 1e300;
    const [x, x2] = make(xs);
    const pick = (a: ArrayLike<number>) => Array.from({ length: C * W }, (_, k) => a[Math.floor(k / W) * wide + (k % W)]);
    for (const op of ['softmax', 'logSoftmax'] as const) {
      expect(Array.from(X[op]({ data: x, shape: [1, C, W] }, { dim: 1 }))).toEqual(pick(X[op]({ data: x2, shape: [1, C, wide] }, { dim: 1 })));
    }
    const ys = normals(r, C * wide, 2).map((v) => -Math.abs(v));
    ys[5 * wide + 33] = 0.5; // above 0: that vector of 4 (2 for float64) positions takes the scalar exp
    const [y, y2] = make(ys);
    const [g, g2] = make(normals(r, C * wide, 1e3));
    for (const op of ['softmaxBackward', 'logSoftmaxBackward'] as const) {
      const got = X[op]({ data: g, shape: [1, C, W] }, { data: y, shape: [1, C, W] }, { dim: 1 });
      expect(Array.from(got)).toEqual(pick(X[op]({ data: g2, shape: [1, C, wide] }, { data: y2, shape: [1, C, wide] }, { dim: 1 })));
      expect(maxError(got, ref[op]({ data: g, shape: [1, C, W] }, { data: y, shape: [1, C, W] }, 1), 1e3)).toBeLessThan(tol);
    }
  });

  test('logSoftmaxBackward with outputs above 0 (any y, as PyTorch takes), class dim last and not', () => {
    const r = rng(11);
    for (const [shape, dim] of [[[3, 12], 1], [[2, 5, 6], 1], [[2, 6, 4], 1]] as const) {
      const n = shape.reduce((a, b) => a * b, 1);
      const g = Type.from(normals(r, n));
      const y = Type.from(normals(r, n, 4)); // about half above 0, up to ~ 12
      const got = X.logSoftmaxBackward({ data: g, shape }, { data: y, shape }, { dim });
      expect(maxError(got, ref.logSoftmaxBackward({ data: g, shape }, { data: y, shape }, dim), 1)).toBeLessThan(tol);
    }
  });

  test('logSoftmaxBackward with an output just below exp overflow (the vector exp is for y <= 0 only)', () => {
    // exp(88.5) and exp(709.5) are finite in float32 and float64; the upstream gradient is tiny so
    // that exp(y) sum(g) stays finite too.
    const big = Type === Float32Array ? 88.5 : 709.5;
    const tiny = Type === Float32Array ? 1e-30 : 1e-300;
    for (const [shape, at] of [[[2, 8], 9], [[1, 8, 4], 13]] as [number[], number][]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const y = Type.from(normals(rng(3), n).map((v) => -Math.abs(v)));
      const g = new Type(n);
      y[at] = big;
      g[at] = tiny;
      const got = X.logSoftmaxBackward({ data: g, shape }, { data: y, shape }, { dim: 1 });
      expect(maxError(got, ref.logSoftmaxBackward({ data: g, shape }, { data: y, shape }, 1), 1e-30)).toBeLessThan(tol);
    }
  });

  test('binaryCrossEntropy at 0, 1, tiny and near-1 probabilities, weight periods 1 to 65', () => {
    const r = rng(5);
    const special = [0, 1, 1e-45, 1e-40, 2 ** -126, 1e-30, 1e-12, 2 ** -30, 1e-7, 0.5, 0.25, 0.75, 1 - 2 ** -24, 1 - 1e-7, 0.999];
    for (const P of [1, 2, 3, 4, 5, 7, 8, 63, 64, 65]) {
      const shape = [13, P];
      const n = 13 * P;
      const x = Type.from(uniforms(r, n));
      const y = Type.from(uniforms(r, n));
      special.forEach((v, i) => (x[(i * 7) % n] = v));
      const weight = { data: Type.from(uniforms(r, P, 0.5, 2)), shape: [P] };
      const gradOutput = Type.from(normals(r, n));
      const got = X.binaryCrossEntropy({ data: x, shape }, y, { weight, reduction: 'none', gradOutput, grad: true });
      const want = ref.binaryCrossEntropy({ data: x, shape }, y, { weight, reduction: 'none', gradOutput });
      expect(maxError(got.loss as ArrayLike<number>, want.loss as Float64Array, 1e-30)).toBeLessThan(tol);
      expect(maxError(got.grad!, want.grad, 1e-30)).toBeLessThan(tol);
      const sum = X.binaryCrossEntropy({ data: x, shape }, y, { weight, reduction: 'sum' }).loss as number;
      expect(Math.abs(sum - (ref.binaryCrossEntropy({ data: x, shape }, y, { weight, reduction: 'sum' }).loss as number))).toBeLessThan(tol * Math.abs(sum));
    }
  });

  test('binaryCrossEntropyWithLogits with posWeight and weight periods 1 to 100, together and apart', () => {
    const r = rng(9);
    for (const P of [1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 63, 64, 65, 100]) {
      for (const [wShape, pwShape] of [[null, [P]], [[P], [P]], [[3, 1], [P]], [[1], null], [[3, P], [P]]] as const) {
        const shape = [5, 3, P];
        const n = 15 * P;
        const x = Type.from(normals(r, n, 3));
        const y = Type.from(uniforms(r, n));
        const opts: { reduction: 'none'; grad: true; weight?: X.Tensor<Float32Array | Float64Array>; posWeight?: X.Tensor<Float32Array | Float64Array> } = { reduction: 'none', grad: true };
        const refOpts: ref.BinaryOptions = { reduction: 'none' };
        if (wShape) opts.weight = refOpts.weight = { data: Type.from(uniforms(r, wShape.reduce((a, b) => a * b, 1), 0.5, 2)), shape: wShape };
        if (pwShape) opts.posWeight = refOpts.posWeight = { data: Type.from(uniforms(r, P, 0.5, 3)), shape: pwShape };
        const got = X.binaryCrossEntropyWithLogits({ data: x, shape }, y, opts);
        const want = ref.binaryCrossEntropyWithLogits({ data: x, shape }, y, refOpts);
        // Relative to 1 + |value|, as the fixtures are: the gradient w (lw sigmoid(x) - pw y) cancels.
        expect(maxError(got.loss as ArrayLike<number>, want.loss as Float64Array, 1)).toBeLessThan(tol);
        expect(maxError(got.grad!, want.grad, 1)).toBeLessThan(tol);
      }
    }
  });

  // Float32 [N, C] with C < 32, or C < 128 not a multiple of 8 (float64: C < 16), and (N, C, L)
  // with L < 16 are regrouped into columns (src/ops/cross_entropy.ts indexRelayout); probability targets
  // with the class dim not last into rows. Sizes span several 512 KB chunks (the first two),
  // slice the inner dim ([1, 21, 40000] probabilities), or are small and odd.
  const REGROUPED: { shape: number[]; probs?: boolean }[] = [
    { shape: [70000, 2] }, { shape: [30001, 3] }, { shape: [9, 10] }, { shape: [5, 16] }, { shape: [700, 1] },
    { shape: [3000, 21, 2] }, { shape: [7, 21, 3] }, { shape: [2, 5, 15] }, { shape: [3, 4, 2, 3] }, { shape: [1, 1000, 4] },
    { shape: [2, 21, 5, 3], probs: true }, { shape: [1, 21, 40000], probs: true }, { shape: [3, 7, 1], probs: true },
    // The SIMD build's transposes (assembly/layout.ts): rows of 4 and 5 (whole 4 x 4 tiles, and one
    // class left over), odd position counts; probability targets with 2, 3 (interleaved by shuffles)
    // and 5 classes (tiles) over odd widths.
    { shape: [4099, 4] }, { shape: [1003, 5] }, { shape: [2, 3, 4097], probs: true }, { shape: [3, 2, 33], probs: true },
    { shape: [2, 5, 37], probs: true },
    // rows of 21, 63 and 127 classes (float32: columns since 2026-12-03; float64: rows), 32 (rows)
    { shape: [3001, 21] }, { shape: [1001, 63] }, { shape: [501, 127] }, { shape: [999, 32] },
    // NCHW slices whose class rows would be a multiple of 512 bytes apart (inner 2048, 4096): split
    // in two chunks of about half (src/stream.ts walksClassRows), in place too (copyRows).
    { shape: [2, 7, 64, 64] }, { shape: [1, 5, 2048] },
    // and the inner dim sliced at widths 8 past 8192 (float32) or 4096 (float64) positions
    { shape: [1, 16, 9000] },
  ];
  test.each(REGROUPED)('crossEntropy regrouped chunks, $shape (probabilities: $probs), every reduction, zero-copy and in place', ({ shape, probs }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const C = shape[1];
    const positions = n / C;
    const r = rng(n + C);
    const x = Type.from(normals(r, n, 3));
    x[n >> 1] = -Infinity; // one class ruled out
    const weight = Type.from(uniforms(r, C, 0.5, 2));
    const posShape = [shape[0], ...shape.slice(2)];
    let target: X.Tensor<Float32Array | Float64Array> | X.Tensor<Int32Array>;
    let refTarget: ArrayLike<number>;
    if (probs) {
      const p = Type.from(uniforms(r, n));
      target = { data: p, shape };
      refTarget = p;
    } else {
      const t = new Int32Array(positions).map(() => Math.floor(r() * C));
      t[positions - 1] = -100; // ignored
      t[0] = t[positions >> 1] === -100 ? 0 : t[0];
      target = { data: t, shape: posShape };
      refTarget = t;
    }
    const ref_ = probs ? ref.crossEntropyProbs : ref.crossEntropyIndex;
    const gradOutput = Type.from(normals(r, positions));
    for (const reduction of ['none', 'mean', 'sum'] as const) {
      const opts = { weight, reduction, labelSmoothing: 0.1, grad: true as const, ...(reduction === 'none' ? { gradOutput } : {}) };
      const want = ref_({ data: x, shape }, refTarget, { weight, reduction, labelSmoothing: 0.1, ...(reduction === 'none' ? { gradOutput } : {}) });
      const got = X.crossEntropy({ data: x, shape }, target as never, opts);
      if (reduction === 'none') expect(maxError(got.loss as ArrayLike<number>, want.loss as Float64Array, 1)).toBeLessThan(tol);
      else expect(maxError([got.loss as number], [want.loss as number], 1)).toBeLessThan(tol); // inf with the -inf logit and smoothing
      // Relative to the gradient's scale (entries are at most |w gradOutput|, over the positions
      // for 'mean'): an entry that is exactly 0 (C = 1) comes back as a float32 rounding residue.
      expect(maxError(got.grad!, want.grad, reduction === 'mean' ? 1 / positions : 1)).toBeLessThan(tol);
    }
    // Zero-copy input and the gradient written over it (an exact alias, allowed).
    const want = ref_({ data: x, shape }, refTarget, { weight, reduction: 'sum' });
    const w = X.wasmArray(Type, n);
    w.array.set(x);
    const got = X.crossEntropy({ data: w.array, shape }, target as never, { weight, reduction: 'sum', out: w.array });
    expect(maxError([got.loss as number], [want.loss as number], 1)).toBeLessThan(tol);
    expect(maxError(w.array, want.grad, 1)).toBeLessThan(tol);
    w.free();
  });

  // The column kernel's branches without weight and without smoothing (the test above has both),
  // with ignored positions in every vector, against the float64 reference; a large upstream scale
  // takes the exact exp.
  test.each([[[70000, 2]], [[30001, 3]], [[1003, 10]], [[3001, 21]], [[1001, 63]], [[3000, 21, 2]], [[5, 21, 37]]])('crossEntropy over columns of %j: no weight, no smoothing, ignored positions', (shape) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const C = shape[1];
    const positions = n / C;
    const r = rng(3 * n + C);
    const x = Type.from(normals(r, n, 3));
    const t = new Int32Array(positions).map((_, p) => (p % 7 === 3 ? -100 : Math.floor(r() * C)));
    const target = { data: t, shape: [shape[0], ...shape.slice(2)] };
    const gradOutput = Type.from(normals(r, positions, 1e3));
    for (const [reduction, extra] of [['mean', {}], ['sum', {}], ['none', { gradOutput }]] as const) {
      const got = X.crossEntropy({ data: x, shape }, target, { reduction, grad: true, ...extra });
      const want = ref.crossEntropyIndex({ data: x, shape }, t, { reduction, ...extra });
      if (reduction === 'none') expect(maxError(got.loss as ArrayLike<number>, want.loss as Float64Array, 1)).toBeLessThan(tol);
      else expect(maxError([got.loss as number], [want.loss as number], 1)).toBeLessThan(tol);
      const scale = reduction === 'mean' ? 1 / positions : reduction === 'none' ? 1e3 : 1;
      expect(maxError(got.grad!, want.grad, scale)).toBeLessThan(tol);
    }
  });
});


// A regroup is for speed only: where its scratch block would take a call over the workspace limit,
// the stream keeps the chunks' layout, so every call that fit before regrouping existed still fits
// (red team 34: focalLoss [4, 1000, 600] with a gradient needed 1.5 MiB regrouped, 1.0 without).
const UNREGROUPED_FIT: [string, () => unknown][] = [
  ['focalLoss NCHW, 1000 classes', () => {
    const x = { data: Float32Array.from(normals(rng(34), 4 * 1000 * 600, 2)), shape: [4, 1000, 600] };
    return X.focalLoss(x, new Int32Array(2400).map((_, i) => (i * 7) % 1000), { grad: true, reduction: 'sum' });
  }],
  ['crossEntropy with probability targets, NCHW, forward', () => {
    const n = 2 * 300 * 1000;
    const x = { data: Float32Array.from(normals(rng(35), n, 2)), shape: [2, 300, 1000] };
    return X.crossEntropy(x, { data: Float32Array.from(uniforms(rng(36), n, 0, 1)), shape: [2, 300, 1000] }, { reduction: 'none' });
  }],
  ['softmax over rows of 2 classes', () => X.softmax({ data: Float32Array.from(normals(rng(37), 400000, 2)), shape: [200000, 2] })],
];
type Result = Float32Array | { loss: unknown; grad?: Float32Array };
const parts = (r: Result): [number, Float32Array] => (r instanceof Float32Array ? [0, r] : r.loss instanceof Float32Array ? [0, r.loss] : [r.loss as number, r.grad!]);
test.each(UNREGROUPED_FIT)('%s under a workspace limit its unregrouped chunks fit: same result as without the limit', (_name, call) => {
  const [wantLoss, want] = parts(call() as Result);
  const limit = X.getWorkspaceLimit();
  X.setWorkspaceLimit(1.25 * 2 ** 20);
  try {
    const [gotLoss, got] = parts(call() as Result);
    expect(Math.abs(gotLoss - wantLoss)).toBeLessThanOrEqual(1e-6 * Math.abs(wantLoss));
    expect(maxError(got, want, 1e-6)).toBeLessThan(2e-6);
  } finally {
    X.setWorkspaceLimit(limit);
  }
});

// A half-precision input's staging block counts too (red team 51: bfloat16 [200000, 10] with a
// gradient needed 1.8 MiB regrouped, about 1.4 without; under limits between, it was refused).
test('bfloat16 rows of 10 classes under a workspace limit its unregrouped chunks fit: the same loss', () => {
  const n = 200000 * 10;
  const bits = Uint16Array.from(normals(rng(38), n, 2), (v) => new Uint32Array(Float32Array.of(v).buffer)[0] >>> 16);
  const t = new Int32Array(200000).map((_, i) => (i * 7) % 10);
  const call = () => X.crossEntropy({ data: bits, dtype: 'bfloat16', shape: [200000, 10] }, t, { grad: true });
  const want = call();
  const limit = X.getWorkspaceLimit();
  try {
    X.setWorkspaceLimit(1.75e6);
    const got = call();
    expect(Math.abs(got.loss - want.loss)).toBeLessThanOrEqual(1e-6 * Math.abs(want.loss));
    expect(maxError(got.grad, want.grad, 1e-6)).toBeLessThan(2e-6);
  } finally {
    X.setWorkspaceLimit(limit);
  }
});

// The same where memory cannot grow to the regroup's scratch (wasm32's 4 GiB, an engine's cap) but
// the unregrouped chunks fit in the memory there is: red team 50 had such a call throw "could not
// grow wasm memory" (here: a wasmArray-pinned block leaves 1.25 MiB of memory above it, and the
// engine refuses to grow).
test.each(UNREGROUPED_FIT)('%s where memory cannot grow to the regroup\'s scratch: same result, no error', (_name, call) => {
  const [wantLoss, want] = parts(call() as Result);
  const ws = getWorkspace('test');
  const memory = ws.exports.memory;
  const room = 1.25 * 2 ** 20;
  const base = ws.pin('test', 16); // where a block pinned now starts (no wasmArray is live)
  ws.unpin(base);
  if (memory.buffer.byteLength - base < room + 2 ** 20) memory.grow(64);
  let size = memory.buffer.byteLength - room - base;
  size -= (((size - 1088) % 4096) + 4096) % 4096; // (a size that src/workspace.ts pin does not pad)
  const pinned = ws.pin('test', size);
  const spy = jest.spyOn(memory, 'grow').mockImplementation(() => { throw new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded'); });
  try {
    expect(memory.buffer.byteLength - (pinned + size) - room).toBeGreaterThanOrEqual(0);
    expect(memory.buffer.byteLength - (pinned + size) - room).toBeLessThan(4096);
    const [gotLoss, got] = parts(call() as Result);
    expect(Math.abs(gotLoss - wantLoss)).toBeLessThanOrEqual(1e-6 * Math.abs(wantLoss));
    expect(maxError(got, want, 1e-6)).toBeLessThan(2e-6);
  } finally {
    spy.mockRestore();
    ws.unpin(pinned);
  }
});

// Regions of a page or more start at different offsets within a 4 KiB page (src/workspace.ts
// reserve), so that a kernel reading one and writing another at the same offset does not stall on
// 4 KiB aliasing (NCHW [49, 21, 1024]: input and gradient blocks of 126 pages each); under a
// workspace limit with no room for the stagger they are packed as before, and the call still runs.
describe('workspace regions are staggered within a page, where the limit has room', () => {
  const sizes = [100, 6 * 86016, 6 * 4096, 6 * 86016, 4096, 8];
  const packed = (pointers: number[]) => pointers.every((p, i) => i === 0 || p === pointers[i - 1] + Math.ceil(sizes[i - 1] / 16) * 16);
  test('staggered: large regions at distinct offsets in a page, 16-byte aligned, in order, not overlapping', () => {
    const pointers = getWorkspace('test').reserve('test', sizes);
    const large = pointers.filter((_, i) => sizes[i] >= 4096);
    expect(new Set(large.map((p) => p % 4096)).size).toBe(large.length);
    expect(pointers.every((p) => p % 16 === 0)).toBe(true);
    expect(pointers.every((p, i) => i === 0 || p >= pointers[i - 1] + sizes[i - 1])).toBe(true);
    expect(packed(pointers)).toBe(false);
  });
  test('packed where memory cannot grow to the staggered layout (wasm32\'s 4 GiB, the engine): the call still runs', () => {
    // red team 49: with base near 4 GiB, a call the packed layout fits failed to grow for the stagger
    const ws = getWorkspace('test');
    const memory = ws.exports.memory;
    const big = [memory.buffer.byteLength, ...sizes.slice(1)]; // more than memory has: reserve grows it
    const grow = memory.grow.bind(memory);
    let refused = 0;
    const spy = jest.spyOn(memory, 'grow').mockImplementation((pages: number) => (refused++ === 0 ? (() => { throw new RangeError('refused'); })() : grow(pages)));
    try {
      const pointers = ws.reserve('test', big);
      expect(refused).toBe(2);
      expect(pointers.every((p, i) => i === 0 || p === pointers[i - 1] + Math.ceil(big[i - 1] / 16) * 16)).toBe(true);
      expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(pointers[pointers.length - 1] + big[big.length - 1]);
    } finally {
      spy.mockRestore();
    }
  });
  test('wasmArrays of a page or more allocated one after another start at distinct offsets in a page', () => {
    // (an input and an `out` pinned a multiple of 4 KiB apart: NCHW [49, 21, 1024] 2.49 -> 2.09 ns/elem)
    const arrays = [1, 2, 3, 4, 5].map(() => X.wasmArray(Float32Array, 49 * 21 * 1024));
    const small = X.wasmArray(Float32Array, 3);
    try {
      const offsets = arrays.map((a) => a.array.byteOffset % 4096);
      expect(new Set(offsets).size).toBe(arrays.length);
      expect(offsets.every((o) => o % 16 === 0)).toBe(true);
      const blocks = [...arrays, small].map((a) => [a.array.byteOffset, a.array.byteOffset + a.array.byteLength]).sort((a, b) => a[0] - b[0]);
      expect(blocks.every(([start], i) => i === 0 || start >= blocks[i - 1][1])).toBe(true);
      // first fit still: a freed block's place is taken again by the next array of its size
      const at = arrays[2].array.byteOffset;
      arrays[2].free();
      arrays[2] = X.wasmArray(Float32Array, 49 * 21 * 1024);
      expect(arrays[2].array.byteOffset).toBe(at);
    } finally {
      [...arrays, small].forEach((a) => a.free());
    }
  });
  test('a wasmArray is packed where only the packed place fits the workspace limit', () => {
    const ws = getWorkspace('test');
    const start = ws.pin('test', 16); // the arena's start (no wasmArray is live)
    ws.unpin(start);
    const limit = X.getWorkspaceLimit();
    try {
      X.setWorkspaceLimit(8192);
      const pointer = ws.pin('test', 8192); // padded by 1,088 bytes it would pass the limit
      expect(pointer).toBe(start);
      ws.unpin(pointer);
      X.setWorkspaceLimit(1 << 20);
      const next = X.wasmArray(Float32Array, 2048); // (with room: padded, the next array 1,088 bytes on)
      const after = X.wasmArray(Float32Array, 2048);
      expect(after.array.byteOffset - next.array.byteOffset).toBe(8192 + 1088);
      after.free();
      next.free();
    } finally {
      ws.unpin(start);
      X.setWorkspaceLimit(limit);
    }
  });
  test('packed under a limit that only the packed layout fits; the limit error counts the packed size', () => {
    const need = sizes.reduce((a, b) => a + Math.ceil(b / 16) * 16, 0);
    const limit = X.getWorkspaceLimit();
    try {
      X.setWorkspaceLimit(need);
      expect(packed(getWorkspace('test').reserve('test', sizes))).toBe(true);
      X.setWorkspaceLimit(need - 16);
      expect(() => getWorkspace('test').reserve('test', sizes)).toThrow(`test: this call needs ${(need / 1048576).toFixed(1)} MiB of wasm memory`);
    } finally {
      X.setWorkspaceLimit(limit);
    }
  });
});

// The regroup of short runs (assembly/layout.ts shortRuns: widths 3 to 16 f32, f64 2 to 8) moves
// whole vectors that reach past each run and relies on the next run's move to overwrite them: every
// width from 1 to 20, counts and class counts from 1 up, both directions and precisions, against
// a plain transpose, with guard values after dst that must survive (the last run goes by lanes).
test('relayout modes 0 and 1 (columns) move every run exactly and write nothing past the block', () => {
  const ex = getWorkspace('test').exports as unknown as Record<string, (...a: number[]) => void>;
  for (const [bytes, name] of [[4, 'relayout_f32'], [8, 'relayout_f64']] as const) {
    const failures: string[] = [];
    for (let width = 1; width <= 20; width++) {
      for (const [count, C] of [[1, 1], [1, 3], [2, 1], [3, 5], [9, 2], [4, 21]]) {
        const n = count * C * width;
        const [src, dst] = getWorkspace('test').reserve('test', [n * bytes, (n + 16) * bytes]);
        const View = bytes === 4 ? Float32Array : Float64Array;
        const mem = getWorkspace('test').exports.memory.buffer;
        const s = new View(mem, src, n), d = new View(mem, dst, n + 16);
        for (let mode = 0; mode <= 1; mode++) {
          s.forEach((_, i) => (s[i] = i + 1));
          d.fill(-7);
          ex[name](src, dst, count, C, width, mode);
          const expected = new Float64Array(n + 16).fill(-7);
          for (let o = 0; o < count; o++) for (let c = 0; c < C; c++) for (let w = 0; w < width; w++) {
            const grouped = (o * C + c) * width + w, column = c * count * width + o * width + w;
            if (mode === 0) expected[column] = grouped + 1;
            else expected[grouped] = column + 1;
          }
          if (d.some((v, i) => v !== expected[i])) failures.push(`${name} mode ${mode} width ${width} count ${count} C ${C}`);
        }
      }
    }
    expect(failures).toEqual([]);
  }
});
