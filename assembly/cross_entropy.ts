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

import { addWide, expV, hsum, lanes, minNormalV } from "./simd";
import { at, expT, rowExpSum, rowMax, rowMaxForExp, rowScale, rowShiftedSum, upstream } from "./math";

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
    let i = 0;
    if (ASC_FEATURE_SIMD && inner > 1) {
      // Class dim not last (NCHW): vectorise across positions, a block at a time.
      i = inner - inner % lanes<T>();
      for (let i0 = 0; i0 < i; i0 += BLOCK) {
        total += indexBlock<T>(x, target, weight, o, C, inner, i0, min(BLOCK, i - i0), smooth, totalWeight,
                               lossOut, grad, scale, gradPerPosition);
      }
    }
    for (; i < inner; i++) {
      const pos = <usize>o * inner + i;
      const offset = (<usize>o * C * inner + i) << alignof<T>();
      const t = load<i32>(target + (pos << 2));
      if (t < 0) { // an ignored position (the caller maps ignore_index to -1)
        if (lossOut != 0) store<T>(at<T>(lossOut, pos), <T>0);
        if (grad != 0) ignoredGrad<T>(x + offset, grad + offset, C, stride);
        continue;
      }
      const row = x + offset;
      const g = grad + offset;
      const m = rowMaxForExp<T>(row, C, stride);
      const sum = rowExpSum<T>(row, m, C, stride, grad != 0 ? g : 0);
      const logSum = Math.log(sum);
      const wt = weight != 0 ? <f64>load<T>(at<T>(weight, t)) : 1.0;
      const lpt = <f64>(load<T>(row + <usize>t * stride) - m) - logSum;
      let loss = -wt * lpt;
      if (eps != 0) loss = (1 - eps) * loss + smooth * (totalWeight * logSum - rowShiftedSum<T>(row, m, C, stride, weight));
      total += loss;
      if (lossOut != 0) store<T>(at<T>(lossOut, pos), <T>loss);
      if (grad != 0) {
        const k = upstream<T>(gradPerPosition, pos, scale);
        rowScale<T>(g, C, stride, k * ((1 - eps) * wt + smooth * totalWeight) / sum, k * smooth, weight);
        const pt = g + <usize>t * stride;
        store<T>(pt, <T>(<f64>load<T>(pt) - k * (1 - eps) * wt));
      }
    }
  }
  return total;
}

/** The gradient row of an ignored position. PyTorch still back-propagates a zero through
 *  log_softmax there: 0 * exp(lp) is 0, or NaN for the whole row when lp is NaN (a NaN or +inf
 *  logit, or a row of all -inf). */
function ignoredGrad<T>(row: usize, g: usize, C: i32, stride: usize): void {
  const m = rowMax<T>(row, C, stride);
  const zero: T = m - m == 0 ? <T>0 : <T>NaN;
  for (let c = 0; c < C; c++) store<T>(g + <usize>c * stride, zero);
}

// The blocked path for a class dim that is not last: BLOCK positions at a time (a multiple of
// the lanes), each pass walking the classes with the positions in vector lanes. Per-position
// state lives in static scratch; BLOCK positions x C classes stay in cache across the passes.
const BLOCK = 256;
const MAXES = memory.data(BLOCK * 8, 16);  // per-position max, T
const SUMS = memory.data(BLOCK * 8, 16);   // per-position sum of exps, f64
const SCALES = memory.data(BLOCK * 8, 16); // per-position gradient factor for the exps, T
const TINY = memory.data(BLOCK * 8, 16);   // per-position exp below which the gradient would be subnormal, T

/** One block of n positions (a multiple of the lanes) starting at position i0 of outer slice o.
 *  Same maths as the row loop of crossEntropyIndex; returns the block's summed loss. */
