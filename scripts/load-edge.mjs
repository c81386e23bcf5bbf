// `npm run load:edge`: the edge example under load. Starts examples/workerd/worker.js in workerd on
// 127.0.0.1, sends REQUESTS (default 3000) cross-entropy requests at bounded CONCURRENCY (default
// 32), checks every answer against a float64 log-sum-exp reference written here, and reports the
// time, throughput, latency and the worker's memory (wasm linear memory and workerd's RSS).
// Loopback only; the loop is bounded by count and by a 5-minute deadline.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { startWorkerd, processMemory } = require('../examples/workerd/serve.cjs');

const REQUESTS = Number(process.env.REQUESTS) || 3000;
const CONCURRENCY = Number(process.env.CONCURRENCY) || 32;
const DEADLINE_MS = 5 * 60_000;

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// F.cross_entropy(x [N, C], y, label_smoothing=eps), 'mean', and d loss / d x, in float64.
function reference(x, N, C, y, eps) {
  let loss = 0;
  const grad = new Array(N * C);
  for (let i = 0; i < N; i++) {
    const row = x.slice(i * C, (i + 1) * C);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    for (let c = 0; c < C; c++) {
      const lp = row[c] - lse;
      loss -= ((c === y[i] ? 1 - eps : 0) + eps / C) * lp;
      grad[i * C + c] = (Math.exp(lp) - (c === y[i] ? 1 - eps : 0) - eps / C) / N;
    }
  }
  return { loss: loss / N, grad };
}

const worker = await startWorkerd();
const mb = (b) => (b / 2 ** 20).toFixed(1) + ' MiB';
try {
  const idle = processMemory(worker.pid);
  let next = 0;
  let ok = 0;
  const failures = [];
  const latencies = [];
  let peakRss = idle.rss;
  const t0 = performance.now();
  async function lane() {
    while (next < REQUESTS && performance.now() - t0 < DEADLINE_MS) {
      const i = next++;
      const r = rng(i + 1);
      const N = 1 + Math.floor(r() * 64);
      const C = 2 + Math.floor(r() * 100);
      const x = Array.from({ length: N * C }, () => Math.fround(8 * r() - 4));
      const y = Array.from({ length: N }, () => Math.floor(r() * C));
      const eps = [0, 0.1, 0.2][i % 3];
      const s = performance.now();
      const res = await fetch(`${worker.url}/loss`, {
        method: 'POST',
        body: JSON.stringify({ dtype: 'float32', input: { data: x, shape: [N, C] }, target: y, options: { labelSmoothing: eps } }),
      });
      const body = await res.json();
      latencies.push(performance.now() - s);
      const ref = reference(x, N, C, y, eps);
      let err = res.status === 200 ? Math.abs(body.loss - ref.loss) / Math.max(1, ref.loss) : Infinity;
      if (res.status === 200) for (let k = 0; k < ref.grad.length; k++) err = Math.max(err, Math.abs(body.grad[k] - ref.grad[k]));
      if (res.status === 200 && body.grad.length === ref.grad.length && err < 1e-5) ok++;
      else failures.push({ i, status: res.status, err, body: JSON.stringify(body).slice(0, 200) });
      if (i % 200 === 0) peakRss = Math.max(peakRss, processMemory(worker.pid).rss);
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  const ms = performance.now() - t0;
  const stats = await (await fetch(`${worker.url}/stats`)).json();
  const end = processMemory(worker.pid);
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(2) + ' ms';
  console.log(`workerd on 127.0.0.1, examples/workerd/worker.js`);
  console.log(`requests   ${latencies.length} sent, ${ok} answers right, ${failures.length} wrong (batch 1-64 rows x 2-101 classes, float32, label smoothing 0/0.1/0.2)`);
  console.log(`concurrency ${CONCURRENCY}`);
  console.log(`time       ${(ms / 1000).toFixed(2)} s, ${Math.round((latencies.length * 1000) / ms)} requests/s`);
  console.log(`latency    p50 ${q(0.5)}, p90 ${q(0.9)}, p99 ${q(0.99)}, max ${q(1)}`);
  console.log(`memory     wasm linear memory ${stats.wasmMemoryBytes} B (${stats.requests} requests served); ` +
    `workerd RSS idle ${mb(idle.rss)}, after ${mb(end.rss)}, peak ${mb(Math.max(peakRss, end.peakRss))}`);
  for (const f of failures.slice(0, 5)) console.log('wrong:', f);
  if (failures.length || latencies.length !== REQUESTS) process.exitCode = 1;
} finally {
  await worker.stop();
}
