// CTC loss (Graves et al. 2006) and its gradient, as PyTorch 1.13's CPU kernel defines them
// (aten/src/ATen/native/LossCTC.cpp), forward beside backward.
//
// For one batch element with S labels l_0..l_{S-1} and input length Tb, the extended sequence
// l' = (blank, l_0, blank, l_1, ..., l_{S-1}, blank) has L = 2S + 1 states. With
// y_t(s) = exp(logProbs[t][l'(s)]):
//   alpha_0(0) = y_0(0),  alpha_0(1) = y_0(1),  alpha_0(s) = 0 otherwise
//   alpha_t(s) = (alpha_{t-1}(s) + alpha_{t-1}(s-1) + [skip(s)] alpha_{t-1}(s-2)) y_t(s)
// where skip(s) holds when l'(s) is a label unlike l'(s-2) (a blank may be jumped over only between
// two different labels), and nll = -log(alpha_{Tb-1}(L-1) + alpha_{Tb-1}(L-2)) (-log alpha(0) when
// S = 0). beta, which like PyTorch's includes y_t, is the same recursion run backwards, so it is
// computed as the alpha of the reversed problem (time and labels reversed):
// beta_t(s) = alphaRev_{Tb-1-t}(L-1-s). PyTorch's gradient with respect to log_probs (its native
// backward, which assumes log_softmax input and so folds in the softmax Jacobian's exp(lp)) is,
// with g the upstream gradient of this element's loss,
//   grad_t(c) = (exp(lp_t(c)) - sum_{s: l'(s) = c} alpha_t(s) beta_t(s) / (y_t(s) p)) g   (t < Tb)
// and 0 for t >= Tb; each summand is the posterior probability of state s at frame t.
//
// Number format. PyTorch runs the recursion in log space: three exps and a log per state and
// frame. Here it runs on the probabilities themselves, each held as m 2^k with m a float64 kept
// near 1 and k an integer exponent (also stored as a float64), so nothing underflows or
// overflows whatever the range: a state a thousand nats below its neighbours keeps all its
// digits, as it does in log space. A step then costs a few multiplies and adds: the three terms
// are brought to the largest exponent (2^(k_i - kmax), built from the bits; terms more than 2^1022
// below the largest are negligible against it), summed and multiplied by y = m_y 2^(k_y); every
// 32 steps m is renormalised (its binary exponent moves into k). A zero probability is m = 0 with
// k = -inf, so it never sets kmax. NaN travels as m = NaN, along the same transitions as in
// PyTorch's log space (where +inf also turns into NaN one step on).
//
// Precision: everything runs in f64 whatever T is. For float32 input the loss reaches hundreds or
// thousands and the gradient is a ratio against p = exp(-nll): float32's ulp at 1000 (6e-5) would
// show directly in it.
//
// Vectorisation (SIMD build): every state of frame t depends only on frame t-1, so a row is
// computed two states per f64x2 vector. Rows are stored with two leading zero pads (so s-1 and
// s-2 are always loadable) and one trailing slack entry (the odd lane of the last vector): row
// width W = L + 3 = 2S + 4, state s at index s + 2. Lane 0 of every vector is an even state (the
// blank), lane 1 an odd one (a label). The emissions y of frame t are stored split (m_y, k_y) in
// the same pairs, (blank, l_j) for pair j + 1, with a (blank, blank) pad pair at each end: one
// load gives a vector's emissions, forwards or, stepping back, for the reversed labels.

import { at, productError, sumError } from "./math";
import { expV } from "./simd";

const NEG_INF: f64 = -Infinity;
const LN2: f64 = 0.6931471805599453;
const LN2_HI: f64 = 6.93147180369123816490e-01; // ln 2 split in two (fdlibm's), for exact k ln 2
const LN2_LO: f64 = 1.90821492927058770002e-10;
const LOG2E: f64 = 1.4426950408889634;
const LN2_TAIL: f64 = 2.3190468138462996e-17; // ln 2 - LN2
/** 1.5 * 2^52 + 1023: adding it to an integer-valued d leaves d + 1023 in the low mantissa bits,
 *  which shifted left by 52 are the bits of 2^d (as in simd.ts's exp). */
const MAGIC: f64 = 6755399441056767.0;

/** The vector loops' constants, loaded (splat) before each loop: V8 would otherwise rebuild every
 *  v128 constant inside the loop (see simd.ts). */
const K = memory.data<f64>([NEG_INF, -1022.0, MAGIC, 0.0, -700.0, LOG2E, LN2_HI, LN2_LO], 16);
const BIAS = memory.data<i32>([1023], 16);

// @ts-ignore: decorator
@inline function kV(i: i32): v128 {
  return v128.load64_splat(K + (<usize>i << 3));
}

/** Steps between renormalisations of the mantissas (see stepRow). */
const RENORM_STEPS = 32;

/** f64 entries per stored row for S labels (see above). */
// @ts-ignore: decorator
@inline export function ctcRowWidth(S: i32): i32 {
  return 2 * S + 4;
}