function indexBlock<T>(
  x: usize, target: usize, weight: usize, o: i32, C: i32, inner: i32, i0: i32, n: i32,
  smooth: f64, totalWeight: f64, lossOut: usize, grad: usize, scale: f64, gradPerPosition: usize,
): f64 {
  const L = lanes<T>();
  const stride = <usize>inner << alignof<T>();
  const base = at<T>(x, <usize>o * C * inner + i0);
  const gBase = grad != 0 ? at<T>(grad, <usize>o * C * inner + i0) : 0;
  // Pass 1: per-position max over the classes (NaN-propagating, for ignoredGrad's rule).
  memory.copy(MAXES, base, <usize>n << alignof<T>());
  for (let c = 1; c < C; c++) {
    const row = base + <usize>c * stride;
    for (let j = 0; j < n; j += L) {
      const p = at<T>(MAXES, j);
      v128.store(p, v128.max<T>(v128.load(p), v128.load(at<T>(row, j))));
    }
  }
  // Pass 2: exps (kept in the gradient) and their per-position f64 sums.
  memory.fill(SUMS, 0, <usize>n << 3);
  for (let c = 0; c < C; c++) {
    const row = base + <usize>c * stride;
    const g = gBase + <usize>c * stride;
    for (let j = 0; j < n; j += L) {
      const e = expV<T>(v128.sub<T>(v128.load(at<T>(row, j)), v128.load(at<T>(MAXES, j))));
      if (grad != 0) v128.store(at<T>(g, j), e);
      const s = SUMS + (<usize>j << 3);
      if (sizeof<T>() == 4) {
        v128.store(s, f64x2.add(v128.load(s), f64x2.promote_low_f32x4(e)));
        v128.store(s, f64x2.add(v128.load(s, 16), f64x2.promote_low_f32x4(v128.shuffle<f32>(e, e, 2, 3, 0, 1))), 16);
      } else {
        v128.store(s, f64x2.add(v128.load(s), e));
      }
    }
  }
  // Per position: the loss, and the factor that turns its exps into gradient.
  const eps = smooth * <f64>C;
  let total: f64 = 0;
  for (let j = 0; j < n; j++) {
    const pos = <usize>o * inner + i0 + j;
    const t = load<i32>(target + (pos << 2));
    const m = load<T>(at<T>(MAXES, j));
    if (t < 0) {
      if (lossOut != 0) store<T>(at<T>(lossOut, pos), <T>0);
      store<T>(at<T>(SCALES, j), <T>0);
      store<T>(at<T>(TINY, j), <T>0);
      continue;
    }
    const sum = load<f64>(SUMS + (<usize>j << 3));
    const logSum = Math.log(sum);
    const wt = weight != 0 ? <f64>load<T>(at<T>(weight, t)) : 1.0;
    let loss = -wt * (<f64>(load<T>(base + <usize>t * stride + (<usize>j << alignof<T>())) - m) - logSum);
    if (eps != 0) {
      loss = (1 - eps) * loss + smooth * (totalWeight * logSum - rowShiftedSum<T>(at<T>(base, j), m, C, stride, weight));
    }
    total += loss;
    if (lossOut != 0) store<T>(at<T>(lossOut, pos), <T>loss);
    const k = upstream<T>(gradPerPosition, pos, scale);
    const factor = <T>(k * ((1 - eps) * wt + smooth * totalWeight) / sum);
    store<T>(at<T>(SCALES, j), factor);
    store<T>(at<T>(TINY, j), (sizeof<T>() == 4 ? <T>1.17549435e-38 : <T>2.2250738585072014e-308) / abs<T>(factor));
  }
  if (grad == 0) return total;
  // Pass 3: gradient = exp * factor (- smoothing), flushing would-be subnormals as rowScale does.
  for (let c = 0; c < C; c++) {
    const g = gBase + <usize>c * stride;
    const w = weight != 0 ? <f64>load<T>(at<T>(weight, c)) : 1.0;
    for (let j = 0; j < n; j += L) {
      const p = at<T>(g, j);
      const v = v128.load(p);
      const flush = v128.lt<T>(v, v128.load(at<T>(TINY, j)));
      v128.store(p, v128.mul<T>(v128.andnot(v, flush), v128.load(at<T>(SCALES, j))));
    }
    if (smooth != 0) {
      for (let j = 0; j < n; j++) {
        const pos = <usize>o * inner + i0 + j;
        if (load<i32>(target + (pos << 2)) < 0) continue;
        const p = at<T>(g, j);
        store<T>(p, <T>(<f64>load<T>(p) - upstream<T>(gradPerPosition, pos, scale) * smooth * w));
      }
    }
  }
  // The target's own term, and the rows of ignored positions.
  for (let j = 0; j < n; j++) {
    const pos = <usize>o * inner + i0 + j;
    const t = load<i32>(target + (pos << 2));
    if (t < 0) {
      ignoredGrad<T>(at<T>(base, j), at<T>(gBase, j), C, stride);
      continue;
    }
    const wt = weight != 0 ? <f64>load<T>(at<T>(weight, t)) : 1.0;
    const pt = at<T>(gBase, j) + <usize>t * stride;
    store<T>(pt, <T>(<f64>load<T>(pt) - upstream<T>(gradPerPosition, pos, scale) * (1 - eps) * wt));
  }
  return total;
}

/** Class-probability targets `probs` (same layout as x). Same conventions as crossEntropyIndex. */
export function crossEntropyProbs<T>(
  x: usize, probs: usize, weight: usize, outer: i32, C: i32, inner: i32,
  eps: f64, lossOut: usize, grad: usize, scale: f64, gradPerPosition: usize,
): f64 {
  const stride = <usize>inner << alignof<T>();
  let total: f64 = 0;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const pos = <usize>o * inner + i;
      const offset = (<usize>o * C * inner + i) << alignof<T>();
      const row = x + offset;
      const m = rowMaxForExp<T>(row, C, stride);
      const sum = probsRowSums<T>(row, probs + offset, weight, m, C, stride, grad != 0 ? grad + offset : 0, eps);
      const loss = targetMass * Math.log(sum) - weightedShift;
      total += loss;
      if (lossOut != 0) store<T>(at<T>(lossOut, pos), <T>loss);
      if (grad != 0) {
        const k = upstream<T>(gradPerPosition, pos, scale);
        probsRowGrad<T>(grad + offset, probs + offset, weight, C, stride, k * targetMass / sum, k, eps);
      }
    }
  }
  return total;
}

