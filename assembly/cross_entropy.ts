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
//
// z-loss (PaLM; issue 12, the same as linearCrossEntropy's): every non-ignored position adds
// z lse^2, whose gradient is 2 z lse s_j: one more term in the factor that turns the stored exps
// into the gradient (expFactor), so still one exp per logit. Its upstream factor kz is separate
// from the loss's k because 'mean' averages the z term over positions by count, not by weight.
// The kernels return the sum of the cross-entropy terms alone and leave the sum of lse^2 over
// non-ignored positions in `zSquares` (crossEntropyZSquares()), for the caller's reduction; the
// per-position losses (`lossOut`) include z lse^2. `lseOut` (when non-zero) receives every
// position's lse = m + log S, ignored positions included.

import { MAX_THREADS } from "./threads";
import { addWide, besideOne, expK, expWith, flushBelow, hsum, lanes, log64V, logSumsV, narrow, subnormalBound, widen } from "./simd";
import { at, expSumRest, expT, inF32NormalRange, restShare, rowExpSum, rowMax, rowMaxForExp, rowScale, rowShiftedSum, sumError, upstream, withRest } from "./math";

/** Class-index targets (i32, validated: 0..C-1, or -1 where ignored). `weight` (C values) may be 0 for none.
 *  `lossOut` (one per position) may be 0; `grad` (input-sized) may be 0 for forward only.
 *  The upstream gradient is `gradPerPosition[pos]` when that pointer is non-zero, else `scale`
 *  (`zScale` for the z term). `z` > 0 adds the z-loss (only `z > 0` turns it on, so a caller that
 *  leaves the last three arguments out gets plain cross-entropy); `lseOut` may be 0.
 *  Returns the sum of the per-position cross-entropy losses (without the z term) in f64. */
export function crossEntropyIndex<T>(
  x: usize, target: usize, weight: usize, outer: i32, C: i32, inner: i32,
  eps: f64, lossOut: usize, grad: usize, scale: f64, gradPerPosition: usize,
  z: f64, zScale: f64, lseOut: usize,
): f64 {
  const stride = <usize>inner << alignof<T>();
  const smooth = eps / <f64>C;
  let totalWeight: f64 = <f64>C;
  if (weight != 0) {
    totalWeight = 0;
    for (let c = 0; c < C; c++) totalWeight += <f64>load<T>(at<T>(weight, c));
  }
  // z lse^2 has no bound known before the pass (lse grows with the logits): the exact exp then
  if (!(z > 0)) z = 0;
  zSquares = 0; // (before needsExactExp, which leaves max |gradOutput| there when z = 0)
  const exact = grad != 0 && (z != 0 || needsExactExp<T>(weight, C, outer * inner, eps, scale, gradPerPosition));
  // (only where the column path below runs: rows of many classes never read it)
  const narrowStep = ASC_FEATURE_SIMD && inner >= 2 * lanes<T>() && indexStepFits<T>(weight, C, eps, scale, gradPerPosition, z, lseOut);
  // (the column path's float32 case without smoothing, z, lse or the exact exp: indexColumnsLean)
  const lean = narrowStep && eps == 0 && !exact && leanColumns;
  let total: f64 = 0;
  for (let o = 0; o < outer; o++) {
    let i = 0;
    if (ASC_FEATURE_SIMD && inner > 1) {
      // Class dim not last (NCHW): vectorise across positions.
      if (sizeof<T>() == 4 && lean) {
        i = inner - inner % (2 * lanes<T>());
        total = C == 2
          ? indexColumnsPair(x, target, weight, o, inner, 0, i, lossOut, grad, scale, gradPerPosition, total)
          : indexColumnsLean<T>(x, target, weight, o, C, inner, 0, i, lossOut, grad, scale, gradPerPosition, total);
      }
      for (; i + 2 * lanes<T>() <= inner; i += 2 * lanes<T>()) {
        total += indexColumns<T>(x, target, weight, o, C, inner, i, eps, totalWeight, lossOut, grad, scale, gradPerPosition, z, zScale, lseOut, narrowStep);
      }
    }
    for (; i < inner; i++) {
      const pos = <usize>o * inner + i;
      const offset = (<usize>o * C * inner + i) << alignof<T>();
      const t = load<i32>(target + (pos << 2));
      const row = x + offset;
      if (t < 0) { // an ignored position (the caller maps ignore_index to -1)
        if (lossOut != 0) store<T>(at<T>(lossOut, pos), <T>0);
        if (lseOut != 0) {
          const m = rowMaxForExp<T>(row, C, stride);
          store<T>(at<T>(lseOut, pos), <T>(<f64>m + Math.log(rowExpSum<T>(row, m, C, stride, 0, false))));
        }
        if (grad != 0) ignoredGrad<T>(row, grad + offset, C, stride);
        continue;
      }
      const g = grad + offset;
      const m = rowMaxForExp<T>(row, C, stride);
      const sum = rowExpSum<T>(row, m, C, stride, grad != 0 ? g : 0, exact);
      const logSum = Math.log(sum);
      const lse = <f64>m + logSum;
      const loss = indexLoss<T>(row, stride, C, t, m, logSum, weight, eps, totalWeight);
      total += loss;
      const zt = zTerm(z, lse);
      if (lseOut != 0) store<T>(at<T>(lseOut, pos), <T>lse);
      // (without z a loss of -0, PyTorch's -w lp at lp = 0, stays -0)
      if (lossOut != 0) store<T>(at<T>(lossOut, pos), <T>(z != 0 ? loss + zt : loss));
      if (grad != 0) {
        const k = upstream<T>(gradPerPosition, pos, scale);
        const zf = zFactor<T>(z, lse, gradPerPosition, pos, zScale, sum);
        const ce = expFactor<T>(k, weight, t, eps, smooth, totalWeight, sum);
        const h = zHalving<T>(ce, zf);
        const a = ce * h + zf * h; // (h = 1: ce + zf exactly)
        // (with smoothing or z-loss, a class whose softmax is exactly 1: see exactOneGrad. The other
        // classes keep e_c a, their whole gradient with z-loss (red team 19); where a overflows T
        // even halved, one of PyTorch's two gradients does too, and e_c a is its inf, or NaN where
        // e_c = 0, as PyTorch's inf * 0: red team 21, which found them zeroed there.)
        let one = (eps != 0 || z != 0) && sum < NEAR_ONE && k - k == 0 ? exactOneClass<T>(g, C, stride, t) : -1;
        const oneGrad = one >= 0 ? maxClassGrad<T>(one, t, k, eps, smooth, totalWeight, weight, zf, ce, expSumRest) : 0;
        if (!nearOneFits<T>(oneGrad, expSumRest)) one = -1;
        // Without smoothing the per-class term is absent, not k * 0 (NaN when k is infinite: 'mean'
        // over class weights that sum to zero).
        rowScale<T>(g, C, stride, a, smooth == 0 ? 0 : k * h * smooth, weight);
        subtractTarget<T>(g, stride, t, k * h, weight, eps);
        if (h != 1) rowDouble<T>(g, C, stride);
        if (one >= 0) store<T>(g + <usize>one * stride, <T>oneGrad);
      }
    }
  }
  return total;
}

/** Whether crossEntropyIndex may take indexColumnsLean where it applies. Only the test-only build
 *  (assembly/testing.ts) turns it off, to compare the two column kernels bit for bit
 *  (tests/cross_entropy_columns.test.ts). */
let leanColumns = true;
export function setLeanColumns(on: bool): void { leanColumns = on; }

/** Whether float32's per-position step (indexColumns) may run in f32x4 lanes: its gradient factors
 *  (k w_t / S, k (1 - eps) w_t, k eps / C) stay in float32's normal range, up to where their exact
 *  values leave it, when the weights, their sum, the scalar scale and eps / C lie between 2^-40 and
 *  2^40 in magnitude (or are 0). Decided from the call's options alone, the same for every chunk.
 *  Otherwise (huge or tiny weights or smoothing; NaN, inf) the step runs in f64 pairs, as it does
 *  with z-loss or lse out, where lse = m + log S is formed in f64 (in f32 it cancels near 0).
 *  The loss itself is formed in f64 in both (red team 14: weights of 3e38 with smoothing gave
 *  Infinity in f32 lanes; red team 15: logits of 1e30 times weights of 2^38). */
function indexStepFits<T>(weight: usize, C: i32, eps: f64, scale: f64, gradPerPosition: usize, z: f64, lseOut: usize): bool {
  if (sizeof<T>() == 8) return true;
  if (z != 0 || lseOut != 0) return false;
  // (per-position gradOutput is not looked at: indexStepLanes multiplies by k last, so k w / S and
  // k (1 - eps) w overflow or go subnormal only where their exact values do; a decision that
  // depended on it would differ between chunks, and so between layouts: red team 15)
  if (gradPerPosition == 0 && !fitsF32Step(scale)) return false;
  if (eps != 0 && !fitsF32Step(eps / <f64>C)) return false;
  if (weight != 0) {
    let sum: f64 = 0;
    for (let c = 0; c < C; c++) {
      const w = <f64>load<T>(at<T>(weight, c));
      if (!fitsF32Step(w)) return false;
      sum += Math.abs(w);
    }
    if (!fitsF32Step(sum)) return false;
  }
  return true;
}

function fitsF32Step(v: f64): bool {
  const a = Math.abs(v);
  return a == 0 || (a >= 9.094947017729282e-13 && a <= 1099511627776.0); // 2^-40, 2^40; NaN: false
}

/** Whether the gradient needs the exact exp (gradual underflow, simd.ts): an exp e below the
 *  smallest normal number reaches the gradient only as e k ((1 - eps) w_t + (eps / C) W) / S with
 *  S >= 1, which stays below the smallest normal number (and rowScale returns it as 0) unless that
 *  factor exceeds 1: a large gradOutput or weight. Otherwise the fast exp gives the same result. */
