// Threads (src/threads.ts, issue 11): every op gives the same bits with 1, 2, 3 and 4 threads, on
// inputs of many chunks (the ones that run in parallel), through copies and through wasmArrays;
// setThreads validates its argument, caps at 8, churns without leaking threads or memory, survives
// a worker that dies, and small calls never leave the calling thread. A new op is one row of OPS.
import { readdirSync } from 'fs';
import { Worker } from 'worker_threads';
import * as X from '../src';
import { Stream } from '../src/stream';
import { ints, normals, rng, uniforms } from './helpers/random';
import { expectSame } from './helpers/same';

jest.setTimeout(240000);

beforeAll(() => X.init());
afterAll(() => X.setThreads(1));


const r = rng(1111);
const f32 = (n: number, scale = 2) => new Float32Array(normals(r, n, scale));
const f64 = (n: number, scale = 2) => normals(r, n, scale);
// Hostile values sprinkled in: the kernels' special paths must run the same on every thread.
function hostile<A extends Float32Array | Float64Array>(a: A): A {
  for (let i = 7; i < a.length; i += 997) a[i] = [Infinity, -Infinity, NaN, 1e4, -1e4][i % 5];
  return a;
}

/** One op per row, on inputs of several chunks (each over CHUNK_BYTES = 512 KiB). */
let OPS: [string, () => unknown][] = [];
beforeAll(() => {
  OPS = makeOps();
});
function makeOps(): [string, () => unknown][] {
  const N = 700, C = 1000; // 2.8 MB of float32 logits: 6 chunks
  const x32 = hostile(f32(N * C));
  const x64 = hostile(f64(N * C));
  const t = ints(r, N, C);
  t[3] = -100;
  const w = new Float32Array(uniforms(r, C, 0.2, 2));
  const seg = f32(4 * 3 * 200 * 300); // NCHW with C = 3: regrouped into columns
  const segT = ints(r, 4 * 200 * 300, 3);
  const probs = new Float32Array(uniforms(r, 8 * 21 * 64 * 96, 0, 1)); // NCHW probabilities: regrouped into rows
  const probX = f32(8 * 21 * 64 * 96);
  const y = new Float32Array(uniforms(r, 400000, 0, 1));
  const p = new Float32Array(uniforms(r, 400000, 0.001, 0.999));
  const logits = f32(400000);
  const half = new Uint16Array(ints(r, N * C, 0x3c00)); // bfloat16 / float16 bits, positive and finite
  const gradOut = f32(N * C);
  const gradOut64 = f64(N * C);
  const softY = X.softmax({ data: x32, shape: [N, C] });
  const seqC = 5000, seqN = 300;
  const lm = f32(seqN * seqC);
  const lmT = ints(r, seqN, seqC);
  const hidden = f32(64 * 32);
  const proj = f32(3000 * 32, 0.2);
  const lceT = ints(r, 64, 3000);
  return [
    ['crossEntropy f32 rows, weight, ignoreIndex, smoothing, grad', () => X.crossEntropy({ data: x32, shape: [N, C] }, t, { weight: w, labelSmoothing: 0.1, grad: true })],
    ['crossEntropy f64 rows, sum, grad', () => X.crossEntropy({ data: x64, shape: [N, C] }, t, { reduction: 'sum', grad: true })],
    ['crossEntropy zLoss + returnLse + none (an export read after each chunk)', () => X.crossEntropy({ data: x32, shape: [N, C] }, t, { zLoss: 1e-4, returnLse: true, reduction: 'none', grad: true })],
    ['crossEntropy zLoss, mean (the squares the workers\' chunks read after their kernels count)', () => X.crossEntropy({ data: x32, shape: [N, C] }, t, { zLoss: 1e-2, grad: true })],
    ['crossEntropy NCHW C = 3 (regrouped into columns)', () => X.crossEntropy({ data: seg, shape: [4, 3, 200, 300] }, segT, { grad: true })],
    ['crossEntropy NCHW probabilities (regrouped into rows)', () => X.crossEntropy({ data: probX, shape: [8, 21, 64, 96] }, { data: probs, shape: [8, 21, 64, 96] }, { grad: true, labelSmoothing: 0.05 })],
    ['crossEntropy bfloat16 logits (decoded per chunk)', () => X.crossEntropy({ data: half, shape: [N, C], dtype: 'bfloat16' }, t, { grad: true })],
    ['nllLoss', () => X.nllLoss({ data: x32, shape: [N, C] }, t, { weight: w, grad: true })],
    ['logSoftmax dim 1', () => X.logSoftmax({ data: x32, shape: [N, C] }, { dim: 1 })],
    ['softmax dim 0 (columns)', () => X.softmax({ data: x32, shape: [N, C] }, { dim: 0 })],
    ['softmaxBackward', () => X.softmaxBackward({ data: gradOut, shape: [N, C] }, { data: softY, shape: [N, C] })],
    ['softmax and logSoftmaxBackward on rows of 2 and 7 classes (regrouped into columns)', () => [
      X.softmax({ data: x32, shape: [N * C / 2, 2] }),
      X.logSoftmaxBackward({ data: gradOut.subarray(0, 7 * 90000), shape: [90000, 7] }, { data: x32.subarray(0, 7 * 90000).map((v) => -Math.abs(v)), shape: [90000, 7] }),
    ]],
    ['logSoftmaxBackward f64', () => X.logSoftmaxBackward({ data: gradOut64, shape: [N, C] }, { data: X.logSoftmax({ data: x64, shape: [N, C] }), shape: [N, C] })],
    ['binaryCrossEntropy, weight of period 4 (tiled in per-thread scratch)', () => X.binaryCrossEntropy({ data: p, shape: [100000, 4] }, { data: y, shape: [100000, 4] }, { weight: new Float32Array([0.5, 2, 1, 3]), grad: true })],
    ['binaryCrossEntropy input out of [0, 1] in a late chunk (the kernel\'s range check, an export read after each chunk)', () => {
      const bad = p.slice();
      bad[350001] = 1.5;
      let message = '';
      try {
        X.binaryCrossEntropy({ data: bad, shape: [100000, 4] }, { data: y, shape: [100000, 4] }, { grad: true });
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toBe('binaryCrossEntropy: all elements of input should be between 0 and 1 (input[350001] = 1.5)');
      return message;
    }],
    ['binaryCrossEntropyWithLogits, posWeight, mean', () => X.binaryCrossEntropyWithLogits({ data: logits, shape: [100000, 4] }, { data: y, shape: [100000, 4] }, { posWeight: new Float32Array([1, 2, 3, 4]), weight: new Float32Array([0.5, 1, 1.5, 2]), grad: true })],
    ['klDiv batchmean', () => X.klDiv({ data: X.logSoftmax({ data: x32, shape: [N, C] }), shape: [N, C] }, { data: softY, shape: [N, C] }, { reduction: 'batchmean', grad: true })],
    ['sigmoidFocalLoss', () => X.sigmoidFocalLoss({ data: logits, shape: [400000] }, { data: y, shape: [400000] }, { reduction: 'sum', grad: true })],
    ['focalLoss', () => X.focalLoss({ data: x32, shape: [N, C] }, t, { gamma: 2, grad: true })],
    ['tokenScores with targets and top 5', () => X.tokenScores({ data: lm, shape: [seqN, seqC] }, lmT, { topK: 5 })],
    ['linearCrossEntropy', () => X.linearCrossEntropy({ data: hidden, shape: [64, 32] }, { data: proj, shape: [3000, 32] }, lceT, { grad: true })],
    ['ctcLoss (batch elements split over the threads)', () => ctcCall('f32', {})],
  ];
}

test('a live wasmArray before the first switch to threads gets a clear error (the move to shared memory would orphan it)', async () => {
  const a = X.wasmArray(Float32Array, 10);
  await expect(X.setThreads(2)).rejects.toThrow(/^setThreads: threads move the module to shared memory, which would orphan the live wasmArrays; call setThreads before creating wasmArrays, or free them first$/);
  expect(X.getThreads()).toBe(1);
  a.free();
  expect(await X.setThreads(2)).toBe(2);
});

/** Each op's result with n threads. */
async function resultsWith(n: number): Promise<unknown[]> {
  expect(await X.setThreads(n)).toBe(n);
  expect(X.getThreads()).toBe(n);
  return OPS.map(([, f]) => f());
}

test.each([2, 3, 4])('every op gives the same bits with %i threads as with 1', async (n) => {
  const one = await resultsWith(1);
  const many = await resultsWith(n); // fresh workers (setThreads(1) stopped the last ones)
  OPS.forEach(([name], k) => expectSame(`${name} (${n} threads)`, many[k], one[k]));
  // Every worker computed chunks itself (a job taken back by the caller would prove nothing).
  expectWorkersRan(new Array(n - 1).fill(0), OPS[0][1], many[0]);
});

test('wasmArray inputs and outputs (used in place) give the same bits with 2 threads as with 1', async () => {
  await X.setThreads(2); // shared memory before any wasmArray
  const N = 1000, C = 1000;
  const values = hostile(f32(N * C));
  const t = ints(r, N, C);
  const x = X.wasmArray(Float32Array, N * C);
  const g = X.wasmArray(Float32Array, N * C);
  x.array.set(values);
  try {
    const runs: { loss: unknown; grad: Float32Array; soft: Float32Array }[] = [];
    for (const n of [1, 2, 1, 2]) {
      await X.setThreads(n);
      const res = X.crossEntropy({ data: x.array, shape: [N, C] }, t, { out: g.array, labelSmoothing: 0.1 });
      const soft = X.softmax({ data: x.array, shape: [N, C] });
      runs.push({ loss: res.loss, grad: g.array.slice(), soft });
    }
    runs.slice(1).forEach((run, k) => expectSame(`run ${k + 1}`, run, runs[0]));
    // ...and the same as ordinary arrays
    expectSame('copy path', X.crossEntropy({ data: values, shape: [N, C] }, t, { grad: true, labelSmoothing: 0.1 }).grad, runs[0].grad);
  } finally {
    x.free();
    g.free();
  }
});

test('wasmArrays over a sliced inner dim (NCHW images): the copies run in the chunks\' jobs, on the workers too, with the same bits', async () => {
  await X.setThreads(2); // shared memory before any wasmArray
  const shape = [3, 21, 128, 128]; // 1.4 MB per image: 3 chunks each
  const n = 3 * 21 * 128 * 128;
  const values = hostile(f32(n));
  const t = { data: new Uint8Array(ints(r, 3 * 128 * 128, 21)), shape: [3, 128, 128] };
  const weight = new Float32Array(uniforms(r, 21, 0.5, 2));
  const x = X.wasmArray(Float32Array, n);
  const g = X.wasmArray(Float32Array, n);
  x.array.set(values);
  // The calling thread's JS copies: with every class-dim array a wasmArray only the targets (an
  // ordinary array) go through them.
  const copy = jest.spyOn(Stream.prototype as unknown as { copy: (lane: { data: unknown; name?: string }) => void }, 'copy');
  try {
    const runs: { loss: unknown; grad: Float32Array }[] = [];
    for (const n of [1, 2, 1, 2]) {
      await X.setThreads(n);
      const ran = n === 2 ? poolOf().jobsRun.slice() : [];
      copy.mockClear();
      const res = X.crossEntropy({ data: x.array, shape }, t, { out: g.array, weight });
      expect(copy.mock.calls.filter(([lane]) => lane.name !== 'target').length).toBe(0);
      expect(copy.mock.calls.length).toBeGreaterThan(0); // (the targets: the Uint8Array itself, converted per chunk)
      if (n === 2) expectWorkersRan(ran, () => X.crossEntropy({ data: x.array, shape }, t, { out: g.array, weight }).loss, res.loss); // the worker ran chunks
      runs.push({ loss: res.loss, grad: g.array.slice() });
    }
    runs.slice(1).forEach((run, k) => expectSame(`run ${k + 1}`, run, runs[0]));
    copy.mockRestore();
    const want = X.crossEntropy({ data: values, shape }, t, { grad: true, weight });
    expectSame('copy path', { loss: want.loss, grad: want.grad }, runs[0]);
  } finally {
    copy.mockRestore();
    x.free();
    g.free();
  }
});

describe('linearCrossEntropy splits each vocabulary block\'s GEMMs over the threads, with the same bits', () => {
  // [N, D] x [C, D]: several vocabulary blocks with an uneven last one, token and class counts
  // that are not multiples of the split's 4, and (second shape) several token chunks.
  const shapes = { blocks: { N: 37, D: 64, C: 2500 }, chunks: { N: 200, D: 8, C: 50000 } };
  const rows: [string, keyof typeof shapes, 'f32' | 'f64', Record<string, unknown>][] = [
    ['plain', 'blocks', 'f32', {}],
    ['bias, class weight, ignoreIndex, smoothing', 'blocks', 'f32', { bias: true, weight: true, labelSmoothing: 0.1 }],
    ['probability targets, softcap, zLoss, sum', 'blocks', 'f32', { probs: true, softcap: 30, zLoss: 1e-4, reduction: 'sum' }],
    ['float64, none with gradOutput', 'blocks', 'f64', { reduction: 'none', perPosition: true }],
    ['several token chunks (gradWeight added to across chunks)', 'chunks', 'f32', { bias: true }],
    ['accumulate into given arrays', 'blocks', 'f32', { accumulate: true }],
    ['wasmArray weight and gradients (used in place)', 'chunks', 'f32', { wasm: true }],
  ];
  test.each(rows)('%s', async (_, shape, precision, o) => {
    const { N, D, C } = shapes[shape];
    const rr = rng(N * 31 + C);
    const make = (n: number, scale: number) => (precision === 'f32' ? new Float32Array(normals(rr, n, scale)) : normals(rr, n, scale));
    const x = make(N * D, 1);
    const w = make(C * D, 0.3);
    const t = ints(rr, N, C);
    t[5] = -100;
    const bias = o.bias ? make(C, 1) : undefined;
    const weight = o.weight ? new Float32Array(uniforms(rr, C, 0.5, 2)) : undefined;
    const probs = o.probs ? X.softmax({ data: make(N * C, 3) as Float32Array, shape: [N, C] }) : undefined;
    const gradOutput = o.perPosition ? make(N, 1) : undefined;
    const start = { gi: make(N * D, 1), gw: make(C * D, 1), gb: make(C, 1) };
    const run = async (threads: number) => {
      expect(await X.setThreads(threads)).toBe(threads);
      const ran = threads > 1 ? poolOf().jobsRun.slice() : [];
      if (threads > 1) poolOf().takeUntaken = false; // every worker runs its own parts (asserted below)
      const arrays = o.wasm ? [X.wasmArray(Float32Array, C * D), X.wasmArray(Float32Array, C * D)] : [];
      try {
        if (o.wasm) arrays[0].array.set(w);
        // (options made anew for each call: accumulate adds into its arrays)
        const options = () => ({
          linearBias: bias, weight, labelSmoothing: o.labelSmoothing as number | undefined, softcap: o.softcap as number | undefined,
          zLoss: o.zLoss as number | undefined, reduction: (o.reduction as 'sum' | 'none' | undefined), gradOutput, grad: true,
          ...(o.accumulate ? { outInput: start.gi.slice(), outWeight: start.gw.slice(), accumulate: true } : {}),
          ...(o.wasm ? { outWeight: arrays[1].array as Float32Array } : {}),
        });
        const call = () => {
          const res = X.linearCrossEntropy({ data: x, shape: [N, D] }, { data: o.wasm ? arrays[0].array : w, shape: [C, D] }, probs ? { data: probs, shape: [N, C] } : t, options() as never);
          return { ...res, gradWeight: res.gradWeight!.slice() };
        };
        const copy = call();
        // Every worker computed a share of this call itself.
        if (threads > 1) expectWorkersRan(ran, call, copy);
        return copy;
      } finally {
        if (threads > 1) poolOf().takeUntaken = true;
        arrays.forEach((a) => a.free());
      }
    };
    if (o.wasm) await X.setThreads(2); // shared memory before the wasmArrays
    const one = await run(1);
    expectSame('2 threads', await run(2), one);
    expectSame('3 threads', await run(3), one);
  });
});

/** ctcLoss on (T, N, C) = (120, 33, 40) log-probabilities with mixed lengths: some elements
 *  impossible (+inf), one with no frames, one with an empty target. */
const ctcLogProbs = new Map<string, Float32Array | Float64Array>(); // made once: a call is ctcLoss alone
function ctcCall(precision: 'f32' | 'f64', options: Record<string, unknown>) {
  const T = 120, N = 33, C = 40;
  if (!ctcLogProbs.has(precision)) {
    const raw = normals(rng(4242), T * N * C, 2);
    ctcLogProbs.set(precision, X.logSoftmax({ data: precision === 'f32' ? new Float32Array(raw) : raw, shape: [T, N, C] }, { dim: 2 }));
  }
  const lp = ctcLogProbs.get(precision)!;
  const il = Array.from({ length: N }, (_, b) => (b === 3 ? 0 : T - ((b * 7) % 50)));
  const tl = Array.from({ length: N }, (_, b) => (b === 4 ? 0 : b === 9 ? 100 : 1 + ((b * 5) % 30))); // b = 9: impossible
  const targets = Int32Array.from({ length: tl.reduce((a, b) => a + b, 0) }, (_, k) => 1 + (k * 13) % (C - 1));
  return X.ctcLoss({ data: lp, shape: [T, N, C] } as never, targets, il, tl, { grad: true, ...options } as never);
}

test.each([
  ['f32', { reduction: 'mean' }],
  ['f64', { reduction: 'none', gradOutput: Array.from({ length: 33 }, (_, b) => b - 16) }],
  ['f32', { zeroInfinity: true, reduction: 'sum' }],
] as const)('ctcLoss splits the batch over the threads with the same bits (%s, %j)', async (precision, options) => {
  await X.setThreads(1);
  const one = ctcCall(precision, options);
  for (const n of [2, 3]) {
    await X.setThreads(n);
    const ran = poolOf().jobsRun.slice();
    poolOf().takeUntaken = false;
    try {
      expectSame(`${n} threads`, ctcCall(precision, options), one);
      expectWorkersRan(ran, () => ctcCall(precision, options), one); // every worker took a share
    } finally {
      poolOf().takeUntaken = true;
    }
  }
});

test('wasmArrays stay accepted after another shared memory in the process grows (V8 then hands out a new buffer object for ours)', async () => {
  await X.setThreads(2);
  const N = 300, C = 1000;
  const values = f32(N * C);
  const t = ints(r, N, C);
  const x = X.wasmArray(Float32Array, N * C);
  const g = X.wasmArray(Float32Array, N * C);
  try {
    x.array.set(values);
    const state = (globalThis as Record<symbol, { workspace: { exports: { memory: { buffer: ArrayBufferLike } } } }>)[Symbol.for('wasm-xent@0.1.0')];
    const before = state.workspace.exports.memory.buffer;
    new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true }).grow(1); // another library's threads
    expect(state.workspace.exports.memory.buffer).not.toBe(before); // the engine's behaviour this guards against
    const res = X.crossEntropy({ data: x.array, shape: [N, C] }, t, { out: g.array });
    expectSame('zero-copy after the other memory grew', { loss: res.loss, grad: g.array.slice() }, X.crossEntropy({ data: values, shape: [N, C] }, t, { grad: true }));
  } finally {
    x.free();
    g.free();
  }
});

