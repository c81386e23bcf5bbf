// Multi-class focal loss over an (outer, C, inner) tensor of logits with class-index targets t:
//
//   lp = log_softmax(x) along C,  lp_t = lp[t],  p_t = exp(lp_t),  u = 1 - p_t
//   loss = -w_t (u^gamma lp_t)                      (0 where t is ignored)
//
// gamma = 0 is cross-entropy. The gradient is autograd's chain through that formula (the reference
// is the formula written in torch), step by step, so its NaNs are PyTorch's: with k the upstream
// gradient and G = d loss / d lp_t,
//   G = -k w_t u^gamma + (-(-k w_t lp_t) gamma u^(gamma - 1)) p_t    (the second term 0 for gamma = 0)
//   dloss/dx_c = G ([c == t] - s_c),  s = softmax(x)                 (log_softmax's backward)
// At p_t = 1 with 0 < gamma < 1, u^(gamma - 1) is +inf and G is NaN (0 * inf) or infinite, as in
// PyTorch; a target logit of -inf gives an infinite loss and, for gamma > 0, a NaN gradient row.
//
// One pass for the max, one for the exps (kept in the gradient row), one to scale them: the same
// passes and row helpers as cross-entropy. The per-position scalars are f64. Float32 with gamma != 0
// runs four positions at a time in the SIMD builds (focalColumns, below).

import { at, inF32NormalRange, expSumRest, powFocal, rowExpSum, rowMax, rowMaxForExp, rowScale, upstream } from "./math";
import { addWide, expK, expWith, flushBelow, hsum, infV, log1pV, logRestV, minNormalV, narrow, oneV, subnormalBound } from "./simd";

/** Targets are validated i32 (0..C-1, or -1 where ignored); `weight` (C values), `lossOut`, `grad`
 *  and `gradPerPosition` may be 0. Returns the sum of the per-position losses in f64. */
export function focalLoss<T>(
  x: usize, target: usize, weight: usize, outer: i32, C: i32, inner: i32, gamma: f64,
  lossOut: usize, grad: usize, scale: f64, gradPerPosition: usize,
): f64 {
  let total: f64 = 0;
  for (let o = 0; o < outer; o++) {
    let i = 0;
    // float32 with the class dim not last: four positions at a time, for gamma > 0 (gamma 0 never
    // comes here: src/ops/focal.ts hands it to crossEntropy; below -1 the two terms of G cancel, and
    // p_t = e_t / S from float32 exps lost up to 2700 ulps there where exp(lp_t) keeps 381: red team 35b)
    if (ASC_FEATURE_SIMD && sizeof<T>() == 4 && gamma > 0) {
      i = inner & ~3;
      total = focalColumns(x, target, weight, o, C, inner, i, gamma, lossOut, grad, scale, gradPerPosition, total);
    }
    for (; i < inner; i++) total += focalPosition<T>(x, target, weight, o, C, inner, i, gamma, lossOut, grad, scale, gradPerPosition);
  }
  return total;
}

