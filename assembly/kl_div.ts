// kl_div (torch.nn.functional.kl_div, PyTorch 1.13): element-wise, input x holds log-probabilities.
//
//   log_target = false:  loss = xlogy(t, t) - t x      dloss/dx = -t
//   log_target = true:   loss = exp(t) (t - x)         dloss/dx = -exp(t)
//
// xlogy(t, t) is t log t with xlogy(0, t) = 0 (NaN only for t = NaN), so a zero target gives 0
// against any finite x, and NaN against x = -inf (0 * -inf), exactly as PyTorch's formula does;
// a negative target gives NaN (log of a negative number). Likewise exp(-inf) (-inf - x) is NaN.
//
// Each element's loss is formed in f64, for float32 input too: t log t and t x nearly cancel where
// the two distributions agree, which is where a KL loss ends up, and so can large terms of opposite
// signs in a sum. For float32 the vector path widens t and x to f64 pairs and forms t log t (log64V)
// and t x (exact: a product of two f32) there. (It had taken t log t in f32, whose rounding error of
// up to 4e-8 absolute is the whole loss of a near-converged element: red team 20 found one off by
// 2.2x and a sum of nine off by 8%.)

import { at, inF32NormalRange, upstream } from "./math";
import { expV, lanes, log64V, narrow } from "./simd";

/** One element in f64 (the scalar build, vector tails, and lanes the vector path does not cover).
 *  Not inlined: its two call sites are off the vector path. */
function element<T>(
  x: usize, t: usize, i: i32, logTarget: bool, lossOut: usize, grad: usize, scale: f64, gradPerElement: usize,
): f64 {
  const xi = <f64>load<T>(at<T>(x, i));
  const ti = <f64>load<T>(at<T>(t, i));
  let loss: f64;
  let slope: f64; // -dloss/dx
  if (logTarget) {
    slope = Math.exp(ti);
    loss = slope * (ti - xi);
  } else {
    slope = ti;
    loss = (ti == 0 ? 0 : ti * Math.log(ti)) - ti * xi;
  }
  if (lossOut != 0) store<T>(at<T>(lossOut, i), <T>loss);
  if (grad != 0) store<T>(at<T>(grad, i), <T>(-slope * upstream<T>(gradPerElement, i, scale)));
  return loss;
}

/** kl_div over `n` elements: per-element losses to `lossOut` and the gradient (times `scale`, or
 *  the per-element upstream gradient) to `grad` when those are non-zero. Returns the sum of the losses. */
export function klDiv<T>(
  x: usize, t: usize, n: i32, logTarget: bool, lossOut: usize, grad: usize, scale: f64, gradPerElement: usize,
): f64 {
  let total: f64 = 0;
  let i = 0;
  // (float32: a scale outside the normal range, 'mean' of a tiny gradOutput, would be rounded in
  // the splat below before the target multiplies it: element by element then, red team 44)
  if (ASC_FEATURE_SIMD) if (sizeof<T>() == 8 || grad == 0 || gradPerElement != 0 || scale == 0 || inF32NormalRange(scale)) {
    const L = lanes<T>();
    const end = n - n % L;
    const zero = v128.splat<T>(<T>0);
    const k = v128.splat<T>(<T>scale);
    // Where the vector forms hold: log64V wants positive normal numbers or +inf (or 0, masked below);
    // expV wants arguments in [cutoff, 0], below which it flushes exp(t) to 0 (a subnormal exp(t)
    // times an infinite t - x is +-inf, not 0 * inf = NaN). Other vectors go element by element.
    const tiny = v128.splat<T>(sizeof<T>() == 4 ? <T>1.17549435e-38 : <T>2.2250738585072014e-308);
    const huge = v128.splat<T>(<T>Infinity); // (t = +inf: xlogyMinusProduct's +inf)
    const cutoff = v128.splat<T>(sizeof<T>() == 4 ? <T>-87.0 : <T>-708.0);
    let acc = f64x2.splat(0);
    for (; i < end; i += L) {
      const tv = v128.load(at<T>(t, i));
      const regular = logTarget
        ? v128.and(v128.le<T>(tv, zero), v128.ge<T>(tv, cutoff))
        : v128.or(v128.and(v128.ge<T>(tv, tiny), v128.le<T>(tv, huge)), v128.eq<T>(tv, zero));
      if (!(sizeof<T>() == 4 ? i32x4.all_true(regular) : i64x2.all_true(regular))) {
        for (let j = 0; j < L; j++) total += element<T>(x, t, i + j, logTarget, lossOut, grad, scale, gradPerElement);
        continue;
      }
      const xv = v128.load(at<T>(x, i));
      let slope = tv;
      if (sizeof<T>() == 4) {
        // float32: the two halves in f64, narrowed back only for what is stored
        const tLo = f64x2.promote_low_f32x4(tv);
        const tHi = f64x2.promote_low_f32x4(v128.shuffle<f32>(tv, tv, 2, 3, 0, 1));
        const xLo = f64x2.promote_low_f32x4(xv);
        const xHi = f64x2.promote_low_f32x4(v128.shuffle<f32>(xv, xv, 2, 3, 0, 1));
        let lo: v128, hi: v128;
        if (logTarget) {
          const eLo = expV<f64>(tLo);
          const eHi = expV<f64>(tHi);
          lo = f64x2.mul(eLo, f64x2.sub(tLo, xLo));
          hi = f64x2.mul(eHi, f64x2.sub(tHi, xHi));
          slope = narrow<f32>(eLo, eHi);
        } else {
          lo = xlogyMinusProduct(tLo, xLo);
          hi = xlogyMinusProduct(tHi, xHi);
        }
        acc = f64x2.add(acc, f64x2.add(lo, hi));
        if (lossOut != 0) v128.store(at<T>(lossOut, i), narrow<f32>(lo, hi));
      } else {
        let loss: v128;
        if (logTarget) {
          slope = expV<f64>(tv);
          loss = f64x2.mul(slope, f64x2.sub(tv, xv));
        } else {
          loss = xlogyMinusProduct(tv, xv);
        }
        acc = f64x2.add(acc, loss);
        if (lossOut != 0) v128.store(at<T>(lossOut, i), loss);
      }
      if (grad != 0) {
        const kv = gradPerElement != 0 ? v128.load(at<T>(gradPerElement, i)) : k;
        v128.store(at<T>(grad, i), v128.neg<T>(v128.mul<T>(slope, kv)));
      }
    }
    total += f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  }
  for (; i < n; i++) total += element<T>(x, t, i, logTarget, lossOut, grad, scale, gradPerElement);
  return total;
}

/** t log t - t x for two f64 lanes whose t is 0, a positive normal number or +inf (the caller's
 *  check). t = 0 gives 0 - 0 x: 0, or NaN at x = -inf. */
// @ts-ignore: decorator
@inline function xlogyMinusProduct(t: v128, x: v128): v128 {
  const xlogy = v128.andnot(f64x2.mul(t, log64V(t)), f64x2.eq(t, f64x2.splat(0)));
  return f64x2.sub(xlogy, f64x2.mul(t, x));
}