test("setThreads takes a whole number >= 1 or 'auto', caps at 8, and getThreads reports what is in use", async () => {
  for (const bad of [0, -1, 1.5, NaN, Infinity, '2', 'all', null, undefined, {}]) {
    expect(() => X.setThreads(bad as never)).toThrow(/^setThreads: expected a whole number of threads >= 1 or 'auto', got /);
  }
  const cores = require('os').availableParallelism() as number;
  expect(await X.setThreads('auto')).toBe(Math.min(8, cores));
  expect(await X.setThreads(100)).toBe(8);
  expect(X.getThreads()).toBe(8);
  expect(await X.setThreads(1)).toBe(1);
  expect(X.getThreads()).toBe(1);
});

test('workers start under a polluted Object.prototype (Node reads Worker options through it)', async () => {
  // red team 51: argv / env / name there made the workers fail to start, and setThreads fall back to 1
  await X.setThreads(1);
  const proto = Object.prototype as Record<string, unknown>;
  const pollution: Record<string, unknown> = { argv: 'x', env: 'x', name: 5, execArgv: 'x', resourceLimits: 'x', type: 1 };
  let threads = 0;
  try {
    for (const [key, value] of Object.entries(pollution)) proto[key] = value;
    threads = await X.setThreads(2);
  } finally {
    for (const key of Object.keys(pollution)) delete proto[key];
  }
  expect(threads).toBe(2);
  const x = { data: f32(700000), shape: [700, 1000] };
  expect(Array.from(X.softmax(x))).toEqual(Array.from(X.softmax(x)));
  await X.setThreads(1);
});

