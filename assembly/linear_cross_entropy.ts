// linearCrossEntropy: cross_entropy(x W^T + b) with the projection fused into the loss, so the
// (N, C) logits never exist whole. The host (src/ops/linear_cross_entropy.ts) walks the tokens in
// chunks of nt (padded to ntp, a multiple of PANEL) and, per chunk:
//
//   1. lcePack: X_chunk [nt, D] -> X^T in panels [ntp / PANEL][D][PANEL] (zero padded);
//   2. lceLogits per vocabulary block b: Z^T[b] = W_b X^T, a [cb, ntp] slice of the chunk's
//      logits Z^T [C, ntp] (classes by tokens: the loss below then runs along contiguous tokens);
//   3. lceForward: bias, softcap, max, one exp per logit for the sum, the loss terms -> lse, loss;
//   4. lceBackward: dZ = d loss / d Z in place over Z^T (the second exp per logit, as PyTorch's
//      backward has), the softcap's derivative, the bias gradient (summed in f64, see below);
//   5. lceGrads per block: gradX_chunk (+)= dZ_b^T-slice W_b and gradW_b (+)= dZ_b X_chunk.
//
// That is three GEMMs of 2 nt C D flops each per chunk, 6 N C D in all (Liger Kernel's scheme: the
// chunk's logits are kept, not recomputed; recomputing them, as Cut Cross-Entropy does to allow any
// chunk size, costs 8 N C D). The chunk holds nt C logits, which the host bounds by a fixed budget.
//
// Per token n (capped logits z, lse = m + log sum_c exp(z_c - m) with m the max; w the class weight,
// 1 when absent; W = sum_c w_c; eps the label smoothing):
//   class index t: loss = (1 - eps) w_t (lse - z_t) + (eps / C) sum_c w_c (lse - z_c)
//   probabilities p: loss = sum_c w_c p'_c (lse - z_c), p' = (1 - eps) p + eps / C
// Both are accumulated relative to the max (lse - z_c = log sum - (z_c - m)), so they never cancel.
// Their gradients, with s = softmax(z), are alpha s_c - gamma w_c [p'_c] - beta [c == t]; the host
// folds the upstream gradient, the reduction and z-loss's 2 zLoss lse s_c into alpha, beta, gamma.

import { gemm } from "./gemm";
import { at, inF32NormalRange, sumError, tanhExpm1 } from "./math";
import { addError, addWide, expK, expWith, hsum, lanes } from "./simd";

/** Tokens per packed panel of X^T: a multiple of every register tile's width (8 f32, 4 f64). */
export const PANEL: i32 = 8;

/** X [nt, D] (row-major) -> panels [ntp / PANEL][D][PANEL], tokens nt..ntp-1 zero. */
export function lcePack<T>(x: usize, nt: i32, D: i32, xt: usize, ntp: i32): void {
  for (let p = 0; p < ntp; p += PANEL) {
    const panel = at<T>(xt, <usize>p * D);
    for (let j = 0; j < PANEL; j++) {
      const n = p + j;
      if (n < nt) {
        const row = at<T>(x, <usize>n * D);
        for (let d = 0; d < D; d++) store<T>(at<T>(panel, <usize>d * PANEL + j), load<T>(at<T>(row, d)));
      } else {
        for (let d = 0; d < D; d++) store<T>(at<T>(panel, <usize>d * PANEL + j), <T>0);
      }
    }
  }
}

/** Z^T [cb, ntp] (rows ntp apart) := W_b [cb, D] X^T, panel by panel. */
export function lceLogits<T>(w: usize, cb: i32, D: i32, xt: usize, ntp: i32, zt: usize): void {
  const s = <usize>sizeof<T>();
  for (let p = 0; p < ntp; p += PANEL) {
    gemm<T>(cb, PANEL, D, w, <usize>D * s, s, at<T>(xt, <usize>p * D), <usize>PANEL * s, at<T>(zt, p), <usize>ntp * s, false);
  }
}

