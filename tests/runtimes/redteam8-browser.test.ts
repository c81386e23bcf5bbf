// Red team 8 in Chromium (Debian's, through playwright-core; tests/runtimes/ is skipped by the
// scalar pass): Pool.forkJoin's take-untaken path on a cross-origin-isolated page's main thread,
// where the caller cannot Atomics.wait and spins instead. Many short forkJoin calls
// (linearCrossEntropy blocks just at the split threshold, a ctcLoss batch just over it) between
// stream ops, on 2, 4 and 8 threads (Web Workers): every result must have the 1-thread bits, and
// the workers must have run parts themselves.
import { join } from 'path';
import type { Browser } from 'playwright-core';
import { launchChromium } from './chromium';
import { serve, StaticServer } from './server';

jest.setTimeout(120_000);

const root = join(__dirname, '..', '..');

const PAGE = `<!doctype html><meta charset="utf-8"><title>wasm-xent red team 8</title>
<script type="importmap">{ "imports": { "wasm-xent": "/dist/browser/index.js" } }</script>
<script type="module">
import * as X from 'wasm-xent';
let seed = 88;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const f32 = (n, k) => Float32Array.from({ length: n }, () => (rand() - 0.5) * k);
const lx = f32(8 * 64, 2), lw = f32(1024 * 64, 0.6), lt = Int32Array.from({ length: 8 }, () => Math.floor(rand() * 1024));
const raw = f32(64 * 4 * 257, 6);
let lp; // log-probabilities, made once init() has run
const cx = f32(800 * 250, 6), ct = Int32Array.from({ length: 800 }, () => Math.floor(rand() * 250));
const ops = () => {
  const a = X.linearCrossEntropy({ data: lx, shape: [8, 64] }, { data: lw, shape: [1024, 64] }, lt, { grad: true });
  const b = X.ctcLoss({ data: lp, shape: [64, 4, 257] }, Int32Array.of(5, 6, 7, 8, 9, 10), [64, 60, 30, 2], [3, 1, 2, 0], { grad: true });
  const c = X.crossEntropy({ data: cx, shape: [800, 250] }, ct, { grad: true });
  return [a.loss, a.gradInput, a.gradWeight, b.loss, b.grad, c.loss, c.grad];
};
const bits = (v) => (typeof v === 'number' ? new Uint8Array(Float64Array.of(v).buffer) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
const same = (a, b) => a.every((v, k) => { const x = bits(v), y = bits(b[k]); return x.length === y.length && x.every((e, i) => e === y[i]); });
window.go = async () => {
  await X.init();
  lp = X.logSoftmax({ data: raw, shape: [64, 4, 257] }, { dim: 2 });
  const one = ops();
  const out = [];
  for (const n of [2, 4, 8]) {
    const threads = await X.setThreads(n);
    const pool = globalThis[Symbol.for('wasm-xent@0.1.0')].workspace.pool;
    const ran = pool.jobsRun.reduce((s, k) => s + k, 0);
    let differ = 0, worst = 0;
    for (let k = 0; k < 150; k++) {
      const t0 = performance.now();
      const got = ops();
      worst = Math.max(worst, performance.now() - t0);
      if (!same(got, one)) differ++;
    }
    out.push({ threads, differ, worst: Math.round(worst), workerJobs: pool.jobsRun.reduce((s, k) => s + k, 0) - ran });
  }
  await X.setThreads(1);
  return out;
};
window.ready = true;
</script>`;

let browser: Browser;
let isolated: StaticServer;

beforeAll(async () => {
  browser = await launchChromium();
  isolated = await serve(root, { '/__redteam8.html': PAGE }, { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' });
});

afterAll(async () => {
  await browser?.close();
  await isolated?.close();
});

test("a page's main thread (spinning, not Atomics.wait): 150 rounds of short forkJoin calls and stream ops on 2, 4 and 8 threads, the 1-thread bits every call", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(isolated.url + '/__redteam8.html');
  await page.waitForFunction(() => (window as any).ready === true);
  const got = await page.evaluate(() => (window as any).go());
  await context.close();
  expect(errors).toEqual([]);
  console.log(`Chromium main thread: ${JSON.stringify(got)}`);
  expect(got.map((r: { threads: number; differ: number }) => [r.threads, r.differ])).toEqual([[2, 0], [4, 0], [8, 0]]);
  for (const r of got) {
    expect(r.workerJobs).toBeGreaterThan(0); // the workers ran parts, not only the page's thread
    expect(r.worst).toBeLessThan(10000);
  }
});