test('small calls stay on the calling thread (no job is posted for a one-chunk call)', async () => {
  await X.setThreads(2);
  const pool = poolOf();
  const post = jest.spyOn(pool, 'post');
  X.crossEntropy({ data: f32(100), shape: [10, 10] }, ints(r, 10, 10), { grad: true });
  X.softmax({ data: f32(50000), shape: [50, 1000] });
  expect(post).not.toHaveBeenCalled();
  X.softmax({ data: f32(700000), shape: [700, 1000] });
  expect(post).toHaveBeenCalled();
  post.mockRestore();
});

test('setThreads up and down 1000 times: thread count, wasm memory and RSS stay flat', async () => {
  await X.setThreads(1);
  const tasks = () => readdirSync('/proc/self/task').length;
  const x = f32(700 * 1000);
  const call = () => X.softmax({ data: x, shape: [700, 1000] });
  const expected = call();
  await X.setThreads(2);
  call();
  await X.setThreads(1);
  const base = { tasks: tasks(), wasm: X.wasmMemoryBytes(), rss: process.memoryUsage().rss };
  for (let k = 0; k < 1000; k++) {
    const n = k % 2 === 0 ? 2 : 1;
    expect(await X.setThreads(n)).toBe(n);
    if (k % 100 === 0) expectSame(`call after ${k} switches`, call(), expected);
  }
  expect(await X.setThreads(1)).toBe(1);
  await until(() => tasks() <= base.tasks); // terminated workers' threads exit
  expect(tasks()).toBeLessThanOrEqual(base.tasks);
  expect(X.wasmMemoryBytes()).toBe(base.wasm);
  expect(process.memoryUsage().rss - base.rss).toBeLessThan(64 * 1048576);
});

