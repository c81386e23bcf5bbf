// wasm-xent benchmark: workloads W1-W6 (../shared/bench/WORKLOADS.md) and W9 (CTC, issue 13),
// forward and forward+gradient,
// wasm-xent beside its peers in one process, alternating contenders call by call.
//
//   npm run bench                 # full run (~7 min): writes bench/RESULTS.md, results.svg, results.json
//   npm run bench -- --quick      # < 1 min, fewer calls, no tfjs-cpu: writes build/bench/ (as does any
//                                 # partial run: --workloads, --shapes, --skip, --budget)
//   npm run bench -- --shapes     # only the "shapes" table (bench/shapes.mjs)
//
// Options: --quick, --workloads=W1,W3,shapes, --shapes, --skip=tfjs-cpu,ort (contender ids),
// --no-torch (use the committed bench/torch-results.json), --budget=MS (timed milliseconds per
// contender and mode), --out=DIR, --allow-load (see below).
//
// Machine load: every contender's result carries the CPU that other processes used while it ran
// (bench/load.mjs; PyTorch measures its own in torch_bench.py). Above 0.2 of a core the result is
// marked, and a full run refuses to write the committed files (it writes build/bench/ and exits 1)
// unless --allow-load, which writes them with the marks.
//
// Relaxed SIMD: the bench runs with --experimental-wasm-relaxed-simd where Node needs it (it
// re-runs itself with the flag) and times the relaxed-SIMD build beside the SIMD one, call by
// call in this process (contender xent-relaxed on W1-W6); the other wasm-xent columns are the
// plain SIMD build, forced with init({ build: 'simd' }). Only a full run (every workload, not --quick) writes into bench/
// itself; any other run writes to build/bench/ (ignored by git) unless --out says otherwise.
// See bench/README.md.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as X from '../dist/esm/index.js';
import { makeWorkload, WORKLOADS } from './data.mjs';
import * as naive from './naive.mjs';
import { INT64, logSoftmaxModel, softmaxCrossEntropyModel } from './onnx-model.mjs';
import { writeReport } from './report.mjs';
import { shapeCases } from './shapes.mjs';
import { FAMILY_WORKLOADS, familyCalls, makeFamilyWorkload } from './family.mjs';
import { TOKEN_WORKLOADS, makeTokensWorkload, tokenCalls, tokenCheck } from './tokens.mjs';
import { LoadMeter, loadFields, LOAD_LIMIT } from './load.mjs';
import { LM_WORKLOADS, runLm } from './lm.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);
const require = createRequire(import.meta.url);
const T0 = performance.now();

// ---------------------------------------------------------------------------------------------
// Options
const argv = process.argv.slice(2);
const opt = (name) => {
  const a = argv.find((s) => s === `--${name}` || s.startsWith(`--${name}=`));
  if (a === undefined) return undefined;
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : true;
};
const QUICK = Boolean(opt('quick'));
const ALL_WORKLOADS = 'W1,W2,W3,W4,W5,W6,W7,W8,W9,W10,W11,W12,shapes';
const WORKLOAD_IDS = (opt('shapes') ? 'shapes' : opt('workloads') || ALL_WORKLOADS).split(',');
const SHAPES = WORKLOAD_IDS.includes('shapes');
// W12 runs as two rows, float32 and bfloat16 logits (bench/tokens.mjs): W12-bf16 comes with it.
const W_IDS = WORKLOAD_IDS.filter((id) => id !== 'shapes').flatMap((id) => (id === 'W12' && !WORKLOAD_IDS.includes('W12-bf16') ? ['W12', 'W12-bf16'] : [id]));
const PARTIAL = QUICK || WORKLOAD_IDS.join(',') !== ALL_WORKLOADS || ['skip', 'budget'].some((o) => opt(o) !== undefined);
const SKIP = new Set(String(opt('skip') || '').split(',').filter(Boolean));
if (QUICK) SKIP.add('tfjs-cpu');
const NO_TORCH = Boolean(opt('no-torch'));
// Only a full run (all workloads, all contenders, default budget) replaces the committed results in
// bench/; a quick or partial run writes to build/bench/ (ignored by git) unless --out says otherwise.
const OUT_DIR = path.resolve(opt('out') || (PARTIAL ? path.join(ROOT, 'build', 'bench') : HERE));
const SETTINGS = QUICK
  ? { budgetMs: Number(opt('budget') || 100), minCalls: 2, maxCalls: 200, warmupCalls: 0 }
  : { budgetMs: Number(opt('budget') || 1500), minCalls: 3, maxCalls: 3000, warmupCalls: 2 };
const F32_TOL = 1e-4; // relative, on the loss
const GRAD_TOL = 1e-3; // max |g - ref| relative to max |ref|
const F32_SEQ_TOL = 1e-5; // see compare(): a float32-accumulated loss of the same per-position losses
const log = (...a) => console.log(...a);

// ---------------------------------------------------------------------------------------------
// Contenders (ids are the table's columns)
export const CONTENDERS = {
  'xent-out': { label: 'wasm-xent out', desc: 'wasm-xent float32, result (the gradient; the output for W6) written into a preallocated `out` array' },
  'xent-2t': { label: 'wasm-xent 2 threads', desc: 'wasm-xent out on 2 threads (setThreads(2), SIMD build): the same call and the same bits as wasm-xent out' },
  'xent-relaxed-2t': { label: 'wasm-xent relaxed 2T', desc: 'the relaxed-SIMD build on 2 threads: the same call as wasm-xent relaxed' },
  'xent-relaxed': { label: 'wasm-xent relaxed', desc: 'the relaxed-SIMD build (fused multiply-add), W1-W6, in this process beside the SIMD build: the same call as wasm-xent out (forward: as wasm-xent)' },
  xent: { label: 'wasm-xent', desc: 'wasm-xent float32, default path (`{grad: true}` returns a new gradient array)' },
  'xent-zc': { label: 'wasm-xent zero-copy', desc: 'wasm-xent float32, input (and the BCE and soft-label CE targets) and `out` are wasmArray()s in module memory: no copies (forward only: the loss alone, from the same wasmArrays)' },
  'xent-relaxed-zc': { label: 'wasm-xent relaxed zero-copy', desc: 'the relaxed-SIMD build on 1 thread, its own wasmArrays: the same calls as wasm-xent zero-copy' },
  'xent-zc-2t': { label: 'wasm-xent zero-copy 2T', desc: 'wasm-xent zero-copy on 2 threads (the xent-2t copy of the package, its own wasmArrays): the same call and bits as wasm-xent zero-copy' },
  'xent-f64': { label: 'wasm-xent f64', desc: 'wasm-xent float64 (Float64Array input; result via `out`)' },
  'xent-bf16': { label: 'wasm-xent bf16', desc: 'wasm-xent on bfloat16 logits (W1 and W12-bf16: the logits rounded to bfloat16, passed as a Uint16Array of raw bits; decoded per chunk in wasm; W1\'s result via `out`), checked against float32 on the decoded values' },
  naive: { label: 'plain JS', desc: 'bench/naive.mjs: typed-array loops, Math.exp, float64 accumulation' },
  'tfjs-wasm': { label: 'tfjs-wasm', desc: 'TensorFlow.js 4.22, wasm backend (SIMD, 1 thread)' },
  'tfjs-cpu': { label: 'tfjs-cpu', desc: 'TensorFlow.js 4.22, cpu backend (plain JS kernels)' },
  ort: { label: 'ORT-web', desc: 'onnxruntime-web 1.30, wasm EP, 1 thread, one-node model built by bench/onnx-model.mjs' },
  'torch-1': { label: 'PyTorch 1T', desc: 'PyTorch 1.13 (Debian python3-torch), torch.set_num_threads(1), separate process' },
  'torch-2': { label: 'PyTorch 2T', desc: 'PyTorch 1.13, torch.set_num_threads(2), separate process' },
};

