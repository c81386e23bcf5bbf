#!/usr/bin/env node
// Soak test (`npm run soak`; CI runs `node --expose-gc scripts/soak.mjs --short`).
//
// Calls every function of the built package (dist/esm) many times: small calls (a million by
// default) and large ones (a thousand), with calls that must throw mixed in. Every result is
// checked against the first result of the same call (bit for bit: the module must be
// deterministic and unaffected by what ran before), and every bad call must throw.
//
// After warm-up rounds (which reach the largest workspace and let the heap size settle), it records process RSS and wasm
// memory, runs the soak, and records them again. It exits non-zero if wasm memory grew at all, or
// if RSS grew by more than the allowance (default 24 MiB; GC noise, not leaks), or if any check
// failed.
//
//   node --expose-gc scripts/soak.mjs [--short] [--small N] [--large N] [--rss-allowance MiB]

import * as X from '../dist/esm/index.js';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const short = args.includes('--short');
const SMALL = flag('--small', short ? 20000 : 1000000);
const LARGE = flag('--large', short ? 20 : 1000);
const RSS_ALLOWANCE = flag('--rss-allowance', 24) * 1048576;

const gc = globalThis.gc ?? (() => {});
if (!globalThis.gc) console.warn('soak: run node with --expose-gc for stable RSS figures');

await X.init();

// ------------------------------------------------------------------ data

function lcg(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
}
const r = lcg(12345);
const normals = (n, scale = 1) => Float64Array.from({ length: n }, () => scale * (r() + r() + r() - 1.5) * 2);
const f32 = (a) => Float32Array.from(a);

// small: (N=4, C=5), (N=2, C=3, H=2, W=2), unbatched (C=5)
const s2 = { f32: { data: f32(normals(20)), shape: [4, 5] }, f64: { data: normals(20), shape: [4, 5] } };
const s4 = { data: f32(normals(24)), shape: [2, 3, 2, 2] };
const s1 = { data: normals(5), shape: [5] };
const t2 = new Int32Array([0, 4, 2, -100]);
const t4 = { data: new Uint8Array([0, 1, 2, 1, 0, 2, 2, 1]), shape: [2, 2, 2] };
const p2 = f32(Array.from({ length: 20 }, (_, i) => ((i * 7) % 5) / 10));
const probs20 = f32(Array.from({ length: 20 }, (_, i) => 0.05 + 0.9 * (((i * 13) % 20) / 20)));
const y20 = f32(Array.from({ length: 20 }, (_, i) => i % 2));
const w5 = [0.5, 1, 2, 1, 0.25];
const out20 = new Float32Array(20);

// large: (N=1024, C=1000) float32 logits (4 MB), and a float64 NCHW block
const NL = 1024;
const CL = 1000;
const L32 = { data: f32(normals(NL * CL, 3)), shape: [NL, CL] };
const T32 = Int32Array.from({ length: NL }, (_, i) => (i * 37) % CL);
const L64 = { data: normals(2 * 21 * 64 * 64), shape: [2, 21, 64, 64] };
const T64 = { data: Uint8Array.from({ length: 2 * 64 * 64 }, (_, i) => i % 21), shape: [2, 64, 64] };
const PL = f32(Array.from({ length: NL * 64 }, (_, i) => 0.01 + 0.98 * ((i * 7919) % 1000) / 1000));
const YL = f32(Array.from({ length: NL * 64 }, (_, i) => (i * 31) % 2));
const outL = new Float32Array(NL * CL);

const shared = new Float32Array(new SharedArrayBuffer(80));
const detached = new Float32Array(20);
structuredClone(detached.buffer, { transfer: [detached.buffer] });

// ------------------------------------------------------------------ the calls

/** A fingerprint of a result: the loss, or a sum over an output array (exact, order fixed). */
function fingerprint(res) {
  if (typeof res === 'number') return res;
  if (ArrayBuffer.isView(res)) {
    let s = 0;
    for (let i = 0; i < res.length; i += 7) s += res[i] * (i + 1);
    return s;
  }
  let s = typeof res.loss === 'number' ? res.loss : fingerprint(res.loss);
  if (res.grad) s += 1e3 * fingerprint(res.grad);
  return s;
}

