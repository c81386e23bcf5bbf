// Element-wise binary cross-entropy, on probabilities and on logits, each with its gradient.
//
// Weights are periodic: `weight` holds `weightPeriod` values and element i uses
// weight[i % weightPeriod]. Any weight broadcastable to the input under NumPy rules is a trailing
// block of it repeated, so the caller passes that block (expanded where it broadcasts inside).
// The same holds for pos_weight. A zero pointer means "no weight".

import { at, upstream } from "./math";
import { addWide, expV, hsum, lanes, log1pV, oneV } from "./simd";

/** PyTorch's gradient clamp is the float constant 1e-12 in both precisions: 9.999999960041972e-13. */
const EPSILON: f64 = <f64><f32>1e-12;

/** binary_cross_entropy on probabilities x in [0, 1] (validated by the caller):
 *    loss = -w (y max(log x, -100) + (1 - y) max(log(1 - x), -100))
 *    dloss/dx = w (x - y) / max((1 - x) x, EPSILON)
 *  The clamps are PyTorch's: they keep x = 0 and x = 1 finite. Returns the sum of the losses. */
export function binaryCrossEntropy<T>(
  x: usize, y: usize, weight: usize, weightPeriod: i32, n: i32,
  lossOut: usize, grad: usize, scale: f64, gradPerElement: usize,
): f64 {
  let total: f64 = 0;
  let j = 0;
  for (let i = 0; i < n; i++) {
    const xi = <f64>load<T>(at<T>(x, i));
    const yi = <f64>load<T>(at<T>(y, i));
    const w = weight != 0 ? <f64>load<T>(at<T>(weight, j)) : 1.0;
    if (++j == weightPeriod) j = 0;
    const logX = max(Math.log(xi), -100.0);
    const log1mX = max(Math.log1p(-xi), -100.0);
    const loss = -w * (yi * logX + (1 - yi) * log1mX);
    total += loss;
    if (lossOut != 0) store<T>(at<T>(lossOut, i), <T>loss);
    if (grad != 0) {
      const k = upstream<T>(gradPerElement, i, scale);
      store<T>(at<T>(grad, i), <T>(k * w * (xi - yi) / max((1 - xi) * xi, EPSILON)));
    }
  }
  return total;
}

/** binary_cross_entropy_with_logits. PyTorch computes, with pw the positive-class weight and
 *  lw = 1 + (pw - 1) y,
 *    loss = w ((1 - y) x + lw (log1p(exp(-|x|)) + max(-x, 0)))
 *    dloss/dx = w (lw sigmoid(x) - pw y)
 *  The loss is computed here in the algebraically equal form
 *    loss = w (max(x, 0) (1 - y) + max(-x, 0) pw y + lw log1p(exp(-|x|)))
 *  whose first two terms do not cancel: PyTorch's (1 - y) x + lw max(-x, 0) loses every digit in
 *  float32 at x = -1e4, y = 1e-9 (the exact loss is 1e-5; it gives 0). lw is PyTorch's own
 *  1 + (pw - 1) y, not (1 - y) + pw y: at |y| >= 2^24 (f32) or 2^53 (f64) the latter rounds to
 *  (-y) + y = 0 and drops the log1p term. The exp argument is <= 0, so nothing overflows.
 *  x = -inf gives NaN, as PyTorch's form does (it adds -inf and +inf).
 *  Returns the sum of the losses. */
export function binaryCrossEntropyWithLogits<T>(
  x: usize, y: usize, weight: usize, weightPeriod: i32, posWeight: usize, posWeightPeriod: i32, n: i32,
  lossOut: usize, grad: usize, scale: f64, gradPerElement: usize,
): f64 {
  if (ASC_FEATURE_SIMD) {
    // Walk spans of length `span` over which weight and posWeight are both contiguous (or one value
    // each). The periods are suffix products of the same broadcast shape, so the smaller divides
    // the larger and every span starts at a multiple of it.
    let span = n;
    if (weight != 0 && weightPeriod > 1) span = min(span, weightPeriod);
    if (posWeight != 0 && posWeightPeriod > 1) span = min(span, posWeightPeriod);
    if (span >= lanes<T>()) {
      let total: f64 = 0;
      for (let start = 0; start < n; start += span) {
        total += logitsSpan<T>(
          at<T>(x, start), at<T>(y, start),
          weight != 0 ? at<T>(weight, start % weightPeriod) : 0, weightPeriod == 1,
          posWeight != 0 ? at<T>(posWeight, start % posWeightPeriod) : 0, posWeightPeriod == 1, span,
          lossOut != 0 ? at<T>(lossOut, start) : 0, grad != 0 ? at<T>(grad, start) : 0, scale,
          gradPerElement != 0 ? at<T>(gradPerElement, start) : 0,
        );
      }
      return total;
    }
  }
  let total: f64 = 0;
  let j = 0;
  let q = 0;
  for (let i = 0; i < n; i++) {
    const w = weight != 0 ? <f64>load<T>(at<T>(weight, j)) : 1.0;
    if (++j == weightPeriod) j = 0;
    const pw = posWeight != 0 ? <f64>load<T>(at<T>(posWeight, q)) : 1.0;
    if (++q == posWeightPeriod) q = 0;
    total += logitsElement<T>(x, y, i, w, pw, lossOut, grad, scale, gradPerElement);
  }
  return total;
}

