// Element-wise binary cross-entropy, on probabilities and on logits, each with its gradient.
//
// Weights are periodic: `weight` holds `weightPeriod` values and element i uses
// weight[i % weightPeriod]. Any weight broadcastable to the input under NumPy rules is a trailing
// block of it repeated, so the caller passes that block (expanded where it broadcasts inside).
// The same holds for pos_weight. A zero pointer means "no weight".

import { MAX_THREADS } from "./threads";
import { at, upstream } from "./math";
import { addWide, expV, hsum, lanes, log1pV, logV, maddV, nmaddV, oneV } from "./simd";

/** PyTorch's gradient clamp is the float constant 1e-12 in both precisions: 9.999999960041972e-13. */
const EPSILON: f64 = <f64><f32>1e-12;

// The SIMD build walks the input in spans over which both weights are contiguous (or one value
// each), so a span is plain vector work; a short period would make every span a scalar tail, so
// periods of up to MAX_EXPANDED elements are first tiled into a static buffer of a length that is a
// multiple of the vector width (periods 2 and 3 become 256 and 252: a span is then 63-64 vectors).

/** Tiled copies of a short weight and pos_weight: 256 values of f64 each. */
const EXPANDED_BYTES: usize = 2 * 256 * 8;
const EXPANDED_SLOTS = memory.data(<i32>EXPANDED_BYTES * MAX_THREADS, 16);
let EXPANDED = EXPANDED_SLOTS; // this instance's thread slot (src/threads.ts)

/** Points this instance's tiled weights at thread slot k's block. */
export function bceScratchSlot(k: i32): void {
  EXPANDED = EXPANDED_SLOTS + <usize>k * EXPANDED_BYTES;
}
const MAX_EXPANDED = 64;

/** The period a short weight is tiled to: the largest multiple of lcm(period, lanes) <= 256. */
function expandedPeriod<T>(period: i32): i32 {
  let l = period;
  while (l % lanes<T>() != 0) l += period;
  return 256 - 256 % l;
}

/** The gradient's last factor, 1 / n for 'mean' (else 1), set by each kernel call: PyTorch divides
 *  the weighted gradient by n last, so a gradOutput that g / n would take below the smallest normal
 *  number keeps its digits (red team 18: float64 gradOutput 5e-324, posWeight 1e30: -0 for
 *  -2.6e-295). The upstream gradient `scale` is then g itself. */
let gradInverse: f64 = 1;

/** Whether the last binaryCrossEntropy call met an x outside [0, 1] (or NaN): its range check.
 *  The check is here, where the kernel loads x anyway, not in JavaScript before the call: a loop
 *  over a Float32Array or Float64Array in V8 took 2-4 ns per element, a third of the call
 *  (bench/shapes.mjs bce-probs), against about 0.1 here. The caller finds the first bad element
 *  for its error message only when this is set (src/ops/bce.ts). */
export let outsideUnit: i32 = 0;

/** binary_cross_entropy on probabilities x in [0, 1] (outsideUnit says if one was not):
 *    loss = w ((y - 1) max(log(1 - x), -100) - y max(log x, -100))
 *    dloss/dx = w (x - y) / max((1 - x) x, EPSILON)
 *  The clamps are PyTorch's: they keep x = 0 and x = 1 finite. Returns the sum of the losses. */
export function binaryCrossEntropy<T>(
  x: usize, y: usize, weight: usize, weightPeriod: i32, n: i32,
  lossOut: usize, grad: usize, scale: f64, gradPerElement: usize, inverse: f64,
): f64 {
  outsideUnit = 0;
  gradInverse = inverse;
  if (ASC_FEATURE_SIMD) return spans<T>(false, x, y, weight, weightPeriod, 0, 1, n, lossOut, grad, scale, gradPerElement);
  let total: f64 = 0;
  let j = 0;
  for (let i = 0; i < n; i++) {
    const w = weight != 0 ? <f64>load<T>(at<T>(weight, j)) : 1.0;
    if (++j == weightPeriod) j = 0;
    total += probabilityElement<T>(x, y, i, w, lossOut, grad, scale, gradPerElement);
  }
  return total;
}