test('a worker that dies is replaced; the call that meets it still completes, with the same bits', async () => {
  await X.setThreads(1);
  const x = hostile(f32(700 * 1000));
  const t = ints(r, 700, 1000);
  const call = () => X.crossEntropy({ data: x, shape: [700, 1000] }, t, { grad: true });
  const expected = call();
  await X.setThreads(2);
  const victim = threadsOf()[0];
  await victim.worker.terminate(); // dies between calls, as a crashed worker would
  expectSame('call with a dead worker', call(), expected);
  await until(() => threadsOf()[0] !== victim && threadsOf()[0] !== undefined); // its exit event: a new worker takes its place
  expect(X.getThreads()).toBe(2);
  expect(threadsOf()[0]).not.toBe(victim);
  expectSame('call with the replacement', call(), expected);
});

test.each([
  ['crossEntropy (chunks on the pool)', () => X.crossEntropy({ data: deathX, shape: [700, 1000] }, deathT, { grad: true })],
  ['linearCrossEntropy (a block split over the pool)', lceSplitCall],
  ['ctcLoss (batch ranges on the pool)', () => ctcCall('f32', {})],
])('a worker that dies holding a job: %s throws a clear error instead of hanging, then runs with the same bits', async (_, call) => {
  await X.setThreads(1);
  const expected = call();
  await X.setThreads(2);
  // In worker 1's place, a thread that takes the first job posted to it and exits without finishing
  // it: a worker that dies mid-job (its exit unseen by the pool, as within one synchronous call).
  let thief: Worker | undefined;
  const { pool, real } = replaceWorker((mailbox) => (thief = new Worker(`
    const { workerData } = require('worker_threads');
    const ctrl = new Int32Array(workerData, 0, 16);
    while (Atomics.load(ctrl, 0) === 0); // POSTED (spinning, as a worker does: nobody notifies a thread not marked asleep)
    Atomics.compareExchange(ctrl, 1, 0, 1); // TAKEN: job 1 is ours
    process.exit(0);`, { eval: true, workerData: mailbox })));
  await real.worker.terminate();
  pool.hangMs = 1000;
  pool.takeUntaken = false; // the caller must wait for the thief's part, not run it itself
  try {
    const t0 = Date.now();
    expect(call).toThrow(/^\w+: worker thread 1 took a job and did not finish it in 1 s \(it died or hung\); it is being replaced, call again$/);
    expect(Date.now() - t0).toBeLessThan(10000);
    await until(() => X.getThreads() === 2 && poolOf().alive(0) && poolOf().threads[0].worker !== thief);
    expect(poolOf().alive(0)).toBe(true);
    const ran = poolOf().jobsRun.slice();
    expectSame('the call after', call(), expected);
    expectWorkersRan(ran, call, expected); // the replacement took work
  } finally {
    pool.hangMs = 30000;
    pool.takeUntaken = true;
  }
});

