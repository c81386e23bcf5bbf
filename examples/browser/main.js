// The browser demo: trains a small MLP on a 2-D spiral with wasm-xent's loss and gradient and draws
// the loss curve and the decision regions live. State for tests: window.demo.

import { init, crossEntropy, binaryCrossEntropyWithLogits, softmax, inverseFrequencyWeights } from 'wasm-xent';
import { gaussian, mulberry32 } from '../shared/random.js';

const C = 3;
const COUNTS = [200, 120, 60];
const H = 32;
const MAX_STEPS = 1500;
const STEPS_PER_FRAME = 10;
const COLORS = [[230, 80, 60], [50, 130, 220], [40, 170, 90]];

// ---------------------------------------------------------------- data: a seeded 3-arm spiral
const rand = mulberry32(7);
const gauss = gaussian(rand);
const N = COUNTS.reduce((a, b) => a + b, 0);
const X = new Float32Array(N * 2);
const Y = new Int32Array(N);
{
  let i = 0;
  for (let c = 0; c < C; c++) {
    for (let k = 0; k < COUNTS[c]; k++, i++) {
      const r = 0.08 + 0.85 * (k / COUNTS[c]);
      const t = (c * 2 * Math.PI) / C + 4.8 * r + gauss() * 0.22;
      X[2 * i] = r * Math.cos(t);
      X[2 * i + 1] = r * Math.sin(t);
      Y[i] = c;
    }
  }
}

// ---------------------------------------------------------------- model: 2 -> H (ReLU) -> C
let params, adam, step, losses, running = true;
function reset() {
  const r = mulberry32(1);
  const g = () => Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r());
  params = {
    W1: Float32Array.from({ length: 2 * H }, () => g() * Math.sqrt(2 / 2)),
    b1: new Float32Array(H),
    W2: Float32Array.from({ length: H * C }, () => g() * Math.sqrt(1 / H)),
    b2: new Float32Array(C),
  };
  adam = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, { m: new Float32Array(v.length), v: new Float32Array(v.length) }]));
  step = 0;
  losses = [];
  window.demo = { step: 0, losses, done: false, accuracy: 0, lossKind: lossKind() };
}

function forward(x, n) {
  const { W1, b1, W2, b2 } = params;
  const hidden = new Float32Array(n * H);
  const logits = new Float32Array(n * C);
  for (let i = 0; i < n; i++) {
    const x0 = x[2 * i], x1 = x[2 * i + 1];
    for (let j = 0; j < H; j++) hidden[i * H + j] = Math.max(0, x0 * W1[j] + x1 * W1[H + j] + b1[j]);
    for (let c = 0; c < C; c++) {
      let s = b2[c];
      for (let j = 0; j < H; j++) s += hidden[i * H + j] * W2[j * C + c];
      logits[i * C + c] = s;
    }
  }
  return { hidden, logits };
}

// ---------------------------------------------------------------- controls
const $ = (id) => document.getElementById(id);
const lossKind = () => document.querySelector('input[name="loss"]:checked').value;
const smoothing = () => Number($('smoothing').value);
const weightInputs = COLORS.map((rgb, c) => {
  const label = document.createElement('label');
  label.innerHTML = `<span class="swatch" style="background: rgb(${rgb})"></span>class ${c} (${COUNTS[c]} pts) `;
  const input = Object.assign(document.createElement('input'), { type: 'number', min: '0', step: '0.1', value: '1' });
  label.appendChild(input);
  $('weights').appendChild(label);
  return input;
});
const classWeights = () => weightInputs.map((el) => Math.max(0, Number(el.value) || 0));
const setWeights = (w) => weightInputs.forEach((el, c) => (el.value = (+w[c]).toFixed(2)));
$('smoothing').addEventListener('input', () => ($('smoothingValue').textContent = smoothing().toFixed(2)));
// inverseFrequencyWeights gives weights proportional to 1 / count_c (summing to 1); shown scaled so
// that the largest class weighs 1.
$('inverse').addEventListener('click', () => {
  const w = inverseFrequencyWeights(Y, C);
  setWeights(Array.from(w, (v) => v / Math.min(...w)));
});
$('uniform').addEventListener('click', () => setWeights([1, 1, 1]));
document.querySelectorAll('input[name="loss"]').forEach((el) => el.addEventListener('change', () => { reset(); running = true; }));
$('reset').addEventListener('click', () => { reset(); running = true; });
$('toggle').addEventListener('click', () => { running = !running; if (step >= MAX_STEPS) { reset(); running = true; } });

