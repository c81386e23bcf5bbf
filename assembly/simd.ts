// Vector building blocks for the kernels, generic over T (f32x4 or f64x2 lanes). Compiled only into
// the SIMD build: every caller guards its use with `if (ASC_FEATURE_SIMD)`, a compile-time constant,
// so the scalar build (asconfig target "scalar") is plain MVP wasm from the same source.
//
// Every constant is loaded from a static table with a splat load: V8 re-materialises v128 constants
// inside hot loops (several instructions each), while a splat load is one instruction, so the
// kernels load them once, before their loops.

/** Lanes per v128 for T: 4 for f32, 2 for f64. */
// @ts-ignore: decorator
@inline export function lanes<T>(): i32 {
  return 16 / sizeof<T>();
}

// exp(x) for x <= 0 (the only arguments the kernels need: x - max, -|x|).
//
// Reduced argument (Cody-Waite): n := round(x / ln 2), t := x - n ln2_hi - n ln2_lo, so
// exp(x) = 2^n * exp(t) with |t| <= ln(2)/2. 2^n is built from the integer bits of n: adding a
// "magic bias" 1.5 * 2^(mantissa bits) + exponent bias rounds x / ln 2 to an integer sitting in the
// low mantissa bits; shifting those bits into the exponent field gives a power of two directly.
// exp(t): f32 uses XNNPACK's minimax degree-5 fit (its rr2-p5 coefficients), f64 fdlibm's rational
// form with fdlibm's hi/lo split of t. Both within 1-2 ulp: tests/ulp.test.ts measures them.
//
// Gradual underflow, as PyTorch and the scalar build have it: results below the smallest normal
// number (x < -87.34 for f32, x < -708.40 for f64) are subnormal, not 0, because a large upstream
// scale can bring them back (a weight of 3e38 turns exp(-95) = 5.5e-42 into 1.7e-3). 2^n itself is
// not representable there, so the bias also adds 24 (f32) or 53 (f64) to the exponent: every lane
// computes 2^24 exp(x) (2^53 exp(x)), a normal number, and one multiply by 2^-24 (2^-53) rounds it
// onto the subnormal grid (and is exact for normal results). The argument is first clamped to a
// floor, -151 ln 2 (-1076 ln 2), where the scaled power of two has a zero exponent field: it is
// exactly +0, so every lane below the floor gives 0 with no compare and no mask (exp(x) < 2^-150,
// resp. 2^-1075, rounds to 0 there anyway). pmax(x, floor) keeps a NaN x, so NaN in gives NaN out;
// -inf gives 0.
//
// The fast variant (expWith's `exact` false) is the classic one: 2^n from the unbiased exponent and
// every result below the smallest normal number masked to 0, with no subnormal arithmetic and one
// constant fewer in the hot loops (a twelfth spills: +0.9 instructions per element). Kernels use it
// where no subnormal exp can reach an output above the smallest normal number: when every factor
// that multiplies an exp is at most 1 in magnitude (see crossEntropyIndex), or when the exps only
// feed a sum that is >= 1. Peaky logits (many exps in the subnormal band) then cost what they did.

const F32 = memory.data<f32>([
  1.44269502162933349609375,   // 0 log2(e)
  12583063.0,                  // 1 magic bias 1.5 * 2^23 + 127 + 24 (XNNPACK's 0x1.8000FEp23, plus 24: see above)
  -0.693145751953125,          // 2 -ln2_hi (-0x1.62E400p-1)
  -1.428606765330187045e-06,   // 3 -ln2_lo (-0x1.7F7D1Cp-20)
  0.008289290592074394,        // 4 c5 (0x1.0F9F9Cp-7)
  0.04189782217144966,         // 5 c4 (0x1.573A1Ap-5)
  0.16667652130126953,         // 6 c3 (0x1.555A80p-3)
  0.4999915063381195,          // 7 c2 (0x1.FFFDC6p-2)
  0.9999997019767761,          // 8 c1 (0x1.FFFFF6p-1)
  -104.66522216796875,         // 9 exp's floor -151 ln 2 (-0x1.A2A930p6): there 2^(n + 24) is +0
  1.17549435e-38,              // 10 smallest normal number
  0.41421356237309515,         // 11 sqrt(2) - 1 (log1p's range split)
  0.693147180559945309,        // 12 ln 2
  1.0, 2.0, 3.0,               // 13, 14, 15
  // 16.. log1p's series 2 atanh(s) = 2s (1 + s^2/3 + s^4/5 + ...), highest term first (|s| <= 0.172)
  2.0 / 9.0, 2.0 / 7.0, 2.0 / 5.0, 2.0 / 3.0, 2.0,
  5.9604644775390625e-08,      // 21 2^-24
  0.5,                         // 22
  12583039.0,                  // 23 fast exp's magic bias 0x1.8000FEp23 = 1.5 * 2^23 + 127
  -87.33654022216797,          // 24 fast exp's cutoff -0x1.5D589Ep6: below it the result is subnormal
  Infinity,                    // 25
], 16);

