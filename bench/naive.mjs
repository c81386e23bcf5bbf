// The plain-JavaScript peer: what a careful developer writes without wasm. Typed-array loops,
// Math.exp/Math.log, stable log-sum-exp (max subtraction), float64 accumulation, the same semantics
// as torch.nn.functional (and wasm-xent): class weight, ignore index, label smoothing, soft labels,
// pos_weight, 'mean' reduction, forward and forward+gradient. The input is (outer, C, inner): the
// class dim is strided when inner > 1 (NCHW), exactly as a straightforward loop would walk it.

/**
 * cross_entropy with class-index targets.
 * @returns {{loss: number, grad?: Float32Array|Float64Array}}
 */
/** log(sum_c exp(x_c)) along one row (C values `inner` apart from `base`), with max subtraction. */
function rowLogSumExp(x, base, C, inner) {
  let m = -Infinity;
  for (let c = 0; c < C; c++) {
    const v = x[base + c * inner];
    if (v > m) m = v;
  }
  let s = 0;
  for (let c = 0; c < C; c++) s += Math.exp(x[base + c * inner] - m);
  return m + Math.log(s);
}

export function crossEntropyIndex(x, outer, C, inner, target, { weight = null, ignoreIndex = -100, labelSmoothing = 0, grad = false, out = null } = {}) {
  const eps = labelSmoothing;
  const g = grad ? out ?? new x.constructor(x.length) : null;
  let wSum = 0; // sum over classes of weight (for the smoothing term's gradient)
  for (let c = 0; c < C; c++) wSum += weight ? weight[c] : 1;
  // The denominator of 'mean', for the nll and the smoothing term alike (torch 1.13): the summed
  // weights of the targets that are not ignored (their count without a weight).
  let denom = 0;
  const positions = outer * inner;
  for (let i = 0; i < positions; i++) {
    const t = target[i];
    if (t !== ignoreIndex) denom += weight ? weight[t] : 1;
  }
  let nllSum = 0;
  let smoothSum = 0;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const pos = o * inner + j;
      const base = o * C * inner + j;
      const t = target[pos];
      if (t === ignoreIndex) {
        if (g) for (let c = 0; c < C; c++) g[base + c * inner] = 0;
        continue;
      }
      const lse = rowLogSumExp(x, base, C, inner);
      const wt = weight ? weight[t] : 1;
      nllSum += wt * (lse - x[base + t * inner]);
      if (eps > 0) {
        let sm = 0;
        for (let c = 0; c < C; c++) sm += (weight ? weight[c] : 1) * (lse - x[base + c * inner]);
        smoothSum += sm;
      }
      if (g) {
        const a = (1 - eps) * wt / denom;
        const b = eps / C / denom;
        for (let c = 0; c < C; c++) {
          const k = base + c * inner;
          const p = Math.exp(x[k] - lse);
          let d = a * (p - (c === t ? 1 : 0));
          if (eps > 0) d += b * (wSum * p - (weight ? weight[c] : 1));
          g[k] = d;
        }
      }
    }
  }
  let loss = (1 - eps) * nllSum / denom;
  if (eps > 0) loss += (eps / C) * smoothSum / denom;
  return g ? { loss, grad: g } : { loss };
}

/** Multi-class focal loss, -w_t (1 - p_t)^gamma log p_t (wasm-xent's focalLoss; 'mean' over the
 *  non-ignored positions' weights). Gradient: with G = d loss / d lp_t, dx_c = G ([c == t] - p_c). */
export function focalLoss(x, outer, C, inner, target, { gamma = 2, weight = null, ignoreIndex = -100, grad = false, out = null } = {}) {
  const g = grad ? out ?? new x.constructor(x.length) : null;
  let denom = 0;
  const positions = outer * inner;
  for (let i = 0; i < positions; i++) if (target[i] !== ignoreIndex) denom += weight ? weight[target[i]] : 1;
  let sum = 0;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * C * inner + j;
      const t = target[o * inner + j];
      if (t === ignoreIndex) {
        if (g) for (let c = 0; c < C; c++) g[base + c * inner] = 0;
        continue;
      }
      const lse = rowLogSumExp(x, base, C, inner);
      const wt = weight ? weight[t] : 1;
      const lpt = x[base + t * inner] - lse;
      const pt = Math.exp(lpt);
      const u = -Math.expm1(lpt);
      const mod = Math.pow(u, gamma);
      sum += -wt * mod * lpt;
      if (g) {
        const k = wt / denom;
        const G = -k * mod + k * lpt * gamma * Math.pow(u, gamma - 1) * pt;
        for (let c = 0; c < C; c++) {
          const i = base + c * inner;
          g[i] = G * ((c === t ? 1 : 0) - Math.exp(x[i] - lse));
        }
      }
    }
  }
  return g ? { loss: sum / denom, grad: g } : { loss: sum / denom };
}

