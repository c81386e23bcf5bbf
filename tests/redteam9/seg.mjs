// Red team 9: the README segmentation example through wasmArrays on 1 and 2 threads, from an installed tarball (run.sh).
import { init, setThreads, getThreads, wasmArray, crossEntropy, inverseFrequencyWeights } from 'wasm-xent';
await init();
const [N, C, H, W] = [4, 21, 128, 128];
let s = 3; const rnd = () => { s = (s * 1103515245 + 12345) >>> 0; return s / 2 ** 32; };
const values = new Float32Array(N * C * H * W).map(() => (rnd() - 0.5) * 8);
const mask = new Uint8Array(N * H * W).map(() => Math.floor(rnd() * C));
const weight = inverseFrequencyWeights(mask, C);
const threads = await setThreads(2);
const logits = wasmArray(Float32Array, values.length);
const grad = wasmArray(Float32Array, values.length);
logits.array.set(values);
const runs = [];
for (const n of [1, 2, 1, 2]) {
  await setThreads(n);
  const { loss } = crossEntropy({ data: logits.array, shape: [N, C, H, W] }, { data: mask, shape: [N, H, W] }, { weight, out: grad.array });
  runs.push({ n: getThreads(), loss, grad: grad.array.slice() });
}
const plain = crossEntropy({ data: values, shape: [N, C, H, W] }, { data: mask, shape: [N, H, W] }, { weight, grad: true });
const sameArr = (a, b) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
const ok = runs.every((r) => Object.is(r.loss, runs[0].loss) && sameArr(r.grad, runs[0].grad)) && Object.is(plain.loss, runs[0].loss) && sameArr(plain.grad, runs[0].grad);
console.log(JSON.stringify({ threads, ns: runs.map((r) => r.n), losses: runs.map((r) => r.loss), plain: plain.loss, ok }));
if (!ok) process.exitCode = 1;
logits.free(); grad.free();
// no setThreads(1): the process must exit by itself with the pool alive