/** 2^d for an integer-valued d, clamped below at 2^-1022; NaN gives 2^-1022. */
// @ts-ignore: decorator
@inline function pow2(d: f64): f64 {
  return reinterpret<f64>(reinterpret<u64>((d > -1022.0 ? d : -1022.0) + MAGIC) << 52);
}

/** pow2 on both lanes (pmax(c, d) is d when c < d, else c: NaN gives c). */
// @ts-ignore: decorator
@inline function pow2V(d: v128, floor: v128, magic: v128): v128 {
  return i64x2.shl(f64x2.add(f64x2.pmax(floor, d), magic), 52);
}

/** Binary exponent of a positive finite f64 (-1023 for 0, 1024 for NaN and inf). */
// @ts-ignore: decorator
@inline function exponentOf(x: f64): f64 {
  return <f64>(<i32>((reinterpret<u64>(x) >> 52) & 0x7ff) - 1023);
}

/** The value m 2^k as a log. */
function logOf(m: f64, k: f64): f64 {
  return m == 0 ? NEG_INF : Math.log(m) + k * LN2;
}

/** One state of a step: the three incoming terms (mc = 0 where no skip) times the emission,
 *  renormalised when `renorm` (see stepRow). */
// @ts-ignore: decorator
@inline function stepState(ma: f64, ka: f64, mb: f64, kb: f64, mc: f64, kc: f64, my: f64, ky: f64, m: usize, k: usize, renorm: bool): void {
  const kmax = max(ka, max(kb, kc));
  const v = (ma * pow2(ka - kmax) + mb * pow2(kb - kmax) + mc * pow2(kc - kmax)) * my;
  const e = renorm ? exponentOf(v) : 0;
  store<f64>(m, renorm ? v * pow2(-e) : v);
  store<f64>(k, v == 0 ? NEG_INF : kmax + ky + e);
}

/** Fills `mask` (W i64 entries, indexed by state s) with all-ones where the skip transition into
 *  state s is allowed: s = 2j + 1, j >= 1, l_j != l_{j-1}. `labels` has a blank pad at index S. */
function fillSkipMask(mask: usize, labels: usize, S: i32, W: i32): void {
  memory.fill(mask, 0, <usize>W << 3);
  for (let j = 1; j < S; j++) {
    if (load<i32>(labels + (<usize>j << 2)) != load<i32>(labels + (<usize>(j - 1) << 2))) {
      store<i64>(mask + (<usize>(2 * j + 1) << 3), -1);
    }
  }
}

/** exp(lp - shift) split as m 2^k: k = round(x log2 e), m = exp(x - k ln 2) in [0.7, 1.42] for
 *  x = lp - shift; exp(-inf) is m = 0, k = -inf (the zero of the format). Returns lp as f64.
 *  (shift, frameMax's, is finite.) */
// @ts-ignore: decorator
@inline function storeSplit(lp64: f64, m: usize, k: usize, shift: f64): f64 {
  if (lp64 == NEG_INF) {
    store<f64>(m, 0);
    store<f64>(k, NEG_INF);
    return lp64;
  }
  const x = lp64 - shift;
  let r: f64, n: f64;
  if (sumError(lp64, -shift, x) == 0) {
    r = reduce(x);
    n = reducedN;
  } else {
    // lp and shift reduced apart where lp - shift rounds (by up to ulp(lp) / 2: 0.03 in the log
    // at lp -3e14, red team 26)
    r = reduce(lp64);
    n = reducedN;
    r -= reduce(shift);
    n -= reducedN;
    if (r > 0.5 * LN2) {
      r -= LN2;
      n += 1;
    } else if (r < -0.5 * LN2) {
      r += LN2;
      n -= 1;
    }
  }
  // |r| <= ln(2)/2 in exact arithmetic; beyond |x| ~ 2^53 (hostile float64 input, whose n is no
  // longer an exact integer) the clamp keeps m finite: an error below the input's own rounding.
  store<f64>(m, Math.exp(min(max(r, -0.5), 0.5)));
  store<f64>(k, n);
  return lp64;
}

/** reduce's n. */
let reducedN: f64 = 0;

/** r = x - n ln 2 with n = round(x log2 e) (left in reducedN), to about 1e-16 absolute. (Not
 *  inlined: storeSplit takes it up to three times, in every fillEmissions loop.) */
function reduce(x: f64): f64 {
  let n = Math.floor(x * LOG2E + 0.5);
  let r = x - n * LN2_HI - n * LN2_LO;
  if (Math.abs(n) > 1048576.0 && Math.abs(n) < 9007199254740992.0) { // 2^20, 2^53
    // fdlibm's n LN2_HI is exact only while n has about 21 bits: beyond, the reduction's error,
    // |x| 2^-53, reached the posteriors (red team 26: 5e-5 at lp -1.2e12, 4e-2 at -1.2e15). Here
    // n ln 2 is a sum of two f64 (exact: Dekker's product, wasm having no fma), and n is taken
    // again from r (x log2 e rounds by a unit or more out there). From 2^53 on n is no longer
    // exact itself (and Veltkamp's split of it would overflow near the f64 range).
    r = reduceLn2(x, n);
    const again = Math.floor(r * LOG2E + 0.5);
    if (again != 0) {
      n += again;
      r = reduceLn2(x, n);
    }
  }
  reducedN = n;
  return r;
}