// ---------------------------------------------------------------------------------------------
// Machine
function machine() {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = (cpuinfo.match(/^model name\s*:\s*(.*)$/m) || [])[1] || os.cpus()[0]?.model || 'unknown';
  const flags = ((cpuinfo.match(/^flags\s*:\s*(.*)$/m) || [])[1] || '').split(' ');
  const simd = ['sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512bw', 'avx512vl'].filter((f) => flags.includes(f));
  const version = (pkg) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;
    } catch {
      return 'not installed';
    }
  };
  const osRelease = fs.existsSync('/etc/os-release') ? (fs.readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]*)/m) || [])[1] : '';
  return {
    date: new Date().toISOString(),
    cpu: model,
    cpuFlags: simd.join(' '),
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${osRelease || os.type()} (${os.release()})`,
    node: process.version,
    v8: process.versions.v8,
    packages: {
      'wasm-xent': JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version,
      assemblyscript: version('assemblyscript'),
      '@tensorflow/tfjs': version('@tensorflow/tfjs'),
      '@tensorflow/tfjs-backend-wasm': version('@tensorflow/tfjs-backend-wasm'),
      'onnxruntime-web': version('onnxruntime-web'),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// PyTorch, in its own process (before any JS timing, so the two never compete for the cores)
function runTorch() {
  const committed = path.join(HERE, 'torch-results.json');
  const readCommitted = (why) => {
    if (!fs.existsSync(committed)) return { source: 'none', why, data: null };
    return { source: 'committed', why, data: JSON.parse(fs.readFileSync(committed, 'utf8')) };
  };
  if (NO_TORCH) return readCommitted('--no-torch');
  if (W_IDS.length === 0) return readCommitted('no workload needs it');
  const py = '/usr/bin/python3';
  const probe = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return readCommitted(`${py} cannot import torch`);
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const out = path.join(OUT_DIR, 'torch-results.json');
  const ids = W_IDS.filter((id) => !(id in LM_WORKLOADS)); // W7, W8: runTorchLm
  if (ids.length === 0) return { source: 'ran', why: '', data: { results: {}, losses: {} } };
  const args = [path.join(HERE, 'torch_bench.py'), '--out', out, '--workloads', ids.join(',')];
  if (QUICK) args.push('--quick');
  log(`PyTorch: ${py} ${path.relative(ROOT, args[0])}${QUICK ? ' --quick' : ''} ...`);
  const r = spawnSync(py, args, { encoding: 'utf8', stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) return readCommitted(`torch_bench.py exited with ${r.status}`);
  return { source: 'ran', why: '', data: JSON.parse(fs.readFileSync(out, 'utf8')), file: path.relative(ROOT, out) };
}

/** PyTorch on W7/W8 (linear + cross_entropy unfused): its GEMM is whatever BLAS libblas.so.3 is, so
 *  it runs once per BLAS Debian offers, chosen with LD_LIBRARY_PATH: the reference (netlib) BLAS that
 *  `apt-get install python3-torch` brings (about 1 GFLOP/s: timed on the first 16 tokens, the cost
 *  being linear in N) and OpenBLAS (`libopenblas0-pthread`), in a process per thread count
 *  (OPENBLAS_NUM_THREADS: torch.set_num_threads does not reach OpenBLAS's own pool). Returns
 *  { [blas]: { [id]: { fwdgrad: { [threads]: stats }, peakMiB, tokens, blas } } } and why any is missing. */
function runTorchLm(ids) {
  const res = {};
  const why = [];
  const py = '/usr/bin/python3';
  const lib = '/usr/lib/x86_64-linux-gnu';
  const variants = [
    { blas: 'openblas', dirs: [`${lib}/openblas-pthread`], tokens: 0 },
    { blas: 'netlib', dirs: [`${lib}/blas`, `${lib}/lapack`], tokens: QUICK ? 4 : 16 },
  ];
  fs.mkdirSync(OUT_DIR, { recursive: true });
  for (const v of variants) {
    if (!fs.existsSync(path.join(v.dirs[0], 'libblas.so.3'))) {
      why.push(`${v.blas}: ${v.dirs[0]}/libblas.so.3 is not installed`);
      continue;
    }
    for (const threads of ['1', '2']) {
      let out = path.join(OUT_DIR, `torch-lm-${v.blas}-${threads}.json`);
      if (NO_TORCH) {
        // --no-torch: the committed figures, as runTorch does
        out = path.join(HERE, `torch-lm-${v.blas}-${threads}.json`);
        if (!fs.existsSync(out)) {
          why.push(`--no-torch and no ${path.relative(ROOT, out)}`);
          continue;
        }
      } else {
        const args = [path.join(HERE, 'torch_bench.py'), '--out', out, '--workloads', ids.join(','), '--threads', threads, '--lm-tokens', String(v.tokens)];
        if (QUICK) args.push('--quick');
        log(`PyTorch LM head, ${v.blas} BLAS, ${threads} thread(s) ...`);
        const env = { ...process.env, LD_LIBRARY_PATH: v.dirs.join(':'), OPENBLAS_NUM_THREADS: threads, OMP_NUM_THREADS: threads };
        const r = spawnSync(py, args, { encoding: 'utf8', env, stdio: ['ignore', 'inherit', 'inherit'] });
        if (r.status !== 0) {
          why.push(`${v.blas} ${threads}T: torch_bench.py exited with ${r.status}`);
          continue;
        }
      }
      const doc = JSON.parse(fs.readFileSync(out, 'utf8'));
      for (const [id, rec] of Object.entries(doc.results)) {
        if (rec.blas !== v.blas) {
          why.push(`${v.blas} ${threads}T: the process loaded ${rec.blas} BLAS`);
          continue;
        }
        const into = ((res[v.blas] ??= {})[id] ??= { fwdgrad: {}, peakMiB: {}, tokens: rec.tokens, blas: rec.blas, loss: doc.losses[id] });
        Object.assign(into.fwdgrad, rec.fwdgrad);
        into.peakMiB[threads] = rec.peakMiB;
      }
    }
  }
  return { res: Object.keys(res).length ? res : null, why };
}

// ---------------------------------------------------------------------------------------------
// Peers that may fail to load: each load returns { ok, why }
async function loadTfjs() {
  try {
    const tf = await import('@tensorflow/tfjs');
    // Production mode: no debug checks (and no "install tfjs-node" banner), as a deployed app runs.
    tf.enableProdMode();
    const state = { tf, backends: {} };
    try {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const dir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;
      wasm.setWasmPaths(dir);
      // One thread, like every other contender here: the SIMD (non-threaded) binary.
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      if (!(await tf.setBackend('wasm'))) throw new Error('setBackend("wasm") returned false');
      const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      state.backends.wasm = { ok: true, binary: simd ? 'tfjs-backend-wasm-simd.wasm' : 'tfjs-backend-wasm.wasm (no SIMD)' };
    } catch (e) {
      state.backends.wasm = { ok: false, why: `tfjs wasm backend did not load: ${e.message}` };
    }
    try {
      if (!(await tf.setBackend('cpu'))) throw new Error('setBackend("cpu") returned false');
      state.backends.cpu = { ok: true };
    } catch (e) {
      state.backends.cpu = { ok: false, why: `tfjs cpu backend did not load: ${e.message}` };
    }
    return state;
  } catch (e) {
    return { tf: null, backends: { wasm: { ok: false, why: `@tensorflow/tfjs did not load: ${e.message}` }, cpu: { ok: false, why: `@tensorflow/tfjs did not load: ${e.message}` } } };
  }
}

async function loadOrt() {
  try {
    const ort = await import('onnxruntime-web');
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    ort.env.logLevel = 'error';
    // Load the runtime now, on a trivial model, so a failure shows here rather than mid-run.
    const s = await ort.InferenceSession.create(logSoftmaxModel({ shape: [1, 2] }), { executionProviders: ['wasm'] });
    await s.release();
    return { ok: true, ort };
  } catch (e) {
    return { ok: false, why: `onnxruntime-web did not load: ${e.message}` };
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers
function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.round(q * (sorted.length - 1)))];
}

function summarise(samplesMs, numel) {
  const s = [...samplesMs].sort((a, b) => a - b);
  const k = 1e6 / numel;
  const mid = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { median: mid * k, min: s[0] * k, max: s[s.length - 1] * k, p10: quantile(s, 0.1) * k, p90: quantile(s, 0.9) * k, calls: s.length };
}

function maxAbs(a) {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]);
    if (v > m) m = v;
  }
  return m;
}

function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i] - b[i]);
    if (!(v <= m)) m = v; // NaN propagates
  }
  return m;
}

/** The 'mean' of per-position losses summed sequentially in float32, as a naive float32 reduction
 *  does: sum(loss) / sum(weights) (both float32 sums) or sum(loss) / count. */
function f32SeqMean(perPosition, weights, count) {
  const f = Math.fround;
  let s = 0;
  let w = 0;
  for (let i = 0; i < perPosition.length; i++) {
    s = f(s + perPosition[i]);
    if (weights) w = f(w + weights[i]);
  }
  return weights ? s / w : s / count;
}

function mean(a) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

const fmtErr = (e) => String(e && e.message ? e.message : e).split('\n')[0].slice(0, 200);

/** Compares a contender's result with the reference; returns a check record. */
function compare(got, ref, tol = F32_TOL) {
  const rec = { loss: got.loss, ref: ref.loss };
  rec.relDiff = Math.abs(got.loss - ref.loss) / Math.max(Math.abs(ref.loss), 1e-30);
  rec.ok = rec.relDiff <= tol;
  const pairs = [];
  if (got.grad && ref.grad) pairs.push(['grad', got.grad, ref.grad]);
  if (got.output && ref.output) pairs.push(['output', got.output, ref.output]);
  for (const [name, a, b] of pairs) {
    if (a.length !== b.length) {
      rec.ok = false;
      rec.why = `${name} has ${a.length} elements, expected ${b.length}`;
      continue;
    }
    const d = maxAbsDiff(a, b) / Math.max(maxAbs(b), 1e-30);
    rec[`${name}RelDiff`] = d;
    if (!(d <= GRAD_TOL)) rec.ok = false;
  }
  // A loss that misses only because the peer sums its per-position losses in float32, one after
  // the other: recompute wasm-xent's own per-position losses summed that way. If the peer matches
  // that (1e-5), it computes the same function and is timed; the report flags its accuracy.
  if (!rec.ok && rec.relDiff > F32_TOL && !(rec.gradRelDiff > GRAD_TOL) && !(rec.outputRelDiff > GRAD_TOL) && ref.f32seq) {
    const alt = ref.f32seq();
    const d = Math.abs(got.loss - alt) / Math.max(Math.abs(alt), 1e-30);
    if (d <= F32_SEQ_TOL) {
      rec.ok = true;
      rec.f32Accumulation = { value: alt, relDiff: d };
      rec.note = `same function; its loss is off by ${rec.relDiff.toExponential(1)} because it sums in float32 (it equals wasm-xent's per-position losses summed sequentially in float32 to ${d.toExponential(0)})`;
    }
  }
  if (!rec.ok && !rec.why) rec.why = `disagrees with wasm-xent: loss rel diff ${rec.relDiff.toExponential(2)}${rec.gradRelDiff !== undefined ? `, grad ${rec.gradRelDiff.toExponential(2)}` : ''}${rec.outputRelDiff !== undefined ? `, output ${rec.outputRelDiff.toExponential(2)}` : ''}`;
  return rec;
}