test.each([
  // forkJoin posts one part to the worker, then none while it is behind
  ['linearCrossEntropy', lceSplitCall, 1],
  ['ctcLoss', () => ctcCall('f32', {}), 1],
  // a stream fills the worker's queue (DEPTH jobs), computes the other chunks, then takes both back
  ['crossEntropy (stream chunks)', () => X.crossEntropy({ data: deathX, shape: [700, 1000] }, deathT, { grad: true }), 2],
])('%s: a part no worker takes (its thread never scheduled) runs on the calling thread once its own is done, without waiting: the same bits', async (_, call, parts) => {
  await X.setThreads(1);
  const expected = call();
  await X.setThreads(2);
  // In worker 1's place, a thread that never looks at its mailbox, as one the OS never schedules.
  const { pool, real, mailbox } = replaceWorker(() => ({ postMessage() {}, terminate: async () => 0 }));
  const wait = jest.spyOn(pool as unknown as { wait(): unknown }, 'wait');
  try {
    expectSame('with a part taken back', call(), expected);
    const waited = wait.mock.calls.length;
    const ctrl = new Int32Array(mailbox, 0, 16);
    expect(Atomics.load(ctrl, 0)).toBe(parts); // POSTED
    expect(Atomics.load(ctrl, 1)).toBe(parts); // TAKEN: by the calling thread
    expect(waited).toBe(0); // never waited for it (a wait takes a part back only after 250 ms)
  } finally {
    wait.mockRestore();
    pool.threads[0] = real;
  }
  expectSame('with its worker back', call(), expected);
});
const deathX = new Float32Array(normals(rng(77), 700 * 1000, 2));
const deathT = ints(rng(78), 700, 1000);
/** A linearCrossEntropy call whose one vocabulary block is split over the pool (forkJoin). */
function lceSplitCall() {
  return X.linearCrossEntropy({ data: deathX.subarray(0, 64 * 32), shape: [64, 32] }, { data: deathX.subarray(0, 3000 * 32), shape: [3000, 32] }, deathT.subarray(0, 64), { grad: true });
}