/** cross_entropy with class-probability (soft) targets of the input's shape. */
export function crossEntropyProbs(x, outer, C, inner, target, { weight = null, labelSmoothing = 0, grad = false, out = null } = {}) {
  const eps = labelSmoothing;
  const g = grad ? out ?? new x.constructor(x.length) : null;
  const positions = outer * inner;
  const scale = 1 / positions;
  let sum = 0;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * C * inner + j;
      const lse = rowLogSumExp(x, base, C, inner);
      let qSum = 0;
      for (let c = 0; c < C; c++) {
        const k = base + c * inner;
        const q = (weight ? weight[c] : 1) * (eps > 0 ? target[k] * (1 - eps) + eps / C : target[k]);
        sum += q * (lse - x[k]);
        qSum += q;
      }
      if (g) {
        for (let c = 0; c < C; c++) {
          const k = base + c * inner;
          const q = (weight ? weight[c] : 1) * (eps > 0 ? target[k] * (1 - eps) + eps / C : target[k]);
          g[k] = scale * (qSum * Math.exp(x[k] - lse) - q);
        }
      }
    }
  }
  const loss = sum * scale;
  return g ? { loss, grad: g } : { loss };
}

/** binary_cross_entropy_with_logits; posWeight and weight have period C (broadcast along the last dim). */
export function bceWithLogits(x, target, C, { posWeight = null, weight = null, grad = false, out = null } = {}) {
  const n = x.length;
  const g = grad ? out ?? new x.constructor(n) : null;
  const scale = 1 / n;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const c = i % C;
    const v = x[i];
    const y = target[i];
    const lw = posWeight ? 1 + (posWeight[c] - 1) * y : 1;
    const w = weight ? weight[c] : 1;
    // softplus(-v) = max(-v, 0) + log1p(exp(-|v|))
    const sp = (v < 0 ? -v : 0) + Math.log1p(Math.exp(-Math.abs(v)));
    sum += w * ((1 - y) * v + lw * sp);
    if (g) {
      const sig = 1 / (1 + Math.exp(-v));
      g[i] = scale * w * (lw * sig - (posWeight ? posWeight[c] : 1) * y);
    }
  }
  const loss = sum * scale;
  return g ? { loss, grad: g } : { loss };
}

/** log_softmax over the class dim of (outer, C, inner); into `out`, or a new array. */
export function logSoftmax(x, outer, C, inner, out = null) {
  const y = out ?? new x.constructor(x.length);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * C * inner + j;
      const lse = rowLogSumExp(x, base, C, inner);
      for (let c = 0; c < C; c++) y[base + c * inner] = x[base + c * inner] - lse;
    }
  }
  return y;
}

/** softmax over the class dim of (outer, C, inner); into `out`, or a new array. */
export function softmax(x, outer, C, inner, out = null) {
  const y = out ?? new x.constructor(x.length);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * C * inner + j;
      const lse = rowLogSumExp(x, base, C, inner);
      for (let c = 0; c < C; c++) y[base + c * inner] = Math.exp(x[base + c * inner] - lse);
    }
  }
  return y;
}

/** Backward of log_softmax from its output y and upstream g: dx = g - exp(y) sum(g). */
export function logSoftmaxBackward(g, y, outer, C, inner, out = null) {
  const dx = out ?? new y.constructor(y.length);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * C * inner + j;
      let s = 0;
      for (let c = 0; c < C; c++) s += g[base + c * inner];
      for (let c = 0; c < C; c++) dx[base + c * inner] = g[base + c * inner] - Math.exp(y[base + c * inner]) * s;
    }
  }
  return dx;
}