const F64 = memory.data<f64>([
  1.4426950408889634,          // 0 log2(e)
  6755399441056820.0,          // 1 magic bias: 1.5 * 2^52 + 1023 + 53 (plus 53: see above)
  -6.93147180369123816490e-01, // 2 -ln2_hi (fdlibm)
  -1.90821492927058770002e-10, // 3 -ln2_lo
  4.13813679705723846039e-08,  // 4 P5: fdlibm's exp remez coefficients, highest first
  -1.65339022054652515390e-06, // 5 P4
  6.61375632143793436117e-05,  // 6 P3
  -2.77777777770155933842e-03, // 7 P2
  1.66666666666666019037e-01,  // 8 P1
  2.0,                         // 9
  -745.8263662825011,          // 10 exp's floor -1076 ln 2: there 2^(n + 53) is +0
  2.2250738585072014e-308,     // 11 smallest normal number
  0.41421356237309515,         // 12 sqrt(2) - 1
  0.6931471805599453,          // 13 ln 2
  1.0, 2.0, 3.0,               // 14, 15, 16
  // 17.. log1p's series, highest term first: 2/23, 2/21, ..., 2/3, 2
  2.0 / 23.0, 2.0 / 21.0, 2.0 / 19.0, 2.0 / 17.0, 2.0 / 15.0, 2.0 / 13.0,
  2.0 / 11.0, 2.0 / 9.0, 2.0 / 7.0, 2.0 / 5.0, 2.0 / 3.0, 2.0,
  1.1102230246251565e-16,      // 29 2^-53
  0.5,                         // 30
  6755399441056767.0,          // 31 fast exp's magic bias 1.5 * 2^52 + 1023
  -708.3964185322641,          // 32 fast exp's cutoff: below it the result is subnormal
], 16);

/** Splat entry i of T's constant table. */
// @ts-ignore: decorator
@inline function K<T>(i: i32): v128 {
  if (sizeof<T>() == 4) return v128.load32_splat(F32 + (<usize>i << 2));
  return v128.load64_splat(F64 + (<usize>i << 3));
}

/** The table index of a named constant for T (the two tables differ in length). */
// @ts-ignore: decorator
@inline function k<T>(f32Index: i32, f64Index: i32): i32 {
  return sizeof<T>() == 4 ? f32Index : f64Index;
}

/** a * b + c in every lane of T. In the relaxed-SIMD build (asconfig target "relaxed",
 *  `ASC_FEATURE_RELAXED_SIMD`) this is one `relaxed_madd`, which the engine may or may not fuse
 *  (x86 with FMA3 and ARM64 fuse; others round the product first), so that build's results can
 *  differ in the last bit between machines; elsewhere it is a multiply then an add, rounded twice,
 *  the same everywhere. Callers must stay correct either way: the exp and log here only gain
 *  accuracy when it fuses (tests/ulp.test.ts holds both). Two thirds of a row kernel is the exp's
 *  chain of these, and wasm SIMD128 without relaxed SIMD has no fused form. */
// @ts-ignore: decorator
@inline export function maddV<T>(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return v128.relaxed_madd<T>(a, b, c);
  return v128.add<T>(v128.mul<T>(a, b), c);
}

/** c - a * b in every lane of T: `relaxed_nmadd` in the relaxed-SIMD build (see maddV). */
// @ts-ignore: decorator
@inline export function nmaddV<T>(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return v128.relaxed_nmadd<T>(a, b, c);
  return v128.sub<T>(c, v128.mul<T>(a, b));
}