// ---------------------------------------------------------------------------------------------
// Timing: round-robin over the contenders of one (workload, mode), one call per turn.
let sink = 0;
function consume(r) {
  if (typeof r === 'number') sink += r;
  else if (r && typeof r.loss === 'number') sink += r.loss;
  else if (r && r.length) sink += r[0];
}

async function timeGroup(entries, numel, settings = SETTINGS) {
  const { budgetMs, minCalls, maxCalls, warmupCalls } = settings;
  const once = async (c) => {
    if (c.prepare) await c.prepare();
    const t0 = performance.now();
    let r = c.run();
    if (r && typeof r.then === 'function') r = await r;
    const dt = performance.now() - t0;
    consume(r);
    return dt;
  };
  const state = entries.map((c) => ({ c, samples: [], spent: 0, error: null, load: new LoadMeter() }));
  for (let w = 0; w < warmupCalls; w++) {
    for (const s of state) {
      if (s.error) continue;
      try {
        // A contender slower than the whole budget warms up once.
        if (w > 0 && s.spent > budgetMs) continue;
        s.spent += await once(s.c);
      } catch (e) {
        s.error = fmtErr(e);
      }
    }
  }
  for (const s of state) s.spent = 0;
  let active = state.filter((s) => !s.error);
  while (active.length) {
    for (const s of active) {
      try {
        const snap = s.load.start(); // outside once()'s timing: reading /proc/stat costs ~20 us
        const dt = await once(s.c);
        // A pool's workers poll for 1 ms after their share (src/threads.ts SPIN_MS) and the kernel
        // counts a running thread's CPU time into process.cpuUsage() only when it stops or ticks:
        // measured at once, that time lands in the next contender's window, and the 2-thread
        // contenders showed 0.15-0.45 cores of "other load" on an idle machine. So the window
        // stays open until the workers sleep.
        if (s.c.id.endsWith('2t')) for (const until = performance.now() + 2; performance.now() < until;);
        s.load.stop(snap);
        s.samples.push(dt);
        s.spent += dt;
      } catch (e) {
        s.error = fmtErr(e);
      }
    }
    active = active.filter((s) => !s.error && (s.samples.length < minCalls || (s.spent < budgetMs && s.samples.length < maxCalls)));
  }
  const out = {};
  for (const s of state) out[s.c.id] = s.error ? { error: s.error } : { ...summarise(s.samples, numel), ...loadFields(s.load.otherCores()) };
  return out;
}

