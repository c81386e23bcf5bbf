// W7 and W8 (issue 10): the output layer of a language model, hidden states [N, D] times a
// vocabulary projection [C, D] and cross-entropy, forward + gradients for the input and the weight.
// Contenders, in one process: wasm-xent's fused linearCrossEntropy (plain arrays in and out),
// TensorFlow.js wasm unfused (matMul, softmaxCrossEntropy, tf.grads), tfjs's bare matMul(x, wT) of
// the same shapes (its XNNPACK GEMM: the yardstick for GEMM speed), the plain-JS reference (timed on
// a few tokens: its cost is linear in N); PyTorch 1.13 unfused, 1 and 2 threads, comes from
// bench/torch_bench.py (its own process). Speeds are ns per N*C*D and GFLOP/s counting
// 6 N C D flops for forward + gradients (three GEMMs of 2 N C D); memory is the peak extra memory
// of a call.
//
//   node bench/lm.mjs [--quick] [--workloads=W7,W8] [--gemm]      (standalone; run.mjs calls runLm)

import path from 'path';
import { spawnSync } from 'child_process';
import { createRequire } from 'module';
import { fileURLToPath } from 'url';
import { hash, normals, uniform } from './data.mjs';
import { LoadMeter, loadFields } from './load.mjs';

const require = createRequire(import.meta.url);
const HERE = path.dirname(fileURLToPath(import.meta.url));

export const LM_WORKLOADS = {
  W7: { title: 'W7 LM head', N: 512, D: 768, C: 32000, ignore: 0.1, labelSmoothing: 0.1, zLoss: 0, seed: 70, naiveTokens: 4 },
  W8: { title: 'W8 large vocabulary', N: 256, D: 1024, C: 151936, ignore: 0, labelSmoothing: 0, zLoss: 1e-4, seed: 80, naiveTokens: 2, unfusedCalls: 1 },
};

/** The workload's data (bench/torch_bench.py lm_data makes the same numbers). */
export function lmData(id) {
  const s = LM_WORKLOADS[id];
  const x = normals(s.seed + 1, s.N * s.D);
  const w = normals(s.seed + 2, s.C * s.D);
  const scale = Math.fround(1 / Math.sqrt(s.D));
  for (let i = 0; i < w.length; i++) w[i] = Math.fround(w[i] * scale);
  const t = new Int32Array(s.N);
  for (let n = 0; n < s.N; n++) t[n] = uniform(s.seed + 4, n) < s.ignore ? -100 : hash(s.seed + 3, n) % s.C;
  return { ...s, x, w, t };
}

const median = (a) => a.slice().sort((p, q) => p - q)[a.length >> 1];

/** Calls fn (after `warmup` calls) until budgetMs is spent and at least minCalls were made; with
 *  the cores other processes kept busy meanwhile (bench/load.mjs). */
async function time(fn, { budgetMs, minCalls, maxCalls, warmup }) {
  for (let i = 0; i < warmup; i++) await fn();
  const samples = [];
  const load = new LoadMeter();
  let spent = 0;
  while (samples.length < minCalls || (spent < budgetMs && samples.length < maxCalls)) {
    const snap = load.start();
    const t0 = performance.now();
    await fn();
    const dt = performance.now() - t0;
    load.stop(snap);
    samples.push(dt);
    spent += dt;
  }
  return { medianMs: median(samples), minMs: Math.min(...samples), calls: samples.length, ...loadFields(load.otherCores()) };
}

/** Plain JS: per token, the logits in float64, log-sum-exp, loss, and both gradients. */
function naiveLce(d, tokens) {
  const { D, C, x, w, t, labelSmoothing: eps, zLoss } = d;
  const gx = new Float64Array(tokens * D), gw = new Float64Array(C * D);
  const z = new Float64Array(C);
  const exp = Math.exp, log = Math.log;
  let loss = 0;
  for (let n = 0; n < tokens; n++) {
    if (t[n] < 0) continue;
    let m = -Infinity;
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let k = 0; k < D; k++) s += x[n * D + k] * w[c * D + k];
      z[c] = s;
      if (s > m) m = s;
    }
    let sum = 0, zs = 0;
    for (let c = 0; c < C; c++) { sum += exp(z[c] - m); zs += z[c]; }
    const lse = m + log(sum);
    loss += (1 - eps) * (lse - z[t[n]]) + eps * (lse - zs / C) + zLoss * lse * lse;
    for (let c = 0; c < C; c++) {
      const g = exp(z[c] - lse) * (1 + 2 * zLoss * lse) - (1 - eps) * (c === t[n] ? 1 : 0) - eps / C;
      for (let k = 0; k < D; k++) {
        gx[n * D + k] += g * w[c * D + k];
        gw[c * D + k] += g * x[n * D + k];
      }
    }
  }
  return loss;
}

