// Inputs big enough to pass through wasm memory in many chunks (src/stream.ts): whole outer rows at
// a time, and slices of the inner dim when one outer slice is too big (NCHW). Each result is
// compared with the plain float64 reference (tests/reference.ts, itself checked against the
// PyTorch fixtures), so a chunk boundary that drops, repeats or misplaces a row shows up as a
// wrong number.
import * as X from '../src';
import * as ref from './reference';
import { CHUNK_BYTES } from '../src/stream';
import { ints, normals, rng, uniforms } from './helpers/random';

beforeAll(() => X.init());

/** (outer, C, inner) around `dim` for a row-major shape. */
function split(shape: number[], dim: number) {
  const outer = shape.slice(0, dim).reduce((a, b) => a * b, 1);
  const inner = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  return { outer, C: shape[dim], inner };
}

/** Largest |a - b| / (floor + |b|): relative, with an absolute floor (1e-6 unless given). */
function maxError(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (floor + Math.abs(b[i])));
  return worst;
}

const cases = [
  { name: 'rows: [600, 1000], many row chunks', shape: [600, 1000], dim: 1 },
  { name: 'NCHW: [2, 5, 200, 200], inner sliced', shape: [2, 5, 200, 200], dim: 1 },
  { name: '(N, L, C) with dim -1: [3, 4000, 50]', shape: [3, 4000, 50], dim: 2 },
];

test('the chunking really happens for these shapes', () => {
  // The widest array of each case is larger than one chunk, or the test would not test chunking.
  for (const c of cases) expect(c.shape.reduce((a, b) => a * b, 1) * 4).toBeGreaterThan(2 * CHUNK_BYTES);
  const { C, inner } = split([2, 5, 200, 200], 1);
  expect(C * inner * 4).toBeGreaterThan(CHUNK_BYTES); // one outer slice needs inner slicing
});

describe.each(cases)('crossEntropy, $name', ({ shape, dim }) => {
  const r = rng(shape.length * 1000 + shape[1]);
  const n = shape.reduce((a, b) => a * b, 1);
  const { outer, C, inner } = split(shape, dim);
  const x64 = normals(r, n, 3);
  const t = ints(r, outer * inner, C);
  for (let p = 0; p < t.length; p += 7) t[p] = -100;
  const w = Array.from(uniforms(r, C, 0.2, 2));
  const go = normals(r, outer * inner);

  test.each([Float64Array, Float32Array])('%p: none + gradOutput + weight + ignore + smoothing, into out', (Ctor) => {
    const x = new Ctor(x64);
    const expected = ref.crossEntropyIndex({ data: x, shape }, t, { dim, weight: w, labelSmoothing: 0.1, reduction: 'none', gradOutput: new Ctor(go) });
    const out = new Ctor(n);
    const { loss, grad } = X.crossEntropy({ data: x, shape }, { data: t, shape: shape.filter((_, i) => i !== dim) }, {
      dim, weight: w, labelSmoothing: 0.1, reduction: 'none', gradOutput: new Ctor(go), out,
    });
    expect(grad).toBe(out);
    // float64: 1e-10 relative; float32: 1e-5 absolute plus relative (the library's promise).
    const [tol, floor] = Ctor === Float64Array ? [1e-10, 1e-6] : [1e-5, 1];
    expect(maxError(loss as ArrayLike<number>, expected.loss as Float64Array, floor)).toBeLessThan(tol);
    expect(maxError(grad!, expected.grad, floor)).toBeLessThan(tol);
  });

  test('mean: equals the reference weighted mean, and nllLoss(logSoftmax) agrees', () => {
    const expected = ref.crossEntropyIndex({ data: x64, shape }, t, { dim, weight: w });
    const target = { data: t, shape: shape.filter((_, i) => i !== dim) };
    const ce = X.crossEntropy({ data: x64, shape }, target, { dim, weight: w, grad: true });
    expect(Math.abs((ce.loss as number) - (expected.loss as number)) / Math.abs(expected.loss as number)).toBeLessThan(1e-12);
    expect(maxError(ce.grad!, expected.grad)).toBeLessThan(1e-10);
    const lp = X.logSoftmax({ data: x64, shape }, { dim });
    const nll = X.nllLoss({ data: lp, shape }, target, { dim, weight: w });
    expect(Math.abs((nll.loss as number) - (expected.loss as number)) / Math.abs(expected.loss as number)).toBeLessThan(1e-12);
  });

  test('probability targets: soft labels match the reference', () => {
    const p = uniforms(r, n, 0, 1);
    // normalise along the class dim
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += p[(o * C + c) * inner + i];
      for (let c = 0; c < C; c++) p[(o * C + c) * inner + i] /= s;
    }
    const expected = ref.crossEntropyProbs({ data: x64, shape }, p, { dim });
    const res = X.crossEntropy({ data: x64, shape }, { data: p, shape }, { dim, grad: true });
    expect(Math.abs((res.loss as number) - (expected.loss as number)) / (expected.loss as number)).toBeLessThan(1e-12);
    expect(maxError(res.grad!, expected.grad)).toBeLessThan(1e-9);
  });

  test('softmax and logSoftmax (with out) and their backward passes match the reference', () => {
    const y = ref.softmax({ data: x64, shape }, dim);
    const lpRef = ref.logSoftmax({ data: x64, shape }, dim);
    const out = new Float64Array(n);
    expect(X.softmax({ data: x64, shape }, { dim, out })).toBe(out);
    expect(maxError(out, y)).toBeLessThan(1e-12);
    const lp = X.logSoftmax({ data: x64, shape }, { dim });
    // (absolute floor 1e-3, not 1e-6: log S of a confident row, S = 1 + 8e-6, carries an ulp of 1,
    // 2.2e-16, whatever order S is summed in; the reference's plain sum and the scalar build's
    // compensated one, red team 22, differ by that: 2.5e-11 of -8.0e-6)
    expect(maxError(lp, lpRef, 1e-3)).toBeLessThan(1e-12);
    const g = normals(r, n);
    const dx = ref.softmaxBackward({ data: g, shape }, { data: y, shape }, dim);
    expect(maxError(X.softmaxBackward({ data: g, shape }, { data: y, shape }, { dim }), dx)).toBeLessThan(1e-9);
  });
});