/** One element of binaryCrossEntropy, in f64 (the scalar build, and the tails of vector spans). */
// @ts-ignore: decorator
@inline function probabilityElement<T>(
  x: usize, y: usize, i: i32, w: f64, lossOut: usize, grad: usize, scale: f64, gradPerElement: usize,
): f64 {
  const xi = <f64>load<T>(at<T>(x, i));
  const yi = <f64>load<T>(at<T>(y, i));
  if (!((1 - xi) * xi >= 0)) outsideUnit = 1; // the vector loop's test (probabilitySpan)
  const logX = max(Math.log(xi), -100.0);
  const log1mX = max(Math.log1p(-xi), -100.0);
  const loss = w * ((yi - 1) * log1mX - yi * logX); // PyTorch's form and its sign of 0 (x = -0, y = 0: +0)
  if (lossOut != 0) store<T>(at<T>(lossOut, i), <T>loss);
  if (grad != 0) store<T>(at<T>(grad, i), <T>probabilityGrad(xi, yi, w, upstream<T>(gradPerElement, i, scale)));
  return loss;
}

/** One element's gradient, k (x - y) / max((1 - x) x, EPSILON) w / n, in f64. */
// @ts-ignore: decorator
@inline function probabilityGrad(xi: f64, yi: f64, w: f64, k: f64): f64 {
  return k * (xi - yi) / max((1 - xi) * xi, EPSILON) * w * gradInverse;
}

/** `n` elements of binaryCrossEntropy with a contiguous weight (or one value when weightOne): the
 *  scalar path's maths, in f32x4 lanes for f32 and in f64x2 lanes for f64 (logV).
 *  log(1 - x) is log1p(-x) by Goldberg's correction, log(u) (-x) / (u - 1) with u = 1 - x rounded
 *  (or -x where u rounds to 1), so tiny x keep full relative accuracy. log(0) comes out near -104
 *  (f32) or -709 (f64) rather than -inf, which the -100 clamp makes the same; an f64 x below the
 *  smallest normal has a log below -708 either way. */
function probabilitySpan<T>(
  x: usize, y: usize, weight: usize, weightOne: bool, n: i32,
  lossOut: usize, grad: usize, scale: f64, gradPerElement: usize,
): f64 {
  const L = lanes<T>();
  const one = oneV<T>();
  const clamp = v128.splat<T>(<T>-100);
  const eps = v128.splat<T>(<T>EPSILON);
  const k = v128.splat<T>(<T>scale);
  const inv = v128.splat<T>(<T>gradInverse);
  const zero = v128.splat<T>(<T>0);
  const wOne = weight != 0 ? v128.splat<T>(load<T>(weight)) : one;
  const wStep = weight != 0 && !weightOne;
  let acc = f64x2.splat(0);
  let total: f64 = 0;
  // the range check: min of (1 - x) x, >= 0 iff every x is in [0, 1] (outside, the product is
  // negative and no smaller in size than 2^-24 or x; min keeps a NaN)
  let low = zero;
  let scalarTo = 0; // elements before this go one by one
  let c = 0;
  while (c < n) {
    if (c >= scalarTo) {
      for (; c <= n - L; c += L) {
        const xv = v128.load(at<T>(x, c));
        const yv = v128.load(at<T>(y, c));
        const w = wStep ? v128.load(at<T>(weight, c)) : wOne;
        const u = v128.sub<T>(one, xv);
        const ux = v128.mul<T>(u, xv);
        low = v128.min<T>(low, ux);
        const um1 = v128.sub<T>(u, one);
        const negX = v128.neg<T>(xv);
        // |x|: logV reads -0's sign bit as part of its exponent (log(-0) came out +88.7 in f32, +710 in
        // f64, a loss of -73.5 or -710.5 where PyTorch gives 100); -0 is in [0, 1], a negative x is flagged
        const logX = v128.max<T>(logV<T>(v128.abs<T>(xv)), clamp);
        const log1p = v128.bitselect(negX, v128.div<T>(v128.mul<T>(logV<T>(u), negX), um1), v128.eq<T>(um1, zero));
        const log1mX = v128.max<T>(log1p, clamp);
        const loss = v128.mul<T>(w, v128.sub<T>(v128.mul<T>(v128.sub<T>(yv, one), log1mX), v128.mul<T>(yv, logX)));
        // a float32 vector whose loss or gradient comes out inf or NaN goes one by one in f64, the
        // scalar build's arithmetic: a float32 step can overflow on the way to a value that fits (red
        // team 40: gradOutput 3e38, weight 0.5 gave eight infinities, then 3e38; red team 42: x 1e-30,
        // y 1e38, weight 1e-5 gave a loss of inf for 6.9e34). Nothing of it is stored first: `out` may
        // be the input or the target.
        let bad = loss; // inf or NaN where the loss or the gradient is
        let gw = zero;
        if (grad != 0) {
          const kv = gradPerElement != 0 ? v128.load(at<T>(gradPerElement, c)) : k;
          const den = v128.max<T>(ux, eps);
          // float64: PyTorch's order, k (x - y) / den, so that the lanes give its bits (red team 30: targets
          // of 1e308 with gradOutput 1e-300 overflowed as (x - y) / den). float32: (x - y) / den first,
          // because k (x - y) in float32 lanes rounded a subnormal x - y onto the subnormal grid before
          // the division brought it back (red team 15: 6.7% high at x = 3 2^-149), where PyTorch float64
          // and the scalar build (float64 arithmetic) do not; it overflows only for targets beyond about
          // 1e26 (README, BCE clamps).
          const d = v128.sub<T>(xv, yv);
          const g = sizeof<T>() == 8 ? v128.div<T>(v128.mul<T>(kv, d), den) : v128.mul<T>(v128.div<T>(d, den), kv);
          gw = v128.mul<T>(v128.mul<T>(g, w), inv);
          bad = v128.add<T>(bad, gw);
        }
        if (sizeof<T>() == 4 && v128.any_true(nonFiniteLanes(bad))) {
          scalarTo = c + L;
          break;
        }
        if (grad != 0) v128.store(at<T>(grad, c), gw);
        if (lossOut != 0) v128.store(at<T>(lossOut, c), loss);
        acc = addWide<T>(acc, loss);
      }
    }
    if (c < n) {
      const w = weight != 0 ? <f64>load<T>(at<T>(weight, weightOne ? 0 : c)) : 1.0;
      total += probabilityElement<T>(x, y, c, w, lossOut, grad, scale, gradPerElement);
      c++;
    }
  }
  if (!i32x4.all_true(v128.ge<T>(low, zero))) outsideUnit = 1;
  return hsum(acc) + total;
}

