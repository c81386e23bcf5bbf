// The package inside Cloudflare's workerd: examples/workerd/worker.js served by `workerd serve` on
// 127.0.0.1 (examples/workerd/serve.cjs), answering POSTed tensors with the loss and gradient.
// Every answer is checked against the float64 reference; a bounded burst of concurrent requests
// follows (the long version is `npm run load:edge`).
import { crossEntropyRef, bceWithLogitsRef, maxAbsDiff, sample } from './reference';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { startWorkerd, processMemory } = require('../../examples/workerd/serve.cjs');

jest.setTimeout(60_000);

let worker: { url: string; pid: number; stop(): Promise<void>; log(): string };

beforeAll(async () => {
  worker = await startWorkerd();
});
afterAll(async () => {
  await worker?.stop();
});

async function post(body: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(`${worker.url}/loss`, { method: 'POST', body: JSON.stringify(body) });
  return { status: r.status, json: await r.json() };
}

test('cross-entropy in float64 with class weights and label smoothing matches the reference', async () => {
  const { x, y } = sample(11, 5, 4);
  const weight = [0.5, 2, 1, 1.5];
  const { status, json } = await post({ dtype: 'float64', input: { data: x, shape: [5, 4] }, target: y, options: { weight, labelSmoothing: 0.2 } });
  expect(status).toBe(200);
  const ref = crossEntropyRef(x, [5, 4], y, { weight, labelSmoothing: 0.2 });
  expect(Math.abs(json.loss - ref.loss)).toBeLessThan(1e-12);
  expect(maxAbsDiff(json.grad, ref.grad)).toBeLessThan(1e-12);
  expect(json.shape).toEqual([5, 4]);
});

test('BCE with logits in float32 matches the reference', async () => {
  const x = [1.2, -0.8, 0.3, -1.5, 0.4, 2];
  const t = [1, 0, 1, 0, 0, 1];
  const { status, json } = await post({ op: 'bce_with_logits', dtype: 'float32', input: { data: x, shape: [2, 3] }, target: t });
  expect(status).toBe(200);
  const ref = bceWithLogitsRef(x.map(Math.fround), t);
  expect(Math.abs(json.loss - ref.loss)).toBeLessThan(1e-6);
  expect(maxAbsDiff(json.grad, ref.grad)).toBeLessThan(1e-6);
});

test('bad input gets a 400 with wasm-xent\'s message', async () => {
  const { status, json } = await post({ input: { data: [1, 2, 3], shape: [1, 3] }, target: [5] });
  expect(status).toBe(400);
  expect(json.error).toMatch(/^crossEntropy: Target 5 is out of bounds/);
});

test('a burst of 400 requests at concurrency 32: every answer right, memory bounded', async () => {
  const total = 400;
  const concurrency = 32;
  const before = await (await fetch(`${worker.url}/stats`)).json();
  let next = 0;
  let checked = 0;
  const t0 = Date.now();
  async function lane() {
    while (next < total) {
      const i = next++;
      const N = 1 + (i % 17);
      const C = 2 + (i % 9);
      const { x, y } = sample(1000 + i, N, C);
      const eps = (i % 3) * 0.05;
      const { status, json } = await post({ dtype: 'float32', input: { data: x, shape: [N, C] }, target: y, options: { labelSmoothing: eps } });
      expect(status).toBe(200);
      const ref = crossEntropyRef(x.map(Math.fround), [N, C], y, { labelSmoothing: eps });
      expect([i, Math.abs(json.loss - ref.loss) < 1e-5 * Math.max(1, ref.loss)]).toEqual([i, true]);
      expect([i, maxAbsDiff(json.grad, ref.grad) < 1e-6]).toEqual([i, true]);
      checked++;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane));
  const ms = Date.now() - t0;
  const after = await (await fetch(`${worker.url}/stats`)).json();
  const mem = processMemory(worker.pid);
  console.log(`workerd burst: ${checked} requests, concurrency ${concurrency}, ${ms} ms (${Math.round((checked * 1000) / ms)} req/s); ` +
    `wasm memory ${after.wasmMemoryBytes} B; workerd RSS ${(mem.rss / 2 ** 20).toFixed(1)} MiB, peak ${(mem.peakRss / 2 ** 20).toFixed(1)} MiB`);
  expect(checked).toBe(total);
  expect(after.requests - before.requests).toBe(total);
  // The workspace is reused across requests: these small inputs never grow wasm memory.
  expect(after.wasmMemoryBytes).toBe(before.wasmMemoryBytes);
  expect(after.wasmMemoryBytes).toBeLessThanOrEqual(2 ** 20);
  expect(mem.rss).toBeLessThan(512 * 2 ** 20);
});

test('the edge-light entry (Vercel edge: imports xent.wasm?module, initSync at import) also runs in workerd', async () => {
  const edge = await startWorkerd({ condition: 'edge-light' });
  try {
    const { x, y } = sample(77, 3, 6);
    const r = await fetch(`${edge.url}/loss`, { method: 'POST', body: JSON.stringify({ dtype: 'float64', input: { data: x, shape: [3, 6] }, target: y, options: { labelSmoothing: 0.05 } }) });
    expect(r.status).toBe(200);
    const json = await r.json();
    const ref = crossEntropyRef(x, [3, 6], y, { labelSmoothing: 0.05 });
    expect(Math.abs(json.loss - ref.loss)).toBeLessThan(1e-12);
    expect(maxAbsDiff(json.grad, ref.grad)).toBeLessThan(1e-12);
  } finally {
    await edge.stop();
  }
});

test("setThreads('auto') in workerd resolves to 1 and warns once, saying why (one thread per request)", async () => {
  const r = await fetch(`${worker.url}/threads`);
  const got = await r.json();
  expect(got.threads).toBe(1);
  expect(got.warnings).toHaveLength(1);
  expect(got.warnings).toEqual(['setThreads: using 1 thread: edge runtimes (Cloudflare workerd, Vercel edge) run one thread per request: no workers, no shared memory']);
  const again = await (await fetch(`${worker.url}/threads`)).json();
  expect(again).toEqual({ threads: 1, warnings: [] }); // once per isolate
});