// probsRowSums' second and third results.
let targetMass: f64 = 0;    // P = sum_c w_c p'_c
let weightedShift: f64 = 0; // sum_c w_c p'_c (x_c - m)

/** One row's sum of exps (returned; the exps are stored at e when e != 0), P and the weighted
 *  shift (in the globals above), with p'_c = (1 - eps) p_c + eps / C. */
function probsRowSums<T>(row: usize, prow: usize, weight: usize, m: T, C: i32, stride: usize, e: usize, eps: f64): f64 {
  const smooth = eps / <f64>C;
  let sum: f64 = 0;
  let mass: f64 = 0;
  let shift: f64 = 0;
  let c = 0;
  if (ASC_FEATURE_SIMD) if (stride == sizeof<T>() && C >= lanes<T>()) {
    const L = lanes<T>();
    const vm = v128.splat<T>(m);
    const keep = v128.splat<T>(<T>(1 - eps));
    const add = v128.splat<T>(<T>smooth);
    const end = C - C % L;
    let accSum = f64x2.splat(0);
    let accMass = accSum;
    let accShift = accSum;
    while (c < end) { // sums in T over blocks of 16 vectors, widened to f64 per block
      const blockEnd = min(c + 16 * L, end);
      let s = v128.splat<T>(<T>0);
      let p = s;
      let w = s;
      for (; c < blockEnd; c += L) {
        const d = v128.sub<T>(v128.load(at<T>(row, c)), vm);
        const ex = expV<T>(d);
        if (e != 0) v128.store(at<T>(e, c), ex);
        let wp = v128.add<T>(v128.mul<T>(v128.load(at<T>(prow, c)), keep), add);
        if (weight != 0) wp = v128.mul<T>(wp, v128.load(at<T>(weight, c)));
        s = v128.add<T>(s, ex);
        p = v128.add<T>(p, wp);
        w = v128.add<T>(w, v128.mul<T>(wp, d));
      }
      accSum = addWide<T>(accSum, s);
      accMass = addWide<T>(accMass, p);
      accShift = addWide<T>(accShift, w);
    }
    sum = hsum(accSum);
    mass = hsum(accMass);
    shift = hsum(accShift);
  }
  for (; c < C; c++) {
    const q = <usize>c * stride;
    const d = load<T>(row + q) - m;
    const ex = expT<T>(d);
    if (e != 0) store<T>(e + q, ex);
    sum += <f64>ex;
    let wp = <f64>load<T>(prow + q) * (1 - eps) + smooth;
    if (weight != 0) wp *= <f64>load<T>(at<T>(weight, c));
    mass += wp;
    shift += wp * <f64>d; // formed literally: 0 * -inf is NaN here exactly where PyTorch's is
  }
  targetMass = mass;
  weightedShift = shift;
  return sum;
}

/** g_c := g_c * a - k w_c p'_c: the gradient from the stored exps. */
function probsRowGrad<T>(g: usize, prow: usize, weight: usize, C: i32, stride: usize, a: f64, k: f64, eps: f64): void {
  const smooth = eps / <f64>C;
  let c = 0;
  if (ASC_FEATURE_SIMD) if (stride == sizeof<T>() && C >= lanes<T>()) {
    const L = lanes<T>();
    const va = v128.splat<T>(<T>a);
    const tiny = v128.div<T>(minNormalV<T>(), v128.abs<T>(va));
    const keep = v128.splat<T>(<T>(k * (1 - eps)));
    const add = v128.splat<T>(<T>(k * smooth));
    for (; c + L <= C; c += L) {
      let kwp = v128.add<T>(v128.mul<T>(v128.load(at<T>(prow, c)), keep), add);
      if (weight != 0) kwp = v128.mul<T>(kwp, v128.load(at<T>(weight, c)));
      const v = v128.load(at<T>(g, c));
      v128.store(at<T>(g, c), v128.sub<T>(v128.mul<T>(v128.andnot(v, v128.lt<T>(v, tiny)), va), kwp));
    }
  }
  for (; c < C; c++) {
    const q = <usize>c * stride;
    let wp = <f64>load<T>(prow + q) * (1 - eps) + smooth;
    if (weight != 0) wp *= <f64>load<T>(at<T>(weight, c));
    store<T>(g + q, <T>(<f64>load<T>(g + q) * a - k * wp));
  }
}
