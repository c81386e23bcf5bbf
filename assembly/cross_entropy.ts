// cross_entropy over an (outer, C, inner) tensor of logits: class-index targets (with weight,
// ignore_index and label smoothing) and class-probability targets. Loss and gradient are fused:
// one pass for the max, one for the exps (kept in the gradient buffer), one to finish the gradient,
// so there is one exp per element.
//
// With m = max_c x_c, S = sum_c exp(x_c - m) and lse = m + log S, log_softmax is lp_c = x_c - lse.
//
// Index target t, weight w (ones when absent), W = sum_c w_c, smoothing eps (PyTorch):
//   nll    = -w_t lp_t
//   smooth = -sum_c w_c lp_c = W log S - sum_c w_c (x_c - m)      (kept relative to m: no cancellation)
//   loss   = (1 - eps) nll + (eps / C) smooth
//   dloss/dx_j = s_j ((1 - eps) w_t + (eps / C) W) - (1 - eps) w_t [j == t] - (eps / C) w_j,  s = softmax(x)
// An ignored position contributes 0 to the loss and gets a zero gradient. 'mean' divides by the sum
// of w_t over non-ignored positions; the caller folds that into `scale`.
//
// Probability targets p (smoothed first: p'_c = (1 - eps) p_c + eps / C), P = sum_c w_c p'_c:
//   loss = -sum_c w_c p'_c lp_c = P log S - sum_c w_c p'_c (x_c - m)
//   dloss/dx_c = s_c P - w_c p'_c
// Products are formed literally (w_c p'_c times (x_c - m)), so 0 * -inf gives NaN exactly where
// PyTorch's own -(lp * p * w).sum() does.

import { at, expT, rowMax, upstream } from "./math";

/** Class-index targets (i32, validated: 0..C-1, or -1 where ignored). `weight` (C values) may be 0 for none.
 *  `lossOut` (one per position) may be 0; `grad` (input-sized) may be 0 for forward only.
 *  The upstream gradient is `gradPerPosition[pos]` when that pointer is non-zero, else `scale`.
 *  Returns the sum of the per-position losses in f64. */
export function crossEntropyIndex<T>(
  x: usize, target: usize, weight: usize, outer: i32, C: i32, inner: i32,
  eps: f64, lossOut: usize, grad: usize, scale: f64, gradPerPosition: usize,
): f64 {
  const stride = <usize>inner << alignof<T>();
  const smooth = eps / <f64>C;
  let totalWeight: f64 = <f64>C;
  if (weight != 0) {
    totalWeight = 0;
    for (let c = 0; c < C; c++) totalWeight += <f64>load<T>(at<T>(weight, c));
  }
  let total: f64 = 0;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const pos = <usize>o * inner + i;
      const offset = (<usize>o * C * inner + i) << alignof<T>();
      const t = load<i32>(target + (pos << 2));
      if (t < 0) { // an ignored position (the caller maps ignore_index to -1)
        if (lossOut != 0) store<T>(at<T>(lossOut, pos), <T>0);
        if (grad != 0) {
          // PyTorch still back-propagates a zero through log_softmax here: 0 * exp(lp) is 0, or
          // NaN for the whole row when lp is NaN (a NaN or +inf logit, or a row of all -inf).
          const m = rowMax<T>(x + offset, C, stride);
          const zero: T = m - m == 0 ? <T>0 : <T>NaN;
          for (let c = 0; c < C; c++) store<T>(grad + offset + <usize>c * stride, zero);
        }
        continue;
      }
      const row = x + offset;
      const m = rowMax<T>(row, C, stride);
      const g = grad + offset;
      let sum: f64 = 0;
      let weighted: f64 = 0; // sum_c w_c (x_c - m), needed only with smoothing
      for (let c = 0; c < C; c++) {
        const p = <usize>c * stride;
        const d = load<T>(row + p) - m;
        const e = expT<T>(d);
        if (grad != 0) store<T>(g + p, e);
        sum += <f64>e;
        if (eps != 0) weighted += (weight != 0 ? <f64>load<T>(at<T>(weight, c)) : 1.0) * <f64>d;
      }
      const logSum = Math.log(sum);
      const wt = weight != 0 ? <f64>load<T>(at<T>(weight, t)) : 1.0;
      const lpt = <f64>(load<T>(row + <usize>t * stride) - m) - logSum;
      let loss = -wt * lpt;
      if (eps != 0) loss = (1 - eps) * loss + smooth * (totalWeight * logSum - weighted);
      total += loss;
      if (lossOut != 0) store<T>(at<T>(lossOut, pos), <T>loss);
      if (grad != 0) {
        const k = upstream<T>(gradPerPosition, pos, scale);
        const sScale = k * ((1 - eps) * wt + smooth * totalWeight) / sum;
        for (let c = 0; c < C; c++) {
          const p = <usize>c * stride;
          let d = <f64>load<T>(g + p) * sScale;
          if (eps != 0) d -= k * smooth * (weight != 0 ? <f64>load<T>(at<T>(weight, c)) : 1.0);
          store<T>(g + p, <T>d);
        }
        const pt = g + <usize>t * stride;
        store<T>(pt, <T>(<f64>load<T>(pt) - k * (1 - eps) * wt));
      }
    }
  }
  return total;
}

/** Class-probability targets `probs` (same layout as x). Same conventions as crossEntropyIndex. */
export function crossEntropyProbs<T>(
  x: usize, probs: usize, weight: usize, outer: i32, C: i32, inner: i32,
  eps: f64, lossOut: usize, grad: usize, scale: f64, gradPerPosition: usize,
): f64 {
  const stride = <usize>inner << alignof<T>();
  const smooth = eps / <f64>C;
  let total: f64 = 0;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const pos = <usize>o * inner + i;
      const offset = (<usize>o * C * inner + i) << alignof<T>();
      const row = x + offset;
      const prow = probs + offset;
      const m = rowMax<T>(row, C, stride);
      const g = grad + offset;
      let sum: f64 = 0;
      let targetMass: f64 = 0; // P = sum_c w_c p'_c
      let weighted: f64 = 0;   // sum_c w_c p'_c (x_c - m)
      for (let c = 0; c < C; c++) {
        const p = <usize>c * stride;
        const d = load<T>(row + p) - m;
        const e = expT<T>(d);
        if (grad != 0) store<T>(g + p, e);
        sum += <f64>e;
        let wp = <f64>load<T>(prow + p) * (1 - eps) + smooth;
        if (weight != 0) wp *= <f64>load<T>(at<T>(weight, c));
        targetMass += wp;
        weighted += wp * <f64>d;
      }
      const logSum = Math.log(sum);
      const loss = targetMass * logSum - weighted;
      total += loss;
      if (lossOut != 0) store<T>(at<T>(lossOut, pos), <T>loss);
      if (grad != 0) {
        const k = upstream<T>(gradPerPosition, pos, scale);
        const sScale = k * targetMass / sum;
        for (let c = 0; c < C; c++) {
          const p = <usize>c * stride;
          let wp = <f64>load<T>(prow + p) * (1 - eps) + smooth;
          if (weight != 0) wp *= <f64>load<T>(at<T>(weight, c));
          store<T>(g + p, <T>(<f64>load<T>(g + p) * sScale - k * wp));
        }
      }
    }
  }
  return total;
}
