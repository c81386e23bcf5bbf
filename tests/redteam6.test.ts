// Red team 6: threads (setThreads/getThreads, src/threads.ts) attacked from outside, and the column
// kernel's smoothing fix. Every op/option row runs with 1, 2, 3, 4 and 8 threads and must give the
// same bits; a few rows are also checked against the float64 references (tests/reference.ts).
// State probes: races between setThreads and wasmArray / a worker's replacement, aliasing and
// stale views of the shared memory, workers killed mid-call. Tests that found a problem say so in
// their name ("FINDING"); each fails until its problem is fixed:
//  - a wasmArray made while setThreads(2) compiles is orphaned in the old, unshared memory;
//  - a worker killed from outside, then setThreads(n) before its replacement is ready: the
//    replacement lands in a slot the pool no longer has (getThreads() wrong, setThreads(1) then
//    rejects with an unprefixed TypeError), or in a closed pool (a leaked thread);
//  - a call that throws mid-run leaves its jobs running on the workers, and they corrupt the next
//    call; the throw itself is an unprefixed 'RangeError: Invalid typed array length';
//  - the per-worker block sets count against setWorkspaceLimit: a call that fits on 1 thread
//    throws on 2+;
//  - (not threads) an input checked before a later getter shrinks its resizable buffer is used
//    out of bounds (length 0) without an error: softmaxBackward, BCE, klDiv, sigmoidFocalLoss.
import { readdirSync } from 'fs';
import * as X from '../src';
import * as R from './reference';
import { expectSame as same } from './helpers/same';

jest.setTimeout(120000);

beforeAll(() => X.init());
afterAll(() => X.setThreads(1));

type PoolInside = { size: number; threads: ({ dead: boolean; worker: { terminate(): Promise<number> } } | undefined)[] };
type StateInside = { workspace: { pool: PoolInside | null; exports: { memory: WebAssembly.Memory } } };
const stateOf = () => (globalThis as unknown as Record<symbol, StateInside>)[Symbol.for('wasm-xent@0.1.0')];
const poolOf = () => stateOf().workspace.pool!;
const tasks = () => readdirSync('/proc/self/task').length;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));


/** Deep copy of a result (typed arrays sliced), so later calls cannot change it. */
function snap(v: unknown): unknown {
  if (ArrayBuffer.isView(v)) return (v as unknown as Float32Array).slice();
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, snap(x)]));
  return v;
}

/** max |a - b| / (atol + rtol |b|) over elements: <= 1 passes. */
function closeTo(what: string, got: ArrayLike<number> | number, want: ArrayLike<number> | number, rtol: number, atol: number): void {
  const g = typeof got === 'number' ? [got] : got;
  const w = typeof want === 'number' ? [want] : want;
  expect(g.length).toBe(w.length);
  const abs = Math.abs;
  for (let i = 0; i < w.length; i++) {
    if (Object.is(g[i], w[i])) continue;
    if (!(abs(g[i] - w[i]) <= atol + rtol * abs(w[i]))) throw new Error(`${what}[${i}]: ${g[i]} vs float64 ${w[i]}`);
  }
}