function needsExactExp<T>(weight: usize, C: i32, positions: i32, eps: f64, scale: f64, gradPerPosition: usize): bool {
  let k = Math.abs(scale);
  if (gradPerPosition != 0) {
    k = 0;
    for (let p = 0; p < positions; p++) k = max(k, Math.abs(<f64>load<T>(at<T>(gradPerPosition, p))));
    // the largest |gradOutput| (NaN if any is), read by src/ops/cross_entropy.ts (Literal) as the
    // export crossEntropyZSquares, unused otherwise without z-loss: a JavaScript pass over
    // gradOutput cost 13% of the [65536, 2] call (red team 31)
    zSquares = k;
  }
  let wMax: f64 = 1;
  let wSum: f64 = <f64>C;
  if (weight != 0) {
    wMax = 0;
    wSum = 0;
    for (let c = 0; c < C; c++) {
      const w = Math.abs(<f64>load<T>(at<T>(weight, c)));
      wMax = max(wMax, w);
      wSum += w;
    }
  }
  return !(k * ((1 - eps) * wMax + eps / <f64>C * wSum) <= 1); // NaN: exact
}

/** The loss of a non-ignored position with target t, from its row's max m and log(sum of exps)
 *  (the formulas at the top of this file). */
// @ts-ignore: decorator
@inline function indexLoss<T>(row: usize, stride: usize, C: i32, t: i32, m: T, logSum: f64, weight: usize, eps: f64, totalWeight: f64): f64 {
  const loss = -classWeight<T>(weight, t) * (<f64>(load<T>(row + <usize>t * stride) - m) - logSum);
  if (eps == 0) return loss;
  const smooth = eps / <f64>C;
  return (1 - eps) * loss + smooth * (totalWeight * logSum - rowShiftedSum<T>(row, m, C, stride, weight));
}

/** The factor that turns a position's exps into its gradient: k ((1 - eps) w_t + (eps / C) W) / S. */
function expFactor<T>(k: f64, weight: usize, t: i32, eps: f64, smooth: f64, totalWeight: f64, sum: f64): f64 {
  // without smoothing W is not used (as in PyTorch): float64 weights of 1e308 overflow their sum
  if (eps == 0) return k * classWeight<T>(weight, t) / sum;
  return k * ((1 - eps) * classWeight<T>(weight, t) + smooth * totalWeight) / sum;
}

/** The sum of lse^2 over the non-ignored positions of the last call (the z term before z and the
 *  reduction: the caller divides it by the count of those positions for 'mean'). */
export let zSquares: f64 = 0;

/** A position's z term, z lse^2 (0 without z-loss), adding its lse^2 to zSquares. */
function zTerm(z: f64, lse: f64): f64 {
  if (z == 0) return 0;
  zSquares += lse * lse;
  return z * lse * lse;
}

/** The z term's share of the exps' factor: d(z lse^2)/dx_j = 2 z lse s_j = (2 z lse / S) e_j,
 *  times the position's upstream gradient k, formed ((k z) lse) 2, as PyTorch's backward of
 *  z (lse lse) does: k 2 overflowed first at k > 9e307 (red team 18), and 2 lse at lse > 9e307
 *  (float64 logits near the max: NaN gradients where PyTorch's are finite; red team 64). The same
 *  bits as (k z)(2 lse) wherever neither overflows. */
function zFactor<T>(z: f64, lse: f64, gradPerPosition: usize, pos: usize, zScale: f64, sum: f64): f64 {
  if (z == 0) return 0;
  return upstream<T>(gradPerPosition, pos, zScale) * z * lse * 2 / sum;
}

/** 0.5 where a position's cross-entropy factor and z factor each fit T but their sum overflows it
 *  (gradOutput near T's max with z-loss), else 1. PyTorch keeps the two gradients apart, each
 *  finite, so there the position's factors are halved and its gradient doubled once formed
 *  (rowDouble; exact, a power of two: at such factors no entry is subnormal). Red team 18 left this
 *  OPEN: f32 [1, 17], eps 0.1, zLoss 1, gradOutput 3e38 gave inf for torch's 3.28e38. */
// @ts-ignore: decorator
@inline function zHalving<T>(ce: f64, zf: f64): f64 {
  return zf != 0 ? zHalved<T>(ce, zf) : 1;
}

/** zHalving's z-loss case, out of line (kept off the hot loops' code size). */
function zHalved<T>(ce: f64, zf: f64): f64 {
  return !finiteT<T>(ce + zf) && finiteT<T>(ce) && finiteT<T>(zf) ? 0.5 : 1;
}

/** Whether v is finite once rounded to T. */
// @ts-ignore: decorator
@inline function finiteT<T>(v: f64): bool {
  const r = <f64><T>v;
  return r - r == 0;
}

/** Doubles a gradient row formed from halved factors (zHalving). */
function rowDouble<T>(g: usize, C: i32, stride: usize): void {
  for (let c = 0; c < C; c++) store<T>(g + <usize>c * stride, load<T>(g + <usize>c * stride) * <T>2);
}

/** The target's own gradient term: g_t -= k (1 - eps) w_t, that term rounded to T first as g_t
 *  was (and as the vector paths and PyTorch's g - p sum(g) have it): where the softmax is exactly 1
 *  (C = 1, or every other logit -inf) the two cancel to 0, not to float32's rounding error of
 *  k w_t (red team 16: 1.86e-9 at k = 0.1, w_t = 0.75; 3.8e22 at k = 1e30). */
// @ts-ignore: decorator
@inline function subtractTarget<T>(g: usize, stride: usize, t: i32, k: f64, weight: usize, eps: f64): void {
  const p = g + <usize>t * stride;
  store<T>(p, <T>(<f64>load<T>(p) - <f64><T>(k * (1 - eps) * classWeight<T>(weight, t))));
}

/** w_c, or 1 without a weight. */
// @ts-ignore: decorator
@inline function classWeight<T>(weight: usize, c: i32): f64 {
  return weight != 0 ? <f64>load<T>(at<T>(weight, c)) : 1.0;
}

/** The gradient row of an ignored position. PyTorch still back-propagates a zero through
 *  log_softmax there: 0 * exp(lp) is 0, or NaN for the whole row when lp is NaN (a NaN or +inf
 *  logit, or a row of all -inf). */
function ignoredGrad<T>(row: usize, g: usize, C: i32, stride: usize): void {
  const m = rowMax<T>(row, C, stride);
  const zero: T = m - m == 0 ? <T>0 : <T>NaN;
  for (let c = 0; c < C; c++) store<T>(g + <usize>c * stride, zero);
}

// The path for a class dim that is not last (NCHW, and short rows regrouped into columns by
// src/stream.ts): the positions of two vectors sit in their lanes and each pass walks the classes,
// keeping the max, the sums and the gradient factors in registers (two vectors share the
// constants' loads and the loop overhead). The C rows touched (one cache line each) stay in L1
// across the passes. The per-position step (loss, gradient factors) runs on f64x2 pairs of
// positions too, and the target's own gradient term is subtracted by a mask in the class loop:
// with a few classes, a scalar step per position had cost more than all the exps (row CE with
// C = 2 spent 70 ns per position in all, 35 per element).

/** Lane-wise scratch between the passes, two vectors' worth each: per position the max (then the
 *  gradient factor a), x_t - m (then the target's term b), w_t, k eps / C (in T), the sums of exps,
 *  their logs and smoothing's sum_c w_c (x_c - m) (in f64), softmaxOnes' gradients (in T) and classes. */
// One block per thread (src/threads.ts): instances sharing one memory each use their own slot.
const LANES_BYTES: usize = 6 * 32 + 4 * 64 + 64;
const LANES = memory.data(<i32>LANES_BYTES * MAX_THREADS, 16);
let LANE_M = LANES;
let LANE_XT = LANES + 32;
let LANE_WT = LANES + 64;
let LANE_KS = LANES + 96;
let LANE_SUM = LANES + 128;
let LANE_LOG = LANES + 192;
let LANE_SHIFT = LANES + 256;
let LANE_ONE = LANES + 320;
let LANE_CLASS = LANES + 352;
let LANE_KS64 = LANES + 384; // wideKsLanes' k eps / C, f64
let LANE_REST = LANES + 448; // R (storeSums), f64

/** Points this instance's column scratch at thread slot k's block. */
export function crossEntropyScratchSlot(k: i32): void {
  LANE_M = LANES + <usize>k * LANES_BYTES;
  LANE_XT = LANE_M + 32;
  LANE_WT = LANE_M + 64;
  LANE_KS = LANE_M + 96;
  LANE_SUM = LANE_M + 128;
  LANE_LOG = LANE_M + 192;
  LANE_SHIFT = LANE_M + 256;
  LANE_ONE = LANE_M + 320;
  LANE_CLASS = LANE_M + 352;
  LANE_KS64 = LANE_M + 384;
  LANE_REST = LANE_M + 448;
}

/** Up to this many classes indexColumns picks each position's target logit and weight with
 *  vector selects in its max pass (2 compares and 2-4 selects per class per 2 vectors); above it a
 *  scalar load per position costs less (x86 instructions per position, bench/instructions.sh:
 *  the scalar gather ~31, the selects ~2.3 per class, ~4.2 with a class weight). Row CE with
 *  C = 2 (regrouped into columns): 85.0 -> 74.2 per element (c2); at C = 20 the selects had cost
 *  +0.8 (nchw) and +2.7 with a weight (nchww). */
const GATHER_MAX_C = 8;

/** One vector's targets (i32 at p) as integer lanes of T's width, to compare with a class. */
// @ts-ignore: decorator
@inline function targetLanes<T>(p: usize): v128 {
  if (sizeof<T>() == 4) return v128.load(p);
  return i64x2.extend_low_i32x4_s(v128.load64_zero(p));
}

/** Lanes whose target is class c (c splatted as targetLanes' integers). */
// @ts-ignore: decorator
@inline function isClass<T>(t: v128, c: v128): v128 {
  if (sizeof<T>() == 4) return i32x4.eq(t, c);
  return i64x2.eq(t, c);
}

// @ts-ignore: decorator
@inline function classLanes<T>(c: i32): v128 {
  if (sizeof<T>() == 4) return i32x4.splat(c);
  return i64x2.splat(<i64>c);
}

