// Memory churn with threads (red team 8): 100k calls mixed across ops on 2 threads (split
// linearCrossEntropy blocks, a split ctcLoss batch, a 2-chunk crossEntropy on the pool, and tiny
// calls that stay on the calling thread). Samples wasm memory, threads (/proc/self/task) and RSS
// every 5000 calls; prints the medians of the first and last five samples. Run after npm run build:
//   node --expose-gc tests/redteam8/churn.mjs [calls]
import { readdirSync } from 'node:fs';
import * as X from '../../dist/esm/index.js';
import { problems } from './work.mjs';
await X.init({ build: process.env.WASM_XENT_BUILD || 'simd' });
const calls = +process.argv[2] || 100000;
let s = 7;
const r = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
const f32 = (n) => Float32Array.from({ length: n }, () => 4 * (r() - 0.5));
const ceX = f32(800 * 250), ceT = Int32Array.from({ length: 800 }, () => Math.floor(r() * 250));
const tinyX = f32(4 * 10), tinyT = Int32Array.of(1, 2, 3, 9);
const lceX = f32(8 * 64), lceW = f32(1024 * 64), lceT = Int32Array.from({ length: 8 }, () => Math.floor(r() * 1024));
const ctcLp = X.logSoftmax({ data: f32(64 * 4 * 257), shape: [64, 4, 257] }, { dim: 2 });
const ops = [
  () => X.linearCrossEntropy({ data: lceX, shape: [8, 64] }, { data: lceW, shape: [1024, 64] }, lceT, { grad: true }).loss,
  () => X.ctcLoss({ data: ctcLp, shape: [64, 4, 257] }, Int32Array.of(5, 6, 7, 8, 9, 10), [64, 60, 30, 2], [3, 1, 2, 0], { grad: true }).loss,
  () => X.crossEntropy({ data: ceX, shape: [800, 250] }, ceT, { grad: true }).loss,
  () => X.crossEntropy({ data: tinyX, shape: [4, 10] }, tinyT, { grad: true }).loss,
  () => X.softmax({ data: tinyX, shape: [4, 10] })[0],
  () => X.nllLoss({ data: tinyX, shape: [4, 10] }, tinyT).loss,
];
const expected = ops.map((f) => f()); // 1 thread
console.log(`threads: ${await X.setThreads(2)}`);
const big = problems(X);
big();
const samples = [];
const t0 = performance.now();
const worst = ops.map(() => 0), slow = ops.map(() => 0); // per op: the slowest call, calls over 100 ms
for (let k = 0; k < calls; k++) {
  const op = k % ops.length;
  const t = performance.now();
  const got = ops[op]();
  const ms = performance.now() - t;
  worst[op] = Math.max(worst[op], ms);
  if (ms > 100) slow[op]++;
  if (!Object.is(got, expected[op])) throw new Error(`call ${k} (op ${op}): ${got} vs ${expected[op]}`);
  if (k % 5000 === 4999) {
    globalThis.gc?.();
    samples.push({ wasm: X.wasmMemoryBytes(), tasks: readdirSync('/proc/self/task').length, rss: process.memoryUsage().rss });
  }
}
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
const sum = (list) => ({ wasm: median(list.map((x) => x.wasm)), tasks: median(list.map((x) => x.tasks)), rss: (median(list.map((x) => x.rss)) / 2 ** 20).toFixed(1) + ' MiB' });
console.log(`${calls} calls in ${((performance.now() - t0) / 1000).toFixed(1)} s, worst call per op ${worst.map((w) => w.toFixed(1)).join(' / ')} ms, calls over 100 ms per op ${slow.join(' / ')}, jobsRun ${globalThis[Symbol.for('wasm-xent@0.1.0')].workspace.pool.jobsRun}`);
console.log('first 5 samples (median):', JSON.stringify(sum(samples.slice(0, 5))));
console.log('last 5 samples (median): ', JSON.stringify(sum(samples.slice(-5))));
console.log('wasm memory values seen:', [...new Set(samples.map((x) => x.wasm))].join(', '), ' tasks seen:', [...new Set(samples.map((x) => x.tasks))].join(', '));