test('binaryCrossEntropyWithLogits over many chunks with posWeight and weight', () => {
  const r = rng(77);
  const shape = [600, 300];
  const n = 600 * 300;
  const x = normals(r, n, 4);
  const y = uniforms(r, n).map((v) => (v < 0.3 ? 1 : 0));
  const pw = uniforms(r, 300, 0.5, 3);
  const w = uniforms(r, n, 0.5, 1.5);
  let expected = 0;
  const grad = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const p = pw[i % 300];
    const lw = 1 + (p - 1) * y[i];
    const softplus = Math.log1p(Math.exp(-Math.abs(x[i]))) + Math.max(-x[i], 0);
    expected += w[i] * ((1 - y[i]) * x[i] + lw * softplus);
    grad[i] = (w[i] * (lw / (1 + Math.exp(-x[i])) - p * y[i])) / n;
  }
  expected /= n;
  for (const Ctor of [Float64Array, Float32Array]) {
    const res = X.binaryCrossEntropyWithLogits({ data: new Ctor(x), shape }, new Ctor(y), {
      posWeight: new Ctor(pw), weight: { data: new Ctor(w), shape }, grad: true,
    });
    const [tol, floor] = Ctor === Float64Array ? [1e-10, 1e-6] : [1e-5, 1];
    expect(Math.abs((res.loss as number) - expected) / expected).toBeLessThan(tol);
    expect(maxError(res.grad!, grad, floor)).toBeLessThan(tol);
  }
});

test('a float32 weighted mean over a million positions stays within 1e-6 of float64', () => {
  const r = rng(5);
  const shape = [1 << 20, 4];
  const x = normals(r, shape[0] * 4);
  const t = ints(r, shape[0], 4);
  const w = [0.5, 1, 2, 3];
  const l64 = X.crossEntropy({ data: x, shape }, t, { weight: w }).loss as number;
  const l32 = X.crossEntropy({ data: new Float32Array(x), shape }, t, { weight: w }).loss as number;
  const ref = X.crossEntropy({ data: new Float64Array(new Float32Array(x)), shape }, t, { weight: w }).loss as number;
  expect(Math.abs(l64 - ref)).toBeGreaterThan(0); // the two inputs really differ
  expect(Math.abs(l32 - ref) / ref).toBeLessThan(1e-6);
});

test('memory stays at the chunk size: a 16 MB input grows wasm memory by well under 16 MB', () => {
  const before = X.wasmMemoryBytes();
  const shape = [4096, 1000];
  const x = new Float32Array(4096 * 1000);
  X.crossEntropy({ data: x, shape }, new Int32Array(4096), { grad: true });
  expect(X.wasmMemoryBytes() - before).toBeLessThan(4 << 20);
});
