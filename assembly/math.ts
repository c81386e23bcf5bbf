// Helpers shared by every kernel family, generic over the element type T (f32 or f64).
//
// Layout convention used by all kernels: a tensor viewed as (outer, C, inner), row-major, so
// element (o, c, i) sits at byte offset ((o * C + c) * inner + i) * sizeof<T>(). The class dim is
// walked with stride `inner`, so any class dim (NCHW, (N, C, L), channels-last) needs no transpose.
//
// The row helpers below (one class row: C values `stride` bytes apart) run SIMD in the SIMD build
// (`if (ASC_FEATURE_SIMD)`: a compile-time constant, so the scalar build never sees v128 code)
// when the row is contiguous, and as plain loops otherwise; every kernel is written once in terms
// of them.
//
// Precision policy: element-wise maths runs in T, while every sum across classes or positions
// accumulates in f64, so a float32 mean over a million positions stays within 1e-6 relative of the
// float64 result.

import { addError, addProductWide, addWide, besideOne, expK, expWith, flushBelow, hmax, hsum, lanes, maddV, subnormalBound } from "./simd";

/** What rounding dropped from next = a + b: Neumaier's term, exact whichever of a and b is larger
 *  (simd.ts addError on f64x2 lanes). Summing these beside a sum compensates it. */
// @ts-ignore: decorator
@inline export function sumError(a: f64, b: f64, next: f64): f64 {
  return Math.abs(a) >= Math.abs(b) ? (a - next) + b : (b - next) + a;
}

/** What rounding dropped from p = a * b, exactly (Dekker's product: wasm has no fma; a and b
 *  split in halves by Veltkamp's 2^27 + 1), for |a b| well inside the f64 range. */