/** x - n ln 2 to about 1e-16 absolute for integer n up to 2^53 (|x - n ln 2| small): n LN2 is
 *  p + e exactly (math.ts productError), x - p exact (Sterbenz), and ln 2
 *  - LN2 (LN2_TAIL) times n adds under 1e-16 of error. */
function reduceLn2(x: f64, n: f64): f64 {
  const p = n * LN2;
  return ((x - p) - productError(n, LN2, p)) - n * LN2_TAIL;
}

/** The log-probability below which the exponents may not stay exact. They are integers held in
 *  f64: a state's is a sum over up to Tb frames, and a posterior's exponent k_a + k_b - k_y - k_p
 *  a difference of such sums, exact only while each stays below 2^53 in magnitude. A
 *  log-probability of -1e20 (a masked class after log_softmax) made them round by thousands: NaN
 *  and -inf gradients where every alignment takes one such emission (red team 23). Below this
 *  bound the gradient's forward pass runs again on each frame's emissions divided by the frame's
 *  largest (over the blank and the transcript's labels): every alignment emits once per frame, so
 *  p and each alpha beta / y scale alike and the posteriors do not change, while the exponents
 *  the alignments that matter carry stay small. (Clamping such values to a floor instead made
 *  alignments 1e20 nats apart equal: red team 24.) */
// @ts-ignore: decorator
@inline function emissionFloor(Tb: i32): f64 {
  return -(1125899906842624.0 / <f64>max(Tb, 1)) * LN2; // 2^50
}

/** The emission table of one element: for t < Tb, row t (W entries in em and ek) holds the pairs
 *  (blank, blank), (blank, l_0), ..., (blank, l_{S-1}), (blank, blank), each emission split as by
 *  storeSplit, divided by the frame's largest (frameMax) when `scaled` (see emissionFloor; the
 *  recursion's bounds on m rely on m_y in [0.6, 1.7]). Returns the
 *  lowest finite log-probability that storeSplit took (the vector path takes only [-700, 0], far
 *  above any floor), or 0. */
function fillEmissions(lp0: usize, frameStride: isize, Tb: i32, labels: usize, S: i32, blank: i32, em: usize, ek: usize, scaled: bool, wide: bool): f64 {
  const W = ctcRowWidth(S);
  let lowest: f64 = 0;
  for (let t = 0; t < Tb; t++) {
    const lpRow = lp0 + <usize>(<isize>t * frameStride);
    const m = em + (<usize>(t * W) << 3);
    const k = ek + (<usize>(t * W) << 3);
    const shift = scaled ? frameMax(lpRow, labels, S, blank, wide) : 0;
    lowest = lowestFinite(lowest, storeSplit(lpAt(lpRow, blank, wide), m, k, shift));
    const mb = load<f64>(m);
    const kb = load<f64>(k);
    let j = 0;
    if (ASC_FEATURE_SIMD) if (!scaled) {
      // storeSplit on two labels at once, for log-probabilities in [-700, 0] (all but hostile ones)
      const lo = kV(4);
      const zero = kV(3);
      const log2e = kV(5), ln2hi = kV(6), ln2lo = kV(7);
      const mbV = f64x2.splat(mb);
      const kbV = f64x2.splat(kb);
      for (; j < S; j += 2) { // labels j and j + 1 (the blank pad when j + 1 = S): pairs j + 1, j + 2
        const x = f64x2.replace_lane(f64x2.splat(lpAt(lpRow, load<i32>(labels + (<usize>j << 2)), wide)), 1,
          lpAt(lpRow, load<i32>(labels + (<usize>(j + 1) << 2)), wide));
        if (!v128.all_true<i64>(v128.and(f64x2.ge(x, lo), f64x2.le(x, zero)))) break; // the rest: below
        const n = f64x2.nearest(f64x2.mul(x, log2e));
        const y = expV<f64>(f64x2.sub(f64x2.sub(x, f64x2.mul(n, ln2hi)), f64x2.mul(n, ln2lo)));
        const p = <usize>(2 * j + 2) << 3;
        v128.store(m + p, v128.shuffle<f64>(mbV, y, 0, 2));
        v128.store(m + p, v128.shuffle<f64>(mbV, y, 0, 3), 16);
        v128.store(k + p, v128.shuffle<f64>(kbV, n, 0, 2));
        v128.store(k + p, v128.shuffle<f64>(kbV, n, 0, 3), 16);
      }
    }
    for (; j < S; j++) {
      const p = <usize>(2 * j + 2) << 3;
      store<f64>(m + p, mb);
      store<f64>(k + p, kb);
      lowest = lowestFinite(lowest, storeSplit(lpAt(lpRow, load<i32>(labels + (<usize>j << 2)), wide), m + p + 8, k + p + 8, shift));
    }
    // the pad pairs 0 and S + 1: (blank, blank)
    store<f64>(m, mb, 8);
    store<f64>(k, kb, 8);
    const last = <usize>(2 * S + 2) << 3;
    store<f64>(m + last, mb);
    store<f64>(m + last, mb, 8);
    store<f64>(k + last, kb);
    store<f64>(k + last, kb, 8);
  }
  return lowest;
}