/** Walks n elements in spans over which weight and posWeight are contiguous (see above) and runs
 *  the SIMD span kernel of one loss on each. Returns the summed loss. */
function spans<T>(
  logits: bool, x: usize, y: usize, weight: usize, weightPeriod: i32, posWeight: usize, posWeightPeriod: i32, n: i32,
  lossOut: usize, grad: usize, scale: f64, gradPerElement: usize,
): f64 {
  if (weight != 0 && weightPeriod > 1 && weightPeriod <= MAX_EXPANDED) {
    weightPeriod = expand<T>(weight, weightPeriod, EXPANDED);
    weight = EXPANDED;
  }
  if (posWeight != 0 && posWeightPeriod > 1 && posWeightPeriod <= MAX_EXPANDED) {
    posWeightPeriod = expand<T>(posWeight, posWeightPeriod, EXPANDED + 256 * 8);
    posWeight = EXPANDED + 256 * 8;
  }
  const weightOne = weight == 0 || weightPeriod == 1;
  const posWeightOne = posWeight == 0 || posWeightPeriod == 1;
  let total: f64 = 0;
  let start = 0;
  while (start < n) {
    let span = n - start;
    const j = weightOne ? 0 : start % weightPeriod;
    const q = posWeightOne ? 0 : start % posWeightPeriod;
    if (!weightOne) span = min(span, weightPeriod - j);
    if (!posWeightOne) span = min(span, posWeightPeriod - q);
    const w = weight != 0 ? at<T>(weight, j) : 0;
    const pw = posWeight != 0 ? at<T>(posWeight, q) : 0;
    const l = lossOut != 0 ? at<T>(lossOut, start) : 0;
    const g = grad != 0 ? at<T>(grad, start) : 0;
    const k = gradPerElement != 0 ? at<T>(gradPerElement, start) : 0;
    total += logits
      ? logitsSpan<T>(at<T>(x, start), at<T>(y, start), w, weightOne, pw, posWeightOne, span, l, g, scale, k)
      : probabilitySpan<T>(at<T>(x, start), at<T>(y, start), w, weightOne, span, l, g, scale, k);
    start += span;
  }
  return total;
}

/** Tiles `period` values of T into `to` up to expandedPeriod; returns that period. */
function expand<T>(from: usize, period: i32, to: usize): i32 {
  const length = expandedPeriod<T>(period);
  for (let i = 0; i < length; i++) store<T>(at<T>(to, i), load<T>(at<T>(from, i % period)));
  return length;
}

