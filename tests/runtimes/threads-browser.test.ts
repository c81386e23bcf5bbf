// Threads in a real browser (Debian's Chromium through playwright-core). A page served with
// Cross-Origin-Opener-Policy / Cross-Origin-Embedder-Policy is cross-origin isolated: setThreads(2)
// starts Web Workers over shared memory (the page's main thread spins instead of Atomics.wait),
// and every op's result is bit-identical to one thread's. The same page served without those
// headers is not isolated: setThreads resolves to 1 and warns once, naming the headers.
import { join } from 'path';
import type { Browser } from 'playwright-core';
import { launchChromium } from './chromium';
import { serve, StaticServer } from './server';

jest.setTimeout(120_000);

const root = join(__dirname, '..', '..');

const PAGE = `<!doctype html><meta charset="utf-8"><title>wasm-xent threads</title>
<script type="importmap">{ "imports": { "wasm-xent": "/dist/browser/index.js" } }</script>
<script type="module">
import * as X from 'wasm-xent';
// Several chunks each (over 512 KiB of the widest array), hostile values included.
const N = 700, C = 1000;
let seed = 7;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const x = Float32Array.from({ length: N * C }, (_, i) => (i % 997 === 5 ? [Infinity, -Infinity, NaN][i % 3] : (rand() - 0.5) * 8));
const t = Int32Array.from({ length: N }, () => Math.floor(rand() * C));
const seg = Float32Array.from({ length: 4 * 3 * 200 * 300 }, () => (rand() - 0.5) * 6);
const segT = Int32Array.from({ length: 4 * 200 * 300 }, () => Math.floor(rand() * 3));
const ops = () => [
  X.crossEntropy({ data: x, shape: [N, C] }, t, { grad: true, labelSmoothing: 0.1, zLoss: 1e-4 }),
  X.crossEntropy({ data: seg, shape: [4, 3, 200, 300] }, segT, { grad: true }),
  { grad: X.softmax({ data: x, shape: [N, C] }, { dim: 0 }) },
  X.binaryCrossEntropyWithLogits({ data: x, shape: [N, C] }, { data: Float32Array.from(x, (v) => (v > 0 ? 1 : 0)), shape: [N, C] }, { grad: true }),
];
const same = (a, b) => a.every((r, k) => Object.is(r.loss, b[k].loss) && r.grad.length === b[k].grad.length && r.grad.every((v, i) => Object.is(v, b[k].grad[i])));
window.go = async () => {
  await X.init();
  const one = ops();
  const threads = await X.setThreads(2);
  const many = ops();
  const t0 = performance.now();
  for (let k = 0; k < 3; k++) ops();
  const ms = performance.now() - t0;
  const pool = globalThis[Symbol.for('wasm-xent@0.1.0')].workspace.pool;
  return { isolated: self.crossOriginIsolated, threads, getThreads: X.getThreads(), same: same(one, many), finite: Number.isFinite(one[1].loss), ms, workerJobs: pool ? pool.jobsRun[0] : 0 };
};
window.ready = true;
</script>`;

let browser: Browser;
let isolated: StaticServer;
let plain: StaticServer;

beforeAll(async () => {
  browser = await launchChromium();
  const pages = { '/__threads.html': PAGE };
  isolated = await serve(root, pages, { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' });
  plain = await serve(root, pages);
});

afterAll(async () => {
  await browser?.close();
  await isolated?.close();
  await plain?.close();
});

async function open(server: StaticServer) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  const warnings: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
  await page.route('**/*', (route) => (new URL(route.request().url()).hostname === '127.0.0.1' ? route.continue() : (errors.push(route.request().url()), route.abort())));
  await page.goto(server.url + '/__threads.html');
  await page.waitForFunction(() => (window as any).ready === true);
  const got = await page.evaluate(() => (window as any).go());
  await context.close();
  return { got, errors, warnings };
}

test('a cross-origin-isolated page runs 2 threads (Web Workers over shared memory), bit-identical to 1', async () => {
  const { got, errors, warnings } = await open(isolated);
  expect(errors).toEqual([]);
  expect(warnings).toEqual([]);
  expect(got).toMatchObject({ isolated: true, threads: 2, getThreads: 2, same: true, finite: true });
  expect(got.workerJobs).toBeGreaterThan(8); // the worker computed chunks itself (none taken back)
  console.log(`Chromium, 2 threads: worker ran ${got.workerJobs} chunk jobs; 3 rounds of the ops took ${got.ms.toFixed(0)} ms`);
});

test('a page that is not cross-origin isolated gets 1 thread and one warning naming COOP/COEP', async () => {
  const { got, errors, warnings } = await open(plain);
  expect(errors).toEqual([]);
  expect(got).toMatchObject({ isolated: false, threads: 1, getThreads: 1, same: true });
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatch(/^setThreads: using 1 thread: this page is not cross-origin isolated .*Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp/);
});