/** One element, in f64 (the scalar build, and the tails of vector spans). Returns its loss. */
// @ts-ignore: decorator
@inline function logitsElement<T>(
  x: usize, y: usize, i: i32, w: f64, pw: f64, lossOut: usize, grad: usize, scale: f64, gradPerElement: usize,
): f64 {
  const xi = <f64>load<T>(at<T>(x, i));
  const yi = <f64>load<T>(at<T>(y, i));
  const e = Math.exp(-Math.abs(xi));
  const logWeight = 1 + (pw - 1) * yi;
  const clampedLow = min(xi, 0.0);
  // (clampedLow - clampedLow) is NaN for x = -inf only: PyTorch's -inf + inf.
  const loss = w * (max(xi, 0.0) * (1 - yi) + max(-xi, 0.0) * pw * yi + logWeight * Math.log1p(e) + (clampedLow - clampedLow));
  if (lossOut != 0) store<T>(at<T>(lossOut, i), <T>loss);
  if (grad != 0) {
    // sigmoid(x) from the same e = exp(-|x|): 1 / (1 + e) for x >= 0, e / (1 + e) otherwise.
    const sigmoid = xi >= 0 ? 1 / (1 + e) : e / (1 + e);
    const k = upstream<T>(gradPerElement, i, scale);
    store<T>(at<T>(grad, i), <T>(k * w * (logWeight * sigmoid - pw * yi)));
  }
  return loss;
}

/** `n` elements with contiguous weights (or one weight each when the *One flag is set), SIMD in T
 *  with the losses summed per block of 16 vectors in T and then in f64. Same maths as above. */
function logitsSpan<T>(
  x: usize, y: usize, weight: usize, weightOne: bool, posWeight: usize, posWeightOne: bool, n: i32,
  lossOut: usize, grad: usize, scale: f64, gradPerElement: usize,
): f64 {
  const L = lanes<T>();
  const one = oneV<T>();
  const zero = v128.splat<T>(<T>0);
  const wOne = weight != 0 ? v128.splat<T>(load<T>(weight)) : one;
  const pwOne = posWeight != 0 ? v128.splat<T>(load<T>(posWeight)) : one;
  const wStep = weight != 0 && !weightOne;
  const pwStep = posWeight != 0 && !posWeightOne;
  const k = v128.splat<T>(<T>scale);
  const end = n - n % L;
  let acc = f64x2.splat(0);
  let c = 0;
  while (c < end) {
    const blockEnd = min(c + 16 * L, end);
    let sum = zero;
    for (; c < blockEnd; c += L) {
      const xv = v128.load(at<T>(x, c));
      const yv = v128.load(at<T>(y, c));
      const w = wStep ? v128.load(at<T>(weight, c)) : wOne;
      const pw = pwStep ? v128.load(at<T>(posWeight, c)) : pwOne;
      const e = expV<T>(v128.neg<T>(v128.abs<T>(xv)));
      const negative = v128.sub<T>(one, yv);      // 1 - y
      const positive = v128.mul<T>(pw, yv);       // pw y
      const logWeight = v128.add<T>(one, v128.mul<T>(v128.sub<T>(pw, one), yv)); // 1 + (pw - 1) y
      const low = v128.pmin<T>(xv, zero);
      let loss = v128.mul<T>(v128.pmax<T>(xv, zero), negative);
      loss = v128.add<T>(loss, v128.mul<T>(v128.neg<T>(low), positive));
      loss = v128.add<T>(loss, v128.mul<T>(logWeight, log1pV<T>(e)));
      loss = v128.mul<T>(w, v128.add<T>(loss, v128.sub<T>(low, low))); // NaN at x = -inf only
      if (lossOut != 0) v128.store(at<T>(lossOut, c), loss);
      sum = v128.add<T>(sum, loss);
      if (grad != 0) {
        const sigmoid = v128.div<T>(v128.bitselect(one, e, v128.ge<T>(xv, zero)), v128.add<T>(one, e));
        const kv = gradPerElement != 0 ? v128.load(at<T>(gradPerElement, c)) : k;
        v128.store(at<T>(grad, c), v128.mul<T>(v128.mul<T>(kv, w), v128.sub<T>(v128.mul<T>(logWeight, sigmoid), v128.mul<T>(pw, yv))));
      }
    }
    acc = addWide<T>(acc, sum);
  }
  let total = hsum(acc);
  for (; c < n; c++) {
    const w = weight != 0 ? <f64>load<T>(at<T>(weight, weightOne ? 0 : c)) : 1.0;
    const pw = posWeight != 0 ? <f64>load<T>(at<T>(posWeight, posWeightOne ? 0 : c)) : 1.0;
    total += logitsElement<T>(x, y, c, w, pw, lossOut, grad, scale, gradPerElement);
  }
  return total;
}