/** Log-probability i of a frame row as f64, from float32 or float64 (`wide`) input: one
 *  fillEmissions and frameMax for both types, which widen every value at once anyway. */
// @ts-ignore: decorator
@inline function lpAt(row: usize, i: i32, wide: bool): f64 {
  return wide ? load<f64>(row + (<usize>i << 3)) : <f64>load<f32>(row + (<usize>i << 2));
}

/** The largest finite log-probability of a frame over the blank and the transcript's labels (0
 *  if none is finite): fillEmissions' scale. */
function frameMax(lpRow: usize, labels: usize, S: i32, blank: i32, wide: bool): f64 {
  let c = lpAt(lpRow, blank, wide);
  if (!isFinite(c)) c = NEG_INF;
  for (let j = 0; j < S; j++) {
    const v = lpAt(lpRow, load<i32>(labels + (<usize>j << 2)), wide);
    if (v > c && isFinite(v)) c = v;
  }
  return c == NEG_INF ? 0 : c;
}

// @ts-ignore: decorator
@inline function lowestFinite(lowest: f64, x: f64): f64 {
  return x < lowest && x != NEG_INF ? x : lowest;
}

/** Row 0 of the recursion: y(0) for the blank, y(1) for the first label, 0 elsewhere. The
 *  emission pairs of this frame: pair j at e + j * eStep bytes (em/ek offsets). */
function firstRow(m: usize, k: usize, em: usize, ek: usize, e: isize, eStep: isize, S: i32, W: i32): void {
  for (let i = 0; i < W; i++) {
    store<f64>(m + (<usize>i << 3), 0);
    store<f64>(k + (<usize>i << 3), NEG_INF);
  }
  store<f64>(m, load<f64>(em + <usize>e), 16);
  store<f64>(k, load<f64>(ek + <usize>e), 16);
  if (S > 0) {
    store<f64>(m, load<f64>(em + <usize>e, 8), 24);
    store<f64>(k, load<f64>(ek + <usize>e, 8), 24);
  }
}

/** One step of the recursion: row (m, k) from row (pm, pk) and the emission pairs of the frame
 *  (pair j of vector s = 2j at e + j * eStep bytes from em/ek). The mantissas are renormalised
 *  (into [1, 2)) only when `renorm`, every RENORM_STEPS steps: in between, a step multiplies a
 *  mantissa by at most 3 * 1.42 and by at least 0.7 (the largest-exponent term times m_y), so
 *  they stay within [0.7^32, 4.3^32] = [1e-5, 1e20], far from underflow and overflow, and the
 *  value m 2^k is exact either way. */
function stepRow(pm: usize, pk: usize, m: usize, k: usize, em: usize, ek: usize, e: isize, eStep: isize, mask: usize, S: i32, renorm: bool): void {
  const L = 2 * S + 1;
  if (ASC_FEATURE_SIMD) {
    const negInf = kV(0);
    const floor = kV(1);
    const magic = kV(2);
    const zero = kV(3);
    const bias = v128.load32_splat(BIAS);
    for (let s = 0; s < L; s += 2) {
      const o = <usize>s << 3;
      const sel = v128.load(mask + o);
      const ka = v128.load(pk + o, 16); // states s, s+1
      const kb = v128.load(pk + o, 8);  // s-1, s
      const kc = v128.bitselect(v128.load(pk + o), negInf, sel); // s-2, s-1 where a skip is allowed
      const kmax = f64x2.pmax(ka, f64x2.pmax(kb, kc));
      let v = f64x2.mul(v128.load(pm + o, 16), pow2V(f64x2.sub(ka, kmax), floor, magic));
      v = f64x2.add(v, f64x2.mul(v128.load(pm + o, 8), pow2V(f64x2.sub(kb, kmax), floor, magic)));
      v = f64x2.add(v, f64x2.mul(v128.and(v128.load(pm + o), sel), pow2V(f64x2.sub(kc, kmax), floor, magic)));
      const pe = <usize>(e + <isize>(s >> 1) * eStep);
      v = f64x2.mul(v, v128.load(em + pe));
      let kn = f64x2.add(kmax, v128.load(ek + pe));
      if (renorm) { // the binary exponent of v (from the high words) moves into k
        const ex = f64x2.convert_low_i32x4_s(i32x4.sub(i32x4.shr_u(v128.shuffle<i32>(v, v, 1, 3, 1, 3), 20), bias));
        v = f64x2.mul(v, pow2V(f64x2.neg(ex), floor, magic));
        kn = f64x2.add(kn, ex);
      }
      v128.store(m + o, v, 16);
      v128.store(k + o, v128.bitselect(negInf, kn, f64x2.eq(v, zero)), 16);
    }
  } else {
    for (let s = 0; s < L; s++) {
      const o = <usize>s << 3;
      const skip = load<i64>(mask + o) != 0;
      const pe = <usize>(e + <isize>(s >> 1) * eStep) + ((<usize>s & 1) << 3);
      stepState(load<f64>(pm + o, 16), load<f64>(pk + o, 16), load<f64>(pm + o, 8), load<f64>(pk + o, 8),
        skip ? load<f64>(pm + o) : 0, skip ? load<f64>(pk + o) : NEG_INF, load<f64>(em + pe), load<f64>(ek + pe), m + o + 16, k + o + 16, renorm);
    }
  }
  // pads and the slack entry stay zero
  store<f64>(m, 0);
  store<f64>(m, 0, 8);
  store<f64>(k, NEG_INF);
  store<f64>(k, NEG_INF, 8);
  store<f64>(m + (<usize>(L + 2) << 3), 0);
  store<f64>(k + (<usize>(L + 2) << 3), NEG_INF);
}