/** Stores one vector's per-position sums of exps S (accumulated in f64: s0 lanes 0-1, s1 lanes
 *  2-3 for f32) and their logs at lane offset `half`: in f64 for the wide step, as f32 for the
 *  f32x4 one. r0, r1: R, the exps other than the max's 1 (simd.ts besideOne); S is 1 + R below 2
 *  (sumBesideOne), and R is kept at LANE_REST for softmaxOnes. */
function storeSums<T>(half: usize, s0: v128, s1: v128, r0: v128, r1: v128, wide: bool): void {
  v128.store(LANE_REST + half * 8, r0);
  if (sizeof<T>() == 4) v128.store(LANE_REST + half * 8, r1, 16);
  s0 = sumBesideOne(s0, r0);
  s1 = sumBesideOne(s1, r1);
  if (wide) {
    v128.store(LANE_SUM + half * 8, s0);
    v128.store(LANE_LOG + half * 8, log64V(s0));
    if (sizeof<T>() == 4) {
      v128.store(LANE_SUM + half * 8, s1, 16);
      v128.store(LANE_LOG + half * 8, log64V(s1), 16);
    }
    return;
  }
  v128.store(at<T>(LANE_SUM, half), narrow<T>(s0, s1));
  v128.store(at<T>(LANE_LOG, half), logSumsV<T>(s0, s1));
}

/** S in f64 lanes, 1 + R where below 2 (math.ts withRest's vector twin): the sums in T over 8 classes lost
 *  what was below half an ulp of the max's 1 (float32 [16, 2] rows [20, 0]: loss -0 for 2.06e-9;
 *  red team 27), where PyTorch float64 keeps it. */
// @ts-ignore: decorator
@inline function sumBesideOne(s: v128, r: v128): v128 {
  return v128.bitselect(f64x2.add(f64x2.splat(1), r), s, f64x2.lt(s, f64x2.splat(2)));
}

/** Two T values at p, widened to an f64x2. */
// @ts-ignore: decorator
@inline function loadPair<T>(p: usize): v128 {
  if (sizeof<T>() == 8) return v128.load(p);
  return f64x2.promote_low_f32x4(v128.load64_zero(p));
}

/** An f64x2 stored as two T values at p. */
// @ts-ignore: decorator
@inline function storePair<T>(p: usize, v: v128): void {
  if (sizeof<T>() == 8) v128.store(p, v);
  else v128.store64_lane(p, f32x4.demote_f64x2_zero(v), 0);
}

/** indexColumns' first pass over 2 vectors of positions at `base` (targets at tp): stores the
 *  per-position max at LANE_M, and for at most GATHER_MAX_C classes the target's logit and weight
 *  at LANE_XT and LANE_WT, returning whether it did. A function of its own: inlined into the two
 *  kernels of that time (exact and flushing exp), it had cost 1.2 KB of wasm. */
function columnsMax<T>(base: usize, tp: usize, weight: usize, C: i32, stride: usize): bool {
  // pmax may skip a NaN, which still reaches the sum through its exp (ignoredGrad finds NaNs
  // itself). With few classes the target's logit and weight are picked up on the way, lane by lane
  // (a compare and a select per class); with many, indexColumns' scalar gather costs less.
  const L = lanes<T>();
  const gather = C <= GATHER_MAX_C;
  let mA = v128.load(base);
  let mB = v128.load(base, 16);
  let p = base;
  if (gather) {
    const tA = targetLanes<T>(tp);
    const tB = targetLanes<T>(tp + (<usize>L << 2));
    let xtA = mA, xtB = mB; // an ignored position (no class matches) keeps class 0's, masked later
    let wtA = weight != 0 ? v128.splat<T>(load<T>(weight)) : v128.splat<T>(<T>1);
    let wtB = wtA;
    for (let c = 1; c < C; c++) {
      p += stride;
      const vA = v128.load(p);
      const vB = v128.load(p, 16);
      mA = v128.pmax<T>(mA, vA);
      mB = v128.pmax<T>(mB, vB);
      const cv = classLanes<T>(c);
      const isA = isClass<T>(tA, cv);
      const isB = isClass<T>(tB, cv);
      xtA = v128.bitselect(vA, xtA, isA);
      xtB = v128.bitselect(vB, xtB, isB);
      if (weight != 0) {
        const w = v128.splat<T>(load<T>(at<T>(weight, c)));
        wtA = v128.bitselect(w, wtA, isA);
        wtB = v128.bitselect(w, wtB, isB);
      }
    }
    // stored now: nothing of this pass stays live through the exps
    v128.store(LANE_XT, xtA);
    v128.store(LANE_XT, xtB, 16);
    v128.store(LANE_WT, wtA);
    v128.store(LANE_WT, wtB, 16);
  } else {
    for (let c = 1; c < C; c++) {
      p += stride;
      mA = v128.pmax<T>(mA, v128.load(p));
      mB = v128.pmax<T>(mB, v128.load(p, 16));
    }
  }
  v128.store(LANE_M, mA);
  v128.store(LANE_M, mB, 16);
  return gather;
}

/** The positions i0 .. i0 + 2 lanes of outer slice o. Same maths as the row loop of
 *  crossEntropyIndex; returns their summed loss. Its exps are always the exact ones (gradual
 *  underflow): the flushing exp's twelfth constant fewer saved about 1% of a call (NCHW with
 *  smoothing, float64 NCHW; 2026-12-03), not the 630 B gzip of xent.wasm that a second copy of this
 *  function took. indexColumnsLean, for the usual float32 case, keeps the flushing exp. */
function indexColumns<T>(
  x: usize, target: usize, weight: usize, o: i32, C: i32, inner: i32, i0: i32,
  eps: f64, totalWeight: f64, lossOut: usize, grad: usize, scale: f64, gradPerPosition: usize,
  z: f64, zScale: f64, lseOut: usize, narrowStep: bool,
): f64 {
  // eps itself, not eps / C: (eps / C) * C can round to 1 (eps = 1 - 2^-53, C = 3), and then
  // (1 - eps) nll = 0 * inf is NaN where PyTorch has +inf.
  const smooth = eps / <f64>C;
  const L = lanes<T>();
  const stride = <usize>inner << alignof<T>();
  const base = at<T>(x, <usize>o * C * inner + i0);
  const gBase = grad != 0 ? at<T>(grad, <usize>o * C * inner + i0) : 0;
  const pos0 = <usize>o * inner + i0;
  const tp = target + (pos0 << 2);
  // The per-position step runs in f64 pairs ("wide": float64, and float32 calls whose ranges
  // float32 cannot hold) or, for float32 where indexStepFits allows, in f32x4 lanes.
  const wide = sizeof<T>() == 8 || !narrowStep;
  // Pass 1 (columnsMax): the per-position max, and with few classes the target's logit and weight.
  const gather = columnsMax<T>(base, tp, weight, C, stride);
  const mA = v128.load(LANE_M);
  const mB = v128.load(LANE_M, 16);
  let p: usize;
  // Pass 2: exps (kept in the gradient) and their per-position sums: in T over groups of 8
  // classes, then widened into f64.
  const k0 = expK<T>(0, true), k1 = expK<T>(1, true), k2 = expK<T>(2, true), k3 = expK<T>(3, true), k4 = expK<T>(4, true), k5 = expK<T>(5, true);
  const k6 = expK<T>(6, true), k7 = expK<T>(7, true), k8 = expK<T>(8, true), k9 = expK<T>(9, true), kc = expK<T>(10, true), ku = expK<T>(11, true);
  let sA0 = f64x2.splat(0);
  let sA1 = sA0, sB0 = sA0, sB1 = sA0;
  let rA0 = sA0, rA1 = sA0, rB0 = sA0, rB1 = sA0; // R (storeSums), the same way
  for (let c0 = 0; c0 < C; c0 += 8) {
    const c1 = min(c0 + 8, C);
    let partA = v128.splat<T>(<T>0);
    let partB = partA, restA = partA, restB = partA;
    for (let c = c0; c < c1; c++) {
      const q = base + <usize>c * stride;
      const eA = expWith<T>(v128.sub<T>(v128.load(q), mA), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, kc, ku, true);
      const eB = expWith<T>(v128.sub<T>(v128.load(q, 16), mB), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, kc, ku, true);
      if (grad != 0) {
        const g = gBase + <usize>c * stride;
        v128.store(g, eA);
        v128.store(g, eB, 16);
      }
      partA = v128.add<T>(partA, eA);
      partB = v128.add<T>(partB, eB);
      restA = v128.add<T>(restA, besideOne<T>(eA));
      restB = v128.add<T>(restB, besideOne<T>(eB));
    }
    sA0 = widen<T>(sA0, partA, false);
    sB0 = widen<T>(sB0, partB, false);
    rA0 = widen<T>(rA0, restA, false);
    rB0 = widen<T>(rB0, restB, false);
    if (sizeof<T>() == 4) {
      sA1 = widen<T>(sA1, partA, true);
      sB1 = widen<T>(sB1, partB, true);
      rA1 = widen<T>(rA1, restA, true);
      rB1 = widen<T>(rB1, restB, true);
    }
  }
  storeSums<T>(0, sA0, sA1, rA0, rA1, wide);
  storeSums<T>(<usize>L, sB0, sB1, rB0, rB1, wide);
  // Per position: the target's logit and weight (w_t = 1 without weight), and with smoothing
  // sum_c w_c (x_c - m) in f64, each product formed literally as rowShiftedSum does.
  // (eps, not eps / C, decides: the loss uses it whenever eps != 0, and eps / C can be 0)
  if (!gather || eps != 0) {
    for (let l = 0; l < 2 * L; l++) {
      const row = at<T>(base, l);
      if (!gather) {
        const t = max(load<i32>(tp + (<usize>l << 2)), 0); // an ignored position's values are masked later
        store<T>(at<T>(LANE_XT, l), load<T>(row + <usize>t * stride));
        store<T>(at<T>(LANE_WT, l), weight != 0 ? load<T>(at<T>(weight, t)) : <T>1);
      }
      if (eps != 0) store<f64>(LANE_SHIFT + (<usize>l << 3), rowShiftedSum<T>(row, load<T>(at<T>(LANE_M, l)), C, stride, weight));
    }
  }
  v128.store(LANE_XT, v128.sub<T>(v128.load(LANE_XT), mA));
  v128.store(LANE_XT, v128.sub<T>(v128.load(LANE_XT, 16), mB), 16);
  const ones = grad != 0 && (eps != 0 || z != 0) ? softmaxOnes<T>(gBase, tp, C, stride, pos0, weight, eps, smooth, totalWeight, scale, gradPerPosition, z, zScale, wide) : 0;
  halvedLanes = 0;
  wideKsLanes = 0;
  const total = wide
    ? indexStepWide<T>(tp, pos0, eps, totalWeight, C, lossOut, grad, scale, gradPerPosition, z, zScale, lseOut)
    : indexStepLanes<T>(tp, pos0, eps, totalWeight, C, lossOut, grad, scale, gradPerPosition);
  if (grad == 0) return total;
  // Pass 3: gradient = exp * a (flushing would-be subnormals as rowScale does), minus k eps/C w_c
  // with smoothing, minus b at the target.
  const aA = v128.load(LANE_M);
  const aB = v128.load(LANE_M, 16);
  // -b added rather than b subtracted: the same except that -0 (a gradOutput of -0) plus the
  // other classes' masked +0 is +0, as in PyTorch (and the scalar path), where -0 - 0 stayed -0
  const nbA = v128.neg<T>(v128.load(LANE_XT));
  const nbB = v128.neg<T>(v128.load(LANE_XT, 16));
  const ksA = v128.load(LANE_KS);
  const ksB = v128.load(LANE_KS, 16);
  const tA = targetLanes<T>(tp);
  const tB = targetLanes<T>(tp + (<usize>L << 2));
  const tinyA = subnormalBound<T>(aA);
  const tinyB = subnormalBound<T>(aB);
  p = gBase;
  for (let c = 0; c < C; c++) {
    const vA = v128.load(p);
    const vB = v128.load(p, 16);
    let gA = v128.mul<T>(flushBelow<T>(vA, tinyA), aA);
    let gB = v128.mul<T>(flushBelow<T>(vB, tinyB), aB);
    if (smooth != 0) {
      const w = weight != 0 ? v128.splat<T>(load<T>(at<T>(weight, c))) : v128.splat<T>(<T>1);
      gA = v128.sub<T>(gA, v128.mul<T>(ksA, w));
      gB = v128.sub<T>(gB, v128.mul<T>(ksB, w));
    }
    const cv = classLanes<T>(c);
    v128.store(p, v128.add<T>(gA, v128.and(nbA, isClass<T>(tA, cv))));
    v128.store(p, v128.add<T>(gB, v128.and(nbB, isClass<T>(tB, cv))), 16);
    p += stride;
  }
  for (let l = 0; sizeof<T>() == 4 && wideKsLanes != 0 && l < 2 * L; l++) {
    if (wideKsLanes & (1 << l)) rowScale<T>(at<T>(gBase, l), C, stride, 1, load<f64>(LANE_KS64 + (<usize>l << 3)), weight);
  }
  for (let l = 0; halvedLanes != 0 && l < 2 * L; l++) if (halvedLanes & (1 << l)) rowDouble<T>(at<T>(gBase, l), C, stride);
  for (let l = 0; ones != 0 && l < 2 * L; l++) {
    if (ones & (1 << l)) store<T>(at<T>(gBase, l) + <usize>load<i32>(LANE_CLASS + (<usize>l << 2)) * stride, load<T>(at<T>(LANE_ONE, l)));
  }
  // The rows of ignored positions: zero, or NaN where PyTorch's backward gives NaN.
  if (anyIgnored(tp, 2 * L)) {
    for (let l = 0; l < 2 * L; l++) {
      if (load<i32>(tp + (<usize>l << 2)) < 0) ignoredGrad<T>(at<T>(base, l), at<T>(gBase, l), C, stride);
    }
  }
  return total;
}