// Per-token statistics in f64, each an array of ntp entries, at these offsets (in arrays) from `stats`.
const MAX = 0, SUM = 1, SMOOTH = 2, PZ = 3, PW = 4;
/** lceForward's outputs, read by the host: the log-sum-exp and the loss (without z-loss); the max
 *  (MAX) too, for torch.logsumexp's +-inf where an infinite max makes m + log S NaN. */
const LSE = 5, LOSS = 6;
/** The vector path's max (an array of T in this slot) and each token's capped target logit (for
 *  lceBackward's target term); what SUM's adds lost (see addCompensated). */
const MAXT = 7, ZTARGET = 8, LOST = 9;
/** Each token's log S, for lceBackward's softmax exp((z - m) - log S): exp(z - lse) carried lse's
 *  rounding to an ulp of the max, so a confident token's p_t - 1 was a multiple of ulp(m) ([1000,
 *  960 x 999]: 0 for -4.24e-15; red team 24). The host reserves 11 slots. */
const LOGSUM = 10;

// @ts-ignore: decorator
@inline function stat(stats: usize, which: i32, ntp: i32, n: i32): usize {
  return stats + ((<usize>which * ntp + n) << 3);
}

/** Steps 3 of the header over the chunk's logits Z^T [C, ntp]: adds the bias and applies the softcap
 *  in place, then writes each token's lse and loss into `stats` (7 f64 arrays of ntp). `targets`
 *  (i32 per token, < 0 when ignored) or `probs` ([nt, C], rows C apart) is non-zero, not both;
 *  `bias`, `weight` are 0 when absent; `cap` is 0 for no softcap. */
export function lceForward<T>(
  zt: usize, ntp: i32, nt: i32, C: i32, bias: usize, cap: f64, targets: usize, probs: usize,
  weight: usize, eps: f64, weightSum: f64, stats: usize,
): void {
  if (ASC_FEATURE_SIMD) if (probs == 0) {
    forwardVector<T>(zt, ntp, nt, C, bias, cap, targets, weight, eps, weightSum, stats);
    return;
  }
  for (let n = 0; n < nt; n++) {
    store<f64>(stat(stats, MAX, ntp, n), -Infinity);
    for (let k = SUM; k <= PW; k++) store<f64>(stat(stats, k, ntp, n), 0);
    store<f64>(stat(stats, LOST, ntp, n), 0);
  }
  // Bias and softcap, and the max: the capped logits stay in place for the backward pass.
  for (let c = 0; c < C; c++) {
    const row = at<T>(zt, <usize>c * ntp);
    const b = bias != 0 ? load<T>(at<T>(bias, c)) : <T>0;
    for (let n = 0; n < nt; n++) {
      let z = load<T>(at<T>(row, n));
      if (bias != 0) z += b;
      if (cap > 0) z = <T>(cap * tanhExpm1(<f64>z / cap));
      store<T>(at<T>(row, n), z);
      const pm = stat(stats, MAX, ntp, n);
      store<f64>(pm, max(load<f64>(pm), <f64>z));
    }
  }
  // One exp per logit; the smoothing and probability sums relative to the max.
  const smooth = targets != 0 && eps > 0;
  const uniform = eps / <f64>C;
  for (let c = 0; c < C; c++) {
    const row = at<T>(zt, <usize>c * ntp);
    const w = weight != 0 ? <f64>load<T>(at<T>(weight, c)) : 1.0;
    for (let n = 0; n < nt; n++) {
      const d = <f64>load<T>(at<T>(row, n)) - load<f64>(stat(stats, MAX, ntp, n));
      addCompensated(stat(stats, SUM, ntp, n), stat(stats, LOST, ntp, n), Math.exp(d));
      if (smooth) {
        const p = stat(stats, SMOOTH, ntp, n);
        store<f64>(p, load<f64>(p) + w * d);
      } else if (probs != 0) {
        const wp = w * (<f64>load<T>(at<T>(probs, <usize>n * C + c)) * (1 - eps) + uniform);
        const pw = stat(stats, PW, ntp, n), pz = stat(stats, PZ, ntp, n);
        store<f64>(pw, load<f64>(pw) + wp);
        store<f64>(pz, load<f64>(pz) + wp * d);
      }
    }
  }
  for (let n = 0; n < nt; n++) {
    const m = load<f64>(stat(stats, MAX, ntp, n));
    const logSum = Math.log(finishSum(stats, ntp, n));
    store<f64>(stat(stats, LSE, ntp, n), m + logSum);
    store<f64>(stat(stats, LOGSUM, ntp, n), logSum);
    let loss: f64 = 0;
    if (targets != 0) {
      const t = load<i32>(targets + (<usize>n << 2));
      if (t >= 0) {
        const wt = weight != 0 ? <f64>load<T>(at<T>(weight, t)) : 1.0;
        store<f64>(stat(stats, ZTARGET, ntp, n), <f64>load<T>(at<T>(zt, <usize>t * ntp + n)));
        const zt_ = <f64>load<T>(at<T>(zt, <usize>t * ntp + n)) - m;
        loss = (1 - eps) * wt * (logSum - zt_);
        if (smooth) loss += uniform * (weightSum * logSum - load<f64>(stat(stats, SMOOTH, ntp, n)));
      }
    } else {
      loss = load<f64>(stat(stats, PW, ntp, n)) * logSum - load<f64>(stat(stats, PZ, ntp, n));
    }
    store<f64>(stat(stats, LOSS, ntp, n), loss);
  }
}