/**
 * CTC loss for batch elements b0 .. b1 - 1 of logProbs (T, N, C) in T (a range, so that threads can
 * take a share each, every one with its own scratch). `targets` holds every element's
 * labels (validated: in 0..C-1, never the blank), element b's from targets + offsets[b] * 4;
 * `targetLengths` and `inputLengths` are validated (0 <= inputLength <= T). Writes each element's
 * nll (f64) to `nll`. When grad != 0 also writes the gradient (T, N, C) in T, element b's scaled
 * by the f64 gradScale[b]; zeroInfinity zeroes the gradient of elements whose nll is +inf.
 * An element with inputLength 0 has nll 0 when its target is empty and +inf otherwise (the empty
 * input emits only the empty sequence), and a zero gradient.
 */
export function ctcLoss<T>(
  lp: usize, T: i32, N: i32, b0: i32, b1: i32, C: i32, blank: i32,
  targets: usize, offsets: usize, targetLengths: usize, inputLengths: usize, maxS: i32,
  zeroInfinity: bool, nll: usize, grad: usize, gradScale: usize, scratch: usize,
): void {
  // scratch (src/ops/ctc.ts sizes it), in rows of Wmax f64: alpha (m and k, max(T, 2) rows
  // each), emissions (m and k, max(T, 2) rows each), beta (m and k, 2 rows each), two skip masks;
  // then the per-class sums (C, rounded up to even) and two label arrays (S + 1 i32 each, rounded
  // up to a multiple of 4)
  const rowBytes = <usize>ctcRowWidth(maxS) << 3;
  const frames = <usize>max(T, 2);
  const am = scratch;
  const ak = am + frames * rowBytes;
  const em = ak + frames * rowBytes;
  const ek = em + frames * rowBytes;
  const bm = ek + frames * rowBytes;
  const bk = bm + 2 * rowBytes;
  const maskF = bk + 2 * rowBytes;
  const maskR = maskF + rowBytes;
  const sums = maskR + rowBytes;
  const labelsF = sums + (<usize>((C + 1) & ~1) << 3);
  const labelsR = labelsF + (<usize>((maxS + 4) & ~3) << 2);
  const frameStride = <isize>N * C << alignof<T>(); // bytes from (t, b) to (t + 1, b)

  for (let b = b0; b < b1; b++) {
    const S = load<i32>(targetLengths + (<usize>b << 2));
    const Tb = load<i32>(inputLengths + (<usize>b << 2));
    const W = ctcRowWidth(S);
    const w8 = <usize>W << 3;
    const tg = targets + (<usize>load<i32>(offsets + (<usize>b << 2)) << 2);
    for (let j = 0; j < S; j++) { // labels forwards and reversed, each with a blank pad
      const l = load<i32>(tg + (<usize>j << 2));
      store<i32>(labelsF + (<usize>j << 2), l);
      store<i32>(labelsR + (<usize>(S - 1 - j) << 2), l);
    }
    store<i32>(labelsF + (<usize>S << 2), blank);
    store<i32>(labelsR + (<usize>S << 2), blank);

    const lp0 = lp + (<usize>b * C << alignof<T>()); // (t = 0, b)
    let loss: f64 = S == 0 ? 0 : Infinity;
    let lowest: f64 = 0;
    let row: usize = 0;
    if (Tb > 0) {
      fillSkipMask(maskF, labelsF, S, W);
      lowest = fillEmissions(lp0, frameStride, Tb, labelsF, S, blank, em, ek, false, sizeof<T>() == 8);
      row = forwardRows(am, ak, em, ek, maskF, S, W, Tb, grad != 0);
      loss = S == 0
        ? -logOf(load<f64>(am + row, 16), load<f64>(ak + row, 16))
        : -lse2(logOf(load<f64>(am + row + (<usize>(2 * S + 2) << 3)), load<f64>(ak + row + (<usize>(2 * S + 2) << 3))),
                logOf(load<f64>(am + row + (<usize>(2 * S + 1) << 3)), load<f64>(ak + row + (<usize>(2 * S + 1) << 3))));
    }
    // (see logSpaceNll: every alignment takes an emission below -DBL_MAX / log2 e)
    const beyond = sizeof<T>() == 8 && loss == Infinity && !isFinite(lowest * LOG2E); // (float32 cannot)
    if (beyond) loss = logSpaceNll<T>(lp0, frameStride, Tb, labelsF, S, blank, maskF, bm, w8);
    store<f64>(nll + (<usize>b << 3), loss);
    if (grad == 0) continue;

    const g0 = grad + (<usize>b * C << alignof<T>());
    const rowT = <usize>C << alignof<T>();
    // rows t >= Tb get no gradient, nor do elements with nothing to differentiate
    const zeroFrom = Tb == 0 || (zeroInfinity && loss == Infinity) ? 0 : Tb;
    for (let t = zeroFrom; t < T; t++) memory.fill(g0 + <usize>(<isize>t * frameStride), 0, rowT);
    if (zeroFrom == 0) continue;
    if (!isFinite(loss) || beyond) {
      // PyTorch: exp(log-sum + nll - lp) with nll = +inf (or NaN) is NaN for every class; and
      // beyond the format's exponents the posteriors are not formed (as exponentInexact's NaN)
      nanRows<T>(g0, frameStride, Tb, C);
      continue;
    }
    const scaled = lowest < emissionFloor(Tb);
    if (scaled) { // (rare: see emissionFloor) the gradient's forward pass again
      fillEmissions(lp0, frameStride, Tb, labelsF, S, blank, em, ek, true, sizeof<T>() == 8);
      row = forwardRows(am, ak, em, ek, maskF, S, W, Tb, true);
    }
    // p = alpha_{Tb-1}(L-1) + alpha_{Tb-1}(L-2) in the m 2^k format, for the posteriors' 1/p: taken
    // as exp(nll), it carried nll's rounding (|nll| ulps: 86,000 at nll = 2e5; red team 23)
    let mp = load<f64>(am + row, 16), kp = load<f64>(ak + row, 16);
    if (S > 0) {
      const last = am + row + (<usize>(2 * S + 2) << 3), lastK = ak + row + (<usize>(2 * S + 2) << 3);
      const ka = load<f64>(lastK), kb = load<f64>(lastK - 8);
      kp = max(ka, kb);
      mp = load<f64>(last) * pow2(ka - kp) + load<f64>(last - 8) * pow2(kb - kp);
    }
    fillSkipMask(maskR, labelsR, S, W);
    if (!backward<T>(lp0, frameStride, Tb, C, S, blank, labelsF, maskR, am, ak, em, ek, bm, bk, sums, mp, kp, load<f64>(gradScale + (<usize>b << 3)), g0, scaled)) {
      // Alignments that all take emissions far below their frames' largest (red team 25: repeated
      // labels forcing masked blanks): their exponents are sums beyond 2^53 and the posteriors
      // cannot be formed exactly. NaN says so, where a number would be silently wrong (PyTorch's
      // log space gives such wrong numbers there).
      nanRows<T>(g0, frameStride, Tb, C);
    }
  }
}