/** A float32 vector whose lane l is the value at base + l * laneStep + t_l * step, t_l the l-th
 *  target at tp (an ignored position's -1 reads class 0, masked later): the targets' logits of
 *  four positions (step the class stride, laneStep 4), or their class weights (4, 0). */
// @ts-ignore: decorator
@inline function gatherLanes(base: usize, tp: usize, step: usize, laneStep: usize): v128 {
  let v = f32x4.splat(load<f32>(base + <usize>max(load<i32>(tp), 0) * step));
  v = f32x4.replace_lane(v, 1, load<f32>(base + laneStep + <usize>max(load<i32>(tp, 4), 0) * step));
  v = f32x4.replace_lane(v, 2, load<f32>(base + 2 * laneStep + <usize>max(load<i32>(tp, 8), 0) * step));
  return f32x4.replace_lane(v, 3, load<f32>(base + 3 * laneStep + <usize>max(load<i32>(tp, 12), 0) * step));
}

/** indexColumns for the common float32 case, with everything in registers: no smoothing, z-loss
 *  or lse out, the fast exp, weights in float32's step range (indexStepFits). It walks the
 *  positions i0 .. i1 (a multiple of 8 apart) of outer slice o itself, two vectors (8 positions)
 *  at a time, where indexColumns is called per pair of vectors and passes its per-position values
 *  through memory (LANE_*): with two to eight classes that traffic and the call cost more than the
 *  exps (bench/instructions.sh c2). The same operations in the same order as indexColumns with
 *  indexStepLanes, so the same bits (tests/cross_entropy_columns.test.ts);
 *  returns `total` plus the positions' losses, added per pair of vectors as the caller's loop does. */
function indexColumnsLean<T>(
  x: usize, target: usize, weight: usize, o: i32, C: i32, inner: i32, i0: i32, i1: i32,
  lossOut: usize, grad: usize, scale: f64, gradPerPosition: usize, total: f64,
): f64 {
  const stride = <usize>inner << alignof<T>();
  const k0 = expK<T>(0, false), k1 = expK<T>(1, false), k2 = expK<T>(2, false), k3 = expK<T>(3, false), k4 = expK<T>(4, false), k5 = expK<T>(5, false);
  const k6 = expK<T>(6, false), k7 = expK<T>(7, false), k8 = expK<T>(8, false), k9 = expK<T>(9, false), kc = expK<T>(10, false), ku = expK<T>(11, false);
  const w0 = weight != 0 ? v128.splat<T>(load<T>(weight)) : v128.splat<T>(<T>1);
  // Two vectors of positions (A, B) at a time: their chains of dependent operations (exp, log,
  // divide) interleave; one vector at a time ran 15-25% slower on fewer instructions.
  for (let i = i0; i < i1; i += 8) {
    const pos = <usize>o * inner + i;
    const base = at<T>(x, <usize>o * C * inner + i);
    const gBase = at<T>(grad, <usize>o * C * inner + i);
    const tp = target + (pos << 2);
    const tA = v128.load(tp);
    const tB = v128.load(tp, 16);
    // the max, and the target's logit and weight (an ignored position keeps class 0's, masked below)
    let mA = v128.load(base);
    let mB = v128.load(base, 16);
    let xtA = mA, xtB = mB;
    let wtA = w0, wtB = w0;
    let p = base;
    if (C <= GATHER_MAX_C) {
      for (let c = 1; c < C; c++) {
        p += stride;
        const vA = v128.load(p);
        const vB = v128.load(p, 16);
        mA = v128.pmax<T>(mA, vA);
        mB = v128.pmax<T>(mB, vB);
        const cv = i32x4.splat(c);
        const isA = i32x4.eq(tA, cv);
        const isB = i32x4.eq(tB, cv);
        xtA = v128.bitselect(vA, xtA, isA);
        xtB = v128.bitselect(vB, xtB, isB);
        if (weight != 0) {
          const w = v128.splat<T>(load<T>(at<T>(weight, c)));
          wtA = v128.bitselect(w, wtA, isA);
          wtB = v128.bitselect(w, wtB, isB);
        }
      }
    } else {
      for (let c = 1; c < C; c++) {
        p += stride;
        mA = v128.pmax<T>(mA, v128.load(p));
        mB = v128.pmax<T>(mB, v128.load(p, 16));
      }
      xtA = gatherLanes(base, tp, stride, 4);
      xtB = gatherLanes(base + 16, tp + 16, stride, 4);
      if (weight != 0) {
        wtA = gatherLanes(weight, tp, 4, 0);
        wtB = gatherLanes(weight, tp + 16, 4, 0);
      }
    }
    // the exps (kept in the gradient) and their sums: in T over groups of 8 classes, widened into
    // f64 per group (indexColumns' order)
    let sA0 = f64x2.splat(0), sA1 = sA0, sB0 = sA0, sB1 = sA0;
    let rA0 = sA0, rA1 = sA0, rB0 = sA0, rB1 = sA0;
    p = base;
    let g = gBase;
    let restA = v128.splat<T>(<T>0), restB = restA;
    for (let c0 = 0; c0 < C; c0 += 8) {
      const c1 = min(c0 + 8, C);
      let partA = v128.splat<T>(<T>0);
      let partB = partA;
      restA = partA;
      restB = partA;
      for (let c = c0; c < c1; c++) {
        const eA = expWith<T>(v128.sub<T>(v128.load(p), mA), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, kc, ku, false);
        const eB = expWith<T>(v128.sub<T>(v128.load(p, 16), mB), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, kc, ku, false);
        if (grad != 0) {
          v128.store(g, eA);
          v128.store(g, eB, 16);
        }
        partA = v128.add<T>(partA, eA);
        partB = v128.add<T>(partB, eB);
        restA = v128.add<T>(restA, besideOne<T>(eA));
        restB = v128.add<T>(restB, besideOne<T>(eB));
        p += stride;
        g += stride;
      }
      sA0 = widen<T>(sA0, partA, false);
      sA1 = widen<T>(sA1, partA, true);
      sB0 = widen<T>(sB0, partB, false);
      sB1 = widen<T>(sB1, partB, true);
      rA0 = widen<T>(rA0, restA, false);
      rA1 = widen<T>(rA1, restA, true);
      rB0 = widen<T>(rB0, restB, false);
      rB1 = widen<T>(rB1, restB, true);
    }
    // (S as storeSums has it)
    sA0 = sumBesideOne(sA0, rA0);
    sA1 = sumBesideOne(sA1, rA1);
    sB0 = sumBesideOne(sB0, rB0);
    sB1 = sumBesideOne(sB1, rB1);
    const sA = narrow<T>(sA0, sA1);
    const sB = narrow<T>(sB0, sB1);
    const logA = logSumsV<T>(sA0, sA1);
    const logB = logSumsV<T>(sB0, sB1);
    const keptA = i32x4.gt_s(tA, i32x4.splat(-1));
    const keptB = i32x4.gt_s(tB, i32x4.splat(-1));
    total += leanLosses(wtA, v128.sub<T>(v128.sub<T>(xtA, mA), logA), logA, keptA, wtB, v128.sub<T>(v128.sub<T>(xtB, mB), logB), logB, keptB, lossOut, pos);
    if (grad == 0) continue;
    let kA = v128.splat<T>(<T>scale), kB = kA;
    if (gradPerPosition != 0) {
      kA = v128.load(at<T>(gradPerPosition, pos));
      kB = v128.load(at<T>(gradPerPosition, pos), 16);
    }
    const aA = v128.and(v128.mul<T>(v128.div<T>(wtA, sA), kA), keptA);
    const aB = v128.and(v128.mul<T>(v128.div<T>(wtB, sB), kB), keptB);
    // (-b added, as indexColumns' pass 3: a gradOutput of -0 gives +0 off the target;
    // (1 - eps) w_t = w_t, eps being 0)
    const nbA = v128.neg<T>(v128.and(v128.mul<T>(wtA, kA), keptA));
    const nbB = v128.neg<T>(v128.and(v128.mul<T>(wtB, kB), keptB));
    const tinyA = subnormalBound<T>(aA);
    const tinyB = subnormalBound<T>(aB);
    g = gBase;
    for (let c = 0; c < C; c++) {
      const eA = v128.load(g);
      const eB = v128.load(g, 16);
      const gA = v128.mul<T>(flushBelow<T>(eA, tinyA), aA);
      const gB = v128.mul<T>(flushBelow<T>(eB, tinyB), aB);
      const cv = i32x4.splat(c);
      v128.store(g, v128.add<T>(gA, v128.and(nbA, i32x4.eq(tA, cv))));
      v128.store(g, v128.add<T>(gB, v128.and(nbB, i32x4.eq(tB, cv))), 16);
      g += stride;
    }
    if (!i32x4.all_true(v128.and(keptA, keptB))) {
      for (let l = 0; l < 8; l++) {
        if (load<i32>(tp + (<usize>l << 2)) < 0) ignoredGrad<T>(at<T>(base, l), at<T>(gBase, l), C, stride);
      }
    }
  }
  return total;
}

