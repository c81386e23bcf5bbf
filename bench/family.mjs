// Bench workloads for the rest of the family (issue 12), beside W1-W6 in `npm run bench`:
//   W10 klDiv on W4's data: log_softmax of W4's logits against W4's soft labels, 'batchmean'
//   W11 focalLoss on W1's data: gamma 2, 'mean'
// Their data (same generators as bench/data.mjs, which bench/torch_bench.py reproduces), the
// wasm-xent calls, and the plain-JS peer (typed-array loops, Math.exp/log, float64 sums).

import { hash, makeWorkload, mapRows, normals } from './data.mjs';

export const FAMILY_WORKLOADS = {
  W10: { title: 'KL divergence', shape: [4096, 1000], detail: "klDiv: log-probabilities (log_softmax of W4's logits) vs W4's Float32Array probabilities, batchmean" },
  W11: { title: 'multi-class focal loss', shape: [4096, 1000], detail: "focalLoss on W1's logits and class indices, gamma 2, mean" },
};

/** Row-wise log_softmax: z - (max + log(sum of exp(z - max))). */
const logSoftmaxRows = (z, rows, C) => mapRows(z, rows, C, (v, m, s) => v - (m + Math.log(s)));

export function makeFamilyWorkload(id) {
  const { shape } = FAMILY_WORKLOADS[id];
  const numel = shape[0] * shape[1];
  if (id === 'W10') {
    const w4 = makeWorkload('W4');
    return { shape, numel, x: logSoftmaxRows(normals(9, numel), shape[0], shape[1]), target: w4.target };
  }
  if (id === 'W11') {
    const [N, C] = shape;
    const target = new Int32Array(N);
    for (let i = 0; i < N; i++) target[i] = hash(2, i) % C;
    return { shape, numel, x: normals(1, numel), target, gamma: 2 };
  }
  throw new Error(`unknown workload ${id}`);
}

/** The wasm-xent calls of one workload, in run.mjs's names. */
export function familyCalls(X, id, d, { input, input64, target64, zcInput, out32, out64, gw }) {
  if (id === 'W10') {
    const t = { data: d.target, shape: d.shape };
    const t64 = { data: target64, shape: d.shape };
    const o = { reduction: 'batchmean' };
    return {
      xentFwd: () => X.klDiv(input, t, o),
      xentGrad: () => X.klDiv(input, t, { ...o, grad: true }),
      xentOut: () => X.klDiv(input, t, { ...o, out: out32 }),
      xentZc: () => X.klDiv(zcInput(), t, { ...o, out: gw.array }),
      xentF64Fwd: () => X.klDiv(input64, t64, o),
      xentF64Out: () => X.klDiv(input64, t64, { ...o, out: out64 }),
      naiveFwd: () => naiveKlDiv(d.x, d.target, d.shape[0]),
      naiveGrad: () => naiveKlDiv(d.x, d.target, d.shape[0], true),
    };
  }
  const o = { gamma: d.gamma };
  const [N, C] = d.shape;
  return {
    xentFwd: () => X.focalLoss(input, d.target, o),
    xentGrad: () => X.focalLoss(input, d.target, { ...o, grad: true }),
    xentOut: () => X.focalLoss(input, d.target, { ...o, out: out32 }),
    xentZc: () => X.focalLoss(zcInput(), d.target, { ...o, out: gw.array }),
    xentF64Fwd: () => X.focalLoss(input64, d.target, o),
    xentF64Out: () => X.focalLoss(input64, d.target, { ...o, out: out64 }),
    naiveFwd: () => naiveFocal(d.x, N, C, d.target, d.gamma),
    naiveGrad: () => naiveFocal(d.x, N, C, d.target, d.gamma, true),
  };
}

/** kl_div, 'batchmean': sum of t (log t - x) over every element / rows; d/dx = -t / rows. */
function naiveKlDiv(x, t, rows, grad = false) {
  const g = grad ? new Float32Array(x.length) : null;
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const ti = t[i];
    s += (ti === 0 ? 0 : ti * Math.log(ti)) - ti * x[i];
    if (g) g[i] = -ti / rows;
  }
  return g ? { loss: s / rows, grad: g } : { loss: s / rows };
}

/** Focal loss, 'mean': -(1 - p_t)^gamma log p_t per row, with its gradient G ([c == t] - s_c). */
function naiveFocal(x, N, C, target, gamma, grad = false) {
  const g = grad ? new Float32Array(x.length) : null;
  let s = 0;
  for (let n = 0; n < N; n++) {
    const o = n * C;
    let m = -Infinity;
    for (let c = 0; c < C; c++) if (x[o + c] > m) m = x[o + c];
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(x[o + c] - m);
    const t = target[n];
    const lpt = x[o + t] - m - Math.log(sum);
    const pt = Math.exp(lpt);
    const u = 1 - pt;
    s += -(u ** gamma) * lpt;
    if (g) {
      const G = (-(u ** gamma) + gamma * u ** (gamma - 1) * lpt * pt) / N;
      for (let c = 0; c < C; c++) g[o + c] = (-G * Math.exp(x[o + c] - m)) / sum;
      g[o + t] += G;
    }
  }
  return g ? { loss: s / N, grad: g } : { loss: s / N };
}