/** Position i of outer slice o: its loss (returned, and stored at lossOut) and gradient row. */
function focalPosition<T>(
  x: usize, target: usize, weight: usize, o: i32, C: i32, inner: i32, i: i32, gamma: f64,
  lossOut: usize, grad: usize, scale: f64, gradPerPosition: usize,
): f64 {
  const stride = <usize>inner << alignof<T>();
  const pos = <usize>o * inner + i;
  const offset = (<usize>o * C * inner + i) << alignof<T>();
  const row = x + offset;
  const g = grad + offset;
  const t = load<i32>(target + (pos << 2));
  if (t < 0) {
    if (lossOut != 0) store<T>(at<T>(lossOut, pos), <T>0);
    if (grad != 0) ignoredGrad<T>(row, g, C, stride);
    return 0;
  }
  const m = rowMaxForExp<T>(row, C, stride);
  const sum = rowExpSum<T>(row, m, C, stride, grad != 0 ? g : 0, true); // exact: the exps feed a gradient that gradOutput may scale up
  // log S as log1p(R) where 1 < S < 2, R the exps other than the max's 1 (S near 1 holds R to
  // an ulp of 1 only: [30, 0, 0] lost 5e-4 of R = 1.9e-13, hence of u and the loss; red team
  // 23), and u = 1 - p_t as 0 - expm1(lp_t), not a difference that cancels (0 - : +0 at lp_t =
  // 0). Where S rounds to 1, log S is 0 and u is 0, as PyTorch's (its p_t = 1 behaviour).
  const confident = sum < 2 && sum != 1;
  const logSum = confident ? Math.log1p(expSumRest) : Math.log(sum);
  const lpt = <f64>(load<T>(row + <usize>t * stride) - m) - logSum;
  const pt = Math.exp(lpt);
  const u = 0 - Math.expm1(lpt);
  const mod = gamma == 2 ? u * u : gamma == 1 ? u : powFocal(u, gamma);
  const w = weight != 0 ? <f64>load<T>(at<T>(weight, t)) : 1.0;
  const loss = -w * (mod * lpt);
  if (lossOut != 0) store<T>(at<T>(lossOut, pos), <T>loss);
  if (grad != 0) {
    const gProduct = -(upstream<T>(gradPerPosition, pos, scale) * w); // d loss / d (mod lp_t)
    const slope = gamma == 2 ? 2 * u : gamma == 1 ? 1.0 : gamma * powFocal(u, gamma - 1);
    const G = gProduct * mod + -((gProduct * lpt) * slope) * pt; // through u = 1 - p_t and p_t = exp(lp_t)
    // s_c = e_c / sum: scale the stored exps by -G / sum, then add G at the target, rounded to
    // T first as crossEntropy's subtractTarget does (at p_t = 1 the two terms cancel to 0, as in
    // PyTorch's g - p sum(g))
    rowScale<T>(g, C, stride, (0 - G) / sum, 0, 0); // (0 - G: see focalColumns)
    const p = g + <usize>t * stride;
    // (a confident row's max target: G (1 - s_t) is G u, where G - G s_t cancels as above, + 0 as
    // PyTorch's +0 where G is -0 (red team 37); so is a finite G beyond float32's max, whose entry
    // may fit where float32's G and s_t G overflow (red team 38: [0, 1.5] at gradOutput 3e38 gave
    // -inf for -2.88e38); an infinite G keeps PyTorch's inf - inf, NaN)
    const exact = (confident && load<T>(row + <usize>t * stride) == m || sizeof<T>() == 4 && Math.abs(G) > 3.4028234663852886e38) && G - G == 0;
    store<T>(p, exact ? <T>(G * u + 0) : <T>(<f64>load<T>(p) + <f64><T>G));
  }
  return loss;
}

/** Positions 0 .. i1 - 1 (a multiple of 4) of outer slice o, float32 (the class dim strided by
 *  `inner`, as NCHW, or rows regrouped into columns): focalPosition's maths four positions at a
 *  time. Row CE's per-position scalar logs and exps had made rows of 2-5 classes slower than plain
 *  JavaScript (40 ns/elem at C = 2).
 *
 *  The sums of exps in f64 lanes, the per-position step in f32 lanes from the f64 shares of S,
 *  with two changes of form that keep the values: u = 1 - p_t is the other exps' share of S (no
 *  cancellation, as expm1's), and p_t = e_t / S.
 *
 *  C = 2 (binary classification written as two classes) takes one exp per position, e = exp(v - m)
 *  for the smaller logit v: S = 1 + e and R = e, in f64 as the loop over classes leaves them, and
 *  log S = log1p(e) (what logRestV makes of R's bits, bit for bit, without its f64 split), then the
 *  same step; its gradient row is (G u at the target, -G u beside it: -s_nt G, s_nt = u), with no
 *  second loop over classes. Against the loops over classes (200,000 rows, gamma 0.5 to 3, with
 *  weights): the same losses and target entries bit for bit, the other class's entry (-G u where
 *  they formed e_c a) within 2 ulps; focalLoss [524288, 2] float32 into out: 97 -> 53 x86 instructions per
 *  element (bench/instructions.sh fc2). A first version took S = 1 + e in float32 (32 instructions
 *  per element), up to 19.5 ulps from float64 at gamma 3 (red team 53: u from a float32 S, raised
 *  to gamma + 1), where this step keeps 16.4.
 *
 *  Lanes whose values the vector form does not cover (an ignored target; a non-finite logit,
 *  weight or gradOutput; a loss or G beyond float32's range) are done again by focalPosition. At
 *  C = 2 a non-finite logit, weight or gradOutput always makes the loss or G non-finite, except a
 *  -inf beside a finite target logit, whose lane has focalPosition's values (u = 0, a zero row).
 *  Returns `total` plus the losses, the lanes kept summed in two f64 lanes (a fixed order, the same
 *  for every thread count). */