/** The float32 lean kernels' losses of two vectors of positions (A, B), from d = x_t - m - log S:
 *  -w_t d in f64 pairs, 0 where ignored (kept: the lanes' mask), stored at lossOut when asked;
 *  returns their sum in indexColumns' order. */
// @ts-ignore: decorator
@inline function leanLosses(wtA: v128, dA: v128, logA: v128, keptA: v128, wtB: v128, dB: v128, logB: v128, keptB: v128, lossOut: usize, pos: usize): f64 {
  const loA = lossPair(wtA, dA, logA, 0, 0, 0, 0, i64x2.extend_low_i32x4_s(keptA));
  const hiA = lossPair(v128.shuffle<f32>(wtA, wtA, 2, 3, 0, 1), v128.shuffle<f32>(dA, dA, 2, 3, 0, 1), logA, 0, 0, 0, 0, i64x2.extend_high_i32x4_s(keptA));
  const loB = lossPair(wtB, dB, logB, 0, 0, 0, 0, i64x2.extend_low_i32x4_s(keptB));
  const hiB = lossPair(v128.shuffle<f32>(wtB, wtB, 2, 3, 0, 1), v128.shuffle<f32>(dB, dB, 2, 3, 0, 1), logB, 0, 0, 0, 0, i64x2.extend_high_i32x4_s(keptB));
  if (lossOut != 0) {
    v128.store(lossOut + (pos << 2), narrow<f32>(loA, hiA));
    v128.store(lossOut + (pos << 2), narrow<f32>(loB, hiB), 16);
  }
  return hsum(f64x2.add(f64x2.add(f64x2.splat(0), f64x2.add(loA, hiA)), f64x2.add(loB, hiB)));
}

/** The lean kernels' upstream factor k of the 4 positions at pos (+ 4 with `second`): gradOutput
 *  per position, or the call's scale. */
// @ts-ignore: decorator
@inline function leanUpstream(scale: f64, gradPerPosition: usize, pos: usize, second: bool): v128 {
  if (gradPerPosition == 0) return f32x4.splat(<f32>scale);
  return v128.load(gradPerPosition + (pos << 2) + (second ? 16 : 0));
}

/** One class's gradient in the lean kernels: e a (flushing would-be subnormals below `tiny`), plus
 *  -b (nb) where the class is the target (`isTarget`). */
// @ts-ignore: decorator
@inline function leanGrad(e: v128, a: v128, tiny: v128, nb: v128, isTarget: v128): v128 {
  return f32x4.add(f32x4.mul(flushBelow<f32>(e, tiny), a), v128.and(nb, isTarget));
}

/** indexColumnsLean for C = 2 (binary classification written as two classes, regrouped into
 *  columns): the same operations on the same values, so the same bits (tests/cross_entropy_columns
 *  .test.ts), with one exp per position instead of two. The max's exp is exp(m - m): 1, or NaN
 *  where m is infinite or NaN, which 1 + (m - m) gives without an exp; the other's is exp(v - m),
 *  v the smaller logit (the one pmax did not take). No loop over classes, no exps through memory:
 *  bench/instructions.sh c2 went from 34.4 to 24.7 x86 instructions per element, crossEntropy
 *  [524288, 2] float32 into out from 7.7 to 6.0 ns per element (medians, three process pairs). */
function indexColumnsPair(
  x: usize, target: usize, weight: usize, o: i32, inner: i32, i0: i32, i1: i32,
  lossOut: usize, grad: usize, scale: f64, gradPerPosition: usize, total: f64,
): f64 {
  const stride = <usize>inner << 2;
  const k0 = expK<f32>(0, false), k1 = expK<f32>(1, false), k2 = expK<f32>(2, false), k3 = expK<f32>(3, false), k4 = expK<f32>(4, false), k5 = expK<f32>(5, false);
  const k6 = expK<f32>(6, false), k7 = expK<f32>(7, false), k8 = expK<f32>(8, false), k9 = expK<f32>(9, false), kc = expK<f32>(10, false), ku = expK<f32>(11, false);
  const w0 = f32x4.splat(weight != 0 ? load<f32>(weight) : 1);
  const w1 = f32x4.splat(weight != 0 ? load<f32>(weight, 4) : 1);
  const one = f32x4.splat(1);
  for (let i = i0; i < i1; i += 8) {
    const pos = <usize>o * inner + i;
    const base = x + ((<usize>o * 2 * inner + i) << 2);
    const gBase = grad + ((<usize>o * 2 * inner + i) << 2);
    const tp = target + (pos << 2);
    const tA = v128.load(tp);
    const tB = v128.load(tp, 16);
    const x0A = v128.load(base), x0B = v128.load(base, 16);
    const x1A = v128.load(base + stride), x1B = v128.load(base + stride, 16);
    // pmax(x0, x1) takes x1 where x0 < x1: class 0 is then the smaller one
    const lessA = f32x4.lt(x0A, x1A), lessB = f32x4.lt(x0B, x1B);
    const mA = v128.bitselect(x1A, x0A, lessA), mB = v128.bitselect(x1B, x0B, lessB);
    const vA = v128.bitselect(x0A, x1A, lessA), vB = v128.bitselect(x0B, x1B, lessB);
    const eA = expWith<f32>(f32x4.sub(vA, mA), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, kc, ku, false);
    const eB = expWith<f32>(f32x4.sub(vB, mB), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, kc, ku, false);
    const topA = f32x4.add(one, f32x4.sub(mA, mA)), topB = f32x4.add(one, f32x4.sub(mB, mB));
    const e0A = v128.bitselect(eA, topA, lessA), e0B = v128.bitselect(eB, topB, lessB);
    const e1A = v128.bitselect(topA, eA, lessA), e1B = v128.bitselect(topB, eB, lessB);
    let sA = f32x4.add(e0A, e1A), sB = f32x4.add(e0B, e1B);
    const is1A = i32x4.eq(tA, i32x4.splat(1)), is1B = i32x4.eq(tB, i32x4.splat(1));
    const xtA = v128.bitselect(x1A, x0A, is1A), xtB = v128.bitselect(x1B, x0B, is1B);
    const wtA = v128.bitselect(w1, w0, is1A), wtB = v128.bitselect(w1, w0, is1B);
    // S as storeSums has it: R, the exps beside the max's 1, is the smaller logit's exp (generic's
    // besideOne sum, 0 + e; at a tie S is 2 and R unused)
    const sA0 = sumBesideOne(f64x2.promote_low_f32x4(sA), f64x2.promote_low_f32x4(eA));
    const sA1 = sumBesideOne(widenHigh(sA), widenHigh(eA));
    const sB0 = sumBesideOne(f64x2.promote_low_f32x4(sB), f64x2.promote_low_f32x4(eB));
    const sB1 = sumBesideOne(widenHigh(sB), widenHigh(eB));
    const logA = logSumsV<f32>(sA0, sA1), logB = logSumsV<f32>(sB0, sB1);
    sA = narrow<f32>(sA0, sA1);
    sB = narrow<f32>(sB0, sB1);
    const keptA = i32x4.gt_s(tA, i32x4.splat(-1));
    const keptB = i32x4.gt_s(tB, i32x4.splat(-1));
    total += leanLosses(wtA, f32x4.sub(f32x4.sub(xtA, mA), logA), logA, keptA, wtB, f32x4.sub(f32x4.sub(xtB, mB), logB), logB, keptB, lossOut, pos);
    if (grad == 0) continue;
    const kA = leanUpstream(scale, gradPerPosition, pos, false), kB = leanUpstream(scale, gradPerPosition, pos, true);
    const aA = v128.and(f32x4.mul(f32x4.div(wtA, sA), kA), keptA);
    const aB = v128.and(f32x4.mul(f32x4.div(wtB, sB), kB), keptB);
    const nbA = f32x4.neg(v128.and(f32x4.mul(wtA, kA), keptA));
    const nbB = f32x4.neg(v128.and(f32x4.mul(wtB, kB), keptB));
    const tinyA = subnormalBound<f32>(aA);
    const tinyB = subnormalBound<f32>(aB);
    const is0A = i32x4.eq(tA, i32x4.splat(0)), is0B = i32x4.eq(tB, i32x4.splat(0));
    v128.store(gBase, leanGrad(e0A, aA, tinyA, nbA, is0A));
    v128.store(gBase, leanGrad(e0B, aB, tinyB, nbB, is0B), 16);
    v128.store(gBase + stride, leanGrad(e1A, aA, tinyA, nbA, is1A));
    v128.store(gBase + stride, leanGrad(e1B, aB, tinyB, nbB, is1B), 16);
    if (!i32x4.all_true(v128.and(keptA, keptB))) {
      for (let l: usize = 0; l < 8; l++) {
        if (load<i32>(tp + (l << 2)) < 0) ignoredGrad<f32>(base + (l << 2), gBase + (l << 2), 2, stride);
      }
    }
  }
  return total;
}