/** An element's loss in PyTorch's log space (its alpha recursion, log-sum-exp per state), for an
 *  element the m 2^k format gave an infinite loss while some log-probability lay below -DBL_MAX /
 *  log2 e (float64's finfo.min, a common mask): 2^k cannot hold such an exponent, so those
 *  emissions were zeros, and where every alignment takes one the loss (finite up to DBL_MAX) came
 *  out Infinity, 0 under zeroInfinity (red team 26). Two rows of log-alphas at la, w8 bytes apart. */
function logSpaceNll<T>(lp0: usize, frameStride: isize, Tb: i32, labels: usize, S: i32, blank: i32, mask: usize, la: usize, w8: usize): f64 {
  const L = 2 * S + 1;
  let prev = la, cur = la + w8;
  for (let s = 0; s < L; s++) store<f64>(prev + (<usize>s << 3), s < 2 ? stateLp<T>(lp0, s, labels, blank) : NEG_INF);
  for (let t = 1; t < Tb; t++) {
    const row = lp0 + <usize>(<isize>t * frameStride);
    for (let s = 0; s < L; s++) {
      const o = <usize>s << 3;
      const a = load<f64>(prev + o);
      const b = s >= 1 ? load<f64>(prev + o - 8) : NEG_INF;
      const c = s >= 2 && load<i64>(mask + o) != 0 ? load<f64>(prev + o - 16) : NEG_INF;
      store<f64>(cur + o, lse3(a, b, c) + stateLp<T>(row, s, labels, blank));
    }
    const swap = prev;
    prev = cur;
    cur = swap;
  }
  const end = prev + (<usize>(L - 1) << 3);
  return S == 0 ? -load<f64>(end) : -lse2(load<f64>(end), load<f64>(end - 8));
}