/** binary_cross_entropy_with_logits. PyTorch computes, with pw the positive-class weight and
 *  lw = 1 + (pw - 1) y,
 *    loss = w ((1 - y) x + lw (log1p(exp(-|x|)) + max(-x, 0)))
 *    dloss/dx = w (lw sigmoid(x) - pw y), formed in PyTorch's order ((lw sigmoid - pw y) g) w / n, so
 *  a gradOutput near the type's max is not overflowed by the weight first (red team 17).
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
  lossOut: usize, grad: usize, scale: f64, gradPerElement: usize, inverse: f64,
): f64 {
  gradInverse = inverse;
  if (sizeof<T>() == 4) {
    // M (logitsSpan): a single weight, times posWeight and the upstream factor (1 without a
    // gradient) each taken as at least 1; unbounded where one of them is an array. The floor is at
    // most FLT_MIN (M < 1: no lane), which keeps logitsSpan's unsigned range test non-negative.
    const m = weightPeriod == 1 && posWeightPeriod == 1 && gradPerElement == 0
      ? (weight != 0 ? Math.abs(<f64>load<f32>(weight)) : 1.0) * max(1.0, posWeight != 0 ? Math.abs(<f64>load<f32>(posWeight)) : 1.0) * max(1.0, Math.abs(scale) * inverse)
      : Infinity;
    subnormalFloor = <f32>min(1.17549435e-38 / m, 1.17549435e-38);
  }
  if (ASC_FEATURE_SIMD) return spans<T>(true, x, y, weight, weightPeriod, posWeight, posWeightPeriod, n, lossOut, grad, scale, gradPerElement);
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

/** One element, in f64 (the scalar build, and the tails and redone vectors of vector spans; not
 *  inlined: 30 B of gzip, which the float32 screens below needed). Returns its loss. */
function logitsElement<T>(
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
  if (grad != 0) store<T>(at<T>(grad, i), <T>logitsGrad(xi, yi, w, pw, upstream<T>(gradPerElement, i, scale), e));
  return loss;
}

/** One element's gradient, w (k (lw sigmoid(x) - pw y)) / n, in f64, from e = exp(-|x|), with
 *  lw = 1 + (pw - 1) y. The factor is formed as (1 - y) sigmoid(x) - pw y sigmoid(-x) (equal), each
 *  sigmoid from r = 1 / (1 + e) and e r: lw sigmoid(x) - pw y lost every digit where sigmoid(x)
 *  rounds to 1 (red team 40: x = 20, y = 1 gave 0 in float32 lanes for -2.06e-9; float64 lost
 *  digits from x = 20 on, as PyTorch's float64 does), and lw's pw - 1 where pw is small (red team
 *  41: pw 1e-8, y = 1, x = 1 gave 0 for -2.69e-9). Where pw y is infinite, PyTorch's own form: its
 *  inf - inf, NaN. */
function logitsGrad(xi: f64, yi: f64, w: f64, pw: f64, k: f64, e: f64): f64 {
  const r = 1 / (1 + e);
  const t = pw * yi;
  const sx = xi >= 0 ? r : e * r;
  const factor = t - t == 0 ? (1 - yi) * sx - t * (xi >= 0 ? e * r : r) : (1 + (pw - 1) * yi) * sx - t;
  return w * (k * factor) * gradInverse;
}

/** Of the last float32 binaryCrossEntropyWithLogits call, the smallest subnormal e whose lost
 *  digits M (logitsSpan) can bring back to a normal number: FLT_MIN / M, 0 where M is unbounded
 *  (a weight, posWeight or gradOutput array) or beyond 2^23. */
let subnormalFloor: f32 = 0;

/** The lanes of a float32 vector that are inf or NaN (all ones there). */
// @ts-ignore: decorator
@inline function nonFiniteLanes(v: v128): v128 {
  return f32x4.ne(f32x4.sub(v, v), f32x4.splat(0));
}