// ---------------------------------------------------------------------------------------------
// One workload: its data, references, contenders, checks and timings.
async function runWorkload(id, peers, torch) {
  const family = FAMILY_WORKLOADS[id] !== undefined; // W10, W11: bench/family.mjs
  const spec = family ? FAMILY_WORKLOADS[id] : WORKLOADS[id];
  const tW = performance.now();
  const d = family ? makeFamilyWorkload(id) : makeWorkload(id);
  const { shape, numel, x } = d;
  const forwardOnly = id === 'W6';
  const C = shape[1];
  const outer = shape[0];
  const inner = numel / (outer * C);
  const input = { data: x, shape };
  const x64 = Float64Array.from(x);
  const input64 = { data: x64, shape };
  const target64 = d.target instanceof Float32Array ? Float64Array.from(d.target) : d.target;
  const out32 = new Float32Array(numel);
  const out64 = new Float64Array(numel);
  const res = { ...spec, numel, fwd: {}, fwdgrad: {}, checks: {}, notes: {} };

  // wasm-xent calls
  let xentFwd, xentGrad, xentOut, xentF64Fwd, xentF64Out, xentZc, xentZcFwd;
  // The other copies of the package (W1-W6): the relaxed-SIMD build, and both builds on 2 threads;
  // each contender is the mode's main call (forward; forward+gradient into `out`).
  const copies = family ? [] : COPIES.filter((c) => c.lib);
  let copyCalls = () => ({});
  // Zero-copy: the same data in arrays pinned in wasm-xent's memory (read .array at every call).
  const xw = X.wasmArray(Float32Array, numel);
  const gw = X.wasmArray(Float32Array, numel);
  xw.array.set(x);
  const zcInput = () => ({ data: xw.array, shape });
  let yw = null;
  // Zero-copy on another copy of the package (its own memory): arrays pinned there, freed with xw.
  const pinnedIn = [];
  const pin = (L, values) => {
    const a = L.wasmArray(Float32Array, numel);
    if (values) a.array.set(values);
    pinnedIn.push(a);
    return a;
  };
  const zcOf = (L) => ({ x: pin(L, x), g: pin(L, null) });
  const familyFns = family ? familyCalls(X, id, d, { input, input64, target64, zcInput, out32, out64, gw }) : null;
  if (family) {
    ({ xentFwd, xentGrad, xentOut, xentZc, xentF64Fwd, xentF64Out } = familyFns);
  } else if (id === 'W5') {
    const o = { posWeight: d.posWeight };
    xentFwd = () => X.binaryCrossEntropyWithLogits(input, d.target, o);
    xentGrad = () => X.binaryCrossEntropyWithLogits(input, d.target, { ...o, grad: true });
    xentOut = () => X.binaryCrossEntropyWithLogits(input, d.target, { ...o, out: out32 });
    yw = X.wasmArray(Float32Array, numel);
    yw.array.set(d.target);
    xentZc = () => X.binaryCrossEntropyWithLogits(zcInput(), yw.array, { ...o, out: gw.array });
    xentZcFwd = () => X.binaryCrossEntropyWithLogits(zcInput(), yw.array, o);
    xentF64Fwd = () => X.binaryCrossEntropyWithLogits(input64, target64, o);
    xentF64Out = () => X.binaryCrossEntropyWithLogits(input64, target64, { ...o, out: out64 });
    copyCalls = (L) => {
      const z = zcOf(L);
      const y = pin(L, d.target);
      return {
        fwd: () => L.binaryCrossEntropyWithLogits(input, d.target, o), out: () => L.binaryCrossEntropyWithLogits(input, d.target, { ...o, out: out32 }),
        zc: () => L.binaryCrossEntropyWithLogits({ data: z.x.array, shape }, y.array, { ...o, out: z.g.array }),
        zcFwd: () => L.binaryCrossEntropyWithLogits({ data: z.x.array, shape }, y.array, o),
      };
    };
  } else if (id === 'W6') {
    xentFwd = () => X.logSoftmax(input, { dim: -1 });
    xentOut = () => X.logSoftmax(input, { dim: -1, out: out32 });
    xentZc = () => X.logSoftmax(zcInput(), { dim: -1, out: gw.array });
    xentF64Fwd = () => X.logSoftmax(input64, { dim: -1, out: out64 });
    copyCalls = (L) => {
      const z = zcOf(L);
      return { out: () => L.logSoftmax(input, { dim: -1, out: out32 }), zc: () => L.logSoftmax({ data: z.x.array, shape }, { dim: -1, out: z.g.array }) };
    };
  } else {
    const o = {};
    if (d.weight) o.weight = d.weight;
    if (d.labelSmoothing) o.labelSmoothing = d.labelSmoothing;
    if (d.ignoreIndex !== undefined) o.ignoreIndex = d.ignoreIndex;
    const tgt = { data: d.target, shape: d.target instanceof Float32Array ? shape : [outer, ...shape.slice(2)] };
    const tgt64 = { data: target64, shape: tgt.shape };
    xentFwd = () => X.crossEntropy(input, tgt, o);
    xentGrad = () => X.crossEntropy(input, tgt, { ...o, grad: true });
    xentOut = () => X.crossEntropy(input, tgt, { ...o, out: out32 });
    // W4's probability target is as large as the input: pinned too, or "zero-copy" would still
    // copy 16M floats on the calling thread per call (as BCE's target is, W5)
    const soft = d.target instanceof Float32Array;
    if (soft) {
      yw = X.wasmArray(Float32Array, numel);
      yw.array.set(d.target);
    }
    const zcTarget = () => (soft ? { data: yw.array, shape } : tgt);
    xentZc = () => X.crossEntropy(zcInput(), zcTarget(), { ...o, out: gw.array });
    xentZcFwd = () => X.crossEntropy(zcInput(), zcTarget(), o);
    xentF64Fwd = () => X.crossEntropy(input64, tgt64, o);
    xentF64Out = () => X.crossEntropy(input64, tgt64, { ...o, out: out64 });
    copyCalls = (L) => {
      const z = zcOf(L);
      const y = soft ? pin(L, d.target) : null;
      const zcTgt = soft ? { data: y.array, shape } : tgt;
      return {
        fwd: () => L.crossEntropy(input, tgt, o), out: () => L.crossEntropy(input, tgt, { ...o, out: out32 }),
        zc: () => L.crossEntropy({ data: z.x.array, shape }, zcTgt, { ...o, out: z.g.array }),
        zcFwd: () => L.crossEntropy({ data: z.x.array, shape }, zcTgt, o),
      };
    };
  }
  // Half-precision logits (issue 12), W1 only: the logits rounded to bfloat16 (nearest even), as raw bits.
  let bf16 = null;
  if (id === 'W1') {
    const u = new Uint32Array(x.buffer, x.byteOffset, numel);
    const bits = Uint16Array.from(u, (b) => (b + 0x7fff + ((b >>> 16) & 1)) >>> 16);
    const decoded = new Float32Array(Uint32Array.from(bits, (h) => h << 16).buffer);
    const half = { data: bits, shape, dtype: 'bfloat16' };
    bf16 = {
      ref: X.crossEntropy({ data: decoded, shape }, d.target, { grad: true }),
      fwd: () => X.crossEntropy(half, d.target),
      out: () => X.crossEntropy(half, d.target, { out: out32 }),
    };
  }

  // The reference every contender is checked against: wasm-xent float32, default path.
  let ref;
  if (forwardOnly) {
    const y = xentFwd();
    ref = { loss: mean(y), output: y };
  } else {
    const r = xentGrad();
    ref = { loss: r.loss, grad: r.grad };
  }
  res.reference = ref.loss;
  const refs = { main: ref };
  const positions = outer * inner;
  if (id === 'W5') {
    ref.f32seq = () => f32SeqMean(X.binaryCrossEntropyWithLogits(input, d.target, { posWeight: d.posWeight, reduction: 'none' }).loss, null, numel);
  } else if (!forwardOnly && !family) {
    const tgt = { data: d.target, shape: d.target instanceof Float32Array ? shape : [outer, ...shape.slice(2)] };
    const o = { reduction: 'none' };
    if (d.weight) o.weight = d.weight;
    if (d.labelSmoothing) o.labelSmoothing = d.labelSmoothing;
    // Per-position weights of the 'mean': the class weight of the target, 0 where ignored.
    const w = d.weight ? Float32Array.from(d.target, (t) => d.weight[t]) : d.ignoreIndex !== undefined ? Float32Array.from(d.target, (t) => (t === d.ignoreIndex ? 0 : 1)) : null;
    ref.f32seq = () => f32SeqMean(X.crossEntropy(input, tgt, o).loss, w, positions);
  }

  const entries = { fwd: [], fwdgrad: [] };
  const skipped = { fwd: {}, fwdgrad: {} };
  const add = (mode, c) => entries[mode].push(c);
  const skip = (modes, cid, why) => modes.forEach((m) => (skipped[m][cid] = why));
  const both = forwardOnly ? ['fwd'] : ['fwd', 'fwdgrad'];

  // --- wasm-xent
  if (forwardOnly) add('fwd', { id: 'xent-out', run: xentOut, check: () => wrapOut(xentOut()) });
  if (forwardOnly) add('fwd', { id: 'xent-zc', run: xentZc, check: () => wrapOut(xentZc()) });
  add('fwd', { id: 'xent', run: xentFwd, check: () => (forwardOnly ? wrapOut(xentFwd()) : { loss: xentFwd().loss }) });
  add('fwd', { id: 'xent-f64', run: xentF64Fwd, check: () => (forwardOnly ? wrapOut(xentF64Fwd()) : { loss: xentF64Fwd().loss }) });
  if (!forwardOnly && xentZcFwd) add('fwd', { id: 'xent-zc', run: xentZcFwd, check: () => ({ loss: xentZcFwd().loss }) });
  for (const c of copies) {
    const { fwd, out, zc, zcFwd } = copyCalls(c.lib);
    if (forwardOnly) add('fwd', { id: c.id, run: out, check: () => wrapOut(out()) });
    else {
      add('fwd', { id: c.id, run: fwd, check: () => ({ loss: fwd().loss }) });
      add('fwdgrad', { id: c.id, run: out, check: () => out() });
    }
    if (c.id === 'xent-2t' && zc) add(forwardOnly ? 'fwd' : 'fwdgrad', { id: 'xent-zc-2t', run: zc, check: () => (forwardOnly ? wrapOut(zc()) : zc()) });
    if (c.id === 'xent-relaxed' && zc) add(forwardOnly ? 'fwd' : 'fwdgrad', { id: 'xent-relaxed-zc', run: zc, check: () => (forwardOnly ? wrapOut(zc()) : zc()) });
    if (c.id === 'xent-relaxed' && zcFwd) add('fwd', { id: 'xent-relaxed-zc', run: zcFwd, check: () => ({ loss: zcFwd().loss }) });
  }
  if (!family) for (const c of COPIES) if (!c.lib) skip(both, c.id, c.why);
  if (!family && !RELAXED.lib) skip(both, 'xent-relaxed-zc', RELAXED.why);
  if (!forwardOnly) {
    add('fwdgrad', { id: 'xent-out', run: xentOut, check: () => xentOut() });
    add('fwdgrad', { id: 'xent-zc', run: xentZc, check: () => xentZc() });
    add('fwdgrad', { id: 'xent', run: xentGrad, check: () => xentGrad() });
    add('fwdgrad', { id: 'xent-f64', run: xentF64Out, check: () => xentF64Out() });
  }
  if (bf16) {
    refs.bf16 = { loss: bf16.ref.loss, grad: bf16.ref.grad };
    add('fwd', { id: 'xent-bf16', run: bf16.fwd, check: () => ({ loss: bf16.fwd().loss }), refKey: 'bf16' });
    add('fwdgrad', { id: 'xent-bf16', run: bf16.out, check: () => bf16.out(), refKey: 'bf16' });
  }

  // --- plain JS
  let nFwd, nGrad;
  if (family) {
    nFwd = familyFns.naiveFwd;
    nGrad = familyFns.naiveGrad;
  } else if (id === 'W5') {
    nFwd = () => naive.bceWithLogits(x, d.target, C, { posWeight: d.posWeight });
    nGrad = () => naive.bceWithLogits(x, d.target, C, { posWeight: d.posWeight, grad: true });
  } else if (id === 'W6') {
    nFwd = () => naive.logSoftmax(x, outer, C, inner);
  } else if (id === 'W4') {
    nFwd = () => naive.crossEntropyProbs(x, outer, C, inner, d.target);
    nGrad = () => naive.crossEntropyProbs(x, outer, C, inner, d.target, { grad: true });
  } else {
    const o = { weight: d.weight || null, ignoreIndex: d.ignoreIndex ?? -100, labelSmoothing: d.labelSmoothing || 0 };
    nFwd = () => naive.crossEntropyIndex(x, outer, C, inner, d.target, o);
    nGrad = () => naive.crossEntropyIndex(x, outer, C, inner, d.target, { ...o, grad: true });
  }
  if (!SKIP.has('naive')) {
    add('fwd', { id: 'naive', run: nFwd, check: () => (forwardOnly ? wrapOut(nFwd()) : { loss: nFwd().loss }) });
    if (!forwardOnly) add('fwdgrad', { id: 'naive', run: nGrad, check: () => nGrad() });
  } else skip(both, 'naive', 'skipped (--skip)');

  // --- TensorFlow.js
  const tfTensors = [];
  const { tf } = peers.tfjs;
  for (const backend of ['wasm', 'cpu']) {
    const cid = `tfjs-${backend}`;
    const b = peers.tfjs.backends[backend];
    if (family) {
      skip(both, cid, 'not run: no such loss in tfjs');
      continue;
    }
    if (SKIP.has(cid)) {
      skip(both, cid, QUICK && backend === 'cpu' ? 'skipped in --quick (~350-450 ns/elem, seconds per call)' : 'skipped (--skip)');
      continue;
    }
    if (!b.ok) {
      skip(both, cid, b.why);
      continue;
    }
    // tfjs-cpu takes seconds per call on the 16M-element W2: too slow to time usefully.
    if (backend === 'cpu' && id === 'W2') {
      skip(both, cid, 'not run: ~6 s per call on 16M elements (see W1 for its speed)');
      continue;
    }
    await tf.setBackend(backend);
    const prepare = () => (tf.getBackend() === backend ? undefined : tf.setBackend(backend));
    const keep = (t) => (tfTensors.push(t), t);
    // Labels and weights are built outside the timing; tidy() drops the intermediates.
    const tx = keep(tf.tensor(x, shape, 'float32'));
    let lossFn; // logits tensor -> scalar loss tensor
    let note = '';
    if (id === 'W1') {
      const labels = keep(tf.tidy(() => tf.oneHot(tf.tensor1d(d.target, 'int32'), C).toFloat()));
      lossFn = (v) => tf.losses.softmaxCrossEntropy(labels, v);
      note = 'softmaxCrossEntropy on one-hot labels built outside the timing';
    } else if (id === 'W2') {
      const labels = keep(tf.tidy(() => tf.oneHot(tf.tensor1d(d.target, 'int32'), C).toFloat()));
      const rowWeight = keep(tf.tensor1d(Float32Array.from(d.target, (t) => (t === d.ignoreIndex ? 0 : 1))));
      lossFn = (v) => tf.losses.softmaxCrossEntropy(labels, v, rowWeight, d.labelSmoothing);
      note = 'ignore_index as 0/1 row weights (SUM_BY_NONZERO_WEIGHTS) + its own labelSmoothing: same loss as torch';
    } else if (id === 'W3') {
      const [N, Cc, H, W] = shape;
      const labels = keep(tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from(d.target), 'int32'), Cc).toFloat()));
      const posWeight = keep(tf.tensor1d(Float32Array.from(d.target, (t) => d.weight[t])));
      lossFn = (v) => tf.losses.softmaxCrossEntropy(labels, tf.reshape(tf.transpose(v, [0, 2, 3, 1]), [N * H * W, Cc]), posWeight, 0, tf.Reduction.MEAN);
      note = 'needs a transpose: NCHW -> NHWC inside the timed call; class weight as per-position weights (MEAN)';
    } else if (id === 'W4') {
      const labels = keep(tf.tensor(d.target, shape, 'float32'));
      lossFn = (v) => tf.losses.softmaxCrossEntropy(labels, v);
      note = 'soft labels passed as the label tensor';
    } else if (id === 'W5') {
      // pos_weight is not an option of tfjs; for 0/1 targets it equals an element weight 1 + (pw - 1) * y.
      const y = keep(tf.tensor(d.target, shape, 'float32'));
      const ew = new Float32Array(numel);
      for (let i = 0; i < numel; i++) ew[i] = 1 + (d.posWeight[i % C] - 1) * d.target[i];
      const w = keep(tf.tensor(ew, shape, 'float32'));
      const inv = keep(tf.scalar(1 / numel));
      lossFn = (v) => tf.mul(tf.losses.sigmoidCrossEntropy(y, v, w, 0, tf.Reduction.SUM), inv);
      note = 'no posWeight in tfjs: emulated by element weights 1+(pw-1)y (exact for 0/1 targets), SUM / numel';
    }
    res.notes[cid] = note;
    if (forwardOnly) {
      const run = () => scoped(tf, () => tf.logSoftmax(tx).dataSync());
      add('fwd', { id: cid, prepare, run, check: async () => (await prepare(), wrapOut(run())) });
    } else {
      const fwd = () => scoped(tf, () => lossFn(tx).dataSync()[0]);
      const vg = tf.valueAndGrad(lossFn);
      const grad = () => scoped(tf, () => {
        const { value, grad: g } = vg(tx);
        return { loss: value.dataSync()[0], grad: g.dataSync() };
      });
      add('fwd', { id: cid, prepare, run: fwd, check: async () => (await prepare(), { loss: fwd() }) });
      add('fwdgrad', { id: cid, prepare, run: grad, check: async () => (await prepare(), grad()) });
    }
  }

  // --- onnxruntime-web (forward only)
  let session = null;
  if (SKIP.has('ort')) skip(both, 'ort', 'skipped (--skip)');
  else if (!peers.ort.ok) skip(both, 'ort', peers.ort.why);
  else if (family) skip(both, 'ort', 'no ONNX operator for this loss');
  else if (id === 'W5') skip(both, 'ort', 'no ONNX operator for BCE with logits (would be a multi-node graph)');
  else {
    const { ort } = peers.ort;
    try {
      if (!forwardOnly) skip(['fwdgrad'], 'ort', 'forward only (inference runtime)');
      let model;
      let feeds;
      let refKey = 'main';
      const scores = new ort.Tensor('float32', x, shape);
      const labels = (t) => new ort.Tensor('int64', BigInt64Array.from(t, (v) => BigInt(v)), [outer, ...shape.slice(2)]);
      if (id === 'W6') {
        model = logSoftmaxModel({ shape, axis: -1 });
        feeds = { x: scores };
        res.notes.ort = 'one LogSoftmax node (opset 13, axis -1); output read back';
      } else if (id === 'W4') {
        // No soft labels in SoftmaxCrossEntropyLoss: the closest is hard labels (argmax of the probabilities).
        const hard = new Int32Array(outer);
        for (let i = 0; i < outer; i++) {
          let best = 0;
          for (let c = 1; c < C; c++) if (d.target[i * C + c] > d.target[i * C + best]) best = c;
          hard[i] = best;
        }
        refs.hard = { loss: X.crossEntropy(input, hard).loss, f32seq: () => f32SeqMean(X.crossEntropy(input, hard, { reduction: 'none' }).loss, null, outer) };
        refKey = 'hard';
        model = softmaxCrossEntropyModel({ shape, labelType: INT64 });
        feeds = { scores, labels: labels(hard) };
        res.notes.ort = 'no soft labels in SoftmaxCrossEntropyLoss: timed on hard labels (argmax of the targets), checked against wasm-xent on the same';
      } else {
        const attrs = {};
        if (id === 'W2') {
          attrs.ignoreIndex = d.ignoreIndex;
          refs.noSmoothing = {
            loss: X.crossEntropy(input, d.target, { ignoreIndex: d.ignoreIndex }).loss,
            f32seq: () => f32SeqMean(X.crossEntropy(input, d.target, { ignoreIndex: d.ignoreIndex, reduction: 'none' }).loss, Float32Array.from(d.target, (t) => (t === d.ignoreIndex ? 0 : 1)), 0),
          };
          refKey = 'noSmoothing';
          res.notes.ort = 'ignore_index attribute; no label smoothing in SoftmaxCrossEntropyLoss: timed without it, checked against wasm-xent without it';
        } else if (id === 'W3') {
          res.notes.ort = 'scores [8,21,128,128] NCHW, int64 labels, weights input [21]';
        } else {
          res.notes.ort = 'int64 labels (converted outside the timing)';
        }
        model = softmaxCrossEntropyModel({ shape, labelType: INT64, weights: Boolean(d.weight), ...attrs });
        feeds = { scores, labels: labels(d.target) };
        if (d.weight) feeds.weights = new ort.Tensor('float32', d.weight, [C]);
      }
      session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
      const run = forwardOnly
        ? async () => (await session.run(feeds)).y.data
        : async () => (await session.run(feeds)).loss.data[0];
      const check = forwardOnly ? async () => wrapOut(await run()) : async () => ({ loss: await run() });
      add('fwd', { id: 'ort', run, check, refKey });
    } catch (e) {
      skip(both, 'ort', `onnxruntime-web failed on this model: ${fmtErr(e)}`);
    }
  }

  await checkAndTime(id, res, entries, skipped, refs, ref, torch, forwardOnly);

  for (const t of tfTensors) t.dispose();
  for (const w of [xw, gw, yw, ...pinnedIn]) w?.free();
  if (session) await session.release();
  res.seconds = (performance.now() - tW) / 1000;
  const show = (mode) => Object.entries(res[mode]).map(([k, v]) => `${k} ${v.median !== undefined ? v.median.toFixed(2) : v.excluded ? 'EXCLUDED' : v.error ? 'ERROR' : '-'}`).join(', ');
  log(`${id} (${res.seconds.toFixed(1)} s)\n  fwd:      ${show('fwd')}${forwardOnly ? '' : `\n  fwd+grad: ${show('fwdgrad')}`}`);
  for (const [k, c] of Object.entries(res.checks)) if (!c.ok || c.note) log(`  check ${k}: ${c.ok ? c.note : c.why}`);
  return res;
}

