// tokenScores: every case of tests/fixtures/tokenScores.json (float64 PyTorch 1.13 on the cast
// logits: logsumexp, special.entr of softmax, argmax, gathered log_softmax, (x > x[t]).sum(), topk
// of log_softmax), the float64 reference (itself checked on the same fixtures) on calls of many
// chunks and in every layout, perplexity against crossEntropy, zero-copy input, and the types.
import * as X from '../src';
import * as R from './reference';
import { dec, JNum, JTensor } from './helpers/family-fixtures';
import { rng, normals, ints } from './helpers/random';
import * as fs from 'fs';
import * as path from 'path';

beforeAll(() => X.init());

interface TokenCase {
  name: string;
  dtype: 'float32' | 'float64';
  input: JTensor;
  target?: JTensor;
  options: { dim?: number; topK?: number; ignoreIndex?: number };
  expected: Record<string, JTensor>;
}

const cases = (JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'tokenScores.json'), 'utf8')) as { cases: TokenCase[] }).cases;
const TOL = { float32: 1e-5, float64: 1e-10 } as const;
const INTS = new Set(['argmax', 'rank', 'topKIndices']);
const worst = { float32: 0, float64: 0 };

/** Compares one output: integers exactly, floats within the project's tolerance
 *  (|a - e| <= tol (1 + |e|)), NaN as NaN and infinities exactly. */
function expectOutput(what: string, dtype: 'float32' | 'float64', actual: ArrayLike<number> | undefined, expected: ArrayLike<number>): void {
  if (actual === undefined) throw new Error(`${what}: missing`);
  const Ctor = INTS.has(what) ? Int32Array : dtype === 'float32' ? Float32Array : Float64Array;
  if (!(actual instanceof Ctor)) throw new Error(`${what}: a ${(actual as object).constructor.name}, expected a ${Ctor.name}`);
  expect(actual.length).toBe(expected.length);
  const bad: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const a = actual[i];
    let ok: boolean;
    if (INTS.has(what) || !Number.isFinite(e)) ok = Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e));
    else {
      const err = Math.abs(a - e) / (1 + Math.abs(e));
      ok = err <= TOL[dtype];
      worst[dtype] = Math.max(worst[dtype], err);
    }
    if (!ok) bad.push(`${what}[${i}]: got ${a}, expected ${e}`);
  }
  if (bad.length) throw new Error(`${bad.length} values out of tolerance:\n  ${bad.slice(0, 8).join('\n  ')}`);
}

const jnums = (t: JTensor) => t.data.map((v: JNum) => dec(v));

describe('tokenScores.json (PyTorch 1.13, float64 from the cast logits)', () => {
  afterAll(() => {
    // eslint-disable-next-line no-console
    console.log(`tokenScores fixtures: ${cases.length} cases; largest |actual - expected| / (1 + |expected|): float32 ${worst.float32.toExponential(3)}, float64 ${worst.float64.toExponential(3)}`);
  });
  test.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const Ctor = c.dtype === 'float32' ? Float32Array : Float64Array;
    const input = { data: Ctor.from(jnums(c.input)), shape: c.input.shape };
    const target = c.target && (c.target.type === 'scalar' ? dec(c.target.data[0]) : { data: Int32Array.from(jnums(c.target)), shape: c.target.shape });
    const got = X.tokenScores(input, target ?? null, c.options) as X.TokenScores;
    const keys = Object.keys(c.expected).sort();
    expect(Object.keys(got).filter((k) => got[k as keyof X.TokenScores] !== undefined).sort()).toEqual(keys);
    for (const k of keys) expectOutput(k, c.dtype, got[k as keyof X.TokenScores], jnums(c.expected[k]));
  });
});