/** The log-probability of state s (a blank when even, label s >> 1 when odd) in frame row `row`. */
// @ts-ignore: decorator
@inline function stateLp<T>(row: usize, s: i32, labels: usize, blank: i32): f64 {
  return <f64>load<T>(at<T>(row, (s & 1) == 0 ? blank : load<i32>(labels + (<usize>(s >> 1) << 2))));
}

/** log(exp(a) + exp(b) + exp(c)), the max subtracted first; -inf when all three are. */
function lse3(a: f64, b: f64, c: f64): f64 {
  const m = max(max(a, b), c);
  if (m == NEG_INF) return NEG_INF;
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m) + Math.exp(c - m));
}

/** NaN in an element's gradient rows t < Tb. */
function nanRows<T>(g0: usize, frameStride: isize, Tb: i32, C: i32): void {
  for (let t = 0; t < Tb; t++) {
    const g = g0 + <usize>(<isize>t * frameStride);
    for (let c = 0; c < C; c++) store<T>(at<T>(g, c), <T>NaN);
  }
}

/** The alpha rows of one element: row 0, then Tb - 1 steps; all rows kept (row t at t * W) when
 *  `keep` (the gradient reads them), else two in turn. Returns the byte offset of the last. */
function forwardRows(am: usize, ak: usize, em: usize, ek: usize, maskF: usize, S: i32, W: i32, Tb: i32, keep: bool): usize {
  const w8 = <usize>W << 3;
  firstRow(am, ak, em, ek, 16, 16, S, W);
  let row: usize = 0;
  for (let t = 1; t < Tb; t++) {
    const cur = keep ? <usize>t * w8 : (<usize>t & 1) * w8;
    stepRow(am + row, ak + row, am + cur, ak + cur, em + <usize>t * w8, ek + <usize>t * w8, 16, 16, maskF, S, t % RENORM_STEPS == 0);
    row = cur;
  }
  return row;
}

/** PyTorch's log(exp(a) + exp(b)): the max subtracted first, 0 in its place when both are -inf. */
function lse2(a: f64, b: f64): f64 {
  let m = max(a, b);
  if (m == NEG_INF) m = 0;
  return Math.log(Math.exp(a - m) + Math.exp(b - m)) + m;
}

/** The backward pass of one element: beta rows from t = Tb-1 down to 0 (the reversed recursion),
 *  each combined at once with the alpha row of the same frame into the gradient row. The
 *  posterior of state s is alpha beta / (y p) = m_a m_b (er / m_y) 2^(k_a + k_b - k_y + n), with
 *  p = m_p 2^(k_p): er = 1 / m_p, n = -k_p. After the scaled pass (`scaled`, see emissionFloor),
 *  returns false where a posterior's exponent may not be exact (exponentInexact). */