/** *sum += v, compensated (Neumaier): what the add rounds away accumulates at `lost`, added to the
 *  sum at the end. A token's sum of exps runs over the classes in order, so one starting at the
 *  max's 1 lost every exp below half an ulp of it, however many (float64 [2, -37 x 999]: lse
 *  exactly 2 for 2 + 8.5e-14; red team 22's finding in crossEntropy, math.ts rowExpSum). */
// @ts-ignore: decorator
@inline function addCompensated(sum: usize, lost: usize, v: f64): void {
  const s = load<f64>(sum);
  const next = s + v;
  store<f64>(lost, load<f64>(lost) + sumError(s, v, next));
  store<f64>(sum, next);
}

/** A token's sum of exps, SUM + LOST, kept in SUM (which lceBackward's exact-one test reads). */
// @ts-ignore: decorator
@inline function finishSum(stats: usize, ntp: i32, n: i32): f64 {
  const sum = load<f64>(stat(stats, SUM, ntp, n)) + load<f64>(stat(stats, LOST, ntp, n));
  store<f64>(stat(stats, SUM, ntp, n), sum);
  return sum;
}

/** addCompensated on two f64 lanes. */
// @ts-ignore: decorator
@inline function addCompensated2(sum: usize, lost: usize, v: v128): void {
  const s = v128.load(sum);
  const next = f64x2.add(s, v);
  v128.store(lost, f64x2.add(v128.load(lost), addError(s, v, next)));
  v128.store(sum, next);
}

/** addCompensated for the lanes of v (T) at the f64 per-token entries sum and lost (widening f32 lanes). */
// @ts-ignore: decorator
@inline function addCompensatedV<T>(sum: usize, lost: usize, v: v128): void {
  if (sizeof<T>() == 4) {
    addCompensated2(sum, lost, f64x2.promote_low_f32x4(v));
    addCompensated2(sum + 16, lost + 16, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)));
  } else {
    addCompensated2(sum, lost, v);
  }
}

/** Adds the lanes of v (T) times w (an f64x2 splat) to the f64 per-token array entries at p, each
 *  product in f64 (f32 lanes widened first): smoothing's w_c (z - m) outgrew float32 with weights of
 *  1e35 and gaps of 1e4, where the loss fits (red team 43: inf for 7.5e37). */
// @ts-ignore: decorator
@inline function addScaledTo<T>(p: usize, v: v128, w: v128): void {
  if (sizeof<T>() == 4) {
    v128.store(p, f64x2.add(v128.load(p), f64x2.mul(f64x2.promote_low_f32x4(v), w)));
    v128.store(p, f64x2.add(v128.load(p, 16), f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)), w)), 16);
  } else {
    v128.store(p, f64x2.add(v128.load(p), f64x2.mul(v, w)));
  }
}