/** Checks every contender against the reference before timing (excluding those that disagree),
 *  checks PyTorch's loss (relative torchTol), then times each mode; fills res. */
async function checkAndTime(id, res, entries, skipped, refs, ref, torch, forwardOnly, torchTol = F32_TOL) {
  // --- Correctness before timing
  for (const mode of ['fwd', 'fwdgrad']) {
    const kept = [];
    for (const c of entries[mode]) {
      const key = `${c.id}/${mode}`;
      try {
        const got = await c.check();
        const rec = compare(got, refs[c.refKey || 'main']);
        rec.against = c.refKey && c.refKey !== 'main' ? c.refKey : 'main';
        res.checks[key] = rec;
        if (rec.ok) kept.push(c);
        else res[mode][c.id] = { excluded: rec.why };
      } catch (e) {
        res.checks[key] = { ok: false, why: fmtErr(e) };
        res[mode][c.id] = { error: fmtErr(e) };
      }
    }
    entries[mode] = kept;
  }
  // PyTorch's loss on the same data (computed by torch_bench.py)
  if (torch.data && torch.data.losses && torch.data.losses[id] !== undefined) {
    const rec = compare({ loss: torch.data.losses[id] }, ref, torchTol);
    rec.against = 'main';
    res.checks['torch/all'] = rec;
  }

  // --- Timing
  for (const mode of ['fwd', 'fwdgrad']) {
    if (forwardOnly && mode === 'fwdgrad') continue;
    Object.assign(res[mode], await timeGroup(entries[mode], res.numel));
    for (const [cid, why] of Object.entries(skipped[mode])) res[mode][cid] = { skipped: why };
    const tr = torch.data?.results?.[id]?.[mode];
    for (const n of ['1', '2']) {
      const cid = `torch-${n}`;
      if (!tr || !tr[n]) res[mode][cid] = { skipped: torch.data ? 'not in the torch results' : `no PyTorch figures (${torch.why})` };
      else if (res.checks['torch/all'] && !res.checks['torch/all'].ok) res[mode][cid] = { excluded: res.checks['torch/all'].why };
      else res[mode][cid] = { ...tr[n], external: true };
    }
  }
}