/** tfjs's weight as [D, C] (its fast GEMM wants it so; with transposeB it falls back to a scalar loop). */
function transposedWeight(tf, d) {
  const { D, C } = d;
  const wt = new Float32Array(D * C);
  for (let c = 0; c < C; c++) for (let k = 0; k < D; k++) wt[k * C + c] = d.w[c * D + k];
  return tf.tensor2d(wt, [D, C]);
}

/** The unfused tfjs step on tensors xT [N, D] and wT [D, C]: { call, loss(), dispose }. */
function tfjsUnfused(tf, d, xT, wT) {
  const { C } = d;
  const kept = Float32Array.from(d.t, (v) => (v < 0 ? 0 : 1));
  const labels = tf.oneHot(tf.tensor1d(Int32Array.from(d.t, (v) => Math.max(v, 0)), 'int32'), C);
  const mask = tf.tensor1d(kept);
  const lossFn = (a, b) => {
    const logits = tf.matMul(a, b);
    let l = tf.losses.softmaxCrossEntropy(labels, logits, mask, d.labelSmoothing, tf.Reduction.SUM_BY_NONZERO_WEIGHTS);
    if (d.zLoss) l = tf.add(l, tf.mul(d.zLoss, tf.mean(tf.square(tf.logSumExp(logits, 1)))));
    return l;
  };
  const g = tf.grads(lossFn);
  let tfLoss = 0;
  const call = () => {
    const lossT = tf.tidy(() => {
      const [ga, gb] = g([xT, wT]);
      ga.dataSync(); gb.dataSync();
      return lossFn(xT, wT);
    });
    tfLoss = lossT.dataSync()[0];
    lossT.dispose();
  };
  return { call, loss: () => tfLoss, dispose: () => [labels, mask].forEach((v) => v.dispose()) };
}

/** One unfused call inside tf.profile: { ms, peakMiB, loss, otherLoad, loaded }. */
async function profiledUnfused(tf, u) {
  const meter = new LoadMeter();
  const snap = meter.start();
  const t0 = performance.now();
  const prof = await tf.profile(() => u.call());
  const ms = performance.now() - t0;
  meter.stop(snap);
  return { ms, peakMiB: prof.peakBytes / 2 ** 20, loss: u.loss(), ...loadFields(meter.otherCores()) };
}

/** W8's unfused call in a child process: tfjs-wasm may abort there (out of its memory), which
 *  leaves its module unusable for the rest of the bench. Returns profiledUnfused's record or
 *  { failed: why }. */
function unfusedInChild(id) {
  const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), `--unfused-only=${id}`], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const last = (r.stdout || '').trim().split('\n').pop();
  if (r.status === 0 && last?.startsWith('{')) return JSON.parse(last);
  const said = `${r.stdout || ''}\n${r.stderr || ''}`.split('\n').map((l) => l.trim()).filter((l) => /abort|error|memory/i.test(l) && !l.startsWith('at '));
  return { failed: `tfjs-wasm failed (exit ${r.status ?? r.signal}): ${[...new Set(said)].slice(0, 3).join(' / ').slice(0, 200)}` };
}

async function loadTf() {
  const tf = await import('@tensorflow/tfjs');
  tf.enableProdMode();
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend did not load');
  return tf;
}

/**
 * Runs the LM workloads `ids`; returns { [id]: record } (see the fields below). `X` is the loaded
 * wasm-xent module (already init()ed), `tf` tfjs or null, `torch` torch_bench's results or null.
 */