/** Lanes 2-3 of an f32x4 as an f64x2. */
// @ts-ignore: decorator
@inline function widenHigh(v: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
}

/** indexStepWide's lanes (bits) whose factors it halved (zHalving), for pass 3 to double. */
let halvedLanes: i32 = 0;

/** indexStepWide's float32 lanes whose k eps / C (at LANE_KS64, f64) float32 cannot hold. */
let wideKsLanes: i32 = 0;

/** indexColumns' per-position step in f64 pairs: float64's, and float32's where f32x4 lanes
 *  cannot hold the call's ranges (indexStepFits) or z-loss / lse out are asked for. Reads the
 *  scratch the passes before left (LANE_M, LANE_XT, LANE_WT as T; LANE_SUM, LANE_LOG, LANE_SHIFT
 *  in f64), leaves a, b and k eps / C for pass 3 (as T), and returns the positions' summed loss.
 *  Not inlined into the exact and the fast kernel: it has no exp. */
function indexStepWide<T>(
  tp: usize, pos0: usize, eps: f64, totalWeight: f64, C: i32, lossOut: usize, grad: usize, scale: f64, gradPerPosition: usize,
  z: f64, zScale: f64, lseOut: usize,
): f64 {
  const smooth = eps / <f64>C;
  const L = lanes<T>();
  let total = f64x2.splat(0);
  // Per pair of positions, in f64 (the formulas at the top of this file): the loss, and the factors
  // that turn the exps into the gradient, a (all classes) and b (the target's own term). Ignored
  // positions (t < 0) get 0 for all three; their gradient rows are set afterwards.
  for (let h = 0; h < L; h++) { // pair h: positions 2h, 2h + 1
    const off = <usize>h << 1;
    const kept = i64x2.gt_s(i64x2.extend_low_i32x4_s(v128.load64_zero(tp + (off << 2))), i64x2.splat(-1));
    const m = loadPair<T>(at<T>(LANE_M, off));
    const logSum = v128.load(LANE_LOG + (off << 3));
    const sum = v128.load(LANE_SUM + (off << 3));
    const wt = loadPair<T>(at<T>(LANE_WT, off));
    const lse = f64x2.add(m, logSum);
    if (lseOut != 0) storePair<T>(at<T>(lseOut, pos0 + off), lse);
    let loss = f64x2.mul(f64x2.neg(wt), f64x2.sub(loadPair<T>(at<T>(LANE_XT, off)), logSum));
    if (eps != 0) {
      const shifted = f64x2.sub(f64x2.mul(f64x2.splat(totalWeight), logSum), v128.load(LANE_SHIFT + (off << 3)));
      loss = f64x2.add(f64x2.mul(f64x2.splat(1 - eps), loss), f64x2.mul(f64x2.splat(smooth), shifted));
    }
    loss = v128.and(loss, kept);
    total = f64x2.add(total, loss);
    let zt = f64x2.splat(0);
    if (z != 0) {
      const squares = v128.and(f64x2.mul(lse, lse), kept);
      zSquares += hsum(squares);
      zt = v128.and(f64x2.mul(f64x2.mul(f64x2.splat(z), lse), lse), kept);
    }
    if (lossOut != 0) storePair<T>(at<T>(lossOut, pos0 + off), z != 0 ? f64x2.add(loss, zt) : loss);
    if (grad == 0) continue;
    let k = gradPerPosition != 0 ? loadPair<T>(at<T>(gradPerPosition, pos0 + off)) : f64x2.splat(scale);
    let a = eps == 0
      ? f64x2.div(f64x2.mul(k, wt), sum)
      : f64x2.div(f64x2.mul(k, f64x2.add(f64x2.mul(f64x2.splat(1 - eps), wt), f64x2.splat(smooth * totalWeight))), sum);
    if (z != 0) {
      const kz = gradPerPosition != 0 ? k : f64x2.splat(zScale);
      const kzl = f64x2.mul(f64x2.mul(kz, f64x2.splat(z)), lse); // (zFactor's order)
      const zf = f64x2.div(f64x2.add(kzl, kzl), sum);
      const h0 = zHalving<T>(f64x2.extract_lane(a, 0), f64x2.extract_lane(zf, 0));
      const h1 = zHalving<T>(f64x2.extract_lane(a, 1), f64x2.extract_lane(zf, 1));
      if (h0 == 1 && h1 == 1) {
        a = f64x2.add(a, zf);
      } else { // (rare: pass 3 doubles these lanes' gradients)
        const h = f64x2.replace_lane(f64x2.splat(h0), 1, h1);
        a = f64x2.add(f64x2.mul(a, h), f64x2.mul(zf, h));
        k = f64x2.mul(k, h);
        halvedLanes |= (h0 != 1 ? 1 : 0) << <i32>off | (h1 != 1 ? 2 : 0) << <i32>off;
      }
    }
    storePair<T>(at<T>(LANE_M, off), v128.and(a, kept));
    storePair<T>(at<T>(LANE_XT, off), v128.and(f64x2.mul(f64x2.mul(k, f64x2.splat(1 - eps)), wt), kept));
    // Without smoothing the per-class term is absent, not k * 0 (NaN when k is infinite).
    if (smooth != 0) {
      let ks = v128.and(f64x2.mul(k, f64x2.splat(smooth)), kept);
      if (sizeof<T>() == 4) {
        // k eps / C outside float32's normal range, where its products with the weights may be
        // in it (red team 26: weight 3e38, gradOutput 1e-30): 0 for pass 3, and the term added in
        // f64 after it (indexColumns, wideKsLanes)
        const v0 = f64x2.extract_lane(ks, 0), v1 = f64x2.extract_lane(ks, 1);
        const out0 = v0 != 0 && isFinite(v0) && !inF32NormalRange(v0);
        const out1 = v1 != 0 && isFinite(v1) && !inF32NormalRange(v1);
        if (out0 || out1) {
          if (out0) store<f64>(LANE_KS64 + (off << 3), v0);
          if (out1) store<f64>(LANE_KS64 + ((off + 1) << 3), v1);
          wideKsLanes |= (out0 ? 1 : 0) << <i32>off | (out1 ? 2 : 0) << <i32>off;
          ks = f64x2.replace_lane(f64x2.splat(out0 ? 0 : v0), 1, out1 ? 0 : v1);
        }
      }
      storePair<T>(at<T>(LANE_KS, off), ks);
    }
  }
  return hsum(total);
}

/** indexColumns' per-position step for float32 in f32x4 lanes, where indexStepFits allows (so no
 *  z-loss and no lse out), from LANE_SUM and LANE_LOG as f32: the log and the gradient factors in
 *  f32, the loss in f64 (lossPair). The same outputs as indexStepWide. */
// @ts-ignore: decorator
@inline function indexStepLanes<T>(
  tp: usize, pos0: usize, eps: f64, totalWeight: f64, C: i32, lossOut: usize, grad: usize, scale: f64, gradPerPosition: usize,
): f64 {
  const smooth = eps / <f64>C;
  const L = lanes<T>();
  let total = f64x2.splat(0);
  // Per vector of positions (the formulas at the top of this file): the loss, and the factors that
  // turn the exps into the gradient, a (all classes) and b (the target's own term). Ignored
  // positions (t < 0) get 0 for all three; their gradient rows are set afterwards. In f64 pairs
  // this step was over half of row CE's instructions with C = 2 (bench/instructions.sh c2).
  const keep = v128.splat<T>(<T>(1 - eps));
  const smoothV = v128.splat<T>(<T>smooth);
  const W = v128.splat<T>(<T>totalWeight);
  for (let h = 0; h < 2; h++) { // vector h: positions h L .. h L + L - 1
    const off = <usize>(h * L);
    const kept = i32x4.gt_s(v128.load(tp + (off << 2)), i32x4.splat(-1));
    const logSum = v128.load(at<T>(LANE_LOG, off));
    const wt = v128.load(at<T>(LANE_WT, off));
    // The loss in f64 pairs: w_t (log S - (x_t - m)) and the smoothing term outgrow float32 with
    // large logits long before the 'sum' does.
    const d = v128.sub<T>(v128.load(at<T>(LANE_XT, off)), logSum);
    const lo = lossPair(wt, d, logSum, LANE_SHIFT + (off << 3), eps, smooth, totalWeight, i64x2.extend_low_i32x4_s(kept));
    const hi = lossPair(v128.shuffle<f32>(wt, wt, 2, 3, 0, 1), v128.shuffle<f32>(d, d, 2, 3, 0, 1), v128.shuffle<f32>(logSum, logSum, 2, 3, 0, 1),
      LANE_SHIFT + (off << 3) + 16, eps, smooth, totalWeight, i64x2.extend_high_i32x4_s(kept));
    total = f64x2.add(total, f64x2.add(lo, hi));
    if (lossOut != 0) v128.store(at<T>(lossOut, pos0 + off), narrow<T>(lo, hi)); // (-0 stays -0, as PyTorch's -w lp)
    if (grad == 0) continue;
    // k multiplies last: each product then overflows or goes subnormal only where its exact value does
    const k = gradPerPosition != 0 ? v128.load(at<T>(gradPerPosition, pos0 + off)) : v128.splat<T>(<T>scale);
    const sum = v128.load(at<T>(LANE_SUM, off));
    const a = eps == 0
      ? v128.mul<T>(v128.div<T>(wt, sum), k)
      : v128.mul<T>(v128.div<T>(v128.add<T>(v128.mul<T>(keep, wt), v128.mul<T>(smoothV, W)), sum), k);
    v128.store(at<T>(LANE_M, off), v128.and(a, kept));
    v128.store(at<T>(LANE_XT, off), v128.and(v128.mul<T>(v128.mul<T>(keep, wt), k), kept));
    // Without smoothing the per-class term is absent, not k * 0 (NaN when k is infinite).
    if (smooth != 0) v128.store(at<T>(LANE_KS, off), v128.and(v128.mul<T>(smoothV, k), kept));
  }
  return hsum(total);
}