/** exp of every lane of x (x <= 0 or NaN), as described above, with gradual underflow. */
// @ts-ignore: decorator
@inline export function expV<T>(x: v128): v128 {
  return expWith<T>(x, expK<T>(0, true), expK<T>(1, true), expK<T>(2, true), expK<T>(3, true), expK<T>(4, true), expK<T>(5, true),
    expK<T>(6, true), expK<T>(7, true), expK<T>(8, true), expK<T>(9, true), expK<T>(10, true), expK<T>(11, true), true);
}

/** Constant i of expWith for T, exact or fast (0-9: reduction and polynomial, 10: the floor or the
 *  cutoff, 11: 2^-24 or 2^-53, unused when fast). A hot loop loads them before it starts and passes
 *  them to expWith: V8 then keeps them in registers where it can, instead of reloading each one
 *  every iteration (15.2 -> 13.5 instructions per element for row-wise cross-entropy,
 *  bench/instructions.sh). Loops that need many other constants (BCE with logits) keep expV:
 *  there the extra live values spill and cost more than they save. */
// @ts-ignore: decorator
@inline export function expK<T>(i: i32, exact: bool): v128 {
  if (i == 1 && !exact) return K<T>(k<T>(23, 31));
  if (i == 10) return exact ? K<T>(k<T>(9, 10)) : K<T>(k<T>(24, 32));
  if (i == 11) return K<T>(k<T>(21, 29));
  return K<T>(i);
}

/** exp with its constants given (see expK): exact (gradual underflow) or fast (subnormal results
 *  flushed to 0), a compile-time choice. */
// @ts-ignore: decorator
@inline export function expWith<T>(x: v128, k0: v128, k1: v128, k2: v128, k3: v128, k4: v128, k5: v128, k6: v128, k7: v128, k8: v128, k9: v128, limit: v128, unscale: v128, exact: bool): v128 {
  if (exact) x = v128.pmax<T>(x, limit); // x < floor ? floor : x, so NaN stays
  const magic = k1;
  let n = maddV<T>(x, k0, magic);
  // 2^n, or 2^(n + 24) / 2^(n + 53) when exact
  const s = sizeof<T>() == 4 ? v128.shl<i32>(n, 23) : v128.shl<i64>(n, 52);
  n = v128.sub<T>(n, magic);
  let f: v128;
  if (sizeof<T>() == 4) {
    let t = maddV<T>(n, k2, x);
    t = maddV<T>(n, k3, t);
    // Horner's rule, written out: a `for` here would stay a runtime loop in the kernels.
    let p = maddV<T>(k4, t, k5);
    p = maddV<T>(p, t, k6);
    p = maddV<T>(p, t, k7);
    p = maddV<T>(p, t, k8);
    f = maddV<T>(v128.mul<T>(t, s), p, s); // s (1 + t p)
  } else {
    // fdlibm's form: with t = hi - lo (hi = x - n ln2_hi is exact, lo = n ln2_lo), z = t^2 and
    // c = t - z R(z), exp(t) = 1 + (hi - (lo - t c / (2 - c))). Fewer operations than a Taylor
    // polynomial of the same accuracy (plain wasm SIMD has no fused multiply-add); keeping hi and lo apart
    // until the end keeps lo's low bits, which t = hi - lo rounds away.
    const hi = maddV<T>(n, k2, x);
    const minusLo = v128.mul<T>(n, k3);
    const t = v128.add<T>(hi, minusLo);
    const z = v128.mul<T>(t, t);
    let q = maddV<T>(k4, z, k5);
    q = maddV<T>(q, z, k6);
    q = maddV<T>(q, z, k7);
    q = maddV<T>(q, z, k8);
    const c = v128.sub<T>(t, v128.mul<T>(z, q));
    const u = v128.add<T>(hi, v128.add<T>(minusLo, v128.div<T>(v128.mul<T>(t, c), v128.sub<T>(k9, c))));
    f = maddV<T>(s, u, s); // s (1 + u)
  }
  return exact ? v128.mul<T>(f, unscale) : v128.andnot(f, v128.lt<T>(x, limit));
}