// ---------------------------------------------------------------- one training step
function loss(logits) {
  const input = { data: logits, shape: [N, C] };
  const eps = smoothing();
  const weight = classWeights();
  if (lossKind() === 'ce') return crossEntropy(input, Y, { grad: true, labelSmoothing: eps, weight });
  // One-vs-rest BCE: one-hot targets, smoothed towards 1/2, each class's column weighted.
  const target = new Float32Array(N * C);
  for (let i = 0; i < N; i++) for (let c = 0; c < C; c++) target[i * C + c] = (Y[i] === c ? 1 - eps : 0) + eps / 2;
  return binaryCrossEntropyWithLogits(input, target, { grad: true, weight });
}

function trainStep() {
  const { hidden, logits } = forward(X, N);
  const { loss: value, grad } = loss(logits); // grad = d loss / d logits, [N, C]
  const { W1, W2 } = params;
  const g = { W1: new Float32Array(2 * H), b1: new Float32Array(H), W2: new Float32Array(H * C), b2: new Float32Array(C) };
  for (let i = 0; i < N; i++) {
    for (let c = 0; c < C; c++) {
      const d = grad[i * C + c];
      g.b2[c] += d;
      for (let j = 0; j < H; j++) g.W2[j * C + c] += hidden[i * H + j] * d;
    }
    for (let j = 0; j < H; j++) {
      if (hidden[i * H + j] <= 0) continue;
      let d = 0;
      for (let c = 0; c < C; c++) d += grad[i * C + c] * W2[j * C + c];
      g.b1[j] += d;
      g.W1[j] += X[2 * i] * d;
      g.W1[H + j] += X[2 * i + 1] * d;
    }
  }
  step++;
  const lr = 0.02, b1 = 0.9, b2 = 0.999;
  for (const k of Object.keys(params)) {
    const p = params[k], s = adam[k], gk = g[k];
    for (let i = 0; i < p.length; i++) {
      s.m[i] = b1 * s.m[i] + (1 - b1) * gk[i];
      s.v[i] = b2 * s.v[i] + (1 - b2) * gk[i] * gk[i];
      p[i] -= (lr * (s.m[i] / (1 - b1 ** step))) / (Math.sqrt(s.v[i] / (1 - b2 ** step)) + 1e-8);
    }
  }
  losses.push(value);
  let correct = 0;
  for (let i = 0; i < N; i++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (logits[i * C + c] > logits[i * C + best]) best = c;
    if (best === Y[i]) correct++;
  }
  return correct / N;
}

// ---------------------------------------------------------------- drawing
const GRID = 90;
const gridPoints = new Float32Array(GRID * GRID * 2);
for (let gy = 0; gy < GRID; gy++) for (let gx = 0; gx < GRID; gx++) {
  gridPoints[2 * (gy * GRID + gx)] = -1.1 + (2.2 * (gx + 0.5)) / GRID;
  gridPoints[2 * (gy * GRID + gx) + 1] = 1.1 - (2.2 * (gy + 0.5)) / GRID;
}

