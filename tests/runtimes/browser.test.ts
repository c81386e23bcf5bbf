// The package in a real browser: Debian's Chromium (/usr/bin/chromium) driven by playwright-core,
// headless, with no network but pages served from 127.0.0.1. The package's browser entry is loaded
// with no bundler (an import map names 'wasm-xent'), in a page and in a module Web Worker, through
// each way of loading the .wasm; losses and gradients are checked against the float64 reference
// computed here. Then the demo (examples/browser) is built with Vite, trained in the browser, and
// screenshotted: the loss must fall. CI installs chromium (.ci/run); without it this test fails.
import { mkdirSync } from 'fs';
import { join } from 'path';
import type { Browser } from 'playwright-core';
import { launchChromium, openDemo } from './chromium';
import { serve, StaticServer } from './server';
import { crossEntropyRef, bceWithLogitsRef, softmaxRef, maxAbsDiff, sample } from './reference';

jest.setTimeout(120_000);

const root = join(__dirname, '..', '..');
export const SCREENSHOT = join(root, 'build', 'demo-screenshot.png');

// Runs in the browser (page and worker): loads the module as `how` says, evaluates every case.
const RUNNER = `
async function run(X, cases, how) {
  if (how === 'default') await X.init();
  else if (how === 'url') await X.init(new URL(self.PREFIX + '/dist/xent.wasm', location.href));
  else if (how === 'promise') await X.init(fetch(new URL('/dist/xent.wasm', location.href)));
  else if (how === 'initSync') X.initSync(new WebAssembly.Module(await (await fetch('/dist/xent-scalar.wasm')).arrayBuffer()));
  else throw new Error('unknown how ' + how);
  const results = cases.map((c) => {
    const A = c.dtype === 'float64' ? Float64Array : Float32Array;
    const input = { data: A.from(c.x), shape: c.shape };
    let r;
    if (c.op === 'ce') r = X.crossEntropy(input, c.y, { grad: true, ...c.options });
    else if (c.op === 'bce') r = X.binaryCrossEntropyWithLogits(input, A.from(c.y), { grad: true });
    else r = { loss: null, grad: X.softmax(input) };
    return { loss: r.loss, grad: Array.from(r.grad) };
  });
  const inWorker = typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope;
  return { results, inWorker, memory: X.wasmMemoryBytes(), userAgent: navigator.userAgent, calls: self.calls };
}`;

// Records how the module got compiled: instantiateStreaming (and whether it failed), compile, instantiate.
const SPY = `<script>
window.calls = [];
const streaming = WebAssembly.instantiateStreaming, plain = WebAssembly.instantiate, compile = WebAssembly.compile;
WebAssembly.compile = (...a) => (calls.push('compile bytes'), compile(...a));
WebAssembly.instantiateStreaming = (...a) => streaming(...a).then(
  (r) => (calls.push('instantiateStreaming ok'), r),
  (e) => { calls.push('instantiateStreaming failed: ' + e.name); throw e; });
WebAssembly.instantiate = (...a) => (calls.push('instantiate ' + (a[0] instanceof WebAssembly.Module ? 'module' : 'bytes')), plain(...a));
</script>`;

const page = (prefix: string) => `<!doctype html><meta charset="utf-8"><title>wasm-xent</title>
${SPY}
<script type="importmap">{ "imports": { "wasm-xent": "${prefix}/dist/browser/index.js" } }</script>
<script type="module">
import * as X from 'wasm-xent';
window.PREFIX = '${prefix}';
${RUNNER}
window.go = (cases, how) => run(X, cases, how);
window.ready = true;
</script>`;

const workerPage = `<!doctype html><meta charset="utf-8"><title>wasm-xent in a worker</title>
<script type="module">
window.go = (cases) => new Promise((resolve, reject) => {
  const w = new Worker('/__worker.js', { type: 'module' });
  w.onmessage = (e) => (e.data.error ? reject(new Error(e.data.error)) : resolve(e.data.ok));
  w.onerror = (e) => reject(new Error('worker error: ' + e.message));
  w.postMessage(cases);
});
window.ready = true;
</script>`;

const worker = `import * as X from '/dist/browser/index.js';
${RUNNER}
self.onmessage = async (e) => {
  try { self.postMessage({ ok: await run(X, e.data, 'default') }); }
  catch (err) { self.postMessage({ error: String(err && err.stack || err) }); }
};`;

// The cases and their float64 reference values.
type Case = { op: 'ce' | 'bce' | 'softmax'; dtype: 'float32' | 'float64'; x: number[]; shape: number[]; y?: number[]; options?: object };
const s1 = sample(21, 4, 5);
const s2 = sample(22, 8, 10);
const bx = [1.2, -0.8, 0.3, -1.5, 0.4, 2, 0.05, -3];
const bt = [1, 0, 1, 0, 0, 1, 1, 0];
const cases: { c: Case; loss: number | null; grad: number[]; tol: number }[] = [
  { c: { op: 'ce', dtype: 'float64', x: s1.x, shape: [4, 5], y: s1.y, options: { weight: [1, 2, 0.5, 1, 3], labelSmoothing: 0.1 } },
    ...crossEntropyRef(s1.x, [4, 5], s1.y, { weight: [1, 2, 0.5, 1, 3], labelSmoothing: 0.1 }), tol: 1e-12 },
  { c: { op: 'ce', dtype: 'float32', x: s2.x, shape: [8, 10], y: s2.y }, ...crossEntropyRef(s2.x.map(Math.fround), [8, 10], s2.y), tol: 1e-6 },
  { c: { op: 'bce', dtype: 'float32', x: bx, shape: [2, 4], y: bt }, ...bceWithLogitsRef(bx.map(Math.fround), bt), tol: 1e-6 },
  { c: { op: 'softmax', dtype: 'float64', x: s1.x, shape: [4, 5] }, loss: null, grad: softmaxRef(s1.x, 5), tol: 1e-14 },
];