/** log(1 + e) of every lane, for 0 <= e <= 1 (what softplus needs: e = exp(-|x|)).
 *  Above sqrt(2) - 1 the argument is halved first: log(1 + e) = ln 2 + log1p(f) with
 *  f = (e - 1) / 2, else f = e, so |f| <= 0.42 and s = f / (2 + f) has |s| <= 0.172.
 *  log1p(f) = 2 atanh(s) = 2s + s q(s^2), q = s^2 (2/3 + s^2 (2/5 + ...)), and 2s = f - s f, so
 *  log1p(f) = f - s (f - q): fdlibm's arrangement, where the exact f carries the result and the
 *  rounding errors sit in the small correction s (f - q) (3 -> 2 ulp in f32, 2.4 -> 1.45 ulp in
 *  f64, tests/ulp.test.ts). No cancellation, so tiny e keep full relative accuracy. */
// @ts-ignore: decorator
@inline export function log1pV<T>(e: v128): v128 {
  const upper = v128.gt<T>(e, K<T>(k<T>(11, 12)));
  const one = K<T>(k<T>(13, 14));
  const f = v128.bitselect(v128.mul<T>(v128.sub<T>(e, one), K<T>(k<T>(22, 30))), e, upper);
  const s = v128.div<T>(f, v128.add<T>(f, K<T>(k<T>(14, 15))));
  return v128.add<T>(log1pS<T>(f, s), v128.and(K<T>(k<T>(12, 13)), upper));
}

/** log1p(f) = f - s (f - q) from f and s = f / (2 + f), |s| <= 0.172 (see log1pV). */
// @ts-ignore: decorator
@inline function log1pS<T>(f: v128, s: v128): v128 {
  const z = v128.mul<T>(s, s);
  let p: v128;
  if (sizeof<T>() == 4) {
    p = maddV<T>(K<T>(16), z, K<T>(17));
    p = maddV<T>(p, z, K<T>(18));
    p = maddV<T>(p, z, K<T>(19));
  } else {
    p = maddV<T>(K<T>(17), z, K<T>(18));
    p = maddV<T>(p, z, K<T>(19));
    p = maddV<T>(p, z, K<T>(20));
    p = maddV<T>(p, z, K<T>(21));
    p = maddV<T>(p, z, K<T>(22));
    p = maddV<T>(p, z, K<T>(23));
    p = maddV<T>(p, z, K<T>(24));
    p = maddV<T>(p, z, K<T>(25));
    p = maddV<T>(p, z, K<T>(26));
    p = maddV<T>(p, z, K<T>(27));
  }
  const q = v128.mul<T>(z, p);
  return nmaddV<T>(s, v128.sub<T>(f, q), f);
}

const LOG64 = memory.data<u64>([
  0x000FFFFFFFFFFFFF, // mantissa bits
  0x3FF0000000000000, // exponent bits of 1.0
  0x3FF6A09E667F3BCD, // sqrt(2)
  0x7FF0000000000000, // +infinity
], 16);

/** log of each f64x2 lane, for positive normal numbers, +inf and NaN (the per-position sums of
 *  exps, which are >= 1). x = 2^e * m with m in [sqrt(2)/2, sqrt(2)), and log(m) = log1p(f) with
 *  f = m - 1 = 2 atanh(s), s = f / (2 + f), |s| <= 0.172: log1pV's series. One call replaces two
 *  calls of Math.log (~130 instructions each) on the column path. */
// @ts-ignore: decorator
@inline export function log64V(x: v128): v128 {
  const one = v128.load64_splat(LOG64 + 8);
  let m = v128.or(v128.and(x, v128.load64_splat(LOG64)), one);  // mantissa, in [1, 2)
  // the biased exponent sits in bits 20..30 of each lane's high word
  let e = f64x2.convert_low_i32x4_s(i32x4.sub(i32x4.shr_u(v128.shuffle<i32>(x, x, 1, 3, 1, 3), 20), i32x4.splat(1023)));
  const big = f64x2.gt(m, v128.load64_splat(LOG64 + 16));        // m > sqrt(2): halve it
  m = v128.bitselect(f64x2.mul(m, f64x2.splat(0.5)), m, big);
  e = f64x2.add(e, v128.and(one, big));
  const f = f64x2.sub(m, one); // exact
  const s = f64x2.div(f, f64x2.add(f, K<f64>(15)));
  // e ln 2 as fdlibm splits it: e ln2_hi is exact (ln2_hi ends in 21 zero bits), ln2_lo joins log1p(f)
  const r = nmaddV<f64>(e, K<f64>(2), nmaddV<f64>(e, K<f64>(3), log1pS<f64>(f, s)));
  return v128.bitselect(r, x, f64x2.lt(x, v128.load64_splat(LOG64 + 24))); // +inf and NaN pass through
}

