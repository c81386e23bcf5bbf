// Bench workload W12 (issue 12): tokenScores with topK 5 on W2's data (logits [512, 32000], W2's
// targets with 10% ignored), in two rows: W12, float32 logits, and W12-bf16, the same logits
// rounded to bfloat16 and passed as raw bits ({ data: Uint16Array, dtype: 'bfloat16' }). Its data,
// the wasm-xent calls (with crossEntropy's forward on the same data, for the issue's "within 1.3x
// of crossEntropy forward" in the same run), the plain-JS peer, and the check every contender must
// pass before it is timed.

import { makeWorkload } from './data.mjs';

export const TOKEN_WORKLOADS = {
  W12: { title: 'LLM token scores', shape: [512, 32000], detail: "tokenScores on W2's logits and targets (10% ignored): lse, entropy, argmax, logProb, rank, topK 5" },
  'W12-bf16': {
    title: 'LLM token scores, bfloat16',
    shape: [512, 32000],
    detail: "W12 on W2's logits rounded to bfloat16 (nearest even): wasm-xent reads the raw bits (a Uint16Array, dtype 'bfloat16'), plain JS the decoded float32 values (decoded outside the timing), PyTorch a torch.bfloat16 tensor",
  },
};

export const TOP_K = 5;

export function makeTokensWorkload() {
  const d = makeWorkload('W2');
  // bfloat16: the top 16 bits of each float32, rounded to nearest even (W2's logits are finite)
  const u = new Uint32Array(d.x.buffer, d.x.byteOffset, d.numel);
  const bits = Uint16Array.from(u, (b) => (b + 0x7fff + ((b >>> 16) & 1)) >>> 16);
  const decoded = new Float32Array(Uint32Array.from(bits, (h) => h << 16).buffer);
  return { shape: d.shape, numel: d.numel, x: d.x, target: d.target, bf16: bits, decoded, w2Options: { ignoreIndex: d.ignoreIndex, labelSmoothing: d.labelSmoothing } };
}

/** The wasm-xent calls: float32 (default), zero-copy input, float64, bfloat16 bits, and
 *  crossEntropy's forward on the float32 and the bfloat16 logits. */
export function tokenCalls(X, d, { input64, zcInput }) {
  const input = { data: d.x, shape: d.shape };
  const half = { data: d.bf16, shape: d.shape, dtype: 'bfloat16' };
  const o = { topK: TOP_K };
  return {
    'xent-bf16': () => X.tokenScores(half, d.target, o),
    ceBf16W2: () => X.crossEntropy(half, d.target, d.w2Options),
    ceBf16Plain: () => X.crossEntropy(half, d.target),
    naiveBf16: () => naiveTokenScores(d.decoded, d.shape[0], d.shape[1], d.target, TOP_K),
    // the reference of the bfloat16 row: float32 tokenScores on the decoded values
    decoded: () => X.tokenScores({ data: d.decoded, shape: d.shape }, d.target, o),
    xent: () => X.tokenScores(input, d.target, o),
    'xent-zc': () => X.tokenScores(zcInput(), d.target, o),
    'xent-f64': () => X.tokenScores(input64, d.target, o),
    // crossEntropy's forward on the same data: W2's own call (label smoothing 0.1) and the default
    ceW2: () => X.crossEntropy(input, d.target, d.w2Options),
    cePlain: () => X.crossEntropy(input, d.target),
    naive: () => naiveTokenScores(d.x, d.shape[0], d.shape[1], d.target, TOP_K),
  };
}

/** What a contender's result is checked on: its mean logProb over the scored positions (minus the
 *  log of the perplexity) as `loss`, lse, entropy and the top-K log-probabilities as `output`; the
 *  integer outputs must equal the reference's exactly (else the check throws). */
export function tokenCheck(r, ref) {
  if (ref) {
    for (const k of ['argmax', 'rank', 'topKIndices']) {
      const a = r[k];
      const b = ref[k];
      if (a.length !== b.length || a.some((v, i) => v !== b[i])) throw new Error(`${k} differs from wasm-xent float32's`);
    }
  }
  let s = 0;
  let n = 0;
  for (const v of r.logProb) if (!Number.isNaN(v)) (s += v), n++;
  const output = Float64Array.from([...r.lse, ...r.entropy, ...r.topKLogProbs]);
  return { loss: s / n, output };
}

/** tokenScores in plain JS: per row the max and argmax, the sums of exps in float64, the target's
 *  log-probability and rank, and the top K by insertion (typed arrays, Math.exp / Math.log). */
export function naiveTokenScores(x, N, C, target, K) {
  const lse = new Float32Array(N);
  const entropy = new Float32Array(N);
  const argmax = new Int32Array(N);
  const logProb = new Float32Array(N);
  const rank = new Int32Array(N);
  const topV = new Float32Array(N * K);
  const topI = new Int32Array(N * K);
  const exp = Math.exp;
  const log = Math.log;
  const bv = new Float64Array(K);
  const bi = new Int32Array(K);
  for (let n = 0; n < N; n++) {
    const o = n * C;
    let m = -Infinity;
    let am = 0;
    for (let c = 0; c < C; c++) if (x[o + c] > m) (m = x[o + c]), (am = c);
    let s = 0;
    let d = 0;
    for (let c = 0; c < C; c++) {
      const z = x[o + c] - m;
      const e = exp(z);
      s += e;
      if (e !== 0) d += e * z;
    }
    const logS = log(s);
    lse[n] = m + logS;
    entropy[n] = logS - d / s;
    argmax[n] = am;
    const t = target[n];
    if (t < 0) {
      logProb[n] = NaN;
      rank[n] = -1;
    } else {
      const xt = x[o + t];
      logProb[n] = xt - m - logS;
      let r = 0;
      for (let c = 0; c < C; c++) if (x[o + c] > xt) r++;
      rank[n] = r;
    }
    let filled = 0;
    for (let c = 0; c < C; c++) {
      const v = x[o + c];
      if (filled === K && !(v > bv[K - 1])) continue;
      let j = filled < K ? filled++ : K - 1;
      while (j > 0 && bv[j - 1] < v) {
        bv[j] = bv[j - 1];
        bi[j] = bi[j - 1];
        j--;
      }
      bv[j] = v;
      bi[j] = c;
    }
    for (let k = 0; k < K; k++) {
      topV[n * K + k] = bv[k] - m - logS;
      topI[n * K + k] = bi[k];
    }
  }
  return { lse, entropy, argmax, logProb, rank, topKLogProbs: topV, topKIndices: topI };
}
