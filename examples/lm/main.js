// The LM demo: fine-tunes the output layer of a small word-level language model over a copy of the README's
// text with linearCrossEntropy, drawing the loss live with tokens/s and wasm memory. State for
// tests: window.demo.

import { init, linearCrossEntropy, wasmMemoryBytes } from 'wasm-xent';
// A frozen copy of the project's README (as of 2026-11-30): the demo, and its test's numbers, do not
// move with every README edit.
import text from './corpus.md?raw';
import { gaussian, mulberry32 } from '../shared/random.js';

const D = 64;
const BATCH = 256;
const STEPS = 300;
const LR = 0.01;

// ---------------------------------------------------------------- corpus and vocabulary
// words only (the README's code and tables would otherwise teach it mostly backticks and pipes)
const words = text.toLowerCase().match(/[a-z][a-z0-9_']*/g) ?? [];
const vocab = [...new Set(words)];
const index = new Map(vocab.map((w, i) => [w, i]));
const ids = Int32Array.from(words, (w) => index.get(w));
const V = vocab.length;

// ---------------------------------------------------------------- the frozen body
const rand = mulberry32(11);
const gauss = gaussian(rand);
const E1 = Float32Array.from({ length: V * D }, gauss);
const E2 = Float32Array.from({ length: V * D }, () => 0.5 * gauss());
/** The hidden state after words a (two back) and b (one back). */
function hidden(a, b, out, o) {
  for (let k = 0; k < D; k++) out[o + k] = Math.tanh(E1[b * D + k] + E2[a * D + k]);
}

// ---------------------------------------------------------------- the trained output layer, Adam
const W = new Float32Array(V * D);
const bias = new Float32Array(V);
const gW = new Float32Array(V * D), gB = new Float32Array(V);
const m = [new Float32Array(V * D), new Float32Array(V)], v = [new Float32Array(V * D), new Float32Array(V)];
function adam(params, grads, step) {
  const b1 = 0.9, b2 = 0.999, c1 = 1 - b1 ** step, c2 = 1 - b2 ** step;
  params.forEach((p, j) => {
    const g = grads[j], mj = m[j], vj = v[j];
    for (let i = 0; i < p.length; i++) {
      mj[i] = b1 * mj[i] + (1 - b1) * g[i];
      vj[i] = b2 * vj[i] + (1 - b2) * g[i] * g[i];
      p[i] -= (LR * mj[i]) / c1 / (Math.sqrt(vj[i] / c2) + 1e-8);
    }
  });
}

// ---------------------------------------------------------------- drawing
const curve = document.getElementById('curve');
const status = document.getElementById('status');
function draw(losses) {
  const g = curve.getContext('2d');
  const w = curve.width, h = curve.height;
  g.fillStyle = '#fff';
  g.fillRect(0, 0, w, h);
  const top = Math.log(V) * 1.05;
  g.strokeStyle = '#ccc';
  g.fillStyle = '#888';
  g.font = '11px sans-serif';
  for (let y = 0; y <= top; y += 2) {
    const py = h - (y / top) * h;
    g.beginPath(); g.moveTo(0, py); g.lineTo(w, py); g.stroke();
    g.fillText(String(y), 2, py - 2);
  }
  g.strokeStyle = '#c33';
  g.beginPath();
  g.moveTo(0, h - (Math.log(V) / top) * h); g.lineTo(w, h - (Math.log(V) / top) * h);
  g.stroke();
  g.strokeStyle = '#2a6fdb';
  g.lineWidth = 2;
  g.beginPath();
  losses.forEach((l, i) => {
    const x = (i / (STEPS - 1)) * w, y = h - (l / top) * h;
    if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
  });
  g.stroke();
  g.lineWidth = 1;
}

function sample(seedA, seedB, n) {
  const out = [vocab[seedA], vocab[seedB]];
  const hcur = new Float32Array(D);
  let a = seedA, b = seedB;
  for (let s = 0; s < n; s++) {
    hidden(a, b, hcur, 0);
    // sample from the model's softmax (seeded, so the page is reproducible)
    const z = new Float64Array(V);
    let zmax = -Infinity;
    for (let c = 0; c < V; c++) {
      let s = bias[c];
      for (let k = 0; k < D; k++) s += W[c * D + k] * hcur[k];
      z[c] = s;
      zmax = Math.max(zmax, s);
    }
    let total = 0;
    for (let c = 0; c < V; c++) total += (z[c] = Math.exp(2 * (z[c] - zmax))); // temperature 0.5
    let u = rand() * total, best = 0;
    while (best < V - 1 && (u -= z[best]) > 0) best++;
    out.push(vocab[best]);
    a = b; b = best;
  }
  return out.join(' ');
}

// ---------------------------------------------------------------- training
const demo = { V, D, tokens: ids.length, losses: [], tokensPerSecond: 0, memoryBytes: 0, done: false };
window.demo = demo;

await init();
const x = new Float32Array(BATCH * D);
const t = new Int32Array(BATCH);
let tokens = 0, seconds = 0;
for (let step = 1; step <= STEPS; step++) {
  for (let n = 0; n < BATCH; n++) {
    const p = 2 + Math.floor(rand() * (ids.length - 2));
    hidden(ids[p - 2], ids[p - 1], x, n * D);
    t[n] = ids[p];
  }
  const t0 = performance.now();
  const r = linearCrossEntropy({ data: x, shape: [BATCH, D] }, { data: W, shape: [V, D] }, t,
    { linearBias: bias, labelSmoothing: 0.05, zLoss: 1e-4, outWeight: gW, outBias: gB });
  seconds += (performance.now() - t0) / 1000;
  tokens += BATCH;
  adam([W, bias], [gW, gB], step);
  demo.losses.push(r.loss);
  demo.tokensPerSecond = tokens / seconds;
  demo.memoryBytes = wasmMemoryBytes();
  if (step % 10 === 0 || step === STEPS) {
    draw(demo.losses);
    status.textContent = `step ${step}/${STEPS}   loss ${r.loss.toFixed(3)} (uniform: log V = ${Math.log(V).toFixed(3)})\n` +
      `vocabulary V = ${V} words, D = ${D}, ${BATCH} tokens per step, corpus ${ids.length} tokens\n` +
      `linearCrossEntropy: ${Math.round(demo.tokensPerSecond).toLocaleString('en-US')} tokens/s (forward + weight and bias gradients)\n` +
      `wasm memory: ${(demo.memoryBytes / 2 ** 20).toFixed(1)} MiB (the [N, V] logits would be ${((BATCH * V * 4) / 2 ** 20).toFixed(1)} MiB, their gradient as much again)`;
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
}
const seedAt = words.indexOf('wasm');
document.getElementById('sample').textContent = sample(ids[seedAt - 1] ?? 0, ids[seedAt] ?? 0, 40);
demo.sample = document.getElementById('sample').textContent;
demo.done = true;