/** lceForward for class-index targets in the SIMD build: the same steps, vectorised across the
 *  chunk's tokens (the rows of Z^T are contiguous in tokens, ntp a multiple of the lanes; padded
 *  tokens are computed and ignored). The max is kept in T (exact), the sums widened into f64. */
function forwardVector<T>(
  zt: usize, ntp: i32, nt: i32, C: i32, bias: usize, cap: f64, targets: usize,
  weight: usize, eps: f64, weightSum: f64, stats: usize,
): void {
  const L = lanes<T>();
  const mx = stat(stats, MAXT, ntp, 0);
  for (let n = 0; n < ntp; n += L) v128.store(at<T>(mx, n), v128.splat<T>(<T>-Infinity));
  for (let n = 0; n < ntp; n++) {
    store<f64>(stat(stats, SUM, ntp, n), 0);
    store<f64>(stat(stats, LOST, ntp, n), 0);
    store<f64>(stat(stats, SMOOTH, ntp, n), 0);
  }
  for (let c = 0; c < C; c++) {
    const row = at<T>(zt, <usize>c * ntp);
    if (cap > 0) {
      const b = bias != 0 ? <f64>load<T>(at<T>(bias, c)) : 0;
      for (let n = 0; n < nt; n++) {
        const p = at<T>(row, n);
        store<T>(p, <T>(cap * tanhExpm1((<f64>load<T>(p) + b) / cap)));
      }
    } else if (bias != 0) {
      const vb = v128.splat<T>(load<T>(at<T>(bias, c)));
      for (let n = 0; n < ntp; n += L) v128.store(at<T>(row, n), v128.add<T>(v128.load(at<T>(row, n)), vb));
    }
    // max, not pmax: a NaN logit makes its token's max NaN, as PyTorch's
    for (let n = 0; n < ntp; n += L) v128.store(at<T>(mx, n), v128.max<T>(v128.load(at<T>(mx, n)), v128.load(at<T>(row, n))));
  }
  const k0 = expK<T>(0, true), k1 = expK<T>(1, true), k2 = expK<T>(2, true), k3 = expK<T>(3, true), k4 = expK<T>(4, true), k5 = expK<T>(5, true);
  const k6 = expK<T>(6, true), k7 = expK<T>(7, true), k8 = expK<T>(8, true), k9 = expK<T>(9, true), kc = expK<T>(10, true), ku = expK<T>(11, true);
  const smooth = eps > 0;
  for (let c = 0; c < C; c++) {
    const row = at<T>(zt, <usize>c * ntp);
    const vw = f64x2.splat(weight != 0 ? <f64>load<T>(at<T>(weight, c)) : 1.0);
    for (let n = 0; n < ntp; n += L) {
      const d = v128.sub<T>(v128.load(at<T>(row, n)), v128.load(at<T>(mx, n)));
      addCompensatedV<T>(stat(stats, SUM, ntp, n), stat(stats, LOST, ntp, n), expWith<T>(d, k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, kc, ku, true));
      if (smooth) addScaledTo<T>(stat(stats, SMOOTH, ntp, n), d, vw);
    }
  }
  const uniform = eps / <f64>C;
  for (let n = 0; n < nt; n++) {
    const m = <f64>load<T>(at<T>(mx, n));
    store<f64>(stat(stats, MAX, ntp, n), m); // (the host reads it where lse is NaN)
    const logSum = Math.log(finishSum(stats, ntp, n));
    store<f64>(stat(stats, LSE, ntp, n), m + logSum);
    store<f64>(stat(stats, LOGSUM, ntp, n), logSum);
    let loss: f64 = 0;
    const t = load<i32>(targets + (<usize>n << 2));
    if (t >= 0) {
      const wt = weight != 0 ? <f64>load<T>(at<T>(weight, t)) : 1.0;
      const z = <f64>load<T>(at<T>(zt, <usize>t * ntp + n));
      store<f64>(stat(stats, ZTARGET, ntp, n), z);
      loss = (1 - eps) * wt * (logSum - (z - m));
      if (smooth) loss += uniform * (weightSum * logSum - load<f64>(stat(stats, SMOOTH, ntp, n)));
    }
    store<f64>(stat(stats, LOSS, ntp, n), loss);
  }
}