test('the float64 reference gives the fixtures (so it can stand in for PyTorch below)', () => {
  for (const c of cases.filter((k) => k.dtype === 'float64')) {
    const target = c.target && jnums(c.target);
    const ref = R.tokenScores({ data: jnums(c.input), shape: c.input.shape }, target, c.options);
    for (const k of Object.keys(c.expected)) {
      const e = jnums(c.expected[k]);
      const a = ref[k as keyof R.TokenScoresRef]!;
      e.forEach((v, i) => {
        if (Number.isFinite(v)) expect(Math.abs(a[i] - v)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(v)));
        else expect(a[i]).toBe(v);
      });
    }
  }
});

/** The library against the reference on the same (rounded) logits. */
function expectReference(x: { data: Float32Array | Float64Array; shape: number[] }, t: Int32Array | undefined, options: { dim?: number; topK?: number; ignoreIndex?: number }): void {
  const dtype = x.data instanceof Float32Array ? 'float32' : 'float64';
  const got = X.tokenScores(x, t ?? null, options) as X.TokenScores;
  const ref = R.tokenScores({ data: x.data, shape: x.shape }, t, options);
  for (const k of Object.keys(ref) as (keyof R.TokenScoresRef)[]) {
    if (ref[k] !== undefined) expectOutput(k, dtype, got[k], ref[k]!);
  }
}

describe('against the float64 reference', () => {
  const r = rng(31);
  for (const T of [Float32Array, Float64Array]) {
    test(`${T.name}: [3, 7, 1000] (last dim; many chunks, SIMD blocks and tails), ties and hostile rows, topK 5`, () => {
      const [B, S, V] = [3, 7, 1000];
      const data = T.from(normals(r, B * S * V, 4));
      for (let i = 0; i < data.length; i += 97) data[i] = Math.round(data[i]); // repeated values
      data[5 * V + 333] = NaN;
      data.fill(-Infinity, 6 * V, 7 * V);
      data[8 * V + 999] = Infinity;
      data.fill(-Infinity, 9 * V + 10, 10 * V);
      for (let c = 0; c < V; c++) data[11 * V + c] = -30 * c; // entropy ~1e-13
      const t = ints(r, B * S, V);
      t[2] = -100;
      t[9] = 500; // a -inf logit: logProb -inf
      expectReference({ data, shape: [B, S, V] }, t, { topK: 5 });
      expectReference({ data, shape: [B, S, V] }, undefined, {});
    });
    test(`${T.name}: every layout (dim 0, 1, 2 of [5, 33, 6]; NCHW), custom ignoreIndex, topK 3`, () => {
      const shape = [5, 33, 6];
      const data = T.from(normals(r, 5 * 33 * 6, 3));
      for (const dim of [0, 1, 2, -2]) {
        const d = (dim + 3) % 3;
        const positions = (5 * 33 * 6) / shape[d];
        const t = ints(r, positions, shape[d]);
        t[1] = 2;
        expectReference({ data, shape }, t, { dim, topK: 3, ignoreIndex: 2 });
      }
      const nchw = T.from(normals(r, 2 * 21 * 9 * 11, 2));
      expectReference({ data: nchw, shape: [2, 21, 9, 11] }, ints(r, 2 * 9 * 11, 21), { dim: 1, topK: 4 });
    });
    test(`${T.name}: a class dim not last with a huge inner dim (the stream slices it) and topK`, () => {
      const shape = [1, 40, 5000];
      const data = T.from(normals(r, 40 * 5000, 2));
      expectReference({ data, shape }, ints(r, 5000, 40), { dim: 1, topK: 6 });
    });
    test(`${T.name}: NCHW 64 x 64 (class rows a multiple of 512 bytes apart: the stream cuts each image in two chunks) and topK`, () => {
      const shape = [2, 7, 64, 64];
      const data = T.from(normals(r, 2 * 7 * 4096, 2));
      expectReference({ data, shape }, ints(r, 2 * 4096, 7), { dim: 1, topK: 3 });
    });
    test(`${T.name}: topK = C on rows sorted ascending (every logit enters the top K)`, () => {
      const C = 130;
      const data = T.from(Array.from({ length: 2 * C }, (_, i) => (i % C) * 0.5 - 3));
      expectReference({ data, shape: [2, C] }, undefined, { topK: C });
    });
  }
});

