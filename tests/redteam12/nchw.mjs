// Red team 12 (see run.sh): crossEntropy with Uint8Array class-index targets (checked and streamed
// where they are since 4ab1d30) on NCHW [2, 21, 64, 64] float32, from the packed package: 1 and 2
// threads, plain arrays, `out`, out = input and a wasmArray input must give the same bits as each
// other and as number[] targets; the loss against a float64 recomputation. Exits 1 on a difference.
import { init, setThreads, wasmArray, crossEntropy, wasmBuild } from 'wasm-xent';

const shape = [2, 21, 64, 64];
const C = 21, HW = 64 * 64, n = 2 * C * HW, P = 2 * HW;
let s = 12; const rnd = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
const values = new Float32Array(n);
for (let i = 0; i < n; i++) values[i] = (rnd() - 0.5) * 12;
const t8 = new Uint8Array(P);
for (let p = 0; p < P; p++) t8[p] = p % 9 === 4 ? 255 : Math.floor(rnd() * C); // 255: ignore_index
const opts = { ignoreIndex: 255, labelSmoothing: 0.1, weight: Array.from({ length: C }, (_, c) => 0.5 + c / C) };
const eq = (a, b) => (typeof a === 'number' ? Object.is(a, b) : Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)));

await init();
const runs = [];
for (const threads of [1, 2]) {
  await setThreads(threads);
  const r = crossEntropy({ data: values, shape }, { data: t8, shape: [2, 64, 64] }, { ...opts, grad: true });
  runs.push([`plain ${threads}`, r.loss, r.grad]);
  const r2 = crossEntropy({ data: values, shape }, { data: Array.from(t8), shape: [2, 64, 64] }, { ...opts, grad: true });
  runs.push([`number[] ${threads}`, r2.loss, r2.grad]);
  const out = new Float32Array(n);
  const r3 = crossEntropy({ data: values, shape }, { data: t8, shape: [2, 64, 64] }, { ...opts, out });
  runs.push([`out ${threads}`, r3.loss, out]);
  const inPlace = values.slice();
  const r4 = crossEntropy({ data: inPlace, shape }, { data: t8, shape: [2, 64, 64] }, { ...opts, out: inPlace });
  runs.push([`out = input ${threads}`, r4.loss, inPlace]);
  const wx = wasmArray(Float32Array, n);
  wx.array.set(values);
  const r5 = crossEntropy({ data: wx.array, shape }, { data: t8, shape: [2, 64, 64] }, { ...opts, grad: true });
  runs.push([`wasmArray ${threads}`, r5.loss, r5.grad.slice()]);
  wx.free();
}
await setThreads(1);
const bad = runs.filter(([, l, g]) => !eq(l, runs[0][1]) || !eq(g, runs[0][2])).map(([k]) => k);

// float64: PyTorch's weighted, smoothed 'mean' (sum over kept positions / sum of w[t])
let num = 0, den = 0;
for (let b = 0; b < 2; b++) for (let q = 0; q < HW; q++) {
  const t = t8[b * HW + q];
  if (t === 255) continue;
  let m = -Infinity, sum = 0, smooth = 0;
  for (let c = 0; c < C; c++) m = Math.max(m, values[(b * C + c) * HW + q]);
  for (let c = 0; c < C; c++) sum += Math.exp(values[(b * C + c) * HW + q] - m);
  const lse = m + Math.log(sum);
  for (let c = 0; c < C; c++) smooth += opts.weight[c] * (lse - values[(b * C + c) * HW + q]);
  num += (1 - 0.1) * opts.weight[t] * (lse - values[(b * C + t) * HW + q]) + (0.1 / C) * smooth;
  den += opts.weight[t];
}
const want = num / den, got = runs[0][1];
const close = Math.abs(got - want) <= 2e-5 * Math.abs(want);
console.log(JSON.stringify({ build: wasmBuild(), runs: runs.length, differing: bad, loss: got, float64: want, close }));
process.exit(bad.length === 0 && close ? 0 : 1);