const small = [
  ['crossEntropy f32', () => X.crossEntropy(s2.f32, t2, { grad: true })],
  ['crossEntropy f64 weight+smoothing', () => X.crossEntropy(s2.f64, t2, { weight: w5, labelSmoothing: 0.1, grad: true, gradOutput: 0.5 })],
  ['crossEntropy NCHW none', () => X.crossEntropy(s4, t4, { reduction: 'none', grad: true })],
  ['crossEntropy unbatched', () => X.crossEntropy(s1, 3, { grad: true })],
  ['crossEntropy probs out', () => X.crossEntropy(s2.f32, p2, { out: out20, reduction: 'sum' })],
  ['nllLoss', () => X.nllLoss(s2.f32, t2, { weight: w5, grad: true })],
  ['logSoftmax', () => X.logSoftmax(s4, { dim: 1 })],
  ['softmax', () => X.softmax(s2.f64)],
  ['logSoftmaxBackward', () => X.logSoftmaxBackward(s2.f32, s2.f32)],
  ['softmaxBackward', () => X.softmaxBackward(s4, s4, { dim: 1 })],
  ['binaryCrossEntropy', () => X.binaryCrossEntropy({ data: probs20, shape: [4, 5] }, y20, { weight: w5, grad: true })],
  ['binaryCrossEntropyWithLogits', () => X.binaryCrossEntropyWithLogits(s2.f32, y20, { posWeight: w5, reduction: 'none', grad: true })],
  ['oneHot', () => X.oneHot([0, 3, 4], 5)],
  ['inverseFrequencyWeights', () => X.inverseFrequencyWeights(t4, 3)],
];

const bad = [
  ['target out of range', () => X.crossEntropy(s2.f32, [0, 1, 5, 2]), RangeError],
  ['unknown option', () => X.crossEntropy(s2.f32, t2, { ignore_index: 1 }), TypeError],
  ['bad shape', () => X.softmax({ data: s2.f32.data, shape: [5, 5] }), RangeError],
  ['BCE input out of [0, 1]', () => X.binaryCrossEntropy(s2.f32, y20), RangeError],
  ['SharedArrayBuffer input', () => X.softmax({ data: shared, shape: [4, 5] }), TypeError],
  ['detached input', () => X.softmax({ data: detached, shape: [4, 5] }), TypeError],
  ['gradOutput without grad', () => X.nllLoss(s2.f32, t2, { gradOutput: 2 }), TypeError],
  ['dim out of range', () => X.logSoftmax(s4, { dim: 4 }), RangeError],
  ['over the workspace limit', () => {
    X.setWorkspaceLimit(64);
    try {
      return X.softmax(s2.f64);
    } finally {
      X.setWorkspaceLimit(1 << 30);
    }
  }, RangeError],
];

const large = [
  ['crossEntropy [1024, 1000] f32', () => X.crossEntropy(L32, T32, { grad: true, labelSmoothing: 0.1 })],
  ['crossEntropy [1024, 1000] out', () => X.crossEntropy(L32, T32, { out: outL })],
  ['crossEntropy NCHW [2, 21, 64, 64] f64', () => X.crossEntropy(L64, T64, { grad: true, reduction: 'sum' })],
  ['nllLoss [1024, 1000]', () => X.nllLoss(L32, T32, { reduction: 'none', grad: true })],
  ['logSoftmax [1024, 1000]', () => X.logSoftmax(L32)],
  ['softmax NCHW dim 1', () => X.softmax(L64, { dim: 1 })],
  ['softmaxBackward [1024, 1000]', () => X.softmaxBackward(L32, L32)],
  ['logSoftmaxBackward NCHW', () => X.logSoftmaxBackward(L64, L64, { dim: 1 })],
  ['binaryCrossEntropy [1024, 64]', () => X.binaryCrossEntropy({ data: PL, shape: [NL, 64] }, YL, { grad: true })],
  ['binaryCrossEntropyWithLogits [1024, 64]', () => X.binaryCrossEntropyWithLogits({ data: PL, shape: [NL, 64] }, YL, { grad: true, posWeight: new Float32Array(64).fill(2) })],
];

const expected = new Map();
let failures = 0;
let calls = 0;
let thrown = 0;

function fail(msg) {
  failures++;
  if (failures <= 20) console.error(`soak: FAIL ${msg}`);
}