test('perplexity: Math.exp(-mean logProb) is exp(crossEntropy), ignored positions left out', () => {
  const r = rng(32);
  const [B, S, V] = [4, 16, 3000];
  const data = Float64Array.from(normals(r, B * S * V, 2));
  const t = ints(r, B * S, V);
  t[3] = t[17] = -100;
  const { logProb, rank, argmax } = X.tokenScores({ data, shape: [B, S, V] }, t);
  const kept = Array.from(logProb).filter((v) => !Number.isNaN(v));
  expect(kept.length).toBe(B * S - 2);
  const ppl = Math.exp(-kept.reduce((a, b) => a + b, 0) / kept.length);
  const ce = X.crossEntropy({ data, shape: [B, S, V] }, t, { dim: -1 }).loss;
  expect(Math.abs(ppl - Math.exp(ce)) / ppl).toBeLessThan(1e-12);
  expect([rank[3], rank[17]]).toEqual([-1, -1]);
  // rank 0 exactly where the target is the argmax (no ties in normal logits)
  for (let p = 0; p < B * S; p++) if (t[p] >= 0) expect(rank[p] === 0).toBe(argmax[p] === t[p]);
});

test('a wasmArray input (zero copy) gives the same scores as an ordinary array', () => {
  const r = rng(33);
  const values = Float32Array.from(normals(r, 64 * 500, 3));
  const w = X.wasmArray(Float32Array, values.length);
  w.array.set(values);
  const t = ints(r, 64, 500);
  const a = X.tokenScores({ data: w.array, shape: [64, 500] }, t, { topK: 2 });
  const b = X.tokenScores({ data: values, shape: [64, 500] }, t, { topK: 2 });
  for (const k of ['lse', 'entropy', 'argmax', 'logProb', 'rank', 'topKLogProbs', 'topKIndices'] as const) expect(Array.from(a[k])).toEqual(Array.from(b[k]));
  w.free();
});

test('types: the result is narrowed by the target and topK', () => {
  const x = { data: new Float32Array([1, 2, 3, 0, 0, 5]), shape: [2, 3] };
  const plain = X.tokenScores(x);
  const lse: Float32Array = plain.lse;
  const am: Int32Array = plain.argmax;
  // @ts-expect-error: no target, so no logProb
  const noLogProb: Float32Array = plain.logProb;
  // @ts-expect-error: no topK, so no topKIndices
  const noTop: Int32Array = plain.topKIndices;
  const full = X.tokenScores(x, [2, 0], { topK: 2 });
  const lp: Float32Array = full.logProb;
  const rank: Int32Array = full.rank;
  const tv: Float32Array = full.topKLogProbs;
  const ti: Int32Array = full.topKIndices;
  expect([lse.length, am.length, lp.length, rank.length, tv.length, ti.length]).toEqual([2, 2, 2, 2, 4, 4]);
  expect([noLogProb, noTop]).toEqual([undefined, undefined]);
  expect(Array.from(ti)).toEqual([2, 1, 2, 0]);
  expect(Array.from(rank)).toEqual([0, 1]);
});

