// wasm-xent loaded in the user's own worker_threads Worker, calling setThreads(2) there (its pool's
// workers are nested workers); the main thread computes the same on 1 thread and compares. Exits by
// itself: the user's worker ends when its code is done, leaving the pool's workers behind it.
import { Worker } from 'node:worker_threads';
import * as X from 'wasm-xent';
import { problems, digest } from './work.mjs';
await X.init();
const expected = digest(problems(X)());
const code = `
  import('wasm-xent').then(async (X) => {
    const { problems, digest } = await import(${JSON.stringify(new URL('./work.mjs', import.meta.url).href)});
    const { parentPort } = await import('node:worker_threads');
    await X.init();
    const n = await X.setThreads(2);
    const run = problems(X);
    const digests = new Set();
    for (let k = 0; k < 20; k++) digests.add(digest(run()));
    parentPort.postMessage({ n, digests: [...digests] });
  });`;
const w = new Worker(code, { eval: true });
w.on('message', ({ n, digests }) => {
  const ok = digests.length === 1 && digests[0] === expected;
  console.log(`in-worker: ${n} threads in the user's worker, same bits as the main thread's 1 thread: ${ok}`);
  if (!ok) process.exitCode = 1;
});
w.on('error', (e) => { console.log('in-worker: error', e); process.exitCode = 1; });