// The host's per-token gradient coefficients (f64 arrays of ntp at these offsets from `coef`).
const C_LSE = 0, C_ALPHA = 1, C_BETA = 2, C_GAMMA = 3;
/** The vector path's copies in T of the max, alpha, gamma and log S. */
const T_MAX = 4, T_ALPHA = 5, T_GAMMA = 6, T_LOGSUM = 8;
/** z-loss's share of alpha, 2 zLoss lse times its upstream gradient; T_LOGSUM is slot 8 (the host reserves 9). */
const C_Z = 7;

/** Step 4: dZ := alpha s - gamma w [p'] - beta [c == t], times the softcap's derivative
 *  1 - (z / cap)^2, in place over the capped logits; gradBias[c] += sum over tokens of dZ, where
 *  gradBias is f64 [C] (0 when not wanted): the host rounds it to T once, after the last chunk.
 *  Why f64, over the finished dZ: with a huge upstream gradient (3e38 in f32, 1e308 in f64) a
 *  confident token's alpha s_t and beta are each near the top of the range and nearly cancel;
 *  summing the alpha s terms apart from the beta ones, or keeping the sum in T across chunks,
 *  overflowed where PyTorch's bias gradient (the sum of its finished dZ) is finite. */
export function lceBackward<T>(
  zt: usize, ntp: i32, nt: i32, C: i32, cap: f64, targets: usize, probs: usize,
  weight: usize, eps: f64, weightSum: f64, coef: usize, gradBias: usize, stats: usize,
): void {
  if (ASC_FEATURE_SIMD) if (probs == 0 && gammasFit<T>(coef, ntp, nt, weight)) {
    backwardVector<T>(zt, ntp, nt, C, cap, targets, weight, eps, weightSum, coef, gradBias, stats);
    return;
  }
  const ones = exactOneClasses<T>(zt, ntp, nt, C, targets, eps, coef, stats);
  const uniform = eps / <f64>C;
  for (let c = 0; c < C; c++) {
    const row = at<T>(zt, <usize>c * ntp);
    const w = weight != 0 ? <f64>load<T>(at<T>(weight, c)) : 1.0;
    let sum: f64 = 0;
    for (let n = 0; n < nt; n++) {
      const z = <f64>load<T>(at<T>(row, n));
      let d = load<f64>(stat(coef, C_ALPHA, ntp, n)) * Math.exp((z - load<f64>(stat(stats, MAX, ntp, n))) - load<f64>(stat(stats, LOGSUM, ntp, n)));
      let wc = w;
      if (probs != 0) wc *= <f64>load<T>(at<T>(probs, <usize>n * C + c)) * (1 - eps) + uniform;
      d -= load<f64>(stat(coef, C_GAMMA, ntp, n)) * wc;
      if (targets != 0 && load<i32>(targets + (<usize>n << 2)) == c) d -= load<f64>(stat(coef, C_BETA, ntp, n));
      if (cap > 0) d *= capSlope<T>(z, cap);
      const dt = <T>d;
      store<T>(at<T>(row, n), dt);
      sum += <f64>dt;
    }
    if (gradBias != 0 && !ones) store<f64>(gradBias + (<usize>c << 3), load<f64>(gradBias + (<usize>c << 3)) + sum);
  }
  if (!ones) return;
  exactOneGrads<T>(zt, ntp, nt, C, cap, targets, probs, weight, eps, weightSum, coef, stats);
  // the bias gradient from the finished rows, in the same order as the loop's sum
  for (let c = 0; gradBias != 0 && c < C; c++) {
    const row = at<T>(zt, <usize>c * ntp);
    let sum: f64 = 0;
    for (let n = 0; n < nt; n++) sum += <f64>load<T>(at<T>(row, n));
    store<f64>(gradBias + (<usize>c << 3), load<f64>(gradBias + (<usize>c << 3)) + sum);
  }
}

