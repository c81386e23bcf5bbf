// Two copies of the package in one process: 'wasm-xent' and 'wasm-xent-other' (the same files with
// another version in their state key, as two versions in one node_modules tree), each with its own
// module, memory and pool of 2 threads, calls interleaved. Exits by itself.
import * as A from 'wasm-xent';
import * as B from 'wasm-xent-other';
import { problems, sameBits, digest } from './work.mjs';
await A.init();
await B.init();
const runA = problems(A), runB = problems(B);
const one = runA();
const [na, nb] = [await A.setThreads(2), await B.setThreads(2)];
let ok = sameBits(runB(), one);
for (let k = 0; k < 30; k++) ok = ok && sameBits(runA(), one) && sameBits(runB(), one);
await A.setThreads(1); // one copy's pool stopped: the other's still runs
for (let k = 0; k < 10; k++) ok = ok && sameBits(runB(), one);
console.log(`two-copies: ${na} + ${nb} threads, separate pools: ${A.getThreads()} / ${B.getThreads()}, same bits: ${ok}, digest ${digest(one)}`);
if (!ok) process.exitCode = 1;
