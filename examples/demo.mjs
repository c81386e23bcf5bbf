// wasm-xent demo (`npm start`): built-in data only, no downloads.
//
// Part 1 prints the seeds' examples beside the values PyTorch 1.13 gives for them.
// Part 2 trains a small softmax classifier (a linear layer W [D, C], b [C]) by plain gradient
// descent on deterministic 2-D Gaussian blobs: wasm-xent computes the loss and d loss / d logits,
// and the backward pass to W and b is written out by hand below.

import * as X from '../dist/esm/index.js';

await X.init();

const fmt = (v) => (typeof v === 'number' ? v.toFixed(4) : `[${Array.from(v, (x) => x.toFixed(4)).join(', ')}]`);
const row = (what, ours, ref, note = '') => console.log(`${what.padEnd(42)}${fmt(ours).padEnd(30)}${fmt(ref)}${note}`);

// ---------------------------------------------------------------- Part 1: the seeds' examples
console.log('Part 1: the seeds\' examples\n');
console.log(`${'what'.padEnd(42)}${'wasm-xent'.padEnd(30)}PyTorch 1.13`);
console.log('-'.repeat(100));

const logits = { data: new Float32Array([1, 2, 3]), shape: [1, 3] };
row('cross_entropy([[1,2,3]], [2])', X.crossEntropy(logits, [2]).loss, 0.4076);

const vec = { data: new Float32Array([1, 2, 3]), shape: [3] };
row('log_softmax([1,2,3])', X.logSoftmax(vec), [-2.4076, -1.4076, -0.4076]);
row('softmax([1,2,3])', X.softmax(vec), [0.09, 0.2447, 0.6652]);

const three = { data: new Float32Array([1, 2, 3, 1, 2, 3, 1, 2, 3]), shape: [3, 3] };
row("nll_loss([[1,2,3]] x3, [0,1,2], 'none')", X.nllLoss(three, [0, 1, 2], { reduction: 'none' }).loss, [-1, -2, -3]);

// A 4x4 binary mask with 4 foreground pixels: alpha = mean(mask) = 0.25.
const mask = new Uint8Array([0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0]);
const alpha = mask.reduce((s, m) => s + m, 0) / mask.length;
row('inverseFrequencyWeights(mask, 2)', X.inverseFrequencyWeights(mask, 2), [alpha, 1 - alpha], '  (a)');

// PyTorch's label smoothing in closed form, evaluated here in float64:
// (1 - eps) * nll + eps / C * sum_c(-lp_c), with lp = log_softmax(x).
const eps = 0.1;
const x = [1, 2, 3];
const lse = Math.log(x.reduce((s, v) => s + Math.exp(v), 0));
const lp = x.map((v) => v - lse);
const smoothed = (1 - eps) * -lp[2] + (eps / x.length) * lp.reduce((s, v) => s - v, 0);
row('cross_entropy(..., label_smoothing=0.1)', X.crossEntropy(logits, [2], { labelSmoothing: 0.1 }).loss, smoothed, '  (b)');

console.log('\n(a) the seed\'s binary rule [alpha, 1 - alpha] with alpha = mean(mask) = ' + alpha);
console.log('(b) closed form (1 - eps) * nll + eps/C * sum_c(-lp_c), computed in float64 above\n');

// ---------------------------------------------------------------- Part 2: training
// mulberry32: a tiny seeded PRNG, so every run sees the same data.
function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(1913);
const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()); // Box-Muller

// Three Gaussian blobs (std 1) centred on a circle of radius 2: they overlap a little.
const D = 2, C = 3, perClass = 100, N = C * perClass;
const features = new Float32Array(N * D); // [N, D], row-major
const labels = new Int32Array(N);
for (let i = 0; i < N; i++) {
  const c = i % C;
  const angle = (2 * Math.PI * c) / C;
  features[i * D] = 2 * Math.cos(angle) + gauss();
  features[i * D + 1] = 2 * Math.sin(angle) + gauss();
  labels[i] = c;
}

const W = new Float32Array(D * C); // [D, C], starts at zero: the first loss is log(3) = 1.0986
const b = new Float32Array(C);
const out = new Float32Array(N * C); // logits [N, C]
const lr = 0.05, epochs = 200;

function forward() {
  for (let i = 0; i < N; i++) {
    for (let c = 0; c < C; c++) {
      let z = b[c];
      for (let d = 0; d < D; d++) z += features[i * D + d] * W[d * C + c];
      out[i * C + c] = z;
    }
  }
  return { data: out, shape: [N, C] };
}

function accuracy() {
  forward();
  let right = 0;
  for (let i = 0; i < N; i++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (out[i * C + c] > out[i * C + best]) best = c;
    if (best === labels[i]) right++;
  }
  return right / N;
}

console.log(`Part 2: softmax classifier, ${N} points in ${C} blobs, W [${D}, ${C}] + b [${C}], lr ${lr}, labelSmoothing 0.05\n`);
for (let epoch = 0; epoch <= epochs; epoch++) {
  // loss = mean over the batch; grad = d loss / d logits, shape [N, C] (already divided by N).
  const { loss, grad } = X.crossEntropy(forward(), labels, { grad: true, labelSmoothing: 0.05 });
  if (epoch % 20 === 0) console.log(`epoch ${String(epoch).padStart(3)}  loss ${loss.toFixed(4)}`);
  if (epoch === epochs) break;
  // Backward through logits = features @ W + b:  dW = features^T @ grad,  db = sum over rows of grad.
  for (let c = 0; c < C; c++) {
    let db = 0;
    for (let i = 0; i < N; i++) db += grad[i * C + c];
    b[c] -= lr * db;
    for (let d = 0; d < D; d++) {
      let dw = 0;
      for (let i = 0; i < N; i++) dw += features[i * D + d] * grad[i * C + c];
      W[d * C + c] -= lr * dw;
    }
  }
}
console.log(`\nfinal training accuracy: ${(100 * accuracy()).toFixed(1)}%`);