/** The softcap's derivative 1 - (z / cap)^2 at a capped logit z, as v (2 - v) with
 *  v = (cap - |z|) / cap = 1 - |u| (so v (2 - v) = (1 - |u|)(1 + |u|)), cap rounded to T. That cap
 *  is the forward's largest |z| (cap tanh with tanh = 1), so a saturated logit gets exactly 0, as
 *  PyTorch's 1 - tanh^2 does (red team 59: z (1 / cap) gave 1.2e-7 there, and under probability
 *  mass 1e30 gradInput -6.3e21 where torch gives 0); any smaller |z| gives a positive slope.
 *  cap - |z| is exact where the slope is small (|z| >= cap / 2) and 2 - v rounds only relatively,
 *  so only z's own rounding is left: 1 - u u with u = z / cap rounded as well was up to 3x
 *  PyTorch's error at |z / cap| near 6 (float32; red team 62: 0.21 of sech^2(8) for torch's 0.059). */
@inline function capSlope<T>(z: f64, cap: f64): f64 {
  const c = <f64><T>cap, v = (c - Math.abs(z)) / c;
  return v * (2 - v);
}

/** Tokens (ignored ones aside) whose softmax is exactly 1 at one class j (S = 1: C = 1, or every other
 *  logit -inf or far below), with label smoothing or z-loss: there PyTorch's g - 1 * sum(g) leaves
 *  j exactly the other classes' terms, and its z-loss gradient is a term of its own, where
 *  alpha s_j - gamma w_j - beta [j == t] leaves the rounding residue of the summed alpha (red team
 *  20: gradBias 0.006250000000000089 for torch's 0.00625 at C = 1, zLoss 1e-3; as crossEntropy's
 *  exactOneGrad; with probability targets, red team 21: gradBias 113 ulps off at C = 1). Found
 *  before dZ overwrites the logits: j (as f64, -1 for other tokens) goes to the stat PZ, which only
 *  the forward pass of probability targets uses. Returns whether there is any. */
function exactOneClasses<T>(zt: usize, ntp: i32, nt: i32, C: i32, targets: usize, eps: f64, coef: usize, stats: usize): bool {
  let any = false;
  for (let n = 0; n < nt; n++) {
    store<f64>(stat(stats, PZ, ntp, n), -1);
    if ((targets != 0 && load<i32>(targets + (<usize>n << 2)) < 0) || load<f64>(stat(stats, SUM, ntp, n)) != 1) continue;
    const zPart = load<f64>(stat(coef, C_Z, ntp, n));
    if (!(eps > 0 || zPart != 0)) continue;
    // (an infinite or NaN upstream gradient is left to the composition, as crossEntropy does)
    const finite = load<f64>(stat(coef, C_ALPHA, ntp, n)) + load<f64>(stat(coef, C_BETA, ntp, n)) + load<f64>(stat(coef, C_GAMMA, ntp, n)) + zPart;
    if (finite - finite != 0) continue;
    const lse = load<f64>(stat(coef, C_LSE, ntp, n)); // = m, as S = 1
    for (let c = 0; c < C; c++) {
      if (<f64>load<T>(at<T>(zt, <usize>c * ntp + n)) == lse) {
        store<f64>(stat(stats, PZ, ntp, n), <f64>c);
        any = true;
        break;
      }
    }
  }
  return any;
}

/** dZ at the classes exactOneClasses found: beta [j != t] + gamma (W - w_j) + z's part (class
 *  indices), gamma (P - w_j p'_j) + z's part (probabilities: gamma is the upstream gradient, P the
 *  stat PW), times the softcap's derivative at z_j = lse. */