/** W9, CTC: wasm-xent (out, default, zero-copy, float64), the plain-JS peer and PyTorch; neither
 *  TensorFlow.js nor ONNX has a CTC loss. */
async function runCtcWorkload(id, torch) {
  const spec = WORKLOADS[id];
  const tW = performance.now();
  const { shape, numel, x, target, S, inputLengths, targetLengths } = makeWorkload(id);
  const [T, N, C] = shape;
  const input = { data: x, shape };
  const input64 = { data: Float64Array.from(x), shape };
  const tgt = { data: target, shape: [N, S] };
  const out32 = new Float32Array(numel);
  const out64 = new Float64Array(numel);
  const xw = X.wasmArray(Float32Array, numel);
  const gw = X.wasmArray(Float32Array, numel);
  xw.array.set(x);
  const ctc = (inp, o) => X.ctcLoss(inp, tgt, inputLengths, targetLengths, o);
  const res = { ...spec, numel, fwd: {}, fwdgrad: {}, checks: {}, notes: {} };
  const ref = ctc(input, { grad: true });
  res.reference = ref.loss;
  const entries = { fwd: [], fwdgrad: [] };
  const skipped = { fwd: {}, fwdgrad: {} };
  const add = (mode, run) => (c) => entries[mode].push({ id: c, run: run[c], check: () => (mode === 'fwd' ? { loss: run[c]().loss } : run[c]()) });
  const fwd = {
    xent: () => ctc(input),
    'xent-f64': () => ctc(input64),
    naive: () => naive.ctcLoss(x, T, N, C, target, S),
  };
  const grad = {
    'xent-out': () => ctc(input, { out: out32 }),
    'xent-zc': () => ctc({ data: xw.array, shape }, { out: gw.array }),
    xent: () => ctc(input, { grad: true }),
    'xent-f64': () => ctc(input64, { out: out64 }),
    naive: () => naive.ctcLoss(x, T, N, C, target, S, { grad: true }),
  };
  // The 2-thread copy (ctcLoss gives each thread a range of batch elements).
  const two = COPIES.find((c) => c.id === 'xent-2t');
  if (two?.lib) {
    fwd['xent-2t'] = () => two.lib.ctcLoss(input, tgt, inputLengths, targetLengths);
    grad['xent-2t'] = () => two.lib.ctcLoss(input, tgt, inputLengths, targetLengths, { out: out32 });
  }
  Object.keys(fwd).filter((c) => !SKIP.has(c)).forEach(add('fwd', fwd));
  Object.keys(grad).filter((c) => !SKIP.has(c)).forEach(add('fwdgrad', grad));
  for (const mode of ['fwd', 'fwdgrad']) {
    if (two && !two.lib) skipped[mode]['xent-2t'] = two.why;
    skipped[mode]['tfjs-wasm'] = skipped[mode]['tfjs-cpu'] = 'TensorFlow.js has no CTC loss';
    skipped[mode].ort = 'no CTC loss operator in ONNX';
    if (SKIP.has('naive')) skipped[mode].naive = 'skipped (--skip)';
  }
  res.notes.naive = 'bench/naive.mjs ctcLoss: log-space alpha-beta in Float64Arrays, Math.exp/Math.log';
  await checkAndTime(id, res, entries, skipped, { main: ref }, ref, torch, false);
  xw.free();
  gw.free();
  res.seconds = (performance.now() - tW) / 1000;
  const show = (mode) => Object.entries(res[mode]).map(([k, v]) => `${k} ${v.median !== undefined ? v.median.toFixed(2) : v.excluded ? 'EXCLUDED' : v.error ? 'ERROR' : '-'}`).join(', ');
  log(`${id} (${res.seconds.toFixed(1)} s)\n  fwd:      ${show('fwd')}\n  fwd+grad: ${show('fwdgrad')}`);
  for (const [k, c] of Object.entries(res.checks)) if (!c.ok || c.note) log(`  check ${k}: ${c.ok ? c.note : c.why}`);
  return res;
}