const LOG32 = memory.data<u32>([
  0x007FFFFF, // mantissa bits
  0x3FB504F3, // sqrt(2)
  0x4B000000, // 2^23
  127,        // exponent bias
  23,         // 2^23's exponent
], 16);

/** log of each f32x4 lane, for finite x >= +0 (0 gives -150 ln 2 = -103.97, which BCE's -100 clamp
 *  takes as log 0; +inf and NaN give garbage: both callers, BCE on validated probabilities and
 *  klDiv's vector path, keep them out, and passing them through cost BCE 3%). log64V's method in
 *  f32: x = 2^e m, log m = log1p(f) with f = m - 1 exact, in fdlibm's arrangement (1 ulp over
 *  every positive float32, tests/ulp.test.ts; the s (2 + s^2 p) form BCE and klDiv each had was
 *  3 ulp near 1). Subnormal x are scaled by 2^23 first, so log(1e-40) is -92.1, not the -88 of
 *  its raw exponent field. */
// @ts-ignore: decorator
@inline export function log32V(x: v128): v128 {
  const sub = f32x4.lt(x, K<f32>(10));
  const v = v128.bitselect(f32x4.mul(x, v128.load32_splat(LOG32 + 8)), x, sub);
  const one = K<f32>(13);
  let m = v128.or(v128.and(v, v128.load32_splat(LOG32)), one); // mantissa, in [1, 2)
  let e = i32x4.sub(i32x4.shr_u(v, 23), v128.load32_splat(LOG32 + 12));
  e = i32x4.sub(e, v128.and(sub, v128.load32_splat(LOG32 + 16)));
  const big = f32x4.gt(m, v128.load32_splat(LOG32 + 4)); // m > sqrt(2): halve it
  m = v128.bitselect(f32x4.mul(m, K<f32>(22)), m, big);
  const ef = f32x4.convert_i32x4_s(i32x4.sub(e, big)); // big lanes are -1: e + 1
  return logOfParts32(ef, f32x4.sub(m, one)); // (m - 1 is exact)
}

/** e ln 2 + log1p(f) in f32 lanes, |f| <= sqrt(2) - 1: log32V's and logSumsV's last step. e ln 2 in
 *  one step: f32's ln 2 is 1.9e-9 off, 0.03 ulp of the result at |e| = 126. */
// @ts-ignore: decorator
@inline function logOfParts32(e: v128, f: v128): v128 {
  return maddV<f32>(e, K<f32>(12), log1pS<f32>(f, f32x4.div(f, f32x4.add(f, K<f32>(14)))));
}

/** log of each lane of T: log32V for f32 (x >= +0), log64V for f64 (positive normal numbers). The
 *  sign bit must be clear: both read it as part of the exponent, so -0 gives +88.7 / +710, not
 *  -inf (BCE passes |x|). */
// @ts-ignore: decorator
@inline export function logV<T>(x: v128): v128 {
  if (sizeof<T>() == 8) return log64V(x);
  return log32V(x);
}

/** Adds a vector of T to its positions' f64 sums: s0 holds lanes 0-1, s1 (`high`) lanes 2-3 of
 *  an f32x4; an f64x2 is added as it is. */
// @ts-ignore: decorator
@inline export function widen<T>(s: v128, part: v128, high: bool): v128 {
  if (sizeof<T>() == 8) return f64x2.add(s, part);
  return f64x2.add(s, f64x2.promote_low_f32x4(high ? v128.shuffle<f32>(part, part, 2, 3, 0, 1) : part));
}

/** f64 per-position values s0 (and s1, lanes 2-3, for f32) as one vector of T. */
// @ts-ignore: decorator
@inline export function narrow<T>(s0: v128, s1: v128): v128 {
  if (sizeof<T>() == 8) return s0;
  return v128.shuffle<f32>(f32x4.demote_f64x2_zero(s0), f32x4.demote_f64x2_zero(s1), 0, 1, 4, 5);
}