function focalColumns(
  x: usize, target: usize, weight: usize, o: i32, C: i32, inner: i32, i1: i32, gamma: f64,
  lossOut: usize, grad: usize, scale: f64, gradPerPosition: usize, total: f64,
): f64 {
  const stride = <usize>inner << 2;
  const pair = C == 2;
  // A uniform gradOutput factor is taken in float32: one outside its normal range ('mean' over
  // weights of 3e38: 8e-42) would lose the k w that float64 keeps (red team 36), and every lane
  // goes to focalPosition then (no target exceeds i32's max).
  const kept = i32x4.splat(grad == 0 || gradPerPosition != 0 || scale == 0 || inF32NormalRange(scale) ? -1 : i32.MAX_VALUE);
  const k0 = expK<f32>(0, true), k1 = expK<f32>(1, true), k2 = expK<f32>(2, true), k3 = expK<f32>(3, true), k4 = expK<f32>(4, true), k5 = expK<f32>(5, true);
  const k6 = expK<f32>(6, true), k7 = expK<f32>(7, true), k8 = expK<f32>(8, true), k9 = expK<f32>(9, true), kc = expK<f32>(10, true), ku = expK<f32>(11, true);
  const one = oneV<f32>();
  const small = minNormalV<f32>();
  const inf = infV();
  let sum = f64x2.splat(0);
  let loss = one;
  let lanes = 15;
  let groupRegular = loss; // (the lanes of the group that broke out kept in the vector form)
  // (a group with a lane for focalPosition breaks out of the inner loop: the call inside it made V8
  // keep the exp's constants in memory, 10 of 47 instructions per element at C = 2, 32.3 -> 29.6 on
  // NCHW with 20 classes)
  for (let i = 0; i < i1; i += 4) {
    for (; i < i1; i += 4) {
      const pos = <usize>o * inner + i;
      const base = x + ((<usize>o * C * inner + i) << 2);
      const g = grad + ((<usize>o * C * inner + i) << 2);
      const t = v128.load(target + (pos << 2));
      let regular = i32x4.gt_s(t, kept);
      // the max, the target's logit and weight, and whether every logit is finite
      let wt = one, e2 = one, m = f32x4.neg(inf), xt = m, et = m, sLo = f64x2.splat(0), sHi = sLo, rLo = sLo, rHi = sLo;
      for (let c = 0; c < C; c++) {
        const v = v128.load(base + <usize>c * stride);
        const isT = i32x4.eq(t, i32x4.splat(c));
        m = f32x4.pmax(m, v);
        xt = v128.bitselect(v, xt, isT);
        if (weight != 0) wt = v128.bitselect(v128.load32_splat(weight + (<usize>c << 2)), wt, isT);
        regular = v128.and(regular, f32x4.lt(f32x4.abs(v), inf));
      }
      regular = v128.and(regular, f32x4.lt(f32x4.abs(wt), inf));
      if (pair) {
        // one exp, e = exp(v - m) for the smaller logit v (pmin: x0 where x0 < x1, as pmax took x1):
        // S = 1 + e and R = e in f64 (at a tie, or where e rounds to 1, S is 2 and R unused: the
        // other branch's loop of exps has floor(e) = 1 there), the target's exp 1 or e
        const e = expWith<f32>(f32x4.sub(f32x4.pmin(v128.load(base + stride), v128.load(base)), m), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, kc, ku, true);
        e2 = e;
        et = v128.bitselect(one, e, f32x4.eq(xt, m));
        rLo = f64x2.promote_low_f32x4(e);
        rHi = f64x2.promote_low_f32x4(high(e));
        sLo = f64x2.add(f64x2.splat(1), rLo);
        sHi = f64x2.add(f64x2.splat(1), rHi);
      } else {
        // the exps (kept in the gradient), R (rowExpSum's: the exps other than a max's 1, summed apart
        // in f64), the count of those 1s (floor(e): every exp is at most 1; exact in f32), and the
        // target's exp. S is count + R: below 2 that is withRest's 1 + R, and each class widens one
        // vector, not two
        et = f32x4.splat(0);
        let ones = et;
        for (let c = 0; c < C; c++) {
          const q = <usize>c * stride;
          const e = expWith<f32>(f32x4.sub(v128.load(base + q), m), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, kc, ku, true);
          if (grad != 0) v128.store(g + q, e);
          et = v128.bitselect(e, et, i32x4.eq(t, i32x4.splat(c)));
          const top = f32x4.floor(e);
          ones = f32x4.add(ones, top);
          const r = f32x4.sub(e, top); // besideOne
          rLo = f64x2.add(rLo, f64x2.promote_low_f32x4(r));
          rHi = f64x2.add(rHi, f64x2.promote_low_f32x4(high(r)));
        }
        sLo = f64x2.add(f64x2.promote_low_f32x4(ones), rLo);
        sHi = f64x2.add(f64x2.promote_low_f32x4(high(ones)), rHi);
      }
      const isMax = f32x4.eq(xt, m);
      // From the f64 sums, in two halves of f64 lanes: whether S rounds to 1, 1 / S, and u = 1 - p_t
      // as the other exps' share of S: R where the target is the only max (0 where S rounds to 1: u
      // = 0 there, PyTorch's), else S - e_t, at least 1 (the max's exp) and so without cancellation.
      let invLo = sLo, invHi = sLo, uLo = sLo, uHi = sLo, oneLo = sLo, oneHi = sLo;
      for (let h = 0; h < 2; h++) {
        const half = h != 0;
        const sum = half ? sHi : sLo;
        const rest = half ? rHi : rLo;
        const near = f64x2.lt(sum, f64x2.splat(2));
        const isOne = f64x2.eq(sum, f64x2.splat(1));
        const inverse = f64x2.div(f64x2.splat(1), sum);
        const tMax = half ? i64x2.extend_high_i32x4_s(isMax) : i64x2.extend_low_i32x4_s(isMax);
        const e = f64x2.promote_low_f32x4(half ? high(et) : et);
        const others = v128.bitselect(v128.andnot(rest, isOne), f64x2.sub(sum, e), v128.and(tMax, near));
        if (half) { invHi = inverse; uHi = f64x2.mul(others, inverse); oneHi = isOne; }
        else { invLo = inverse; uLo = f64x2.mul(others, inverse); oneLo = isOne; }
      }
      // The rest in float32 lanes, four positions at once, from u and 1 / S rounded once each (p_t =
      // e_t (1 / S)). Every quantity is a product or a sum of like signs (|lp_t| = |d| + log S, and
      // the two terms of G have one sign for gamma > 0), so each stays within a few ulps; a lane
      // where one overflows is irregular. log S is 0 where S rounds to 1, else log1p(R) below
      // sqrt(2) (logRestV: R's own bits).
      const lpt = f32x4.sub(f32x4.sub(xt, m), v128.andnot(pair ? log1pV<f32>(e2) : logRestV(sLo, sHi, rLo, rHi), v128.shuffle<i32>(oneLo, oneHi, 0, 2, 4, 6)));
      const inv = narrow<f32>(invLo, invHi);
      const u = narrow<f32>(uLo, uHi);
      const pt = f32x4.mul(et, inv);
      let mod = u;
      let slope = one;
      if (gamma == 2) {
        mod = f32x4.mul(u, u);
        slope = f32x4.add(u, u);
      } else if (gamma != 1) {
        // one powFocal per position: gamma u^(gamma - 1) as gamma u^gamma / u (u = 0: focalPosition)
        mod = powLanes(u, gamma);
        slope = f32x4.div(f32x4.mul(f32x4.splat(<f32>gamma), mod), u);
        regular = v128.andnot(regular, f32x4.eq(u, f32x4.splat(0)));
      }
      // G in PyTorch's order (focalPosition's): its zeros' signs are autograd's
      const modLpt = f32x4.mul(mod, lpt);
      loss = f32x4.neg(f32x4.mul(wt, modLpt));
      // Lanes that float32's range fails go to focalPosition, in f64 (red team 36): a loss beyond it
      // or within a factor 2 of its max (2 loss overflows; float32's max itself may be an f64 loss
      // that passes it: red team 37; the f64 total keeps weights of 1e38), and a nonzero u whose
      // u^gamma lp_t or loss fell below its normal numbers, which a weight or gradOutput can scale
      // back up (u^3 at [30.7, 0] times a weight of 1e6: 57 ulps off) or 'mean' divide by tiny
      // weights (of 1e-45: 0). With gamma 2 that is u in [2^-53, 2^-42) only (below, S rounds to 1
      // and u is 0): margins of about 29-37.
      const lost = v128.or(f32x4.lt(f32x4.abs(modLpt), small), v128.andnot(f32x4.lt(f32x4.abs(loss), small), f32x4.eq(wt, f32x4.splat(0))));
      regular = v128.andnot(v128.and(regular, f32x4.lt(f32x4.abs(f32x4.add(loss, loss)), inf)), v128.andnot(lost, f32x4.eq(u, f32x4.splat(0))));
      if (lossOut != 0) v128.store(lossOut + (pos << 2), loss);
      if (grad != 0) {
        const kv = gradPerPosition != 0 ? v128.load(gradPerPosition + (pos << 2)) : f32x4.splat(<f32>scale);
        const gProduct = f32x4.neg(f32x4.mul(kv, wt));
        const G = f32x4.add(f32x4.mul(gProduct, mod), f32x4.mul(f32x4.neg(f32x4.mul(f32x4.mul(gProduct, lpt), slope)), pt));
        regular = v128.and(regular, f32x4.lt(f32x4.abs(G), inf));
        // the target's entry G (1 - s_t), as G u: G - G s_t cancels as p_t nears 1, G u does not (+ 0:
        // PyTorch's G - G s_t is +0 where it is 0)
        const atTarget = f32x4.add(f32x4.mul(G, u), f32x4.splat(0));
        if (pair) {
          // beside it -s_nt G = -G u (0 - : +0 where 0, as PyTorch's 0 - s_nt G), flushed where
          // subnormal, as the kernels flush every would-be subnormal product
          const beside = f32x4.sub(f32x4.splat(0), f32x4.mul(G, u));
          const flushed = v128.andnot(beside, f32x4.lt(f32x4.abs(beside), small));
          const is1 = i32x4.eq(t, i32x4.splat(1));
          v128.store(g, v128.bitselect(flushed, atTarget, is1));
          v128.store(g + stride, v128.bitselect(atTarget, flushed, is1));
        } else {
          // (0 - G: +0 where G is 0 of either sign, as PyTorch's entries 0 - s_c G)
          const a = f32x4.mul(f32x4.sub(f32x4.splat(0), G), inv);
          const tiny = subnormalBound<f32>(a);
          for (let c = 0; c < C; c++) {
            const q = <usize>c * stride;
            // (+ 0: PyTorch's 0 - s_c G is +0 where e_c a is 0 of either sign)
            const v = f32x4.add(f32x4.mul(flushBelow<f32>(v128.load(g + q), tiny), a), f32x4.splat(0));
            v128.store(g + q, v128.bitselect(atTarget, v, i32x4.eq(t, i32x4.splat(c))));
          }
        }
      }
      lanes = i32x4.bitmask(regular);
      groupRegular = regular;
      if (lanes != 15) break;
      sum = addWide<f32>(sum, loss);
    }
    // a group with lanes for focalPosition: the others' losses, and those lanes done again
    if (i < i1) {
      sum = addWide<f32>(sum, v128.and(loss, groupRegular));
      for (let l = 0; l < 4; l++) {
        if (!(lanes & (1 << l))) total += focalPosition<f32>(x, target, weight, o, C, inner, i + l, gamma, lossOut, grad, scale, gradPerPosition);
      }
    }
  }
  return total + hsum(sum);
}