/** W12, tokenScores (bench/tokens.mjs): wasm-xent (default, zero-copy, float64), the plain-JS peer
 *  and PyTorch, forward only (an evaluation op); then wasm-xent's tokenScores against its own
 *  crossEntropy forward on the same data, interleaved, for the issue's 1.3x target. W12-bf16: the
 *  same on the logits rounded to bfloat16 (wasm-xent on the bits, plain JS on the decoded values,
 *  PyTorch on a bfloat16 tensor), every contender checked against float32 tokenScores of the
 *  decoded values. */
async function runTokensWorkload(id, torch) {
  const spec = TOKEN_WORKLOADS[id];
  const bf16 = id === 'W12-bf16';
  const tW = performance.now();
  const d = makeTokensWorkload();
  const { shape, numel, x } = d;
  const input64 = bf16 ? null : { data: Float64Array.from(x), shape };
  const xw = bf16 ? null : X.wasmArray(Float32Array, numel);
  xw?.array.set(x);
  const calls = tokenCalls(X, d, { input64, zcInput: () => ({ data: xw.array, shape }) });
  const res = { ...spec, numel, fwd: {}, fwdgrad: {}, checks: {}, notes: {} };
  const scores = bf16 ? calls.decoded() : calls.xent();
  const ref = tokenCheck(scores, null);
  res.reference = ref.loss;
  const entries = { fwd: [], fwdgrad: [] };
  const skipped = { fwd: {}, fwdgrad: {} };
  const timed = bf16 ? { 'xent-bf16': calls['xent-bf16'], naive: calls.naiveBf16 } : { xent: calls.xent, 'xent-zc': calls['xent-zc'], 'xent-f64': calls['xent-f64'], naive: calls.naive };
  for (const [c, run] of Object.entries(timed)) {
    if (SKIP.has(c)) skipped.fwd[c] = 'skipped (--skip)';
    else entries.fwd.push({ id: c, run, check: () => tokenCheck(run(), scores) });
  }
  skipped.fwd['tfjs-wasm'] = skipped.fwd['tfjs-cpu'] = 'TensorFlow.js has no such op (tf.topk and a log-softmax, unfused)';
  skipped.fwd.ort = 'no such operator in ONNX';
  res.notes.naive = `bench/tokens.mjs naiveTokenScores: per row max, float64 sums of Math.exp, rank, top 5 by insertion${bf16 ? ', on the decoded float32 values' : ''}`;
  // PyTorch computes in bfloat16: its log-probabilities are rounded to bfloat16 (relative error
  // <= 2^-9 each), so its mean logProb is checked to 2^-8.
  if (bf16) res.notes['torch-1'] = 'a torch.bfloat16 tensor: logsumexp, log_softmax, special.entr, argmax, gather, topk all run in bfloat16 on the CPU (none upcast); its check value, the mean logProb, is checked to 2^-8 relative (bfloat16 log-probabilities)';
  await checkAndTime(id, res, entries, skipped, { main: ref }, ref, torch, true, bf16 ? 2 ** -8 : F32_TOL);
  const main = bf16 ? calls['xent-bf16'] : calls.xent;
  const same = await timeGroup([{ id: 'tokenScores', run: main }, { id: 'w2', run: bf16 ? calls.ceBf16W2 : calls.ceW2 }, { id: 'plain', run: bf16 ? calls.ceBf16Plain : calls.cePlain }], numel);
  const ratio = (k) => same.tokenScores.median / same[k].median;
  res.crossEntropyForward = { tokenScores: same.tokenScores, w2: same.w2, plain: same.plain, tokenScoresOverW2: ratio('w2'), tokenScoresOverPlain: ratio('plain') };
  res.notes[bf16 ? 'xent-bf16' : 'xent'] = `tokenScores topK 5 against crossEntropy's forward on the same ${bf16 ? 'bfloat16 ' : ''}data, interleaved in this run: ${same.tokenScores.median.toFixed(2)} ns/elem = ${ratio('w2').toFixed(2)}x W2's call (${same.w2.median.toFixed(2)}, label smoothing 0.1), ${ratio('plain').toFixed(2)}x the default call (${same.plain.median.toFixed(2)}); issue 12's target: within 1.3x`;
  xw?.free();
  res.seconds = (performance.now() - tW) / 1000;
  const show = Object.entries(res.fwd).map(([k, v]) => `${k} ${v.median !== undefined ? v.median.toFixed(2) : v.excluded ? 'EXCLUDED' : v.error ? 'ERROR' : '-'}`).join(', ');
  log(`${id} (${res.seconds.toFixed(1)} s)\n  fwd:      ${show}\n  ${res.notes[bf16 ? 'xent-bf16' : 'xent']}`);
  for (const [k, c] of Object.entries(res.checks)) if (!c.ok || c.note) log(`  check ${k}: ${c.ok ? c.note : c.why}`);
  return res;
}

/** Runs fn in a tfjs engine scope that frees every tensor it made; returns fn's plain (non-tensor)
 *  value. (tf.tidy would walk a returned typed array element by element.) */
function scoped(tf, fn) {
  tf.engine().startScope();
  try {
    return fn();
  } finally {
    tf.engine().endScope();
  }
}

function wrapOut(y) {
  return { loss: mean(y), output: y };
}

// ---------------------------------------------------------------------------------------------
// ---------------------------------------------------------------------------------------------
// The shapes table: wasm-xent (float32, into `out`) against the plain-JS peer, shape by shape.
async function runShapes() {
  const tS = performance.now();
  const budgetMs = Number(opt('budget') || (QUICK ? 100 : 400));
  const settings = { budgetMs, minCalls: 5, maxCalls: 1000, warmupCalls: 1 };
  const cases = [];
  const all = shapeCases(X);
  // Every shape is called a few times before any is timed: the shapes share the loader's JS, and
  // without this the first shape timed carried V8's tier-up of it (ce-C2: p10 5.2, median 6.9).
  for (const c of all) if (!c.check()) for (let w = 0; w < 3; w++) { c.xent(); c.naive(); }
  for (const c of all) {
    const why = c.check();
    const rec = { id: c.id, group: c.group, what: c.what, shape: c.shape, numel: c.numel, forwardOnly: Boolean(c.forwardOnly), check: why ?? 'ok' };
    if (why) rec['xent-out'] = rec.naive = { excluded: why };
    else Object.assign(rec, await timeGroup([{ id: 'xent-out', run: c.xent }, { id: 'naive', run: c.naive }], c.numel, settings));
    cases.push(rec);
    const m = (id) => (rec[id].median !== undefined ? rec[id].median.toFixed(2) : 'EXCLUDED');
    log(`  ${c.id.padEnd(24)} wasm-xent ${m('xent-out').padStart(7)}  plain JS ${m('naive').padStart(7)}${why ? `  (${why})` : ''}`);
  }
  return { settings, seconds: (performance.now() - tS) / 1000, cases };
}