export function productError(a: f64, b: f64, p: f64): f64 {
  const c = 134217729.0 * a, ah = c - (c - a), al = a - ah;
  const d = 134217729.0 * b, bh = d - (d - b), bl = b - bh;
  return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

/** u^g as the focal losses take it (the modulating factor (1 - p_t)^gamma and its slope), in
 *  place of AssemblyScript's Math.pow (a kilobyte of the gzipped module, its 32 KB limit): exp(y)
 *  for y = g log |u| carried as two f64 (log |u| = h + l, l from one Newton step; g h split exactly
 *  by Dekker's product), so that a confident row's |g log u| of 100 costs no more than a few ulps
 *  (exp(g log u) in one f64 had lost 100: red team 24's focalLoss held test). pow's 1 for g = 0,
 *  0 and inf at u = 0; for a negative u (sigmoidFocalLoss with targets outside [0, 1]) pow's NaN,
 *  or its sign for an integer g. */
export function powFocal(u: f64, g: f64): f64 {
  if (g == 0) return 1; // (pow's x^0, NaN and 0 included)
  const a = Math.abs(u);
  const h = Math.log(a);
  let r = Math.exp(g * h);
  if (isFinite(h) && h != 0 && isFinite(r) && r != 0) {
    const e = Math.exp(h);
    const l = (a - e) / e; // log a - h, to first order (a - e is exact)
    const p = g * h;
    r = Math.exp(p);
    r += r * (productError(g, h, p) + g * l);
  }
  if (!(u < 0)) return r; // (NaN included)
  if (g != Math.floor(g)) return NaN;
  return Math.floor(g * 0.5) * 2 != g ? -r : r; // (an odd g: g / 2 and its floor are exact)
}

/** tanh(x) from one expm1, with x's sign: musl's two forms, 1 - 2 / (t + 2) with t = expm1(2|x|)
 *  above log(3) / 2 and -t / (t + 2) with t = expm1(-2|x|) below (Math.tanh, which also has a
 *  third, was 200 B more of xent.wasm). */
export function tanhExpm1(x: f64): f64 {
  const a = Math.abs(x);
  const big = a > 0.5493061443340549;
  const t = Math.expm1(big ? 2 * a : -2 * a);
  return copysign<f64>(big ? 1 - 2 / (t + 2) : -t / (t + 2), x); // (-0 stays -0, NaN stays NaN, +-inf gives +-1)
}

/** Whether |v| is a normal float32 (0, NaN and infinities are not). */
// @ts-ignore: decorator
@inline export function inF32NormalRange(v: f64): bool {
  const a = Math.abs(v);
  return a >= 1.1754943508222875e-38 && a <= 3.4028234663852886e38;
}

/** exp in the element type: Math.exp for f64; for f32, Mathf.exp in the scalar build and Math.exp
 *  rounded to f32 in the SIMD builds, where it only ends rows the vector exp does not (Mathf.exp was
 *  237 B gzip of xent.wasm; rows with such tails took up to 10% longer, 2026-12-03). */
// @ts-ignore: decorator
@inline export function expT<T>(x: T): T {
  if (sizeof<T>() == 4) return ASC_FEATURE_SIMD ? <T>Math.exp(<f64>x) : <T>Mathf.exp(<f32>x);
  return <T>Math.exp(<f64>x);
}

/** Address of element `index` of an array of T starting at `base`. */
// @ts-ignore: decorator
@inline export function at<T>(base: usize, index: usize): usize {
  return base + (index << alignof<T>());
}

/** The upstream gradient for position `pos`: one per position for reduction 'none'
 *  (`perPosition` != 0), otherwise the single pre-divided factor `uniform`. */
// @ts-ignore: decorator
@inline export function upstream<T>(perPosition: usize, pos: usize, uniform: f64): f64 {
  return perPosition != 0 ? <f64>load<T>(at<T>(perPosition, pos)) : uniform;
}

/** Largest entry of a row; NaN anywhere makes it NaN (wasm's min/max propagate NaN), which is how
 *  PyTorch lets a NaN logit poison its whole row. */
export function rowMax<T>(row: usize, C: i32, stride: usize): T {
  let m = load<T>(row);
  for (let c = 1; c < C; c++) m = max<T>(m, load<T>(row + <usize>c * stride));
  return m;
}

/** The max that log-sum-exp subtracts. The vector path uses pmax (one instruction, but it may skip
 *  a NaN); that is safe because a NaN logit still makes its exp, hence the row's sum, NaN. */
export function rowMaxForExp<T>(row: usize, C: i32, stride: usize): T {
  if (ASC_FEATURE_SIMD) if (stride == sizeof<T>() && C >= lanes<T>()) {
    const L = lanes<T>();
    let a = v128.load(row);
    let b = a;
    let c = L;
    for (; c + 2 * L <= C; c += 2 * L) {
      a = v128.pmax<T>(a, v128.load(at<T>(row, c)));
      b = v128.pmax<T>(b, v128.load(at<T>(row, c + L)));
    }
    let m = hmax<T>(v128.pmax<T>(a, b));
    for (; c < C; c++) m = max<T>(m, load<T>(at<T>(row, c)));
    return m;
  }
  return rowMax<T>(row, C, stride);
}

/** The last rowExpSum's R: its exps other than the max's 1 (each exactly 1 is left out), summed
 *  apart. Where S < 2 (one 1 then) S is 1 + R. */
export let expSumRest: f64 = 0;

/** An exp's share of R: e - floor(e) is e below 1 and 0 at exactly 1 (exps lie in [0, 1]); the
 *  scalar twin of simd.ts besideOne. */
// @ts-ignore: decorator
@inline export function restShare(e: f64): f64 {
  return e - Math.floor(e);
}

/** S from its sum and R: below 2 (one exp of exactly 1, the rest R) S is 1 + R, which keeps what a
 *  sum that holds the 1 lost of R (red team 27); the vector twin is cross_entropy.ts sumBesideOne.
 *  A NaN sum stays NaN. */
// @ts-ignore: decorator
@inline export function withRest(sum: f64, rest: f64): f64 {
  return sum < 2 ? 1 + rest : sum;
}

/** sum_c exp(x_c - m) in f64; also stores each exp at `e` (same layout as the row) when e != 0.
 *  Also R (expSumRest); where S < 2 the S returned is 1 + R: the vector lanes add up to 8 exps in
 *  T before widening, and the lane that holds the max's 1 lost those below half its ulp (float32
 *  rows [20, 0 x 19]: log S 3.30e-8 for 3.92e-8, red team 27), where PyTorch float64 keeps them. 
 *  `exact`: the vector exp keeps subnormal results (gradual underflow, simd.ts); pass false only
 *  where no exp below the smallest normal number can matter (the sum is >= 1 anyway). */
export function rowExpSum<T>(row: usize, m: T, C: i32, stride: usize, e: usize, exact: bool): f64 {
  // two functions, not one with a branch: binaryen merges two inlined copies that differ in a few
  // instructions back into one loop that does both (+2 instructions per element). float64 takes the
  // exact one only: its exps fall below the smallest normal number only 708 below the max, and the
  // fast copy's 133 B of gzip paid for red team 43's fixes (float64 rows 1.4-4% slower, 2026-12-05)
  return exact || sizeof<T>() == 8 ? rowExpSumExact<T>(row, m, C, stride, e) : rowExpSumFast<T>(row, m, C, stride, e);
}

function rowExpSumExact<T>(row: usize, m: T, C: i32, stride: usize, e: usize): f64 {
  return rowExpSumWith<T>(row, m, C, stride, e, true);
}

function rowExpSumFast<T>(row: usize, m: T, C: i32, stride: usize, e: usize): f64 {
  return rowExpSumWith<T>(row, m, C, stride, e, false);
}

// @ts-ignore: decorator
@inline function rowExpSumWith<T>(row: usize, m: T, C: i32, stride: usize, e: usize, exact: bool): f64 {
  let c = 0;
  let sum: f64 = 0;
  let rest: f64 = 0;
  if (ASC_FEATURE_SIMD) if (stride == sizeof<T>() && C >= 2 * lanes<T>()) {
    c = C - C % (2 * lanes<T>());
    sum = expSumVectors<T>(row, m, c, e, exact);
    rest = vectorRest;
  }
  // Compensated (Neumaier): summed plainly from the max's 1, exps each below half an ulp of it
  // vanish however many there are (float64 [2, -35 x 999]: S exactly 1, loss 0 for 8.5e-14 on the
  // scalar build; red team 22). The vector lanes hold the max in one lane of one block only.
  let lost: f64 = 0;
  for (; c < C; c++) {
    const v = expT<T>(load<T>(row + <usize>c * stride) - m);
    if (e != 0) store<T>(e + <usize>c * stride, v);
    const next = sum + <f64>v;
    lost += sumError(sum, <f64>v, next);
    sum = next;
    rest += restShare(<f64>v);
  }
  expSumRest = rest;
  return withRest(sum + lost, rest);
}

/** expSumVectors' R. */
let vectorRest: f64 = 0;

/** rowExpSum's vector part over the first `end` entries (a multiple of two vectors), specialised
 *  at compile time for the exact or the fast exp. */
// @ts-ignore: decorator
@inline function expSumVectors<T>(row: usize, m: T, end: i32, e: usize, exact: bool): f64 {
  // Two vectors per step in two accumulators (independent dependency chains), summed in T over
  // blocks of BLOCK_VECTORS vectors and then widened into f64: the f64 adds would otherwise form
  // one serial chain that costs more than the exps.
  const L = lanes<T>();
  const vm = v128.splat<T>(m);
  const k0 = expK<T>(0, exact), k1 = expK<T>(1, exact), k2 = expK<T>(2, exact), k3 = expK<T>(3, exact), k4 = expK<T>(4, exact), k5 = expK<T>(5, exact);
  const k6 = expK<T>(6, exact), k7 = expK<T>(7, exact), k8 = expK<T>(8, exact), k9 = expK<T>(9, exact), kc = expK<T>(10, exact), ku = expK<T>(11, exact);
  // The f64 sum is compensated (addError): the lane that holds the max's 1 lost every later
  // block's partial sum below half an ulp of it, about half of a confident row's other exps
  // ([40, 0 x 999]: log S 2.2e-15 for 4.24e-15; red team 24).
  let acc = f64x2.splat(0);
  let lost = acc;
  let accRest = acc;
  let c = 0;
  while (c < end) {
    const blockEnd = min(c + BLOCK_VECTORS * L, end);
    let a0 = v128.splat<T>(<T>0);
    let a1 = a0;
    let r = a0; // R (besideOne), in one accumulator: its values are below 1 wherever it is used
    for (; c < blockEnd; c += 2 * L) {
      const v0 = expWith<T>(v128.sub<T>(v128.load(at<T>(row, c)), vm), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, kc, ku, exact);
      const v1 = expWith<T>(v128.sub<T>(v128.load(at<T>(row, c + L)), vm), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, kc, ku, exact);
      if (e != 0) {
        v128.store(at<T>(e, c), v0);
        v128.store(at<T>(e, c + L), v1);
      }
      a0 = v128.add<T>(a0, v0);
      a1 = v128.add<T>(a1, v1);
      r = v128.add<T>(r, v128.add<T>(besideOne<T>(v0), besideOne<T>(v1)));
    }
    accRest = addWide<T>(accRest, r);
    const part = v128.add<T>(a0, a1);
    let w = sizeof<T>() == 4 ? f64x2.promote_low_f32x4(part) : part;
    let next = f64x2.add(acc, w);
    lost = f64x2.add(lost, addError(acc, w, next));
    acc = next;
    if (sizeof<T>() == 4) {
      w = f64x2.promote_low_f32x4(v128.shuffle<f32>(part, part, 2, 3, 0, 1));
      next = f64x2.add(acc, w);
      lost = f64x2.add(lost, addError(acc, w, next));
      acc = next;
    }
  }
  vectorRest = hsum(accRest);
  const a = f64x2.extract_lane(acc, 0), b = f64x2.extract_lane(acc, 1);
  const sum = a + b;
  return sum + (sumError(a, b, sum) + hsum(lost));
}

/** Vectors summed in T before a partial sum is widened to f64 (each lane adds BLOCK_VECTORS / 2 values). */
const BLOCK_VECTORS = 16;

/** sum_c w_c (x_c - m) in f64 (w = 1 when weight == 0), each product in f64 (addProductWide):
 *  label smoothing's term, kept relative to the max so it never cancels. */
export function rowShiftedSum<T>(row: usize, m: T, C: i32, stride: usize, weight: usize): f64 {
  let c = 0;
  let sum: f64 = 0;
  if (ASC_FEATURE_SIMD) if (stride == sizeof<T>() && C >= lanes<T>()) {
    const L = lanes<T>();
    const vm = v128.splat<T>(m);
    let acc = f64x2.splat(0);
    for (; c + L <= C; c += L) {
      const d = v128.sub<T>(v128.load(at<T>(row, c)), vm);
      acc = weight != 0 ? addProductWide<T>(acc, d, v128.load(at<T>(weight, c))) : addWide<T>(acc, d);
    }
    sum = hsum(acc);
  }
  for (; c < C; c++) {
    const w = weight != 0 ? <f64>load<T>(at<T>(weight, c)) : 1.0;
    sum += w * <f64>(load<T>(row + <usize>c * stride) - m);
  }
  return sum;
}

/** g_c := g_c * a - b * w_c in place (w = 1 when weight == 0; the subtraction is skipped when
 *  b == 0). Entries whose product would be subnormal are flushed to zero first (see simd.ts). */
export function rowScale<T>(g: usize, C: i32, stride: usize, a: f64, b: f64, weight: usize): void {
  let c = 0;
  // (b in T's lanes, then times w_c: a b outside float32's normal range whose products with the
  // weights are in it went to 0 or inf first; red team 26, smoothing with weights near 3e38 and a
  // tiny gradOutput. The loop below forms b w_c in f64.)
  // (a beyond float32's max in T's lanes was inf: every entry inf where its f64 product fits, and
  // the scalar build's did: red team 38, gradOutput 3e38 times a weight of 1.5)
  if (ASC_FEATURE_SIMD) if (stride == sizeof<T>() && C >= lanes<T>() && (sizeof<T>() == 8 || (b == 0 || !isFinite(b) || inF32NormalRange(b)) && !(Math.abs(a) > 3.4028234663852886e38))) {
    const L = lanes<T>();
    const va = v128.splat<T>(<T>a);
    const vb = v128.splat<T>(<T>b);
    const tiny = subnormalBound<T>(va);
    if (b == 0) {
      for (; c + L <= C; c += L) {
        const v = v128.load(at<T>(g, c));
        v128.store(at<T>(g, c), v128.mul<T>(flushBelow<T>(v, tiny), va));
      }
    } else {
      const nb = v128.neg<T>(vb);
      for (; c + L <= C; c += L) {
        const v = v128.load(at<T>(g, c));
        const nbw = weight != 0 ? v128.mul<T>(nb, v128.load(at<T>(weight, c))) : nb;
        v128.store(at<T>(g, c), maddV<T>(flushBelow<T>(v, tiny), va, nbw));
      }
    }
  }
  for (; c < C; c++) {
    const p = g + <usize>c * stride;
    let d = <f64>load<T>(p) * a;
    if (b != 0) d -= b * (weight != 0 ? <f64>load<T>(at<T>(weight, c)) : 1.0);
    store<T>(p, <T>d);
  }
}