/** Backward of softmax from its output y and upstream g: dx = y (g - sum(g y)). */
export function softmaxBackward(g, y, outer, C, inner, out = null) {
  const dx = out ?? new y.constructor(y.length);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * C * inner + j;
      let s = 0;
      for (let c = 0; c < C; c++) s += g[base + c * inner] * y[base + c * inner];
      for (let c = 0; c < C; c++) dx[base + c * inner] = y[base + c * inner] * (g[base + c * inner] - s);
    }
  }
  return dx;
}

/** binary_cross_entropy on probabilities (PyTorch's -100 log clamp and 1e-12 gradient clamp), mean. */
export function bce(x, target, { grad = false, out = null } = {}) {
  const n = x.length;
  const g = grad ? out ?? new x.constructor(n) : null;
  const scale = 1 / n;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i];
    const y = target[i];
    sum -= y * Math.max(Math.log(v), -100) + (1 - y) * Math.max(Math.log1p(-v), -100);
    if (g) g[i] = scale * (v - y) / Math.max((1 - v) * v, 1e-12);
  }
  const loss = sum * scale;
  return g ? { loss, grad: g } : { loss };
}

/**
 * ctc_loss, 'mean' reduction (each loss over its target length, then over the batch), with PyTorch's
 * gradient for log_probs, as a careful developer writes it from the paper: the alpha-beta
 * recursion in log space (log-add-exp with max subtraction), Float64Array rows, one element at a
 * time. logProbs is (T, N, C); targets padded (N, S); full input and target lengths.
 * @returns {{loss: number, grad?: Float32Array|Float64Array}}
 */
export function ctcLoss(lp, T, N, C, targets, S, { blank = 0, grad = false, out = null } = {}) {
  const L = 2 * S + 1;
  const g = grad ? out ?? new lp.constructor(lp.length) : null;
  const alpha = new Float64Array(T * L);
  const beta = new Float64Array(T * L);
  const ext = new Int32Array(L);
  const lse = (a, b) => {
    const m = a > b ? a : b;
    return m === -Infinity ? m : m + Math.log(Math.exp(a - m) + Math.exp(b - m));
  };
  let total = 0;
  for (let b = 0; b < N; b++) {
    for (let s = 0; s < L; s++) ext[s] = s % 2 === 0 ? blank : targets[b * S + (s - 1) / 2];
    const y = (t, s) => lp[(t * N + b) * C + ext[s]];
    const skip = (s) => s >= 2 && ext[s] !== blank && ext[s] !== ext[s - 2];
    alpha.fill(-Infinity);
    alpha[0] = y(0, 0);
    if (L > 1) alpha[1] = y(0, 1);
    for (let t = 1; t < T; t++) {
      for (let s = 0; s < L; s++) {
        let a = alpha[(t - 1) * L + s];
        if (s > 0) a = lse(a, alpha[(t - 1) * L + s - 1]);
        if (skip(s)) a = lse(a, alpha[(t - 1) * L + s - 2]);
        alpha[t * L + s] = a + y(t, s);
      }
    }
    const logP = L > 1 ? lse(alpha[(T - 1) * L + L - 1], alpha[(T - 1) * L + L - 2]) : alpha[(T - 1) * L];
    total += -logP / Math.max(S, 1);
    if (!g) continue;
    // beta includes the frame's own emission, as PyTorch's does
    beta.fill(-Infinity);
    beta[(T - 1) * L + L - 1] = y(T - 1, L - 1);
    if (L > 1) beta[(T - 1) * L + L - 2] = y(T - 1, L - 2);
    for (let t = T - 2; t >= 0; t--) {
      for (let s = 0; s < L; s++) {
        let v = beta[(t + 1) * L + s];
        if (s + 1 < L) v = lse(v, beta[(t + 1) * L + s + 1]);
        if (s + 2 < L && skip(s + 2)) v = lse(v, beta[(t + 1) * L + s + 2]);
        beta[t * L + s] = v + y(t, s);
      }
    }
    const scale = 1 / Math.max(S, 1) / N;
    const post = new Float64Array(C);
    for (let t = 0; t < T; t++) {
      post.fill(0);
      for (let s = 0; s < L; s++) post[ext[s]] += Math.exp(alpha[t * L + s] + beta[t * L + s] - logP - y(t, s));
      const o = (t * N + b) * C;
      for (let c = 0; c < C; c++) g[o + c] = (Math.exp(lp[o + c]) - post[c]) * scale;
    }
  }
  const loss = total / N;
  return g ? { loss, grad: g } : { loss };
}