export async function runLm(ids, { X, X2 = null, tf, torch, quick, log = console.log }) {
  const settings = quick ? { budgetMs: 0, minCalls: 1, maxCalls: 1, warmup: 0 } : { budgetMs: 20000, minCalls: 3, maxCalls: 20, warmup: 1 };
  const slow = quick ? settings : { budgetMs: 0, minCalls: 2, maxCalls: 2, warmup: 0 };
  const out = {};
  // Peak memory is the growth of wasm memory since the module started (memory never shrinks), so
  // the workload that needs less runs first: W8 (vocabulary blocks of C = 151,936) before W7.
  const memStart = X.wasmMemoryBytes();
  const order = [...ids].sort((a, b) => (a === 'W8' ? -1 : b === 'W8' ? 1 : 0));
  for (const id of order) {
    const d = lmData(id);
    const { N, D, C } = d;
    const flops = 6 * N * C * D;
    const rec = { id, title: d.title, shape: { N, D, C }, options: { ignore: d.ignore, labelSmoothing: d.labelSmoothing, zLoss: d.zLoss }, settings, rows: {} };
    const row = (key, label, t, extra = {}) => {
      const ms = t.medianMs;
      rec.rows[key] = { label, ms, nsPerNCD: (ms * 1e6) / (N * C * D), gflops: flops / (ms * 1e6), calls: t.calls, otherLoad: t.otherLoad ?? null, loaded: Boolean(t.loaded), ...extra };
      log(`  ${id} ${label.padEnd(34)} ${ms.toFixed(0).padStart(7)} ms  ${rec.rows[key].gflops.toFixed(2).padStart(6)} GFLOP/s${extra.gemmGflops !== undefined ? ` (one GEMM: ${extra.gemmGflops.toFixed(2)})` : ''}${extra.peakMiB !== undefined ? `  peak ${extra.peakMiB.toFixed(1)} MiB` : ''}`);
    };

    // wasm-xent, fused; the first call's growth of wasm memory is its peak extra memory.
    const gx = new Float32Array(N * D), gw = new Float32Array(C * D);
    const opts = { labelSmoothing: d.labelSmoothing || undefined, zLoss: d.zLoss || undefined, outInput: gx, outWeight: gw };
    let xentLoss = 0;
    const call = () => { xentLoss = X.linearCrossEntropy({ data: d.x, shape: [N, D] }, { data: d.w, shape: [C, D] }, d.t, opts).loss; };
    call();
    const grown = X.wasmMemoryBytes() - memStart; // >= this workload's own need
    row('xent', 'wasm-xent linearCrossEntropy (fused)', await time(call, { ...settings, warmup: 0 }), { peakMiB: grown / 2 ** 20, wasmMemoryMiB: X.wasmMemoryBytes() / 2 ** 20 });
    rec.loss = xentLoss;
    if (X2) {
      // The package's 2-thread copy (bench/run.mjs loadCopy): each vocabulary block's GEMMs split
      // over both threads, the same bits (its loss is checked equal).
      let loss2 = 0;
      const call2 = () => { loss2 = X2.linearCrossEntropy({ data: d.x, shape: [N, D] }, { data: d.w, shape: [C, D] }, d.t, opts).loss; };
      row('xent-2t', 'wasm-xent fused, 2 threads', await time(call2, settings));
      if (loss2 !== xentLoss) throw new Error(`bench: ${id} 2-thread loss ${loss2} differs from 1 thread's ${xentLoss}`);
    }

    if (tf) {
      const xT = tf.tensor2d(d.x, [N, D]);
      const wT = transposedWeight(tf, d);
      const tm = await time(() => { const y = tf.matMul(xT, wT); y.dataSync(); y.dispose(); }, slow);
      row('tfjs-matmul', 'tfjs-wasm bare matMul(x, wT)', tm, { gemmGflops: (2 * N * C * D) / (tm.medianMs * 1e6) });
      // The first timed call runs inside tf.profile (its peak tensor memory); more calls only when
      // the run has the time (a W8 call takes minutes: tfjs's gradient GEMMs take its transposed
      // paths), and W8's in a child process (tfjs-wasm may run out of memory and abort).
      const label = 'tfjs-wasm unfused (matMul + CE + tf.grads)';
      if (quick && N * C * D > 1e10) {
        rec.rows['tfjs-unfused'] = { label, skipped: 'not run with --quick (one call takes many minutes)' };
        log(`  ${id} tfjs-wasm unfused: not run with --quick (one call takes many minutes)`);
      } else if (d.unfusedCalls === 1) {
        const first = unfusedInChild(id);
        if (first.failed) {
          rec.rows['tfjs-unfused'] = { label, skipped: first.failed, failed: true };
          log(`  ${id} ${first.failed}`);
        } else {
          row('tfjs-unfused', label, { medianMs: first.ms, calls: 1, otherLoad: first.otherLoad, loaded: first.loaded }, { peakMiB: first.peakMiB });
          rec.tfLoss = first.loss;
        }
      } else {
        const u = tfjsUnfused(tf, d, xT, wT);
        const first = await profiledUnfused(tf, u);
        const more = quick ? null : await time(u.call, { ...slow, minCalls: 1, maxCalls: 1 });
        const worst = more && more.otherLoad > first.otherLoad ? more : first;
        const tu = { medianMs: more ? Math.min(first.ms, more.medianMs) : first.ms, calls: more ? 2 : 1, otherLoad: worst.otherLoad, loaded: first.loaded || Boolean(more?.loaded) };
        row('tfjs-unfused', label, tu, { peakMiB: first.peakMiB });
        rec.tfLoss = u.loss();
        u.dispose();
      }
      [xT, wT].forEach((v) => v.dispose());
    }

    if (!quick) {
      const tokens = d.naiveTokens;
      const t = await time(() => naiveLce(d, tokens), { budgetMs: 0, minCalls: 1, maxCalls: 1, warmup: 0 });
      // linear in the tokens: scaled to all N
      row('naive', `plain JS (timed on ${tokens} tokens, scaled)`, { ...t, medianMs: (t.medianMs * N) / tokens }, {});
    }

    // PyTorch (bench/run.mjs runTorchLm): one process per BLAS and thread count.
    for (const [blas, byId] of Object.entries(torch || {})) {
      const tr = byId[id];
      if (!tr) continue;
      const what = blas === 'openblas' ? 'OpenBLAS' : `Debian's reference BLAS, timed on ${tr.tokens} tokens and scaled`;
      for (const threads of Object.keys(tr.fwdgrad)) {
        const r = tr.fwdgrad[threads];
        const peak = tr.tokens === N ? { peakMiB: tr.peakMiB[threads] } : {};
        row(`torch-${blas}-${threads}T`, `PyTorch 1.13 unfused (${what}), ${threads} thread${threads === '1' ? '' : 's'}`, { medianMs: (r.median * N * C * D) / 1e6, calls: r.calls, otherLoad: r.otherLoad, loaded: r.loaded }, peak);
      }
      if (tr.tokens === N) rec.torchLoss = tr.loss;
    }
    const base = rec.rows.xent;
    const has = (k) => rec.rows[k] && !rec.rows[k].skipped;
    const ratio = (k) => (has(k) ? rec.rows[k].ms / base.ms : undefined);
    rec.summary = {
      vsTfjsMatmulGflops: has('tfjs-matmul') ? base.gflops / rec.rows['tfjs-matmul'].gemmGflops : undefined,
      speedupVsTfjsUnfused: ratio('tfjs-unfused'),
      memoryVsTfjsUnfused: has('tfjs-unfused') ? rec.rows['tfjs-unfused'].peakMiB / base.peakMiB : undefined,
      speedupVsTorchOpenblas1T: ratio('torch-openblas-1T'),
      speedupVsTorchOpenblas2T: ratio('torch-openblas-2T'),
      speedupVsTorchNetlib1T: ratio('torch-netlib-1T'),
      threadsSpeedup: ratio('xent-2t') === undefined ? undefined : 1 / ratio('xent-2t'),
      speedup2TVsTorchOpenblas2T: has('xent-2t') && has('torch-openblas-2T') ? rec.rows['torch-openblas-2T'].ms / rec.rows['xent-2t'].ms : undefined,
    };
    out[id] = rec;
  }
  return Object.fromEntries(ids.filter((id) => out[id]).map((id) => [id, out[id]]));
}

