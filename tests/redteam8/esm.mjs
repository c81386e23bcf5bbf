// Node ESM consumer: setThreads(2), linearCrossEntropy and ctcLoss, the same bits as 1 thread; the
// process must exit by itself after the last call (no setThreads(1)).
import * as X from 'wasm-xent';
import { problems, sameBits, digest } from './work.mjs';
await X.init();
const run = problems(X);
const one = run();
const n = await X.setThreads(2);
const two = run();
for (let k = 0; k < 50; k++) if (!sameBits(run(), one)) throw new Error(`call ${k} on 2 threads differs`);
console.log(`esm: ${n} threads, same bits: ${sameBits(two, one)}, digest ${digest(one)}`);
if (!sameBits(two, one)) process.exitCode = 1;