function check(got: { results: { loss: number | null; grad: number[] }[] }) {
  expect(got.results).toHaveLength(cases.length);
  got.results.forEach((r, i) => {
    const want = cases[i];
    if (want.loss === null) expect(r.loss).toBeNull();
    else expect([i, Math.abs((r.loss as number) - want.loss) <= want.tol * Math.max(1, Math.abs(want.loss))]).toEqual([i, true]);
    expect([i, maxAbsDiff(r.grad, want.grad) <= want.tol]).toEqual([i, true]);
  });
}

let browser: Browser;
let server: StaticServer;

beforeAll(async () => {
  browser = await launchChromium();
  server = await serve(root, {
    '/__page.html': page(''),
    '/__badmime.html': page('/badmime'),
    '/__worker-page.html': workerPage,
    '/__worker.js': worker,
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function runIn(path: string, how: string) {
  const context = await browser.newContext();
  const p = await context.newPage();
  const errors: string[] = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  // Nothing but 127.0.0.1 is reachable: any other request fails the test.
  await p.route('**/*', (route) => (new URL(route.request().url()).hostname === '127.0.0.1' ? route.continue() : (errors.push(route.request().url()), route.abort())));
  await p.goto(server.url + path);
  await p.waitForFunction(() => (window as any).ready === true);
  const got = await p.evaluate(([c, h]) => (window as any).go(c, h), [cases.map((k) => k.c), how] as const);
  await context.close();
  expect(errors).toEqual([]);
  return got;
}

test('import map, init() with no argument: compiles the embedded module, fetches no .wasm', async () => {
  const got = await runIn('/__page.html', 'default');
  check(got);
  expect(got.inWorker).toBe(false);
  expect(got.userAgent).toMatch(/Chrome\/\d+/);
  expect(server.requests.filter((r) => r.path.endsWith('.wasm'))).toEqual([]);
  expect(got.calls).toEqual(['instantiate bytes']);
});

test('init(url) streams the served .wasm (application/wasm)', async () => {
  const got = await runIn('/__page.html', 'url');
  check(got);
  expect(server.requests).toContainEqual({ path: '/dist/xent.wasm', type: 'application/wasm' });
  expect(got.calls).toEqual(['instantiateStreaming ok']);
});

test('init(url) from a server that sends the wrong MIME type falls back from instantiateStreaming', async () => {
  const got = await runIn('/__badmime.html', 'url');
  check(got);
  expect(server.requests).toContainEqual({ path: '/badmime/dist/xent.wasm', type: 'application/octet-stream' });
  expect(got.calls).toEqual(['instantiateStreaming failed: TypeError', 'instantiate bytes']);
});

test('init(fetch(url)) with a Promise<Response>', async () => {
  check(await runIn('/__page.html', 'promise'));
});

test('initSync(WebAssembly.Module) of the scalar build', async () => {
  check(await runIn('/__page.html', 'initSync'));
  expect(server.requests.map((r) => r.path)).toContain('/dist/xent-scalar.wasm');
});

test('inside a module Web Worker', async () => {
  const got = await runIn('/__worker-page.html', 'default');
  check(got);
  expect(got.inWorker).toBe(true);
});

test('the demo built with Vite trains in the browser: the loss falls (screenshot saved)', async () => {
  await openDemo(browser, 'browser', { width: 1280, height: 516 }, async (p, errors) => {
    const wait = () => p.waitForFunction(() => (window as any).demo?.done === true, undefined, { timeout: 60_000 });
    const state = () => p.evaluate(() => { const d = (window as any).demo; return { losses: d.losses as number[], accuracy: d.accuracy as number, lossKind: d.lossKind as string }; });
    await wait();
    const ce = await state();
    mkdirSync(join(root, 'build'), { recursive: true });
    await p.screenshot({ path: SCREENSHOT });
    console.log(`demo (cross-entropy): loss ${ce.losses[0].toFixed(4)} -> ${ce.losses[ce.losses.length - 1].toFixed(4)} in ${ce.losses.length} steps, accuracy ${(100 * ce.accuracy).toFixed(1)}%; screenshot ${SCREENSHOT}`);
    expect(ce.lossKind).toBe('ce');
    expect(ce.losses.length).toBe(1500);
    expect(ce.losses[ce.losses.length - 1]).toBeLessThan(0.3 * ce.losses[0]);
    expect(ce.accuracy).toBeGreaterThan(0.9);
    // The decision regions are drawn: the canvas holds many distinct colours.
    const colours = await p.evaluate(() => {
      const c = document.getElementById('regions') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      const seen = new Set<number>();
      for (let i = 0; i < d.length; i += 4 * 7) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      return seen.size;
    });
    expect(colours).toBeGreaterThan(50);

    // Switch the loss to BCE with label smoothing and inverse-frequency class weights.
    await p.fill('#smoothing', '0.1');
    await p.click('#inverse');
    await p.check('input[value="bce"]');
    await wait();
    const bce = await state();
    console.log(`demo (BCE, smoothing 0.1, inverse-frequency weights): loss ${bce.losses[0].toFixed(4)} -> ${bce.losses[bce.losses.length - 1].toFixed(4)}, accuracy ${(100 * bce.accuracy).toFixed(1)}%`);
    expect(bce.lossKind).toBe('bce');
    expect(bce.losses[bce.losses.length - 1]).toBeLessThan(0.5 * bce.losses[0]);
    expect(bce.accuracy).toBeGreaterThan(0.85);
    expect(errors).toEqual([]);
  });
});