function backward<T>(
  lp0: usize, frameStride: isize, Tb: i32, C: i32, S: i32, blank: i32, labelsF: usize, maskR: usize,
  am: usize, ak: usize, em: usize, ek: usize, bm: usize, bk: usize, sums: usize,
  mp: f64, kp: f64, scale: f64, g0: usize, scaled: bool,
): bool {
  const L = 2 * S + 1;
  const W = ctcRowWidth(S);
  const w8 = <usize>W << 3;
  const n = -kp;
  const er = 1 / mp;
  let inexact = false;
  // reversed pairs: pair j of the reversed labels is forward pair S - j, at byte 16 (S - j)
  const eR = <isize>S << 4;
  let prev: usize = 0;
  for (let r = 0; r < Tb; r++) {
    const t = Tb - 1 - r;
    const cur = (<usize>r & 1) * w8;
    const et = <usize>t * w8;
    if (r == 0) firstRow(bm, bk, em + et, ek + et, eR, -16, S, W);
    else stepRow(bm + prev, bk + prev, bm + cur, bk + cur, em + et, ek + et, eR, -16, maskR, S, r % RENORM_STEPS == 0);
    prev = cur;
    // sums[c] := sum over states s with l'(s) = c of their posteriors; beta_t(s) is the reversed
    // row's state L-1-s, at index L+1-s
    memory.fill(sums, 0, <usize>C << 3);
    const ma = am + et, ka = ak + et, mb = bm + cur, kb = bk + cur, my = em + et, ky = ek + et;
    let blankSum: f64 = 0;
    if (ASC_FEATURE_SIMD) {
      const floor = kV(1);
      const magic = kV(2);
      const nV = f64x2.splat(n);
      const erV = f64x2.splat(er);
      let acc = f64x2.splat(0);
      for (let s = 0; s < L; s += 2) {
        const o = <usize>s << 3;
        const ob = <usize>(L - s) << 3; // states L-2-s, L-1-s of the reversed row
        const mbv = v128.load(mb + ob);
        const kbv = v128.load(kb + ob);
        const pe = <usize>(s + 2) << 3; // pair s/2 + 1
        const kx = f64x2.add(f64x2.sub(f64x2.add(v128.load(ka + o, 16), v128.shuffle<f64>(kbv, kbv, 1, 0)), v128.load(ky + pe)), nV);
        const q = f64x2.div(erV, v128.load(my + pe));
        const post = f64x2.mul(f64x2.mul(f64x2.mul(v128.load(ma + o, 16), v128.shuffle<f64>(mbv, mbv, 1, 0)), q), pow2V(kx, floor, magic));
        if (scaled) {
          const kav = v128.load(ka + o, 16), kyv = v128.load(ky + pe);
          inexact = inexact || exponentInexact(f64x2.extract_lane(kx, 0), f64x2.extract_lane(kav, 0), f64x2.extract_lane(kbv, 1), f64x2.extract_lane(kyv, 0), n)
            || exponentInexact(f64x2.extract_lane(kx, 1), f64x2.extract_lane(kav, 1), f64x2.extract_lane(kbv, 0), f64x2.extract_lane(kyv, 1), n);
        }
        if (s + 1 < L) {
          acc = f64x2.add(acc, post);
          const p = sums + (<usize>load<i32>(labelsF + (<usize>(s >> 1) << 2)) << 3);
          store<f64>(p, load<f64>(p) + f64x2.extract_lane(post, 1));
        } else {
          blankSum += f64x2.extract_lane(post, 0);
        }
      }
      blankSum += f64x2.extract_lane(acc, 0); // lane 1 held label posteriors, already in sums
    } else {
      for (let s = 0; s < L; s++) {
        const o = <usize>(s + 2) << 3;
        const ob = <usize>(L + 1 - s) << 3;
        const pe = <usize>(s + 2) << 3; // vector s >> 1's pair, lane s & 1: index s + 2
        const kx = load<f64>(ka + o) + load<f64>(kb + ob) - load<f64>(ky + pe) + n;
        const post = load<f64>(ma + o) * load<f64>(mb + ob) * (er / load<f64>(my + pe)) * pow2(kx);
        if (scaled) inexact = inexact || exponentInexact(kx, load<f64>(ka + o), load<f64>(kb + ob), load<f64>(ky + pe), n);
        if ((s & 1) == 0) blankSum += post;
        else {
          const p = sums + (<usize>load<i32>(labelsF + (<usize>(s >> 1) << 2)) << 3);
          store<f64>(p, load<f64>(p) + post);
        }
      }
    }
    const pb = sums + (<usize>blank << 3);
    store<f64>(pb, load<f64>(pb) + blankSum);
    gradientRow<T>(lp0 + <usize>(<isize>t * frameStride), sums, C, scale, g0 + <usize>(<isize>t * frameStride));
  }
  return !inexact;
}

/** Whether a posterior's exponent kx = k_a + k_b - k_y + n may be wrong enough to matter: its
 *  terms are beyond 2^52 (an ulp of 1 or more: kx is off by up to a few ulps of the largest), and
 *  kx is not so far below the smallest normal number that any such error still leaves the
 *  posterior 0. Infinite terms (a zero probability) give an exact 0 or NaN. */
// @ts-ignore: decorator
@inline function exponentInexact(kx: f64, a: f64, b: f64, y: f64, n: f64): bool {
  const M = max(max(Math.abs(a), Math.abs(b)), max(Math.abs(y), Math.abs(n)));
  return M >= 4503599627370496.0 && M < Infinity && kx > -1100.0 - M * 8.881784197001252e-16; // 2^52, 2^-50
}

/** grad(c) = (exp(lp(c)) - sums(c) + (lp(c) - lp(c))) * scale: the last term is 0, or NaN where
 *  lp(c) is -inf (or NaN), which is where PyTorch's exp(... - lp) is NaN. */
function gradientRow<T>(lpRow: usize, sums: usize, C: i32, scale: f64, g: usize): void {
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    const k = f64x2.splat(scale);
    const zero = f64x2.splat(0);
    for (; c + 2 <= C; c += 2) {
      const x = sizeof<T>() == 4
        ? f64x2.promote_low_f32x4(v128.load64_zero(at<T>(lpRow, c)))
        : v128.load(at<T>(lpRow, c));
      // expV wants x <= 0, which log-probabilities are; anything else (raw logits, or values past
      // ~670 where its 2^(n + 53) scaling overflows: red team 4 got -1.6e-313 for exp(700)) and
      // NaN go to the scalar loop below, which takes any x
      if (!v128.all_true<i64>(f64x2.le(x, zero))) break;
      const d = f64x2.add(f64x2.sub(expV<f64>(x), v128.load(sums + (<usize>c << 3))), f64x2.sub(x, x));
      const r = f64x2.mul(d, k);
      if (sizeof<T>() == 4) v128.store64_lane(at<T>(g, c), f32x4.demote_f64x2_zero(r), 0);
      else v128.store(at<T>(g, c), r);
    }
  }
  for (; c < C; c++) {
    const x = <f64>load<T>(at<T>(lpRow, c));
    store<T>(at<T>(g, c), <T>((Math.exp(x) - load<f64>(sums + (<usize>c << 3)) + (x - x)) * scale));
  }
}