// The pool, for the tests that look inside it.
type PoolInside = {
  post: (...a: unknown[]) => boolean; jobsRun: number[]; hangMs: number; takeUntaken: boolean; alive(w: number): boolean;
  threads: { worker: { terminate(): Promise<number> }; mailbox: SharedArrayBuffer }[];
};
function poolOf(): PoolInside {
  const state = (globalThis as Record<symbol, { workspace: { pool: PoolInside } }>)[Symbol.for('wasm-xent@0.1.0')];
  return state.workspace.pool;
}
const threadsOf = () => poolOf().threads;

/** Asserts that every worker has run a job itself since `ran` (poolOf().jobsRun before the call),
 *  calling `again` (the same bits as `expected` each time) up to 50 more times until it has: one
 *  call proves nothing on a loaded machine (CI runs jest's workers beside the pool), where the
 *  calling thread may run or take back every job of a call before a worker wakes, even with
 *  takeUntaken off (a job not taken in STEAL_MS is taken back). The relaxed-build CI run of d29b428
 *  failed once on one call (jobsRun 0); 92ac445 gave that check these further calls. */
function expectWorkersRan(ran: readonly number[], again: () => unknown, expected: unknown): void {
  const behind = () => poolOf().jobsRun.some((k, w) => !(k > ran[w]));
  for (let k = 0; k < 50 && behind(); k++) expectSame(`call ${k + 2}`, again(), expected);
  expect(poolOf().jobsRun.map((k, w) => k > ran[w])).toEqual(ran.map(() => true));
}

/** Puts the worker `make` returns, with a mailbox of its own, in worker 1's place in the pool. */
function replaceWorker(make: (mailbox: SharedArrayBuffer) => unknown) {
  const pool = poolOf();
  const real = pool.threads[0];
  const mailbox = new SharedArrayBuffer(real.mailbox.byteLength);
  pool.threads[0] = new (real.constructor as new (w: unknown, m: SharedArrayBuffer) => PoolInside['threads'][number])(make(mailbox), mailbox);
  return { pool, real, mailbox };
}

/** Waits until `done()` holds (checked every 50 ms), at most 10 s: a loaded machine is slow to
 *  start and end threads. */
async function until(done: () => boolean): Promise<void> {
  for (let t = 0; t < 200 && !done(); t++) await new Promise((r) => setTimeout(r, 50));
}
