// The relaxed-SIMD build in a real browser: Debian's Chromium (relaxed SIMD on by default since
// Chrome 114), driven by playwright-core as in browser.test.ts. The browser entry embeds only the
// SIMD and scalar builds, so the page detects relaxed SIMD and passes the served
// dist/xent-relaxed.wasm to init(), as the README tells browser users to; then every PyTorch
// fixture of cross-entropy, log_softmax / softmax (and their backward) and BCE runs through it,
// float32 and float64, against the tolerances of tests/fixtures.test.ts. Runs in the SIMD pass
// of `npm test` only (tests/runtimes/ is skipped by the scalar and relaxed passes): the page
// picks its own build, so the pass's WASM_XENT_BUILD does not matter.
import { existsSync, readFileSync } from 'fs';
import { join } from 'path';
import type { Browser } from 'playwright-core';
import { launchChromium } from './chromium';
import { serve, StaticServer } from './server';

jest.setTimeout(120_000);

const root = join(__dirname, '..', '..');

type JNum = number | string;
interface Case {
  name: string;
  fn: string;
  dtype: 'float32' | 'float64';
  input: { data: JNum[]; shape: number[] };
  target?: { data: JNum[]; shape: number[]; type?: string };
  gradOutput?: { data: JNum[]; shape: number[] };
  options?: Record<string, unknown>;
  expected: { loss?: JNum | { data: JNum[] }; grad?: { data: JNum[] }; output?: { data: JNum[] } };
}
const cases: Case[] = ['crossEntropy.json', 'softmax.json', 'bce.json'].flatMap((f) => JSON.parse(readFileSync(join(root, 'tests', 'fixtures', f), 'utf8')).cases);

// Runs in the page: the same decoding as tests/fixtures.test.ts (numbers, "NaN", "±Infinity";
// integer targets of the typed array the case names; weights as arrays or tensors), results
// returned as plain arrays with non-finite values spelled out.
const RUNNER = `
const dec = (v) => (typeof v === 'number' ? v : v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : -Infinity);
const enc = (v) => (Number.isFinite(v) ? v : String(v));
const F = { float32: Float32Array, float64: Float64Array };
const floats = (d, dtype) => F[dtype].from(d, dec);
const target = (t, dtype) => {
  if (t.type === 'scalar') return dec(t.data[0]);
  if (t.type === 'float') return { data: floats(t.data, dtype), shape: t.shape };
  if (t.type === 'number[]') return { data: t.data.map(dec), shape: t.shape };
  if (t.type === 'BigInt64Array') return { data: BigInt64Array.from(t.data, (v) => BigInt(dec(v))), shape: t.shape };
  return { data: self[t.type].from(t.data, dec), shape: t.shape };
};
const backward = (fn) => fn === 'logSoftmaxBackward' || fn === 'softmaxBackward';
function options(c) {
  const o = {};
  for (const [k, v] of Object.entries(c.options || {})) {
    if (k === 'weight' || k === 'posWeight') o[k] = Array.isArray(v) ? v.map(dec) : { data: floats(v.data, c.dtype), shape: v.shape };
    else if (k === 'gradOutput') o[k] = dec(v);
    else o[k] = v;
  }
  if (!backward(c.fn)) {
    if (c.gradOutput) o.gradOutput = floats(c.gradOutput.data, c.dtype);
    if (c.expected.grad) o.grad = true;
  }
  return o;
}
const arr = (a) => (a == null ? null : typeof a === 'number' ? [enc(a)] : Array.from(a.data ?? a, enc));
function runCase(X, c) {
  const input = { data: floats(c.input.data, c.dtype), shape: c.input.shape };
  try {
    if (c.fn === 'logSoftmax' || c.fn === 'softmax') return { output: arr(X[c.fn](input, options(c))) };
    if (backward(c.fn)) return { grad: arr(X[c.fn]({ data: floats(c.gradOutput.data, c.dtype), shape: c.gradOutput.shape }, input, options(c))) };
    const r = X[c.fn](input, target(c.target, c.dtype), options(c));
    return { loss: arr(r.loss), grad: arr(r.grad) };
  } catch (e) {
    return { error: String(e) };
  }
}
async function run(X, cases) {
  const supported = X.relaxedSimdSupported();
  const notEmbedded = await X.init({ build: 'relaxed-simd' }).then(() => 'loaded', (e) => e.message);
  await X.init(supported ? new URL('/dist/xent-relaxed.wasm', location.href) : undefined);
  return { supported, notEmbedded, build: X.wasmBuild(), userAgent: navigator.userAgent, results: cases.map((c) => runCase(X, c)) };
}`;