// tests/helpers/random.ts's generators with Math hoisted into locals (jest's vm context makes global
// lookups slow, and these tests draw tens of millions of numbers).
function rng(seed: number): () => number {
  let a = seed >>> 0;
  const imul = Math.imul;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function normals(g: () => number, n: number, scale = 1): Float64Array {
  const out = new Float64Array(n);
  const { sqrt, log, cos, max, PI } = Math;
  for (let i = 0; i < n; i++) out[i] = scale * sqrt(-2 * log(max(g(), 1e-12))) * cos(2 * PI * g());
  return out;
}
function uniforms(g: () => number, n: number, lo = 0, hi = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * g();
  return out;
}
function ints(g: () => number, n: number, hi: number): Int32Array {
  const out = new Int32Array(n);
  const floor = Math.floor;
  for (let i = 0; i < n; i++) out[i] = floor(g() * hi);
  return out;
}

const r = rng(60606);
const f32 = (n: number, scale = 2) => new Float32Array(normals(r, n, scale));
const f64 = (n: number, scale = 2) => normals(r, n, scale);
function hostile<A extends Float32Array | Float64Array>(a: A): A {
  for (let i = 11; i < a.length; i += 1009) a[i] = [Infinity, -Infinity, NaN, 1e4, -1e4, 88.8][i % 6];
  return a;
}

// ---------------------------------------------------------------------------------------------
// Probes that must run before the module moves to shared memory (the move happens once).

// gradOutput on a resizable buffer, shrunk to half by the output's data getter: softmaxBackward reads
// (and checks) gradOutput before it reads output, so the check has passed when the buffer shrinks.
const resizable = (n: number) => new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(n * 4, { maxByteLength: n * 4 });
const SB_N = 2000, SB_C = 1000;
function shrunkBackward(gy: Float32Array, y: Float32Array): Float32Array {
  const buffer = resizable(SB_N * SB_C);
  const g = new Float32Array(buffer, 0, SB_N * SB_C);
  g.set(gy);
  const output = { get data() { (buffer as unknown as { resize(n: number): void }).resize(SB_N * SB_C * 2); return y; }, shape: [SB_N, SB_C] };
  return X.softmaxBackward({ data: g, shape: [SB_N, SB_C] }, output);
}
function backwardInputs(): { gy: Float32Array; y: Float32Array } {
  const gy = f32(SB_N * SB_C);
  return { gy, y: X.softmax({ data: f32(SB_N * SB_C), shape: [SB_N, SB_C] }) };
}

describe('before the first setThreads(>1)', () => {
  test('fixed (red team 6), was: gradOutput whose resizable buffer the output getter shrinks: 1 thread (unshared memory) returns a result without any error (its gradOutput view is out of bounds: length 0)', () => {
    const { gy, y } = backwardInputs();
    let got: Float32Array | null = null;
    let error = '';
    try {
      got = shrunkBackward(gy, y);
    } catch (e) {
      error = String(e);
    }
    if (got) {
      const zeroGrad = X.softmaxBackward({ data: new Float32Array(SB_N * SB_C), shape: [SB_N, SB_C] }, { data: y, shape: [SB_N, SB_C] });
      let sameAsZero = true;
      for (let i = 0; i < got.length && sameAsZero; i++) sameAsZero = Object.is(got[i], zeroGrad[i]);
      error = sameAsZero ? 'no error: the result is softmaxBackward of gradOutput = 0' : 'no error';
    }
    expect(error).toMatch(/^RangeError: softmaxBackward: /);
  });

  test('fixed (red team 6), was: a wasmArray created while setThreads(2) is pending (after its wasmArray check) is orphaned: it stays in the old, unshared memory', async () => {
    // Compiling takes a few ms on its own; 50 ms more makes the window certain on any machine.
    const compile = WebAssembly.compile;
    WebAssembly.compile = async (bytes: BufferSource) => (await sleep(50), compile(bytes));
    const p = X.setThreads(2);
    await new Promise((done) => setImmediate(done)); // resize has checked for wasmArrays and is compiling
    WebAssembly.compile = compile;
    let made: X.WasmArray<Float32Array> | null = null;
    let madeError: unknown = null;
    try {
      made = X.wasmArray(Float32Array, 1000);
    } catch (e) {
      madeError = e;
    }
    let setError: unknown = null;
    await p.catch((e) => (setError = e));
    // Either the wasmArray or setThreads must refuse (clear error); otherwise the array must live in
    // the memory the ops now use.
    if (madeError === null && setError === null) {
      const memory = stateOf().workspace.exports.memory;
      const inShared = made!.array.buffer === memory.buffer;
      made!.free();
      expect({ inShared }).toEqual({ inShared: true });
    }
    made?.free();
    await X.setThreads(1);
  });
});

// ---------------------------------------------------------------------------------------------
// Bit-identity table: every row with 1, 2, 3, 4 and 8 threads, inputs of several chunks.

function makeRows(): [string, () => unknown][] {
  const N = 500, C = 1000; // 2 MB float32: 4 chunks
  const x32 = hostile(f32(N * C));
  const x64 = hostile(f64(N * C));
  const t = ints(r, N, C);
  for (let i = 5; i < N; i += 37) t[i] = -100;
  const t7 = Int32Array.from(t, (v) => (v === -100 ? 7 : v));
  const w = new Float32Array(uniforms(r, C, 0.1, 3));
  const w64 = uniforms(r, C, 0.1, 3);
  const probs = X.softmax({ data: f32(N * C), shape: [N, C] });
  const gradNone = f32(N);
  // dim not last: [B, C, H, W] with small C (columns) and larger C (rows)
  const segC = 5, seg = hostile(f32(4 * segC * 160 * 200)), segT = ints(r, 4 * 160 * 200, segC);
  const bigC = 40, img = hostile(f32(2 * bigC * 100 * 120)), imgT = ints(r, 2 * 100 * 120, bigC);
  const imgP = X.softmax({ data: f32(2 * bigC * 100 * 120), shape: [2, bigC, 100, 120] }, { dim: 1 });
  const half = new Uint16Array(ints(r, N * C, 0x3c00));
  const segHalf = Uint16Array.from(ints(r, 4 * segC * 160 * 200, 0x8000), (v) => (v & 1 ? v | 0x8000 : v) >>> 1);
  const halfNeg = Uint16Array.from(half, (v, i) => (i % 3 ? v | 0x8000 : v));
  const M = 600000;
  const y = new Float32Array(uniforms(r, M, 0, 1));
  const p = new Float32Array(uniforms(r, M, 0.001, 0.999));
  const z = hostile(f32(M));
  const gradM = f32(M);
  const longW = new Float32Array(uniforms(r, 3000, 0.1, 2)); // period 3000 over [200, 3000]
  const rowW = new Float32Array(uniforms(r, 200000, 0.5, 2)); // [200000, 1]: streamed beside the input
  const lp32 = X.logSoftmax({ data: x32, shape: [N, C] });
  const seqN = 200, seqC = 6000, lm = hostile(f32(seqN * seqC)), lmT = ints(r, seqN, seqC);
  const lmT2 = Int32Array.from(lmT, (v, i) => (i % 9 === 0 ? -100 : v));
  const softY = X.softmax({ data: x32, shape: [N, C] });
  const gy = f32(N * C);
  const D = 48, V = 4000, T = 96;
  const hidden = f32(T * D), proj = f32(V * D, 0.2), bias = f32(V, 0.5), lceT = ints(r, T, V);
  const gx0 = f32(T * D), gw0 = f32(V * D), gb0 = f32(V);
  const t10 = ints(r, N, 10);
  const soft64 = X.softmax({ data: x64.map((v) => v / 2), shape: [N, C] });
  const zeroW = Float32Array.from({ length: C }, (_, c) => (c < 10 ? 0 : 1.5));
  const infRows = x32.slice();
  for (let row = 2; row < N; row += 50) infRows[row * C + 3] = Infinity;
  for (let row = 7; row < N; row += 50) infRows.fill(-Infinity, row * C, (row + 1) * C);
  const wide = hostile(f32(8 * 200000)), wideT = ints(r, 200000, 8);
  const longRows = hostile(f64(3 * 200000));
  const ctcLp = X.logSoftmax({ data: f32(400 * 32 * 50), shape: [400, 32, 50] });
  const ctcTl = Int32Array.from({ length: 32 }, (_, k) => 20 + (k % 30));
  const ctcIn = Int32Array.from({ length: 32 }, (_, k) => 400 - k * 3);
  const ctcT = Int32Array.from({ length: 32 * 49 }, () => 1 + Math.floor(r() * 49));
  return [
    ['crossEntropy index, weight, ignoreIndex, smoothing 0.2, mean', () => X.crossEntropy({ data: x32, shape: [N, C] }, t, { weight: w, labelSmoothing: 0.2, grad: true })],
    ['crossEntropy index f64, weight, ignoreIndex 7, smoothing, sum', () => X.crossEntropy({ data: x64, shape: [N, C] }, t7, { weight: w64, ignoreIndex: 7, labelSmoothing: 0.3, reduction: 'sum', grad: true })],
    ['crossEntropy index, none, gradOutput array', () => X.crossEntropy({ data: x32, shape: [N, C] }, t, { reduction: 'none', gradOutput: gradNone, grad: true })],
    ['crossEntropy zLoss + returnLse + smoothing + weight, mean', () => X.crossEntropy({ data: x32, shape: [N, C] }, t, { zLoss: 1e-3, returnLse: true, weight: w, labelSmoothing: 0.1, grad: true })],
    ['crossEntropy probabilities, weight, smoothing, mean', () => X.crossEntropy({ data: x32, shape: [N, C] }, { data: probs, shape: [N, C] }, { weight: w, labelSmoothing: 0.15, grad: true })],
    ['crossEntropy probabilities, zLoss, returnLse, none', () => X.crossEntropy({ data: x32, shape: [N, C] }, { data: probs, shape: [N, C] }, { zLoss: 1e-4, returnLse: true, reduction: 'none', grad: true })],
    ['crossEntropy dim 1 C = 5 (columns), smoothing, weight, ignore', () => X.crossEntropy({ data: seg, shape: [4, segC, 160, 200] }, Int32Array.from(segT, (v, i) => (i % 101 ? v : -100)), { weight: [1, 2, 0.5, 3, 0.25], labelSmoothing: 0.1, grad: true })],
    ['crossEntropy dim 1 C = 5 (columns), smoothing 1 - 2^-53, sum', () => X.crossEntropy({ data: seg, shape: [4, segC, 160, 200] }, segT, { labelSmoothing: 1 - 2 ** -53, reduction: 'sum', grad: true })],
    ['crossEntropy dim 1 C = 5 (columns), zLoss, returnLse, weight, none', () => X.crossEntropy({ data: seg, shape: [4, segC, 160, 200] }, segT, { zLoss: 1e-3, returnLse: true, weight: [1, 2, 0.5, 3, 0.25], reduction: 'none', grad: true })],
    ['crossEntropy bfloat16 dim 1 C = 5 (decoded, then regrouped into columns), smoothing', () => X.crossEntropy({ data: segHalf, shape: [4, segC, 160, 200], dtype: 'bfloat16' }, segT, { labelSmoothing: 0.1, grad: true })],
    ['crossEntropy dim 1 C = 40 index, zLoss, returnLse', () => X.crossEntropy({ data: img, shape: [2, bigC, 100, 120] }, imgT, { zLoss: 1e-3, returnLse: true, grad: true })],
    ['crossEntropy dim 1 C = 40 probabilities (rows), smoothing', () => X.crossEntropy({ data: img, shape: [2, bigC, 100, 120] }, { data: imgP, shape: [2, bigC, 100, 120] }, { labelSmoothing: 0.05, reduction: 'sum', grad: true })],
    ['crossEntropy float16 logits, smoothing, weight', () => X.crossEntropy({ data: halfNeg, shape: [N, C], dtype: 'float16' }, t, { weight: w, labelSmoothing: 0.1, grad: true })],
    ['crossEntropy bfloat16 logits, none', () => X.crossEntropy({ data: half, shape: [N, C], dtype: 'bfloat16' }, t, { reduction: 'none', grad: true })],
    ['nllLoss, weight, none', () => X.nllLoss({ data: lp32, shape: [N, C] }, t, { weight: w, reduction: 'none', grad: true })],
    ['nllLoss f64, sum', () => X.nllLoss({ data: x64, shape: [N, C] }, t, { reduction: 'sum', grad: true })],
    ['focalLoss gamma 2, weight', () => X.focalLoss({ data: x32, shape: [N, C] }, t, { gamma: 2, weight: w, grad: true })],
    ['klDiv logTarget, sum', () => X.klDiv({ data: lp32, shape: [N, C] }, { data: X.logSoftmax({ data: gy, shape: [N, C] }), shape: [N, C] }, { logTarget: true, reduction: 'sum', grad: true })],
    ['binaryCrossEntropy, weight period 1 (scalar-like), none', () => X.binaryCrossEntropy({ data: p, shape: [M] }, { data: y, shape: [M] }, { weight: new Float32Array([0.7]), reduction: 'none', grad: true })],
    ['binaryCrossEntropy, weight period 3000 (long), mean', () => X.binaryCrossEntropy({ data: p.subarray(0, 200 * 3000), shape: [200, 3000] }, { data: y.subarray(0, 200 * 3000), shape: [200, 3000] }, { weight: longW, grad: true })],
    ['bceWithLogits, posWeight and weight period 3000, sum, gradOutput 0.5', () => X.binaryCrossEntropyWithLogits({ data: z, shape: [200, 3000] }, { data: y, shape: [200, 3000] }, { posWeight: longW, weight: longW, reduction: 'sum', gradOutput: 0.5, grad: true })],
    ['bceWithLogits, posWeight and weight period 3 (short), mean', () => X.binaryCrossEntropyWithLogits({ data: z, shape: [200000, 3] }, { data: y, shape: [200000, 3] }, { posWeight: [3, 0.5, 1], weight: [0.25, 2, 1], grad: true })],
    ['binaryCrossEntropy, weight [200000, 1] (period 1 per row, broadcast), sum', () => X.binaryCrossEntropy({ data: p, shape: [200000, 3] }, { data: y, shape: [200000, 3] }, { weight: { data: rowW, shape: [200000, 1] }, reduction: 'sum', grad: true })],
    ['bceWithLogits, none, gradOutput array', () => X.binaryCrossEntropyWithLogits({ data: z, shape: [M] }, { data: y, shape: [M] }, { reduction: 'none', gradOutput: gradM, grad: true })],
    ['sigmoidFocalLoss alpha 0.3 gamma 1.5, mean', () => X.sigmoidFocalLoss({ data: z, shape: [M] }, { data: y, shape: [M] }, { alpha: 0.3, gamma: 1.5, grad: true })],
    ['softmax f64 dim -1', () => X.softmax({ data: x64, shape: [N, C] })],
    ['logSoftmax dim 0 (columns of 600)', () => X.logSoftmax({ data: x32, shape: [N, C] }, { dim: 0 })],
    ['softmax dim 1 of [4, 5, 160, 200]', () => X.softmax({ data: seg, shape: [4, segC, 160, 200] }, { dim: 1 })],
    ['logSoftmax bfloat16', () => X.logSoftmax({ data: half, shape: [N, C], dtype: 'bfloat16' })],
    ['softmaxBackward dim 0', () => X.softmaxBackward({ data: gy, shape: [N, C] }, { data: X.softmax({ data: x32, shape: [N, C] }, { dim: 0 }), shape: [N, C] }, { dim: 0 })],
    ['logSoftmaxBackward', () => X.logSoftmaxBackward({ data: gy, shape: [N, C] }, { data: lp32, shape: [N, C] })],
    ['tokenScores topK 7 without targets', () => X.tokenScores({ data: lm, shape: [seqN, seqC] }, undefined, { topK: 7 })],
    ['tokenScores targets with ignoreIndex, topK 1', () => X.tokenScores({ data: lm, shape: [seqN, seqC] }, lmT2, { topK: 1 })],
    ['tokenScores dim 0', () => X.tokenScores({ data: softY, shape: [N, C] }, undefined, { dim: 0, topK: 3 })],
    ['crossEntropy weights zero on every target class, smoothing 0.2, mean (the recursive zero-weight path)', () => X.crossEntropy({ data: x32, shape: [N, C] }, t10, { weight: zeroW, labelSmoothing: 0.2, grad: true })],
    ['crossEntropy returnLse with out === input (a fresh copy each run), +-inf rows', () => {
      const copy = infRows.slice();
      const res = X.crossEntropy({ data: copy, shape: [N, C] }, t, { out: copy, returnLse: true, labelSmoothing: 0.1 });
      return { loss: res.loss, lse: (res as { lse: Float32Array }).lse, grad: copy };
    }],
    ['softmax [1, 8, 200000] dim 1 (one outer slice: inner sliced into chunks)', () => X.softmax({ data: wide, shape: [1, 8, 200000] }, { dim: 1 })],
    ['crossEntropy [1, 8, 200000] (inner sliced), weight, smoothing, none', () => X.crossEntropy({ data: wide, shape: [1, 8, 200000] }, wideT, { weight: [1, 2, 3, 4, 0.5, 0.25, 1, 1], labelSmoothing: 0.1, reduction: 'none', grad: true })],
    ['tokenScores [3, 200000] f64 topK 5 (a row over a chunk)', () => X.tokenScores({ data: longRows, shape: [3, 200000] }, [5, 199999, 0], { topK: 5 })],
    ['nllLoss dim 1 of [4, 5, 160, 200], ignoreIndex', () => X.nllLoss({ data: seg, shape: [4, segC, 160, 200] }, Int32Array.from(segT, (v, i) => (i % 7 ? v : -100)), { grad: true })],
    ['klDiv f64 none', () => X.klDiv({ data: X.logSoftmax({ data: x64, shape: [N, C] }), shape: [N, C] }, { data: soft64, shape: [N, C] }, { reduction: 'none', grad: true })],
    ['ctcLoss [400, 32, 50] (one chunk: stays on the caller)', () => X.ctcLoss({ data: ctcLp, shape: [400, 32, 50] }, { data: ctcT, shape: [32, 49] }, ctcIn, ctcTl, { grad: true })],
    ['linearCrossEntropy accumulate into plain outInput/outWeight/outBias', () => {
      const outInput = gx0.slice(), outWeight = gw0.slice(), outBias = gb0.slice();
      const res = X.linearCrossEntropy({ data: hidden, shape: [T, D] }, { data: proj, shape: [V, D] }, lceT, { linearBias: bias, outInput, outWeight, outBias, accumulate: true, reduction: 'sum' });
      return { loss: res.loss, outInput, outWeight, outBias };
    }],
    ['linearCrossEntropy bias, weight, smoothing, zLoss, softcap', () => X.linearCrossEntropy({ data: hidden, shape: [T, D] }, { data: proj, shape: [V, D] }, lceT, { linearBias: bias, labelSmoothing: 0.1, zLoss: 1e-4, softcap: 30, grad: true })],
  ];
}

let ROWS: [string, () => unknown][] = [];
const baseline: unknown[] = [];

describe('bit identity across thread counts', () => {
  beforeAll(async () => {
    await X.setThreads(1);
    let t0 = Date.now();
    ROWS = makeRows();
    if (process.env.RT6_TIMING) console.log('makeRows', Date.now() - t0);
    for (const [name, f] of ROWS) {
      t0 = Date.now();
      baseline.push(snap(f()));
      if (process.env.RT6_TIMING) console.log(name, Date.now() - t0);
    }
  });

  test.each([2, 3, 4, 8])('every row gives the same bits with %i threads as with 1', async (n) => {
    expect(await X.setThreads(n)).toBe(n);
    const failures: string[] = [];
    ROWS.forEach(([name, f], k) => {
      try {
        same(`${name} (${n} threads)`, snap(f()), baseline[k]);
      } catch (e) {
        failures.push(String((e as Error).message));
      }
    });
    expect(failures).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Float64 references with threads: the column kernel's smoothing fix and the regrouped paths.

describe('float64 references with 4 threads', () => {
  beforeAll(() => X.setThreads(4));

  test.each([
    ['C = 3 columns, smoothing 0.3, weight, ignore, mean', 3, { labelSmoothing: 0.3, weight: [0.5, 2, 1] }],
    ['C = 3 columns, smoothing 1 - 2^-53, sum', 3, { labelSmoothing: 1 - 2 ** -53, reduction: 'sum' as const }],
    ['C = 7 columns, smoothing 1, none', 7, { labelSmoothing: 1, reduction: 'none' as const }],
    ['C = 40 rows, smoothing 0.1, weight', 40, { labelSmoothing: 0.1, weight: Array.from({ length: 40 }, (_, c) => 0.25 + (c % 5) / 2) }],
  ])('crossEntropy dim 1, %s: matches float64 and gives the same bits on 1 thread', async (_, C, o) => {
    const shape = [2, C, 100, 120]; // 24000 positions: several chunks for every C here
    const n = 2 * 100 * 120;
    const x = f64(2 * C * 100 * 120, 3);
    const t = ints(r, n, C);
    for (let i = 13; i < n; i += 101) t[i] = -100;
    // a row whose target logit is -inf: nll = +inf, and with eps < 1 the loss is +inf (torch)
    x[t[1] * 12000 + 1] = -Infinity;
    const opts = { ...o, grad: true };
    const got = snap(X.crossEntropy({ data: x, shape }, t, opts)) as { loss: number | Float64Array; grad: Float64Array };
    const ref = R.crossEntropyIndex({ data: x, shape }, t, o as R.ClassLossOptions);
    closeTo('loss', got.loss, ref.loss, 1e-10, 1e-12);
    closeTo('grad', got.grad, ref.grad, 1e-9, 1e-15);
    await X.setThreads(1);
    same('1 thread', snap(X.crossEntropy({ data: x, shape }, t, opts)), got);
    await X.setThreads(4);
  });

  test('softmax / logSoftmax dim 0 and bce-with-logits (streamed weight) match float64', () => {
    const x = hostile(f64(700 * 900));
    const sm = X.softmax({ data: x, shape: [700, 900] }, { dim: 0 });
    closeTo('softmax dim 0', sm, R.softmax({ data: x, shape: [700, 900] }, 0), 1e-12, 1e-300);
    const ls = X.logSoftmax({ data: x, shape: [700, 900] });
    closeTo('logSoftmax', ls, R.logSoftmax({ data: x, shape: [700, 900] }, 1), 1e-12, 1e-12);
    const z = f64(150000, 4), y = uniforms(r, 150000, 0, 1), w = uniforms(r, 50000, 0.5, 2);
    const got = X.binaryCrossEntropyWithLogits({ data: z, shape: [50000, 3] }, { data: y, shape: [50000, 3] }, { weight: { data: w, shape: [50000, 1] }, posWeight: [2, 1, 0.5], grad: true });
    const ref = R.binaryCrossEntropyWithLogits({ data: z, shape: [50000, 3] }, y, { weight: { data: w, shape: [50000, 1] }, posWeight: { data: [2, 1, 0.5], shape: [3] } } as never);
    closeTo('bce loss', got.loss as number, ref.loss as number, 1e-12, 0);
    closeTo('bce grad', got.grad!, ref.grad, 1e-12, 1e-18);
  });
});

// Not about threads, found on the way: an element-wise loss reads and checks its input, then runs
// the target's getter, which shrinks the input's resizable buffer: the input view is now out of
// bounds (length 0) and the op returns a NaN loss and an empty gradient for a [2, 4] input.
describe('an input whose resizable buffer the target getter shrinks', () => {
  const shrinking = () => {
    const buffer = resizable(8);
    const x = new Float32Array(buffer, 0, 8).fill(0.25);
    const target = { get data() { (buffer as unknown as { resize(n: number): void }).resize(4); return new Float32Array(8).fill(1); }, shape: [2, 4] };
    return { input: { data: x, shape: [2, 4] }, target };
  };
  test.each([
    ['binaryCrossEntropy', (a: ReturnType<typeof shrinking>) => X.binaryCrossEntropy(a.input, a.target, { grad: true })],
    ['binaryCrossEntropyWithLogits', (a: ReturnType<typeof shrinking>) => X.binaryCrossEntropyWithLogits(a.input, a.target, { grad: true })],
    ['klDiv', (a: ReturnType<typeof shrinking>) => X.klDiv(a.input, a.target, { grad: true })],
    ['sigmoidFocalLoss', (a: ReturnType<typeof shrinking>) => X.sigmoidFocalLoss(a.input, a.target, { grad: true })],
  ])('fixed (red team 6), was: %s returns a loss for 0 elements (NaN / empty) instead of a RangeError', (name, call) => {
    let outcome: string;
    try {
      const res = call(shrinking());
      outcome = `no error: loss ${String(res.loss)}, grad length ${res.grad!.length}`;
    } catch (e) {
      outcome = String(e);
    }
    expect(outcome).toMatch(new RegExp(`^RangeError: ${name}: `));
  });
});

// ---------------------------------------------------------------------------------------------
// A call that throws mid-run with jobs in flight.

describe('a call that throws while its jobs are in flight', () => {
  afterAll(() => X.setThreads(1));

  test('fixed (red team 6), was: with 8 threads the shrunk gradOutput throws an unprefixed RangeError mid-run, and the jobs it left on the workers corrupt the next call', async () => {
    const { gy, y } = backwardInputs();
    const small = f32(200 * 1000);
    await X.setThreads(1);
    const want = X.softmax({ data: small, shape: [200, 1000] });
    await X.setThreads(8);
    const errors = new Set<string>();
    let wrong = 0;
    for (let k = 0; k < 25; k++) {
      try {
        shrunkBackward(gy, y);
        errors.add('no error');
      } catch (e) {
        errors.add(String(e));
      }
      const got = X.softmax({ data: small, shape: [200, 1000] }); // right after: the workers may still be busy
      for (let i = 0; i < got.length; i++) {
        if (!Object.is(got[i], want[i])) {
          wrong++;
          break;
        }
      }
    }
    const seen = { errors: [...errors].map((e) => (/^RangeError: softmaxBackward: /.test(e) ? 'prefixed RangeError' : e)), wrongNextCalls: wrong };
    expect(seen).toEqual({ errors: ['prefixed RangeError'], wrongNextCalls: 0 });
  });
});

// ---------------------------------------------------------------------------------------------
// The workspace limit: each worker gets DEPTH block sets of its own.

describe('the workspace limit with threads', () => test('fixed (red team 6), was: a call that fits the workspace limit on 1 thread throws a RangeError with 2, 4 and 8 threads (block sets per worker count against the limit)', async () => {
  const x = new Float32Array(6 * 500000).map((_, i) => (i % 17) / 7); // rows of 2 MB: one row per chunk
  const limit = X.getWorkspaceLimit();
  X.setWorkspaceLimit(8 * 1048576);
  try {
    const outcome: Record<number, string> = {};
    let want: Float32Array | null = null;
    for (const n of [1, 2, 4, 8]) {
      await X.setThreads(n);
      try {
        const y = X.softmax({ data: x, shape: [6, 500000] });
        if (want) same(`${n} threads`, y, want);
        want = y;
        outcome[n] = 'ok';
      } catch (e) {
        outcome[n] = String(e);
      }
    }
    expect(outcome).toEqual({ 1: 'ok', 2: 'ok', 4: 'ok', 8: 'ok' });
  } finally {
    X.setWorkspaceLimit(limit);
    await X.setThreads(1);
  }
}));

// ---------------------------------------------------------------------------------------------
// Pool state: a worker's replacement racing setThreads.

describe('a worker killed from outside, then setThreads before its replacement is ready', () => {
  afterEach(async () => {
    await X.setThreads(1).catch(() => 1);
    await X.setThreads(1).catch(() => 1);
  });

  test('fixed (red team 6), was: setThreads(2) resolves 2 but the late replacement lands in slot 3: getThreads() is 4, and the next setThreads(1) rejects with an unprefixed TypeError', async () => {
    await X.setThreads(4);
    await poolOf().threads[2]!.worker.terminate(); // its exit event starts a replacement for slot 3
    expect(await X.setThreads(2)).toBe(2);
    await sleep(800); // the replacement is ready by now
    const seen = { getThreads: X.getThreads(), setThreads1: await X.setThreads(1).then(String, (e: Error) => `${e.name}: ${e.message}`) };
    expect(seen).toEqual({ getThreads: 2, setThreads1: '1' });
  });

  test('fixed (red team 6), was: setThreads(1) right after a worker was killed leaks its replacement (a thread that never exits)', async () => {
    await X.setThreads(1);
    await sleep(300);
    const before = tasks();
    await X.setThreads(3);
    await poolOf().threads[1]!.worker.terminate();
    expect(await X.setThreads(1)).toBe(1);
    // Terminated workers' threads exit; a late replacement starts and stops itself (polled: a
    // loaded machine is slow to start and end threads; a leak never comes back down).
    for (let t = 0; t < 200 && tasks() > before; t++) await sleep(50);
    expect(tasks()).toBeLessThanOrEqual(before);
  });

  test('held: a worker terminated from an option getter mid-call: same bits, no hang (stolen back after 250 ms)', async () => {
    await X.setThreads(1);
    const x = hostile(f32(900 * 1000));
    const t = ints(r, 900, 1000);
    const want = X.crossEntropy({ data: x, shape: [900, 1000] }, t, { grad: true, labelSmoothing: 0.1 });
    await X.setThreads(3);
    for (let k = 0; k < 2; k++) {
      const opts = {
        get labelSmoothing() {
          void poolOf().threads[k]!.worker.terminate();
          return 0.1;
        },
        grad: true,
      };
      const start = Date.now();
      same(`call ${k}`, X.crossEntropy({ data: x, shape: [900, 1000] }, t, opts), want);
      expect(Date.now() - start).toBeLessThan(5000);
      await sleep(500); // replaced
      expect(X.getThreads()).toBe(3);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// setThreads itself: queued calls, bad values, getters that call it mid-call.

describe('setThreads calls', () => {
  afterAll(() => X.setThreads(1));

  test('held: many setThreads without awaiting resolve in order, each to its own count; getThreads lags until each resolves', async () => {
    await X.setThreads(1);
    const asked: (number | 'auto')[] = [2, 8, 1, 3, 'auto', 100, 1, 4, 2];
    const cores = Math.min(8, require('os').availableParallelism() as number);
    const promises = asked.map((n) => X.setThreads(n));
    expect(X.getThreads()).toBe(1); // nothing has resolved yet
    const order: number[] = [];
    const got = await Promise.all(promises.map((p, k) => p.then((v) => (order.push(k), v))));
    expect(got).toEqual(asked.map((n) => (n === 'auto' ? cores : Math.min(8, n))));
    expect(order).toEqual(asked.map((_, k) => k));
    expect(X.getThreads()).toBe(2);
    expect(poolOf().threads.filter((t) => t && !t.dead).length).toBe(1);
  });

  test.each([
    [-0], [0.5], [2.5], [-Infinity], ['4'], [[2]], [BigInt(2)], [new Number(2)], [true], [() => 2],
  ])('held: setThreads(%p) throws a RangeError naming setThreads', (bad) => {
    expect(() => X.setThreads(bad as never)).toThrow(RangeError);
    expect(() => X.setThreads(bad as never)).toThrow(/^setThreads: expected a whole number of threads >= 1 or 'auto', got /);
  });

  test('held: an option getter that calls setThreads(1) / setThreads(8) mid-call changes nothing in that call', async () => {
    await X.setThreads(1);
    const x = hostile(f32(900 * 1000));
    const t = ints(r, 900, 1000);
    const want = X.crossEntropy({ data: x, shape: [900, 1000] }, t, { grad: true, zLoss: 1e-4 });
    for (const [from, to] of [[3, 1], [2, 8], [4, 2]]) {
      await X.setThreads(from);
      let during = -1;
      const opts = { get zLoss() { void X.setThreads(to); during = X.getThreads(); return 1e-4; }, grad: true };
      same(`${from} -> ${to}`, X.crossEntropy({ data: x, shape: [900, 1000] }, t, opts), want);
      expect(during).toBe(from);
      await X.setThreads(to); // the getter's call has resolved by then too
      expect(X.getThreads()).toBe(to);
      same(`after ${to}`, X.crossEntropy({ data: x, shape: [900, 1000] }, t, { grad: true, zLoss: 1e-4 }), want);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Aliasing and views of the shared memory.

describe('aliasing and views with threads', () => {
  beforeAll(() => X.setThreads(3));
  afterAll(() => X.setThreads(1));

  test('held: out === input (exact alias) gives the same bits as a separate out, for plain arrays and wasmArrays', () => {
    const N = 700, C = 900;
    const x0 = hostile(f32(N * C));
    const t = ints(r, N, C);
    const segT = ints(r, 4 * 150 * 300, 3);
    const cases: [string, (x: Float32Array) => unknown, (x: Float32Array) => unknown][] = [
      ['softmax', (x) => X.softmax({ data: x, shape: [N, C] }), (x) => X.softmax({ data: x, shape: [N, C] }, { out: x })],
      ['logSoftmax dim 0', (x) => X.logSoftmax({ data: x, shape: [N, C] }, { dim: 0 }), (x) => X.logSoftmax({ data: x, shape: [N, C] }, { dim: 0, out: x })],
      ['crossEntropy grad', (x) => X.crossEntropy({ data: x, shape: [N, C] }, t, { grad: true, labelSmoothing: 0.1 }).grad, (x) => (X.crossEntropy({ data: x, shape: [N, C] }, t, { out: x, labelSmoothing: 0.1 }), x)],
      ['crossEntropy [4, 3, 150, 300] columns grad', (x) => X.crossEntropy({ data: x.subarray(0, 540000), shape: [4, 3, 150, 300] }, segT, { grad: true }).grad, (x) => (X.crossEntropy({ data: x.subarray(0, 540000), shape: [4, 3, 150, 300] }, segT, { out: x.subarray(0, 540000) }), x.subarray(0, 540000))],
    ];
    for (const [name, separate, aliased] of cases) {
      const want = snap(separate(x0.slice()));
      const copy = x0.slice();
      same(`${name} (plain, aliased)`, snap(aliased(copy)), want);
      const w = X.wasmArray(Float32Array, N * C);
      try {
        w.array.set(x0);
        same(`${name} (wasmArray, aliased)`, snap(aliased(w.array)), want);
      } finally {
        w.free();
      }
    }
  });

  test('held: views of the shared memory: stale after growth, freed, outside any wasmArray, and a foreign SharedArrayBuffer are refused clearly', () => {
    const a = X.wasmArray(Float32Array, 1000);
    const stale = a.array;
    const big = X.wasmArray(Float32Array, X.wasmMemoryBytes() / 4 + 1); // grows the memory
    try {
      expect(stale.buffer).not.toBe(a.array.buffer);
      expect(() => X.softmax({ data: stale, shape: [10, 100] })).toThrow(/^softmax: input is a view of wasm-xent's memory from before the memory grew/);
      expect(() => X.softmax({ data: a.array, shape: [10, 100] }, { out: stale })).toThrow(/^softmax: out is a view of wasm-xent's memory from before the memory grew/);
      const memory = stateOf().workspace.exports.memory;
      const outside = new Float32Array(memory.buffer, 64, 1000);
      expect(() => X.softmax({ data: outside, shape: [10, 100] })).toThrow(TypeError);
      expect(() => X.softmax({ data: outside, shape: [10, 100] })).toThrow(/^softmax: /);
      const foreign = new Float32Array(new SharedArrayBuffer(4000));
      expect(() => X.softmax({ data: foreign, shape: [10, 100] })).toThrow(/^softmax: input is backed by a SharedArrayBuffer; copy it into an ordinary array first$/);
      expect(() => X.softmax({ data: a.array, shape: [10, 100] }, { out: foreign as never })).toThrow(/^softmax: out is backed by a SharedArrayBuffer/);
      expect(() => X.crossEntropy({ data: a.array, shape: [10, 100] }, new Int32Array(new SharedArrayBuffer(40)))).toThrow(/^crossEntropy: target is backed by a SharedArrayBuffer/);
      const view = a.array;
      a.free();
      expect(() => X.softmax({ data: view, shape: [10, 100] })).toThrow(/^softmax: input is the view of a wasmArray that was freed/);
    } finally {
      a.free();
      big.free();
    }
  });

  test('held: a wasmArray input and out over many chunks with 1/2/3/8 threads, memory grown between calls', async () => {
    const N = 700, C = 1000;
    const x0 = hostile(f32(N * C));
    const t = ints(r, N, C);
    await X.setThreads(1);
    const want = snap(X.crossEntropy({ data: x0, shape: [N, C] }, t, { grad: true, zLoss: 1e-3, returnLse: true }));
    const x = X.wasmArray(Float32Array, N * C);
    const g = X.wasmArray(Float32Array, N * C);
    const grown: X.WasmArray<Float32Array>[] = [];
    try {
      x.array.set(x0);
      for (const n of [2, 3, 8, 1, 2]) {
        await X.setThreads(n);
        const res = X.crossEntropy({ data: x.array, shape: [N, C] }, t, { out: g.array, zLoss: 1e-3, returnLse: true });
        same(`${n} threads`, { loss: res.loss, lse: (res as { lse: Float32Array }).lse.slice(), grad: g.array.slice() }, want);
        grown.push(X.wasmArray(Float32Array, X.wasmMemoryBytes() / 8)); // grow before the next call
      }
    } finally {
      x.free();
      g.free();
      grown.forEach((b) => b.free());
    }
  });

  test('held: 200 calls with 4 threads keep wasm memory flat and RSS bounded', async () => {
    await X.setThreads(4);
    const x = hostile(f32(700 * 1000));
    const t = ints(r, 700, 1000);
    const call = () => X.crossEntropy({ data: x, shape: [700, 1000] }, t, { grad: true, labelSmoothing: 0.1 });
    const want = snap(call());
    const base = { wasm: X.wasmMemoryBytes(), rss: process.memoryUsage().rss };
    for (let k = 0; k < 200; k++) {
      const got = call();
      if (k % 50 === 0) same(`call ${k}`, snap(got), want);
    }
    expect(X.wasmMemoryBytes()).toBe(base.wasm);
    expect(process.memoryUsage().rss - base.rss).toBeLessThan(64 * 1048576);
  });
});