/** The RESULTS.md section of the LM workloads. */
export function lmMarkdown(lm) {
  const L = ['', '## Language-model head: W7, W8 (linearCrossEntropy, issue 10)', '',
    'Forward + gradients for the input and the weight; GFLOP/s count 6 N C D flops (three GEMMs) for every row except',
    "tfjs's bare matMul, which is one GEMM (2 N C D) and is shown at its own GFLOP/s. Peak memory: wasm-xent's growth of",
    "wasm memory since the module started (W8 runs first: memory never shrinks, so each figure is at least that workload's own need), tfjs's `tf.profile` peakBytes, PyTorch's peak RSS over its baseline.", ''];
  for (const rec of Object.values(lm)) {
    const { N, D, C } = rec.shape;
    L.push(`### ${rec.title}: N = ${N}, D = ${D}, C = ${C.toLocaleString('en-US')}, float32` +
      `${rec.options.ignore ? `, ${rec.options.ignore * 100}% ignored` : ''}${rec.options.labelSmoothing ? `, label smoothing ${rec.options.labelSmoothing}` : ''}${rec.options.zLoss ? `, z-loss ${rec.options.zLoss}` : ''}`, '');
    L.push('| contender | ms per call (best of the calls for tfjs unfused, else median) | ns per N·C·D | GFLOP/s | peak extra memory | calls | other load (cores) |', '|---|---:|---:|---:|---:|---:|---:|');
    for (const r of Object.values(rec.rows)) {
      if (r.skipped) {
        L.push(`| ${r.label} | ${r.skipped} | | | | | |`);
        continue;
      }
      const gf = r.gemmGflops !== undefined ? `${r.gemmGflops.toFixed(2)} (one GEMM)` : r.gflops.toFixed(2);
      const load = r.otherLoad === null || r.otherLoad === undefined ? '?' : `${r.otherLoad.toFixed(2)}${r.loaded ? ' ⚠' : ''}`;
      L.push(`| ${r.label} | ${r.ms.toFixed(0)} | ${r.nsPerNCD.toFixed(3)} | ${gf} | ${r.peakMiB !== undefined && r.peakMiB !== null ? `${r.peakMiB.toFixed(1)} MiB` : '-'} | ${r.calls} | ${load} |`);
    }
    const s = rec.summary;
    const f = (v, suffix = 'x') => (v === undefined ? 'n/a' : `${v.toFixed(2)}${suffix}`);
    L.push('', `wasm-xent fused: ${f(s.vsTfjsMatmulGflops)} the GFLOP/s of tfjs's bare matMul, ${f(s.speedupVsTfjsUnfused)} faster than tfjs-wasm unfused, ` +
      `${f(s.memoryVsTfjsUnfused)} less peak memory. PyTorch takes ${f(s.speedupVsTorchOpenblas1T)} wasm-xent's time with OpenBLAS on 1 thread (${f(s.speedupVsTorchOpenblas2T)} on 2), ` +
      `${f(s.speedupVsTorchNetlib1T)} with Debian's default reference BLAS. ` +
      (s.threadsSpeedup === undefined ? '' : `On 2 threads wasm-xent is ${f(s.threadsSpeedup)} faster than on 1, and PyTorch with OpenBLAS on 2 threads takes ${f(s.speedup2TVsTorchOpenblas2T)} its time. `) +
      `Losses: wasm-xent ${rec.loss}${rec.tfLoss !== undefined ? `, tfjs ${rec.tfLoss}` : ''}${rec.torchLoss !== undefined ? `, PyTorch ${rec.torchLoss}` : ''}.`, '');
  }
  return L;
}

// Standalone: node bench/lm.mjs [--quick] [--workloads=W7] [--gemm]
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name) => process.argv.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  const only = arg('unfused-only')?.split('=')[1];
  if (only) {
    // A child of unfusedInChild: one profiled unfused call, its record as the last line.
    const tf = await loadTf();
    const d = lmData(only);
    const xT = tf.tensor2d(d.x, [d.N, d.D]);
    console.log(JSON.stringify(await profiledUnfused(tf, tfjsUnfused(tf, d, xT, transposedWeight(tf, d)))));
    process.exit(0);
  }
  const quick = Boolean(arg('quick'));
  const ids = (arg('workloads')?.split('=')[1] || 'W7,W8').split(',');
  const X = await import(path.join(HERE, '..', 'dist', 'esm', 'index.js'));
  await X.init();
  const tf = await loadTf().catch((e) => (console.log(`tfjs: ${e.message}`), null));
  const res = await runLm(ids, { X, tf, torch: null, quick });
  console.log(lmMarkdown(res).join('\n'));
}

export { loadTf };