function exactOneGrads<T>(
  zt: usize, ntp: i32, nt: i32, C: i32, cap: f64, targets: usize, probs: usize, weight: usize, eps: f64, weightSum: f64, coef: usize, stats: usize,
): void {
  for (let n = 0; n < nt; n++) {
    const found = load<f64>(stat(stats, PZ, ntp, n));
    if (found < 0) continue;
    const j = <i32>found;
    const wj = weight != 0 ? <f64>load<T>(at<T>(weight, j)) : 1.0;
    const gamma = load<f64>(stat(coef, C_GAMMA, ntp, n));
    let g: f64;
    if (probs != 0) {
      const wp = wj * (<f64>load<T>(at<T>(probs, <usize>n * C + j)) * (1 - eps) + eps / <f64>C);
      g = gamma * (load<f64>(stat(stats, PW, ntp, n)) - wp) + load<f64>(stat(coef, C_Z, ntp, n));
    } else {
      const others = j == load<i32>(targets + (<usize>n << 2)) ? 0 : load<f64>(stat(coef, C_BETA, ntp, n));
      g = others + gamma * (weightSum - wj) + load<f64>(stat(coef, C_Z, ntp, n));
    }
    if (cap > 0) g *= capSlope<T>(load<f64>(stat(coef, C_LSE, ntp, n)), cap);
    store<T>(at<T>(zt, <usize>j * ntp + n), <T>g);
  }
}

/** Whether backwardVector may hold each token's gamma (smoothing's k eps / C) in T: with class
 *  weights, a float32 gamma outside the normal range went to 0 or inf before its product with a
 *  weight that brings it back (red team 26: weight 3e38, gradOutput 1e-30); the loop of lceBackward
 *  forms gamma w in f64. */
function gammasFit<T>(coef: usize, ntp: i32, nt: i32, weight: usize): bool {
  if (sizeof<T>() == 8 || weight == 0) return true;
  for (let n = 0; n < nt; n++) {
    const g = load<f64>(stat(coef, C_GAMMA, ntp, n));
    if (g != 0 && isFinite(g) && !inF32NormalRange(g)) return false;
  }
  return true;
}

/** lceBackward for class-index targets in the SIMD build, vectorised across tokens like
 *  forwardVector: dZ := alpha s - gamma w in T, then each token's target entry alpha s_t - gamma w_t
 *  - beta in f64 (times the softcap's derivative at the target logit, which lceForward kept). */