/** log of per-position sums of exps, in T's lanes: the f64 sums s0 (and s1, lanes 2-3, for f32),
 *  each >= 1 or NaN (at most C, since every exp is <= 1). f64: log64V. f32: the f64 sum is split
 *  exactly into 2^e m, m in [sqrt(2)/2, sqrt(2)), and f = m - 1 (exact in f64) is rounded to f32
 *  before log1pS's f32 series: a sum near 1 (a near-converged position, whose loss is about
 *  log S = S - 1) keeps f's relative accuracy, which a sum rounded to f32 first would lose
 *  (1 + 5e-8 -> 1). One f32x4 divide for four positions instead of two f64x2 logs (bench/
 *  instructions.sh c2: the per-position step of row CE with C = 2 was most of its instructions). */
// @ts-ignore: decorator
@inline export function logSumsV<T>(s0: v128, s1: v128): v128 {
  if (sizeof<T>() == 8) return log64V(s0);
  return logSums32With(s0, s1, s0, s1, false);
}

/** logSumsV<f32> of sums S = 1 + R, R (r0, r1: f64 lanes as s0, s1) the exps other than a max's
 *  1 summed apart: where S < sqrt(2), log1p's f is R itself, not S - 1, which the rounding of
 *  1 + R in f64 leaves with none of R below 2^-53 and less than float32's precision below 2^-29
 *  (the loss of a near-converged position is about R: focalColumns). */
// @ts-ignore: decorator
@inline export function logRestV(s0: v128, s1: v128, r0: v128, r1: v128): v128 {
  return logSums32With(s0, s1, r0, r1, true);
}

// @ts-ignore: decorator
@inline function logSums32With(s0: v128, s1: v128, r0: v128, r1: v128, rest: bool): v128 {
  const hi = v128.shuffle<i32>(s0, s1, 1, 3, 5, 7); // high words: sign, exponent, top of the mantissa
  const big = i32x4.gt_s(v128.and(hi, i32x4.splat(0x000FFFFF)), i32x4.splat(0x0006A09E)); // m > sqrt(2) (to 2^-20): halve it
  const biased = i32x4.shr_u(hi, 20);
  const e = f32x4.convert_i32x4_s(i32x4.sub(i32x4.sub(biased, i32x4.splat(1023)), big));
  let f0 = mantissaLess1(s0, i64x2.extend_low_i32x4_s(big));
  let f1 = mantissaLess1(s1, i64x2.extend_high_i32x4_s(big));
  if (rest) {
    const below = v128.andnot(i32x4.eq(biased, i32x4.splat(1023)), big); // 1 <= S < sqrt(2)
    f0 = v128.bitselect(r0, f0, i64x2.extend_low_i32x4_s(below));
    f1 = v128.bitselect(r1, f1, i64x2.extend_high_i32x4_s(below));
  }
  const r = logOfParts32(e, narrow<f32>(f0, f1));
  // NaN passes through (its bits above are not a number's)
  const sum = narrow<f32>(s0, s1);
  return v128.bitselect(r, sum, f32x4.eq(sum, sum));
}

/** logSumsV for sums that are float32 values (f32x4 lanes: a column kernel's sums of at most 8
 *  classes, added in f32 before widening): the same split, 2^e m with m halved above sqrt(2) to
 *  logSumsV's 20 mantissa bits, so the same f32 e and f and the same bits, from the f32 lanes
 *  without the f64 round trip (row CE with C = 2: bench/instructions.sh c2). */
// @ts-ignore: decorator
@inline export function logSums32V(sum: v128): v128 {
  const mant = v128.and(sum, v128.load32_splat(LOG32));
  const big = i32x4.gt_s(mant, i32x4.splat(0x003504F7)); // (mant >> 3) > 0x6A09E, as logSumsV
  const one = K<f32>(13);
  const m = v128.or(mant, one);
  const e = f32x4.convert_i32x4_s(i32x4.sub(i32x4.sub(i32x4.shr_u(sum, 23), i32x4.splat(127)), big));
  const r = logOfParts32(e, f32x4.sub(v128.bitselect(f32x4.mul(m, K<f32>(22)), m, big), one)); // (exact)
  return v128.bitselect(r, sum, f32x4.eq(sum, sum)); // NaN passes through
}

/** The exps other than a max's 1, for summing apart (math.ts rowExpSum's R): e - floor(e) is e
 *  below 1 and 0 at 1 (every exp the kernels form is at most 1), NaN for NaN. */