/** Two positions' loss in f64 from lanes 0-1 of f32x4 w_t, d = (x_t - m) - log S and log S, with
 *  smoothing's sum_c w_c (x_c - m) (f64, at `shift`): the formulas at the top of this file, 0 where
 *  not `kept`. */
// @ts-ignore: decorator
@inline function lossPair(wt: v128, d: v128, logSum: v128, shift: usize, eps: f64, smooth: f64, totalWeight: f64, kept: v128): v128 {
  let loss = f64x2.mul(f64x2.neg(f64x2.promote_low_f32x4(wt)), f64x2.promote_low_f32x4(d));
  if (eps != 0) {
    const shifted = f64x2.sub(f64x2.mul(f64x2.splat(totalWeight), f64x2.promote_low_f32x4(logSum)), v128.load(shift));
    loss = f64x2.add(f64x2.mul(f64x2.splat(1 - eps), loss), f64x2.mul(f64x2.splat(smooth), shifted));
  }
  return v128.and(loss, kept);
}

/** With smoothing or z-loss, the gradient of a position's max class j where S < NEAR_ONE (S = 1 +
 *  R: j's exp is its one 1, R the other exps): e_j a - k (eps / C) w_j - [j = t] k (1 - eps) w_t cancels
 *  where a class weight is large beside R (red team 27: weight [1, 1e12], labelSmoothing 0.2, rows
 *  [0, 30] gave 0.9 in float32 and 0.890656 in float64 for 0.890642), so it is formed as the terms
 *  that cancel exactly, exactOneGrad, less ce R (a = ce + zf, ce S the k ((1 - eps) w_t + (eps / C)
 *  W) that exactOneGrad took whole: ce - ce R / S ... = ce S - ce R). */
function maxClassGrad<T>(j: i32, t: i32, k: f64, eps: f64, smooth: f64, totalWeight: f64, weight: usize, zf: f64, ce: f64, rest: f64): f64 {
  return exactOneGrad<T>(j, t, k, eps, smooth, totalWeight, weight, zf) - (rest != 0 ? ce * rest : 0);
}

/** Sums of exps below this take maxClassGrad (a max class's softmax above 0.99): there e_j a and
 *  the terms it cancels against are close; elsewhere the plain path, PyTorch's composition, has
 *  no such cancellation and keeps its bits. */
const NEAR_ONE: f64 = 1 + 1.0 / 128;

/** Whether maxClassGrad's value v is taken: always at S = 1 (as before R), else where v is finite
 *  in T: near T's max its terms overflow (inf - inf, or a sum that the plain path's halving keeps
 *  finite: red teams 18, 21 and 22 at gradOutput 1.79e308), and the plain path has PyTorch's
 *  values there. */
// @ts-ignore: decorator
@inline function nearOneFits<T>(v: f64, rest: f64): bool {
  return rest == 0 || finiteT<T>(v);
}

/** With smoothing or z-loss, where one class j of a position has softmax exactly 1 (S = 1: every
 *  other exp is 0, or their sum is below half an ulp of 1), PyTorch's g - 1 * sum(g) leaves at j the
 *  other classes' terms: -sum_{c != j} g_c = k (1 - eps) w_t [j != t] + k (eps / C) (W - w_j),
 *  exactly 0 for C = 1 or where those weights are 0; e_j a less j's own terms left their rounding
 *  residue there (red team 17: 2^104 at gradOutput 3e38 for C = 1; red team 18: j a background
 *  class with w_t = 0). Plus z-loss's (k_z z)(2 lse) s_j, with lse = m as S = 1, a separate term as
 *  in PyTorch (summed into a it overflowed float32 at gradOutput 3e38: red team 18); + 0 makes a
 *  -0 +0, as PyTorch's g - g. An infinite k is left to the composition (PyTorch's inf - inf, NaN). */
// @ts-ignore: decorator
@inline function exactOneGrad<T>(j: i32, t: i32, k: f64, eps: f64, smooth: f64, totalWeight: f64, weight: usize, zPart: f64): f64 {
  const others = j == t ? 0 : k * (1 - eps) * classWeight<T>(weight, t);
  return others + k * smooth * (totalWeight - classWeight<T>(weight, j)) + zPart;
}

/** The class whose exp (stored at g, classes `stride` apart) is exactly 1, where their sum is 1:
 *  the target when it is the max, else the first such (the max; found by a scan, rare). */
function exactOneClass<T>(g: usize, C: i32, stride: usize, t: i32): i32 {
  if (load<T>(g + <usize>t * stride) == <T>1) return t;
  for (let c = 0; c < C; c++) if (load<T>(g + <usize>c * stride) == <T>1) return c;
  return -1;
}

/** indexColumns' positions with a softmax of exactly 1 (exactOneGrad), found after pass 2 (the
 *  exps in the gradient, m at LANE_M, the sums at LANE_SUM: f64 when `wide`, else T): stores each
 *  one's class at LANE_CLASS and gradient at LANE_ONE for pass 3 to write; returns the lanes as bits. */
function softmaxOnes<T>(
  gBase: usize, tp: usize, C: i32, stride: usize, pos0: usize, weight: usize, eps: f64, smooth: f64, totalWeight: f64,
  scale: f64, gradPerPosition: usize, z: f64, zScale: f64, wide: bool,
): i32 {
  let ones = 0;
  for (let l = 0; l < 2 * lanes<T>(); l++) {
    const t = load<i32>(tp + (<usize>l << 2));
    const rest = load<f64>(LANE_REST + (<usize>l << 3));
    const sum = wide ? load<f64>(LANE_SUM + (<usize>l << 3)) : <f64>load<T>(at<T>(LANE_SUM, l));
    if (t < 0 || !(sum < NEAR_ONE)) continue;
    const k = upstream<T>(gradPerPosition, pos0 + l, scale);
    if (k - k != 0) continue;
    const j = exactOneClass<T>(at<T>(gBase, l), C, stride, t);
    if (j < 0) continue;
    const logSum = wide ? load<f64>(LANE_LOG + (<usize>l << 3)) : <f64>load<T>(at<T>(LANE_LOG, l));
    const lse = <f64>load<T>(at<T>(LANE_M, l)) + logSum;
    const zf = zFactor<T>(z, lse, gradPerPosition, pos0 + l, zScale, 1 + rest);
    const ce = expFactor<T>(k, weight, t, eps, smooth, totalWeight, 1 + rest);
    const v = maxClassGrad<T>(j, t, k, eps, smooth, totalWeight, weight, zf, ce, rest);
    if (!nearOneFits<T>(v, rest)) continue;
    store<T>(at<T>(LANE_ONE, l), <T>v);
    store<i32>(LANE_CLASS + (<usize>l << 2), j);
    ones |= 1 << l;
  }
  return ones;
}

/** Whether any of the n class-index targets at tp (n a multiple of 4) is negative: ignored. */
// @ts-ignore: decorator
@inline function anyIgnored(tp: usize, n: i32): bool {
  let kept = i32x4.splat(-1);
  for (let i = 0; i < n; i += 4) kept = v128.and(kept, i32x4.gt_s(v128.load(tp + (<usize>i << 2)), i32x4.splat(-1)));
  return !i32x4.all_true(kept);
}

/** Class-probability targets `probs` (same layout as x). Same conventions as crossEntropyIndex
 *  (no position is ignored: every one gets the z term). */
export function crossEntropyProbs<T>(
  x: usize, probs: usize, weight: usize, outer: i32, C: i32, inner: i32,
  eps: f64, lossOut: usize, grad: usize, scale: f64, gradPerPosition: usize,
  z: f64, zScale: f64, lseOut: usize,
): f64 {
  const stride = <usize>inner << alignof<T>();
  if (!(z > 0)) z = 0;
  zSquares = 0;
  riskyFactors = !moderate(eps / <f64>C);
  if (sizeof<T>() == 4 && weight != 0) for (let c = 0; c < C; c++) if (!moderate(<f64>load<T>(at<T>(weight, c)))) riskyFactors = true;
  let total: f64 = 0;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const pos = <usize>o * inner + i;
      const offset = (<usize>o * C * inner + i) << alignof<T>();
      const row = x + offset;
      const m = rowMaxForExp<T>(row, C, stride);
      const sum = probsRowSums<T>(row, probs + offset, weight, m, C, stride, grad != 0 ? grad + offset : 0, eps);
      const logSum = Math.log(sum);
      const lse = <f64>m + logSum;
      const loss = targetMass * logSum - weightedShift;
      total += loss;
      const zt = zTerm(z, lse);
      if (lseOut != 0) store<T>(at<T>(lseOut, pos), <T>lse);
      if (lossOut != 0) store<T>(at<T>(lossOut, pos), <T>(loss + zt));
      if (grad != 0) {
        const k = upstream<T>(gradPerPosition, pos, scale);
        const ce = k * targetMass / sum;
        const zf = zFactor<T>(z, lse, gradPerPosition, pos, zScale, sum);
        const h = zHalving<T>(ce, zf);
        // With z-loss, a class j whose softmax is exactly 1 gets PyTorch's g_j - sum(g), k (P - w_j p'_j),
        // plus the z term on its own (e_j a less k w_j p'_j left the summed factor's rounding residue:
        // red team 21, 0.002375000000000016 for 0.002375 at C = 1); found before the exps are overwritten.
        const one = z != 0 && sum == 1 && k - k == 0 ? exactOneClass<T>(grad + offset, C, stride, 0) : -1;
        probsRowGrad<T>(grad + offset, probs + offset, weight, C, stride, ce * h + zf * h, k * h, eps);
        if (h != 1) rowDouble<T>(grad + offset, C, stride);
        if (one >= 0) {
          const q = <usize>one * stride;
          store<T>(grad + offset + q, <T>(k * (targetMass - probsWeight<T>(probs + offset, weight, one, stride, eps, eps / <f64>C)) + zf));
        }
      }
    }
  }
  return total;
}