function backwardVector<T>(
  zt: usize, ntp: i32, nt: i32, C: i32, cap: f64, targets: usize,
  weight: usize, eps: f64, weightSum: f64, coef: usize, gradBias: usize, stats: usize,
): void {
  const L = lanes<T>();
  const ones = exactOneClasses<T>(zt, ntp, nt, C, targets, eps, coef, stats);
  const maxT = stat(coef, T_MAX, ntp, 0), logSumT = stat(coef, T_LOGSUM, ntp, 0);
  const alphaT = stat(coef, T_ALPHA, ntp, 0), gammaT = stat(coef, T_GAMMA, ntp, 0);
  for (let n = 0; n < ntp; n++) {
    // padded tokens: exp(z - inf) = 0 and zero coefficients, so their dZ is 0
    const real = n < nt;
    store<T>(at<T>(maxT, n), real ? <T>load<f64>(stat(stats, MAX, ntp, n)) : <T>Infinity);
    store<T>(at<T>(logSumT, n), real ? <T>load<f64>(stat(stats, LOGSUM, ntp, n)) : <T>0);
    store<T>(at<T>(alphaT, n), real ? <T>load<f64>(stat(coef, C_ALPHA, ntp, n)) : <T>0);
    store<T>(at<T>(gammaT, n), real ? <T>load<f64>(stat(coef, C_GAMMA, ntp, n)) : <T>0);
  }
  const k0 = expK<T>(0, true), k1 = expK<T>(1, true), k2 = expK<T>(2, true), k3 = expK<T>(3, true), k4 = expK<T>(4, true), k5 = expK<T>(5, true);
  const k6 = expK<T>(6, true), k7 = expK<T>(7, true), k8 = expK<T>(8, true), k9 = expK<T>(9, true), kc = expK<T>(10, true), ku = expK<T>(11, true);
  const capV = v128.splat<T>(<T>cap); // see capSlope
  const two = v128.splat<T>(<T>2);
  for (let c = 0; c < C; c++) {
    const row = at<T>(zt, <usize>c * ntp);
    const vw = v128.splat<T>(weight != 0 ? load<T>(at<T>(weight, c)) : <T>1);
    for (let n = 0; n < ntp; n += L) {
      const z = v128.load(at<T>(row, n));
      const e = expWith<T>(v128.sub<T>(v128.sub<T>(z, v128.load(at<T>(maxT, n))), v128.load(at<T>(logSumT, n))), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, kc, ku, true);
      let d = v128.sub<T>(v128.mul<T>(v128.load(at<T>(alphaT, n)), e), v128.mul<T>(v128.load(at<T>(gammaT, n)), vw));
      if (cap > 0) {
        const v = v128.div<T>(v128.sub<T>(capV, v128.abs<T>(z)), capV);
        d = v128.mul<T>(d, v128.mul<T>(v, v128.sub<T>(two, v)));
      }
      v128.store(at<T>(row, n), d);
    }
  }
  // The target entry anew in f64, as lceBackward's loop forms it: alpha s_t - beta from the vector
  // lanes' alpha rounded to T against beta in f64 left a confident token (s_t = 1) one ulp of its
  // scale, wrong in sign (float32 'mean', N = 5: +3e-9 for the exact -2.8e-15; C = 1: nonzero
  // gradients where PyTorch's are 0; red team 62).
  for (let n = 0; n < nt; n++) {
    const t = load<i32>(targets + (<usize>n << 2));
    if (t < 0) continue;
    const z = load<f64>(stat(stats, ZTARGET, ntp, n));
    const s = Math.exp((z - load<f64>(stat(stats, MAX, ntp, n))) - load<f64>(stat(stats, LOGSUM, ntp, n)));
    const w = weight != 0 ? <f64>load<T>(at<T>(weight, t)) : 1.0;
    let g = load<f64>(stat(coef, C_ALPHA, ntp, n)) * s - load<f64>(stat(coef, C_GAMMA, ntp, n)) * w - load<f64>(stat(coef, C_BETA, ntp, n));
    if (cap > 0) g *= capSlope<T>(z, cap);
    store<T>(at<T>(zt, <usize>t * ntp + n), <T>g);
  }
  if (ones) exactOneGrads<T>(zt, ntp, nt, C, cap, targets, 0, weight, eps, weightSum, coef, stats);
  // The bias gradient from the finished rows (padded tokens' dZ is 0), widened to f64.
  if (gradBias != 0) {
    for (let c = 0; c < C; c++) {
      const row = at<T>(zt, <usize>c * ntp);
      let acc = f64x2.splat(0);
      for (let n = 0; n < ntp; n += L) acc = addWide<T>(acc, v128.load(at<T>(row, n)));
      const pb = gradBias + (<usize>c << 3);
      store<f64>(pb, load<f64>(pb) + hsum(acc));
    }
  }
}

/** Step 5 for one vocabulary block: dz points at the block's first row of dZ^T (rows ntp apart),
 *  w at W_b [cb, D], x at X_chunk [nt, D]. gradX [nt, D] (+)= dZ_b^T^T W_b, gradW_b [cb, D] (+)= dZ_b X. */
export function lceGrads<T>(
  dz: usize, ntp: i32, nt: i32, cb: i32, D: i32, w: usize, x: usize,
  gradX: usize, accX: bool, gradW: usize, accW: bool,
): void {
  const s = <usize>sizeof<T>();
  if (gradX != 0) gemm<T>(nt, D, cb, dz, s, <usize>ntp * s, w, <usize>D * s, gradX, <usize>D * s, accX);
  if (gradW != 0) gemm<T>(cb, D, nt, dz, <usize>ntp * s, s, x, <usize>D * s, gradW, <usize>D * s, accW);
}