// @ts-ignore: decorator
@inline export function besideOne<T>(e: v128): v128 {
  return v128.sub<T>(e, v128.floor<T>(e));
}

/** m - 1 for x = 2^e m (f64x2), m in [1, 2), or m / 2 - 1 in the lanes of `halve`: exact. */
// @ts-ignore: decorator
@inline function mantissaLess1(x: v128, halve: v128): v128 {
  const one = v128.load64_splat(LOG64 + 8);
  const m = v128.or(v128.and(x, v128.load64_splat(LOG64)), one);
  return f64x2.sub(v128.bitselect(f64x2.mul(m, f64x2.splat(0.5)), m, halve), one);
}

/** minNormal / |a|: entries v of a gradient below it would make v a subnormal (flushBelow). */
// @ts-ignore: decorator
@inline export function subnormalBound<T>(a: v128): v128 {
  return v128.div<T>(minNormalV<T>(), v128.abs<T>(a));
}

/** v with its entries below `bound` (subnormalBound of the factor they are about to be scaled by)
 *  set to +0: the kernels flush would-be subnormal products, in every build alike. */
// @ts-ignore: decorator
@inline export function flushBelow<T>(v: v128, bound: v128): v128 {
  return v128.andnot(v, v128.lt<T>(v, bound));
}

/** The smallest normal number of T, splatted (for flushing would-be subnormal results). */
// @ts-ignore: decorator
@inline export function minNormalV<T>(): v128 {
  return K<T>(k<T>(10, 11));
}

/** +Infinity, splatted (f32 lanes), from the table: a hoisted local, where a constant would be
 *  written out at each use (18 bytes each). */
// @ts-ignore: decorator
@inline export function infV(): v128 {
  return K<f32>(25);
}

/** One, splatted. */
// @ts-ignore: decorator
@inline export function oneV<T>(): v128 {
  return K<T>(k<T>(13, 14));
}

/** Adds the lanes of a vector of T to an f64x2 accumulator (f32 lanes are widened first). */
// @ts-ignore: decorator
@inline export function addWide<T>(acc: v128, v: v128): v128 {
  if (sizeof<T>() == 4) {
    acc = f64x2.add(acc, f64x2.promote_low_f32x4(v));
    return f64x2.add(acc, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)));
  }
  return f64x2.add(acc, v);
}

/** Adds the lane products a_i b_i of two vectors of T to an f64x2 accumulator, each product formed
 *  in f64 (f32 lanes are widened first): a weight times a logit gap outgrows float32 where the sum
 *  it joins does not (red team 43: smoothing with weights of 1e35 and gaps of 1e4 gave inf). */
// @ts-ignore: decorator
@inline export function addProductWide<T>(acc: v128, a: v128, b: v128): v128 {
  if (sizeof<T>() == 4) {
    acc = f64x2.add(acc, f64x2.mul(f64x2.promote_low_f32x4(a), f64x2.promote_low_f32x4(b)));
    return f64x2.add(acc, f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<f32>(a, a, 2, 3, 0, 1)), f64x2.promote_low_f32x4(v128.shuffle<f32>(b, b, 2, 3, 0, 1))));
  }
  return f64x2.add(acc, v128.mul<T>(a, b));
}

/** What rounding dropped from next = a + b (f64x2 lanes): Neumaier's term, exact whichever of a
 *  and b is larger. A sum that keeps adding these (compensated) loses nothing below half an ulp of
 *  its running total: summed plainly from a max's exp of 1, every exp below 1.1e-16 vanished
 *  (red teams 22 and 24). */
// @ts-ignore: decorator
@inline export function addError(a: v128, b: v128, next: v128): v128 {
  const big = f64x2.ge(f64x2.abs(a), f64x2.abs(b));
  return v128.bitselect(f64x2.add(f64x2.sub(a, next), b), f64x2.add(f64x2.sub(b, next), a), big);
}

/** Sum of an f64x2's lanes. */
// @ts-ignore: decorator
@inline export function hsum(acc: v128): f64 {
  return f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
}

/** Largest lane (NaN-propagating). */
// @ts-ignore: decorator
@inline export function hmax<T>(v: v128): T {
  if (sizeof<T>() == 4) {
    return <T>max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
  }
  return <T>max(f64x2.extract_lane(v, 0), f64x2.extract_lane(v, 1));
}