function runGood([name, call]) {
  calls++;
  const f = fingerprint(call());
  if (!expected.has(name)) expected.set(name, f);
  else if (!Object.is(expected.get(name), f)) fail(`${name}: result changed (${f} vs ${expected.get(name)})`);
}

function runBad([name, call, Kind]) {
  calls++;
  try {
    call();
    fail(`${name}: did not throw`);
  } catch (e) {
    thrown++;
    if (!(e instanceof Kind)) fail(`${name}: threw ${e?.constructor?.name}: ${e?.message}`);
  }
}

/** Small calls with one bad call in every 8, cycling through both lists. */
function smallBatch(n, offset) {
  for (let i = 0; i < n; i++) {
    const k = offset + i;
    if (k % 8 === 7) runBad(bad[(k >> 3) % bad.length]);
    else runGood(small[k % small.length]);
  }
}

const mib = (b) => `${(b / 1048576).toFixed(1)} MiB`;
function measure() {
  gc();
  gc();
  return { rss: process.memoryUsage().rss, wasm: X.wasmMemoryBytes() };
}

// ------------------------------------------------------------------ warm-up, soak, verdict

/** Runs `nSmall` small and `nLarge` large calls, interleaved, from call counts `small0`/`large0`;
 *  logs RSS and wasm memory at `checkpoints` points. */
function soak(nSmall, nLarge, checkpoints, label) {
  let done = 0;
  let doneLarge = 0;
  for (let cp = 1; cp <= checkpoints; cp++) {
    const smallTarget = Math.round((nSmall * cp) / checkpoints);
    const largeTarget = Math.round((nLarge * cp) / checkpoints);
    while (done < smallTarget || doneLarge < largeTarget) {
      // a slice of small calls, then one large call, until both reach this checkpoint
      const slice = Math.min(smallTarget - done, Math.max(1, Math.ceil((smallTarget - done) / Math.max(1, largeTarget - doneLarge))));
      if (done < smallTarget) {
        smallBatch(slice, done);
        done += slice;
      }
      if (doneLarge < largeTarget) {
        const k = doneLarge++;
        if (k % 10 === 9) runBad(bad[k % bad.length]);
        else runGood(large[k % large.length]);
      }
    }
    if (label) {
      console.log(`soak: ${label} ${String(done).padStart(8)} small + ${String(doneLarge).padStart(5)} large calls, rss ${mib(process.memoryUsage().rss)}, wasm memory ${mib(X.wasmMemoryBytes())}`);
    }
  }
}

// Warm-up: the same mix (every call, the largest workspace, JIT tiers), three rounds so V8's heap
// sizing settles (one round left RSS still climbing by up to ~25 MiB), then the baseline.
const t0 = performance.now();
for (let round = 0; round < 3; round++) soak(20000, 20, 1, 'warm-up');
const before = measure();
console.log(`soak: after warm-up  rss ${mib(before.rss)}, wasm memory ${mib(before.wasm)}`);

const tSoak = performance.now();
soak(SMALL, LARGE, short ? 1 : 10, 'soak   ');
const after = measure();
const seconds = (performance.now() - tSoak) / 1000;

console.log(`soak: after soak     rss ${mib(after.rss)}, wasm memory ${mib(after.wasm)}`);
console.log(
  `soak: ${calls} calls in all (${SMALL} small + ${LARGE} large in the soak, ${thrown} of them threw as they must), ` +
    `${seconds.toFixed(1)} s soak, ${((performance.now() - t0) / 1000).toFixed(1)} s total`,
);
const rssGrowth = after.rss - before.rss;
console.log(`soak: growth after warm-up: rss ${rssGrowth >= 0 ? '+' : ''}${mib(rssGrowth)} (allowance ${mib(RSS_ALLOWANCE)}), wasm memory ${after.wasm - before.wasm} bytes`);

if (after.wasm !== before.wasm) fail(`wasm memory grew from ${before.wasm} to ${after.wasm} bytes after warm-up`);
if (rssGrowth > RSS_ALLOWANCE) fail(`rss grew by ${mib(rssGrowth)} after warm-up (allowance ${mib(RSS_ALLOWANCE)})`);
if (failures > 0) {
  console.error(`soak: ${failures} failure(s)`);
  process.exit(1);
}
console.log('soak: OK');