function drawRegions() {
  const canvas = $('regions');
  const ctx = canvas.getContext('2d');
  const { logits } = forward(gridPoints, GRID * GRID);
  // Class probabilities: softmax for cross-entropy, normalised sigmoids for one-vs-rest BCE.
  let prob;
  if (lossKind() === 'ce') prob = softmax({ data: logits, shape: [GRID * GRID, C] });
  else {
    prob = logits.map((z) => 1 / (1 + Math.exp(-z)));
    for (let i = 0; i < GRID * GRID; i++) {
      const s = prob[i * C] + prob[i * C + 1] + prob[i * C + 2];
      for (let c = 0; c < C; c++) prob[i * C + c] /= s;
    }
  }
  const img = ctx.createImageData(GRID, GRID);
  for (let i = 0; i < GRID * GRID; i++) {
    for (let k = 0; k < 3; k++) {
      let v = 0;
      for (let c = 0; c < C; c++) v += prob[i * C + c] * COLORS[c][k];
      img.data[4 * i + k] = 255 - (255 - v) * 0.45;
    }
    img.data[4 * i + 3] = 255;
  }
  const off = new OffscreenCanvas(GRID, GRID);
  off.getContext('2d').putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
  const sx = (v) => ((v + 1.1) / 2.2) * canvas.width;
  const sy = (v) => ((1.1 - v) / 2.2) * canvas.height;
  for (let i = 0; i < N; i++) {
    ctx.beginPath();
    ctx.arc(sx(X[2 * i]), sy(X[2 * i + 1]), 3, 0, 2 * Math.PI);
    ctx.fillStyle = `rgb(${COLORS[Y[i]]})`;
    ctx.fill();
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 0.8;
    ctx.stroke();
  }
}

function drawCurve() {
  const canvas = $('curve');
  const ctx = canvas.getContext('2d');
  const W = canvas.width, Hc = canvas.height, L = 40, B = 24, T = 8, R = 8;
  ctx.clearRect(0, 0, W, Hc);
  ctx.strokeStyle = '#999';
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(L, T);
  ctx.lineTo(L, Hc - B);
  ctx.lineTo(W - R, Hc - B);
  ctx.stroke();
  ctx.fillStyle = '#555';
  ctx.font = '11px system-ui, sans-serif';
  const top = Math.max(...losses.slice(0, 5), 1e-3) * 1.05;
  for (const f of [0, 0.5, 1]) {
    ctx.fillText((top * f).toFixed(2), 4, Hc - B - f * (Hc - B - T) + 4);
  }
  ctx.fillText('0', L - 3, Hc - 8);
  ctx.fillText(`${MAX_STEPS} steps`, W - R - 60, Hc - 8);
  if (!losses.length) return;
  ctx.strokeStyle = '#d9480f';
  ctx.lineWidth = 2;
  ctx.beginPath();
  losses.forEach((v, i) => {
    const x = L + (i / MAX_STEPS) * (W - L - R);
    const y = Hc - B - (Math.min(v, top) / top) * (Hc - B - T);
    i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
  });
  ctx.stroke();
}

// ---------------------------------------------------------------- loop
await init(); // fetches the .wasm next to the package (Vite copies it as an asset)
reset();
function frame() {
  if (running && step < MAX_STEPS) {
    let acc = 0;
    for (let k = 0; k < STEPS_PER_FRAME && step < MAX_STEPS; k++) acc = trainStep();
    Object.assign(window.demo, { step, accuracy: acc, done: step >= MAX_STEPS, lossKind: lossKind() });
    drawRegions();
    drawCurve();
    $('status').textContent =
      `step ${String(step).padStart(4)} / ${MAX_STEPS}   loss ${losses[losses.length - 1].toFixed(4)}   accuracy ${(100 * acc).toFixed(1)}%\n` +
      `first loss ${losses[0].toFixed(4)}   loss: ${lossKind() === 'ce' ? 'cross-entropy' : 'BCE with logits'}   smoothing ${smoothing().toFixed(2)}`;
    $('toggle').textContent = step >= MAX_STEPS ? 'Train again' : 'Pause';
  } else if (!running) $('toggle').textContent = 'Resume';
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);