const page = `<!doctype html><meta charset="utf-8"><title>wasm-xent relaxed SIMD</title>
<script type="importmap">{ "imports": { "wasm-xent": "/dist/browser/index.js" } }</script>
<script type="module">
import * as X from 'wasm-xent';
${RUNNER}
window.go = (cases) => run(X, cases);
window.ready = true;
</script>`;

const TOL = { float32: 1e-5, float64: 1e-10 };
const dec = (v: JNum): number => (typeof v === 'number' ? v : v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : -Infinity);

/** The values out of tolerance (|a - e| <= tol (1 + |e|), NaN for NaN, infinities exact). */
function mismatches(c: Case, what: string, got: JNum[] | null | undefined, want: JNum[]): string[] {
  if (!got || got.length !== want.length) return [`${c.name} ${what}: ${got ? got.length : 'no'} values, expected ${want.length}`];
  const bad: string[] = [];
  want.forEach((w, i) => {
    const e = dec(w);
    const a = dec(got[i]);
    const ok = Number.isNaN(e) ? Number.isNaN(a) : !Number.isFinite(e) ? a === e : Math.abs(a - e) <= TOL[c.dtype] * (1 + Math.abs(e));
    if (!ok) bad.push(`${c.name} ${what}[${i}]: got ${a}, expected ${e}`);
  });
  return bad;
}

let browser: Browser;
let server: StaticServer;

beforeAll(async () => {
  browser = await launchChromium();
  server = await serve(root, { '/__relaxed.html': page });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

test(`Chromium: init(url of xent-relaxed.wasm) loads the relaxed-SIMD build, and it matches PyTorch on ${cases.length} fixture cases`, async () => {
  const context = await browser.newContext();
  const p = await context.newPage();
  const errors: string[] = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  await p.route('**/*', (route) => (new URL(route.request().url()).hostname === '127.0.0.1' ? route.continue() : (errors.push(route.request().url()), route.abort())));
  await p.goto(server.url + '/__relaxed.html');
  await p.waitForFunction(() => (window as any).ready === true);
  const got = await p.evaluate((c) => (window as any).go(c), cases);
  await context.close();
  expect(errors).toEqual([]);
  expect(got.userAgent).toMatch(/Chrome\/\d+/);
  expect(got.supported).toBe(true);
  expect(got.notEmbedded).toMatch(/^init: \{ build: 'relaxed-simd' \}: this copy of wasm-xent does not embed the relaxed-SIMD build .*pass its URL or bytes to init\(\)$/);
  expect(got.build).toBe('relaxed-simd');
  expect(server.requests.map((r) => r.path)).toContain('/dist/xent-relaxed.wasm');
  const bad: string[] = [];
  got.results.forEach((r: { loss?: JNum[]; grad?: JNum[]; output?: JNum[]; error?: string }, i: number) => {
    const c = cases[i];
    if (r.error) return bad.push(`${c.name}: ${r.error}`);
    const { loss, grad, output } = c.expected;
    if (loss !== undefined) bad.push(...mismatches(c, 'loss', r.loss, typeof loss === 'object' ? loss.data : [loss]));
    if (grad) bad.push(...mismatches(c, 'grad', r.grad, grad.data));
    if (output) bad.push(...mismatches(c, 'output', r.output, output.data));
  });
  expect(bad.slice(0, 10)).toEqual([]);
  expect(got.results).toHaveLength(cases.length);
});