// probsRowSums' second, third and fourth results.
let targetMass: f64 = 0;    // P = sum_c w_c p'_c
let weightedShift: f64 = 0; // sum_c w_c p'_c (x_c - m)
let laneRisk = false;       // a float32 row whose products may leave float32's normal range
let riskyFactors = false;   // eps / C or a class weight is neither 0 nor moderate (per call)

/** One row's sum of exps (returned; the exps are stored at e when e != 0), P and the weighted
 *  shift (in the globals above), with p'_c = (1 - eps) p_c + eps / C. */
function probsRowSums<T>(row: usize, prow: usize, weight: usize, m: T, C: i32, stride: usize, e: usize, eps: f64): f64 {
  const smooth = eps / <f64>C;
  let sum: f64 = 0;
  let lost: f64 = 0;
  let rest: f64 = 0; // R, as math.ts rowExpSum's
  let mass: f64 = 0;
  let shift: f64 = 0;
  let c = 0;
  if (ASC_FEATURE_SIMD) if (stride == sizeof<T>() && C >= lanes<T>()) {
    const L = lanes<T>();
    const vm = v128.splat<T>(m);
    const keep = v128.splat<T>(<T>(1 - eps));
    const add = v128.splat<T>(<T>smooth);
    const end = C - C % L;
    // always the exact exp: the gradient's factor k P / S is not known before this pass
    const k0 = expK<T>(0, true), k1 = expK<T>(1, true), k2 = expK<T>(2, true), k3 = expK<T>(3, true), k4 = expK<T>(4, true), k5 = expK<T>(5, true);
    const k6 = expK<T>(6, true), k7 = expK<T>(7, true), k8 = expK<T>(8, true), k9 = expK<T>(9, true), kc = expK<T>(10, true), ku = expK<T>(11, true);
    let accSum = f64x2.splat(0);
    let accMass = accSum;
    let accShift = accSum;
    let accRest = accSum;
    let risky = i32x4.splat(0);
    while (c < end) { // sums in T over blocks of 16 vectors, widened to f64 per block
      const blockEnd = min(c + 16 * L, end);
      let s = v128.splat<T>(<T>0);
      let p = s;
      let w = s;
      let r = s;
      for (; c < blockEnd; c += L) {
        const d = v128.sub<T>(v128.load(at<T>(row, c)), vm);
        const ex = expWith<T>(d, k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, kc, ku, true);
        if (e != 0) v128.store(at<T>(e, c), ex);
        const q = v128.load(at<T>(prow, c));
        const qs = v128.add<T>(v128.mul<T>(q, keep), add); // q'
        if (sizeof<T>() == 4) risky = v128.or(risky, i32x4.gt_s(f32x4.abs(q), i32x4.splat(0x53800000))); // |q| > 2^40, NaN
        let wp = qs;
        let wd = d;
        if (weight != 0) {
          const wc = v128.load(at<T>(weight, c));
          wp = v128.mul<T>(qs, wc);
          wd = v128.mul<T>(wc, d);
        }
        s = v128.add<T>(s, ex);
        r = v128.add<T>(r, besideOne<T>(ex));
        p = v128.add<T>(p, wp);
        // q' (w d), the target last: w q' below float32's normal range, then times a gap of 1e30,
        // lost the loss's digits (red team 47: q 2^-149, weight 0.25 gave 0 for 1.05e-15)
        w = v128.add<T>(w, v128.mul<T>(qs, wd));
      }
      accSum = addWide<T>(accSum, s);
      accMass = addWide<T>(accMass, p);
      accShift = addWide<T>(accShift, w);
      accRest = addWide<T>(accRest, r);
    }
    sum = hsum(accSum);
    rest = hsum(accRest);
    mass = hsum(accMass);
    shift = hsum(accShift);
    // Float32 lanes form w_c p'_c and its products in float32. They keep their value while the
    // weights and eps / C are 0 or moderate (2^-40..2^40) and no target exceeds 2^40: then no
    // product overflows, and one that falls below float32's normal range is a final term, whose
    // rounding is below the result's own ulp (the target is multiplied last, here and in
    // probsRowGrad; P's terms are only summed). A target of 3e38, or a weight of 1.2e-38 or 1e35
    // (red team 46), makes the row risky: its P and shift here, and its gradient, are formed in
    // f64, as the scalar build forms them.
    laneRisk = sizeof<T>() == 4 && (riskyFactors || v128.any_true(risky));
    // A weight times a logit gap, or 16 of those summed in T, can outgrow float32 where the loss
    // fits (red team 43: weights of 1e35, gaps of 1e4), and so can P itself (weights of 3e38 over
    // equal logits) or its terms fall below float32's normal range (weights of 1e-40; red team 44):
    // then P and the shift again in f64, as the scalar build forms them (a non-finite shift or P of
    // its own comes out the same; so does a P of 0, the rows of zero-weight targets).
    if (!isFinite(shift) || laneRisk || sizeof<T>() == 4 && !(Math.abs(mass) >= 1e-30 && Math.abs(mass) < Infinity)) {
      mass = shift = 0;
      for (let j = 0; j < end; j++) {
        const wp = probsWeight<T>(prow, weight, j, stride, eps, smooth);
        mass += wp;
        shift += wp * <f64>(load<T>(at<T>(row, j)) - m);
      }
    }
  }
  for (; c < C; c++) {
    const q = <usize>c * stride;
    const d = load<T>(row + q) - m;
    const ex = expT<T>(d);
    if (e != 0) store<T>(e + q, ex);
    const next = sum + <f64>ex; // (compensated, as math.ts rowExpSum's)
    lost += sumError(sum, <f64>ex, next);
    sum = next;
    rest += restShare(<f64>ex);
    const wp = probsWeight<T>(prow, weight, c, stride, eps, smooth);
    mass += wp;
    shift += wp * <f64>d; // formed literally: 0 * -inf is NaN here exactly where PyTorch's is
  }
  targetMass = mass;
  weightedShift = shift;
  return withRest(sum + lost, rest);
}

/** Whether a factor keeps its value in float32 lanes: 0, or a normal float32. */
// @ts-ignore: decorator
@inline function f32Factor(v: f64): bool {
  return v == 0 || inF32NormalRange(v);
}

/** Whether v is 0 or within 2^-40..2^40 in magnitude: three such factors multiply to a normal float32. */
// @ts-ignore: decorator
@inline function moderate(v: f64): bool {
  return v == 0 || Math.abs(v) >= 9.094947017729282e-13 && Math.abs(v) <= 1099511627776; // 2^-40, 2^40
}

/** w_c p'_c with p'_c = (1 - eps) p_c + eps / C, in f64: class c's share of P. */
// @ts-ignore: decorator
@inline function probsWeight<T>(prow: usize, weight: usize, c: i32, stride: usize, eps: f64, smooth: f64): f64 {
  const wp = <f64>load<T>(prow + <usize>c * stride) * (1 - eps) + smooth;
  return weight != 0 ? wp * <f64>load<T>(at<T>(weight, c)) : wp;
}

/** g_c := g_c * a - k w_c p'_c: the gradient from the stored exps. Float32 lanes take a, k (1 - eps)
 *  and k eps / C rounded to float32 and form p_c (k (1 - eps) w_c) + k eps / C w_c: where a is outside
 *  float32's normal range (a = k P / S beyond float32's max with weights of 3e38, a gradOutput of
 *  1e-45; red team 44), k (1 - eps) or k eps / C is not moderate, or probsRowSums found the row's
 *  targets or weights risky (red team 46), the row is formed in f64. */
function probsRowGrad<T>(g: usize, prow: usize, weight: usize, C: i32, stride: usize, a: f64, k: f64, eps: f64): void {
  const smooth = eps / <f64>C;
  let c = 0;
  if (ASC_FEATURE_SIMD) if (stride == sizeof<T>() && C >= lanes<T>() && (sizeof<T>() == 8 || !laneRisk && f32Factor(a) && moderate(k * (1 - eps)) && moderate(k * smooth))) {
    const L = lanes<T>();
    const va = v128.splat<T>(<T>a);
    const tiny = subnormalBound<T>(va);
    const keep = v128.splat<T>(<T>(k * (1 - eps)));
    const add = v128.splat<T>(<T>(k * smooth));
    for (; c + L <= C; c += L) {
      const q = v128.load(at<T>(prow, c));
      let kwp: v128;
      if (weight != 0) { // q (k (1 - eps) w) + k eps / C w: the target, possibly tiny, multiplied last
        const w = v128.load(at<T>(weight, c));
        kwp = v128.add<T>(v128.mul<T>(q, v128.mul<T>(keep, w)), v128.mul<T>(add, w));
      } else kwp = v128.add<T>(v128.mul<T>(q, keep), add);
      const v = v128.load(at<T>(g, c));
      v128.store(at<T>(g, c), v128.sub<T>(v128.mul<T>(flushBelow<T>(v, tiny), va), kwp));
    }
  }
  for (; c < C; c++) {
    const q = <usize>c * stride;
    const wp = probsWeight<T>(prow, weight, c, stride, eps, smooth);
    store<T>(g + q, <T>(<f64>load<T>(g + q) * a - k * wp));
  }
}