/** `n` elements with contiguous weights (or one weight each when the *One flag is set), SIMD in T
 *  with the losses summed per block of 16 vectors in T and then in f64. Same maths as above.
 *  A float32 vector goes element by element in f64 (logitsElement, the scalar build's arithmetic,
 *  as the tail does), nothing of it stored first (`out` may be the input or the target, which
 *  logitsElement reads), where
 *  - a lane's e = exp(-|x|) is below float32's smallest normal number FLT_MIN (|x| > 87.3) but at
 *    least FLT_MIN / M (subnormalFloor): its few subnormal digits are what M, the call's weight
 *    times posWeight times upstream factor, brings back to a normal result (red team 41: x = -104,
 *    gradOutput 3e38 gave 0 for float64's 2.04e-7). Below FLT_MIN / M the result stays below FLT_MIN
 *    (targets in [0, 1]): the SIMD flush's class, and a vector of saturated logits stays in lanes;
 *  - a lane's loss times 16 (a block's sum) or gradient comes out inf or NaN, which a float32 step
 *    can reach on the way to a value that fits (red team 40: gradOutput 3e38, weight 0.5 gave inf
 *    for 3e38; red team 42: targets of -2.5e36 gave losses of 2e38 that summed to inf).
 *  Other float32 products that fall below FLT_MIN keep float32's digits, as PyTorch float32 does
 *  (red team 42, left open: x = -60, weight 1e38, gradOutput 1e-30 gives -0 for 8.76e-19). */
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
  const inv = v128.splat<T>(<T>gradInverse);
  let acc = f64x2.splat(0);
  let sum = zero;
  let vectors = 0; // in sum
  let total: f64 = 0;
  const floorBits = i32x4.splat(reinterpret<i32>(subnormalFloor));
  const floorRange = i32x4.splat(reinterpret<i32>(<f32>1.17549435e-38) - reinterpret<i32>(subnormalFloor));
  let scalarTo = 0; // elements before this go one by one
  let c = 0;
  while (c < n) {
    if (c >= scalarTo) {
      for (; c <= n - L; c += L) {
        const xv = v128.load(at<T>(x, c));
        const yv = v128.load(at<T>(y, c));
        const w = wStep ? v128.load(at<T>(weight, c)) : wOne;
        const pw = pwStep ? v128.load(at<T>(posWeight, c)) : pwOne;
        const e = expV<T>(v128.neg<T>(v128.abs<T>(xv)));
        const negative = v128.sub<T>(one, yv);      // 1 - y
        const positive = v128.mul<T>(pw, yv);       // pw y
        const logWeight = maddV<T>(v128.sub<T>(pw, one), yv, one); // 1 + (pw - 1) y
        const low = v128.pmin<T>(xv, zero);
        let loss = v128.mul<T>(v128.pmax<T>(xv, zero), negative);
        loss = nmaddV<T>(low, positive, loss);
        loss = maddV<T>(logWeight, log1pV<T>(e), loss);
        loss = v128.mul<T>(w, v128.add<T>(loss, v128.sub<T>(low, low))); // NaN at x = -inf only
        let bad = v128.mul<T>(loss, v128.splat<T>(<T>16)); // inf or NaN where the loss or the gradient is
        let gw = zero;
        if (grad != 0) {
          // logitsGrad's form: (1 - y) sigmoid(x) - pw y sigmoid(-x), the sigmoids r = 1 / (1 + e) and e r
          const r = v128.div<T>(one, v128.add<T>(one, e));
          const er = v128.mul<T>(e, r);
          const up = v128.ge<T>(xv, zero);
          const factor = nmaddV<T>(positive, v128.bitselect(er, r, up), v128.mul<T>(negative, v128.bitselect(r, er, up)));
          const kv = gradPerElement != 0 ? v128.load(at<T>(gradPerElement, c)) : k;
          gw = v128.mul<T>(v128.mul<T>(w, v128.mul<T>(kv, factor)), inv);
          bad = v128.add<T>(bad, gw);
        }
        // e in [subnormalFloor, FLT_MIN), one unsigned compare of the bits
        if (sizeof<T>() == 4 && v128.any_true(v128.or(i32x4.lt_u(i32x4.sub(e, floorBits), floorRange), nonFiniteLanes(bad)))) {
          scalarTo = c + L;
          break;
        }
        if (lossOut != 0) v128.store(at<T>(lossOut, c), loss);
        if (grad != 0) v128.store(at<T>(grad, c), gw);
        sum = v128.add<T>(sum, loss);
        if (++vectors == 16) {
          acc = addWide<T>(acc, sum);
          sum = zero;
          vectors = 0;
        }
      }
    }
    if (c < n) {
      const w = weight != 0 ? <f64>load<T>(at<T>(weight, weightOne ? 0 : c)) : 1.0;
      const pw = posWeight != 0 ? <f64>load<T>(at<T>(posWeight, posWeightOne ? 0 : c)) : 1.0;
      total += logitsElement<T>(x, y, c, w, pw, lossOut, grad, scale, gradPerElement);
      c++;
    }
  }
  return hsum(addWide<T>(acc, sum)) + total;
}