/** u^gamma in each f32 lane (powFocal's, one lane at a time). */
// @ts-ignore: decorator
@inline function powLanes(u: v128, gamma: f64): v128 {
  let mod = u;
  mod = f32x4.replace_lane(mod, 0, <f32>powFocal(<f64>f32x4.extract_lane(u, 0), gamma));
  mod = f32x4.replace_lane(mod, 1, <f32>powFocal(<f64>f32x4.extract_lane(u, 1), gamma));
  mod = f32x4.replace_lane(mod, 2, <f32>powFocal(<f64>f32x4.extract_lane(u, 2), gamma));
  return f32x4.replace_lane(mod, 3, <f32>powFocal(<f64>f32x4.extract_lane(u, 3), gamma));
}

/** Lanes 2-3 of an f32x4 in lanes 0-1 (for promote_low). */
// @ts-ignore: decorator
@inline function high(v: v128): v128 {
  return v128.shuffle<f32>(v, v, 2, 3, 0, 1);
}

/** The gradient row of an ignored position: PyTorch back-propagates a zero through log_softmax,
 *  0 * exp(lp), which is 0, or NaN for the whole row when lp is NaN (a NaN or +inf logit, or a
 *  row of all -inf): as cross-entropy does. */
function ignoredGrad<T>(row: usize, g: usize, C: i32, stride: usize): void {
  const m = rowMax<T>(row, C, stride);
  const zero: T = m - m == 0 ? <T>0 : <T>NaN;
  for (let c = 0; c < C; c++) store<T>(g + <usize>c * stride, zero);
}
