// Red team 10 (see run.sh): logSoftmax / softmax over dim 1 of NCHW [4, 21, 64, 64] through wasmArrays on 1
// and 2 threads, and ordinary arrays with and without `out`: prints whether all give the same bytes.
import { init, setThreads, getThreads, wasmArray, logSoftmax, softmax, wasmBuild } from 'wasm-xent';
const shape = [4, 21, 64, 64];
const n = shape.reduce((a, b) => a * b, 1);
let s = 1; const rnd = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
const values = new Float32Array(n);
for (let i = 0; i < n; i++) values[i] = (rnd() - 0.5) * 20;
values[5] = -Infinity; values[100] = NaN;
await init();
const threads = await setThreads(2); // shared memory before any wasmArray
const eq = (a, b) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const x = wasmArray(Float32Array, n), out = wasmArray(Float32Array, n);
x.array.set(values);
const results = {};
for (const [name, f] of [['logSoftmax', logSoftmax], ['softmax', softmax]]) {
  const runs = [];
  for (const t of [1, 2]) {
    await setThreads(t);
    f({ data: x.array, shape }, { dim: 1, out: out.array });
    runs.push(['wasmArray ' + t, out.array.slice()]);
    runs.push(['plain ' + t, f({ data: values, shape }, { dim: 1 })]);
    const o = new Float32Array(n); f({ data: values, shape }, { dim: 1, out: o }); runs.push(['plain out ' + t, o]);
  }
  results[name] = runs.every(([, r]) => eq(r, runs[0][1])) ? 'same bits' : 'DIFFER ' + runs.map(([k, r]) => k + ':' + eq(r, runs[0][1])).join(' ');
  // spot check vs float64 at position (n=1, h=3, w=5)
  const pos = 1 * 21 * 4096 + 3 * 64 + 5; let m = -Infinity, sum = 0;
  for (let c = 0; c < 21; c++) m = Math.max(m, values[pos + c * 4096]);
  for (let c = 0; c < 21; c++) sum += Math.exp(values[pos + c * 4096] - m);
  const want = name === 'logSoftmax' ? values[pos] - m - Math.log(sum) : Math.exp(values[pos] - m) / sum;
  results[name] += ` ref ${want} got ${runs[0][1][pos]}`;
  results[name] += ` nanpos ${runs[0][1][100]} ${runs[0][1][100 + 4096]} -inf ${runs[0][1][5]}`;
}
x.free(); out.free();
console.log(JSON.stringify({ build: wasmBuild(), threads, getThreads: getThreads(), results }));