const FLAG = '--experimental-wasm-relaxed-simd';
/** Set by main(): the relaxed-SIMD build's copy of the package, or why there is none. */
let RELAXED = { lib: null, why: '' };
/** Set by main(): every extra copy of the package with its contender id ('xent-relaxed', 'xent-2t',
 *  'xent-relaxed-2t'), or why it is missing. */
let COPIES = [];

/** A second copy of the package (dist/esm copied to build/bench/relaxed-copy/) that loads the
 *  relaxed-SIMD build while X keeps the SIMD one. A copy, not a second import: one process shares
 *  one module per package version (the state key names VERSION), so the copy's VERSION is
 *  suffixed; a query-string import would share the loader module anyway. */
async function loadRelaxed() {
  return loadCopy('xent-relaxed', 'relaxed-simd', 1);
}

/** A copy of the package (dist/esm copied to build/bench/<id>-copy/) on `build` with `threads`
 *  threads, beside X in this process (see loadRelaxed), for contender `id`. */
async function loadCopy(id, build, threads) {
  if (SKIP.has(id)) return { id, lib: null, why: 'skipped (--skip)' };
  if (build === 'relaxed-simd' && !X.relaxedSimdSupported()) return { id, lib: null, why: `Node ${process.version} runs no relaxed SIMD${process.execArgv.includes(FLAG) ? ', even with ' + FLAG : ''}` };
  const dir = path.join(ROOT, 'build', 'bench', `${id}-copy`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.cpSync(path.join(ROOT, 'dist', 'esm'), path.join(dir, 'esm'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'dist', 'xent-relaxed.wasm'), path.join(dir, 'xent-relaxed.wasm'));
  const loader = path.join(dir, 'esm', 'loader.js');
  fs.writeFileSync(loader, fs.readFileSync(loader, 'utf8').replace(/const VERSION = '([^']+)'/, `const VERSION = '$1+bench-${id}'`));
  const lib = await import(pathToFileURL(path.join(dir, 'esm', 'index.js')).href);
  await lib.init({ build });
  if (lib.wasmBuild() !== build || X.wasmBuild() !== 'simd') throw new Error(`bench: the ${id} copy loaded ${lib.wasmBuild()} beside ${X.wasmBuild()}`);
  if (threads > 1 && (await lib.setThreads(threads)) !== threads) return { id, lib: null, why: `setThreads(${threads}) gave ${lib.getThreads()}` };
  return { id, lib, why: '' };
}

/** Every timed result marked as run under load: "W1 fwd torch-1 (0.45 cores)". */
function loadedResults(workloads, shapes, lm) {
  const out = [];
  for (const [id, rec] of Object.entries(lm || {})) for (const [cid, r] of Object.entries(rec.rows)) if (r.loaded) out.push(`${id} ${cid} (${r.otherLoad} cores)`);
  for (const [id, W] of Object.entries(workloads)) {
    for (const mode of ['fwd', 'fwdgrad']) for (const [cid, r] of Object.entries(W[mode] || {})) if (r.loaded) out.push(`${id} ${mode} ${cid} (${r.otherLoad} cores)`);
  }
  for (const c of shapes?.cases || []) for (const cid of ['xent-out', 'naive']) if (c[cid]?.loaded) out.push(`shapes ${c.id} ${cid} (${c[cid].otherLoad} cores)`);
  return out;
}

async function main() {
  // Node 20 validates relaxed SIMD only with a V8 flag, which NODE_OPTIONS does not accept: run
  // again with it (Node 22+ needs none).
  if (!X.relaxedSimdSupported() && !process.execArgv.includes(FLAG) && !SKIP.has('xent-relaxed')) {
    const r = spawnSync(process.execPath, [FLAG, ...process.execArgv, fileURLToPath(import.meta.url), ...argv], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
  log(`wasm-xent bench${QUICK ? ' (quick)' : ''}: ${WORKLOAD_IDS.join(' ')}; ${SETTINGS.budgetMs} ms per contender and mode, >= ${SETTINGS.minCalls} calls`);
  const meta = machine();
  const torch = runTorch();
  if (torch.source !== 'ran' && W_IDS.length) log(`PyTorch: ${torch.why}; ${torch.data ? 'using the committed bench/torch-results.json' : 'no figures'}`);
  await X.init({ build: 'simd' });
  RELAXED = await loadRelaxed();
  if (!RELAXED.lib) log(`wasm-xent relaxed: ${RELAXED.why}`);
  COPIES = [RELAXED, await loadCopy('xent-2t', 'simd', 2), await loadCopy('xent-relaxed-2t', 'relaxed-simd', 2)];
  for (const c of COPIES.slice(1)) if (!c.lib) log(`wasm-xent ${c.id}: ${c.why}`);
  const peers = W_IDS.length ? { tfjs: await loadTfjs(), ort: await loadOrt() } : null;
  if (peers) {
    for (const [name, b] of Object.entries(peers.tfjs.backends)) if (!b.ok) log(`tfjs-${name}: ${b.why}`);
    if (!peers.ort.ok) log(`ORT-web: ${peers.ort.why}`);
  }
  const workloads = {};
  // W7, W8 (bench/lm.mjs) first, on the fresh module: their peak memory is the growth of wasm memory.
  const lmIds = W_IDS.filter((id) => id in LM_WORKLOADS);
  let lm = null;
  if (lmIds.length) {
    log('LM head (bench/lm.mjs): fused linearCrossEntropy against tfjs-wasm and PyTorch');
    const tfWasm = peers.tfjs.backends.wasm.ok ? peers.tfjs.tf : null;
    if (tfWasm) await tfWasm.setBackend('wasm');
    const torchLm = runTorchLm(lmIds);
    for (const w of torchLm.why) log(`PyTorch LM head: ${w}`);
    lm = await runLm(lmIds, { X, X2: COPIES.find((c) => c.id === 'xent-2t')?.lib ?? null, tf: tfWasm, torch: torchLm.res, quick: QUICK, log });
  }
  for (const id of W_IDS.filter((i) => !(i in LM_WORKLOADS))) workloads[id] = id === 'W9' ? await runCtcWorkload(id, torch) : id in TOKEN_WORKLOADS ? await runTokensWorkload(id, torch) : await runWorkload(id, peers, torch);
  let shapes = null;
  if (SHAPES) {
    log('shapes (float32, into out; ns/elem):');
    shapes = await runShapes();
  }
  meta.torch = torch.data
    ? { source: torch.source, why: torch.why, version: torch.data.torch, numpy: torch.data.numpy, capability: torch.data.capability, date: torch.data.date, quick: torch.data.quick }
    : { source: 'none', why: torch.why };
  meta.tfjsWasmBinary = peers?.tfjs.backends.wasm.binary || null;
  const doc = {
    meta: { ...meta, quick: QUICK, partial: PARTIAL, workloads: WORKLOAD_IDS, settings: { ...SETTINGS, f32Tolerance: F32_TOL, gradTolerance: GRAD_TOL }, totalSeconds: (performance.now() - T0) / 1000, sink: Number.isFinite(sink) },
    contenders: CONTENDERS,
    workloads,
    shapes,
    lm,
  };
  doc.meta.loadLimit = LOAD_LIMIT;
  doc.meta.loaded = loadedResults(workloads, shapes, lm);
  doc.meta.allowLoad = Boolean(opt('allow-load'));
  let outDir = OUT_DIR;
  if (doc.meta.loaded.length) {
    log(`Other processes used more than ${LOAD_LIMIT} of a core during: ${doc.meta.loaded.join('; ')}`);
    if (outDir === HERE && !doc.meta.allowLoad) {
      outDir = path.join(ROOT, 'build', 'bench');
      process.exitCode = 1;
      log(`bench: not writing the committed bench/ files from a loaded machine; wrote ${path.relative(ROOT, outDir)}/ instead. Run again on a quiet machine, or pass --allow-load to commit them marked.`);
    }
  }
  fs.mkdirSync(outDir, { recursive: true });
  writeReport(doc, outDir);
  log(`wrote ${path.relative(ROOT, outDir) || '.'}/RESULTS.md, results.svg, results.json in ${doc.meta.totalSeconds.toFixed(1)} s`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