// ------------------------------------------------------------------ large topK
// Top K up to C: the kernel keeps a sorted row for K <= 16 and a heap above (assembly/token_scores.ts),
// so these cases sit on both sides of that switch. Integer-valued logits give many ties (order: by
// logit descending, ties by lower class, NaN first: tests/reference.ts sorts the (value, index) pairs).
describe('large topK against the reference (sort of (logit, class))', () => {
  /** Rows of integer logits in [-6, 6] (about 13 values per row: ties everywhere), some -inf, and
   *  hostile rows: one with NaNs, one with +inf, one all -inf, one ascending, one descending. */
  function tiedRows(seed: number, rows: number, C: number): Float64Array {
    const r = rng(seed);
    const x = Float64Array.from(normals(r, rows * C, 2.5), (v) => Math.max(-6, Math.min(6, Math.round(v))));
    for (let i = 0; i < x.length; i += 7) if (r() < 0.3) x[i] = -Infinity;
    const row = (k: number) => x.subarray((k % rows) * C, (k % rows + 1) * C);
    row(1).set([NaN, 2, NaN], 5);
    row(2)[C - 1] = Infinity;
    row(3).fill(-Infinity);
    row(4).forEach((_, c, a) => (a[c] = Math.floor(c / 3))); // ascending: every logit enters
    row(5).forEach((_, c, a) => (a[c] = -Math.floor(c / 3)));
    return x;
  }
  for (const T of [Float32Array, Float64Array]) {
    const C = 301;
    for (const K of [C, C - 1, (C - 1) / 2, 17, 16, 1]) {
      test(`${T.name}: C ${C}, topK ${K}, last dim and dim 1 of [2, C, 5] (strided rows)`, () => {
        const rows = 8;
        const x = T.from(tiedRows(K, rows, C));
        expectReference({ data: x, shape: [rows, C] }, ints(rng(K + 1), rows, C), { topK: K });
        // the same values with the class dim in the middle: each position's top K is strided in the kernel
        const y = T.from(tiedRows(K + 2, 10, C));
        const z = new T(y.length);
        for (let p = 0; p < 10; p++) for (let c = 0; c < C; c++) z[((p / 5) | 0) * C * 5 + c * 5 + (p % 5)] = y[p * C + c];
        expectReference({ data: z, shape: [2, C, 5] }, ints(rng(K + 3), 10, C), { dim: 1, topK: K });
      });
    }
  }

  /** float16 / bfloat16 bits of an integer in [-2048, 2048], +-inf or NaN (exact in both). */
  function halfBits(v: number, fmt: 'float16' | 'bfloat16'): number {
    if (fmt === 'bfloat16') return new Uint32Array(Float32Array.of(v).buffer)[0] >>> 16;
    if (Number.isNaN(v)) return 0x7e00;
    const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
    const a = Math.abs(v);
    if (a === Infinity) return sign | 0x7c00;
    if (a === 0) return sign;
    const e = Math.floor(Math.log2(a));
    return sign | ((e + 15) << 10) | ((a / 2 ** e - 1) * 1024);
  }
  for (const fmt of ['float16', 'bfloat16'] as const) {
    test(`${fmt} logits: topK C, C/2 and 17 equal float32 on the same values`, () => {
      const [rows, C] = [8, 301];
      const x = Float32Array.from(tiedRows(99, rows, C));
      const bits = Uint16Array.from(x, (v) => halfBits(v, fmt));
      const t = ints(rng(98), rows, C);
      for (const K of [C, 150, 17]) {
        const h = X.tokenScores({ data: bits, shape: [rows, C], dtype: fmt }, t, { topK: K });
        const ref = R.tokenScores({ data: x, shape: [rows, C] }, t, { topK: K });
        expectOutput('topKIndices', 'float32', h.topKIndices, ref.topKIndices!);
        expectOutput('topKLogProbs', 'float32', h.topKLogProbs, ref.topKLogProbs!);
        expectOutput('argmax', 'float32', h.argmax, ref.argmax);
      }
    });
  }

  test('C = K = 50000 (the insertion sort took minutes here): a few rows, every output', () => {
    const [rows, C] = [3, 50000];
    const r = rng(34);
    const x = Float32Array.from(normals(r, rows * C, 300), (v) => Math.round(v)); // ~2000 values: ties
    for (let c = 0; c < C; c += 11) x[2 * C + c] = -Infinity;
    x.subarray(C, 2 * C).sort(); // ascending: every logit enters the top K
    expectReference({ data: x, shape: [rows, C] }, ints(r, rows, C), { topK: C });
    expectReference({ data: x, shape: [rows, C] }, undefined, { topK: C / 2 });
  });
});
