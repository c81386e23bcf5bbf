// Test-only entry (asconfig targets "testing" and "testing-scalar", written to build/testing/, never
// shipped in dist/): exposes the element-wise maths the kernels inline (simd.ts, math.ts) applied
// to whole arrays, so tests/ulp.test.ts and scripts/ulp.mjs can measure every function's error
// against a float64 / double-double reference. Arrays are byte pointers into this module's memory,
// above heapBase(); n is the element count.

import { expK, expV, expWith, lanes, log1pV, log32V, log64V, logRestV, logSumsV } from "./simd";
import { at, expT } from "./math";
import { crossEntropyIndex, setLeanColumns } from "./cross_entropy";

/** First byte the host may use. */
export function heapBase(): usize { return __heap_base; }

/** Whether this is the SIMD build ("testing") or the scalar one ("testing-scalar"). */
export function simdBuild(): bool { return ASC_FEATURE_SIMD; }
export function relaxedBuild(): bool { return ASC_FEATURE_RELAXED_SIMD; }

/** y_i := exp(x_i) with the vector exp (whole vectors only: n must be a multiple of the lanes). */
function mapExpV<T>(x: usize, y: usize, n: i32): void {
  if (ASC_FEATURE_SIMD) {
    for (let i = 0; i < n; i += lanes<T>()) v128.store(at<T>(y, i), expV<T>(v128.load(at<T>(x, i))));
  }
}

/** y_i := exp(x_i) with the kernels' fast vector exp (subnormal results flushed to 0). */
function mapExpFastV<T>(x: usize, y: usize, n: i32): void {
  if (ASC_FEATURE_SIMD) {
    for (let i = 0; i < n; i += lanes<T>()) {
      const v = v128.load(at<T>(x, i));
      v128.store(at<T>(y, i), expWith<T>(v, expK<T>(0, false), expK<T>(1, false), expK<T>(2, false), expK<T>(3, false), expK<T>(4, false),
        expK<T>(5, false), expK<T>(6, false), expK<T>(7, false), expK<T>(8, false), expK<T>(9, false), expK<T>(10, false), expK<T>(11, false), false));
    }
  }
}

/** y_i := log(1 + x_i) with the vector log1p (x_i in [0, 1]; n a multiple of the lanes). */
function mapLog1pV<T>(x: usize, y: usize, n: i32): void {
  if (ASC_FEATURE_SIMD) {
    for (let i = 0; i < n; i += lanes<T>()) v128.store(at<T>(y, i), log1pV<T>(v128.load(at<T>(x, i))));
  }
}

/** y_i := exp(x_i) with the scalar exp of the build (expT: Mathf.exp in the scalar build, Math.exp
 *  rounded to f32 in the SIMD builds; Math.exp for f64). */
function mapExp<T>(x: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<T>(at<T>(y, i), expT<T>(load<T>(at<T>(x, i))));
}

export function expV_f32(x: usize, y: usize, n: i32): void { mapExpV<f32>(x, y, n); }
export function expV_f64(x: usize, y: usize, n: i32): void { mapExpV<f64>(x, y, n); }
export function expFastV_f32(x: usize, y: usize, n: i32): void { mapExpFastV<f32>(x, y, n); }
export function expFastV_f64(x: usize, y: usize, n: i32): void { mapExpFastV<f64>(x, y, n); }
export function log1pV_f32(x: usize, y: usize, n: i32): void { mapLog1pV<f32>(x, y, n); }
export function log1pV_f64(x: usize, y: usize, n: i32): void { mapLog1pV<f64>(x, y, n); }
export function exp_f32(x: usize, y: usize, n: i32): void { mapExp<f32>(x, y, n); }
export function exp_f64(x: usize, y: usize, n: i32): void { mapExp<f64>(x, y, n); }

/** y_i := log(x_i) with log32V (BCE's and klDiv's float32 vector log; n a multiple of 4). */
export function log32V_f32(x: usize, y: usize, n: i32): void {
  if (ASC_FEATURE_SIMD) {
    for (let i = 0; i < n; i += 4) v128.store(at<f32>(y, i), log32V(v128.load(at<f32>(x, i))));
  }
}

/** y_i := log(x_i) with log64V (the NCHW path's log of the per-position sums; n even). */
export function log64V_f64(x: usize, y: usize, n: i32): void {
  if (ASC_FEATURE_SIMD) {
    for (let i = 0; i < n; i += 2) v128.store(at<f64>(y, i), log64V(v128.load(at<f64>(x, i))));
  }
}

/** y_i := log(x_i) as float32 (widened back to f64) with logSumsV<f32>: the f32 column paths' log
 *  of f64 per-position sums of exps (x_i >= 1 or NaN; n a multiple of 4). */
export function logSumsV_f32(x: usize, y: usize, n: i32): void {
  if (ASC_FEATURE_SIMD) {
    for (let i = 0; i < n; i += 4) {
      const r = logSumsV<f32>(v128.load(at<f64>(x, i)), v128.load(at<f64>(x, i + 2)));
      v128.store(at<f64>(y, i), f64x2.promote_low_f32x4(r));
      v128.store(at<f64>(y, i + 2), f64x2.promote_low_f32x4(v128.shuffle<f32>(r, r, 2, 3, 0, 1)));
    }
  }
}

/** y_2i := log(S_i) as float32 (widened back to f64) with logRestV: focalColumns' log of S = k + R,
 *  k the exps equal to 1 and R the rest, summed apart (below sqrt(2), log1p of R's own bits). x
 *  holds the pairs S_i, R_i (n values, a multiple of 8); y_2i+1 is left as it is. */
export function logRestV_f32(x: usize, y: usize, n: i32): void {
  if (ASC_FEATURE_SIMD) {
    for (let i = 0; i < n; i += 8) {
      const a = v128.load(at<f64>(x, i)), b = v128.load(at<f64>(x, i + 2)), c = v128.load(at<f64>(x, i + 4)), d = v128.load(at<f64>(x, i + 6));
      const r = logRestV(v128.shuffle<f64>(a, b, 0, 2), v128.shuffle<f64>(c, d, 0, 2), v128.shuffle<f64>(a, b, 1, 3), v128.shuffle<f64>(c, d, 1, 3));
      store<f64>(at<f64>(y, i), <f64>f32x4.extract_lane(r, 0));
      store<f64>(at<f64>(y, i + 2), <f64>f32x4.extract_lane(r, 1));
      store<f64>(at<f64>(y, i + 4), <f64>f32x4.extract_lane(r, 2));
      store<f64>(at<f64>(y, i + 6), <f64>f32x4.extract_lane(r, 3));
    }
  }
}

// ------------------------------------------------------------------ whole-domain float32 scans
// Marshalling 2^31 inputs through JS costs about an hour per function under jest; scanning inside
// the module takes seconds, so `npm run ulp` can afford every float32 input. The reference is
// float64 NativeMath (AssemblyScript's port of musl, < 1 ulp in float64: an algorithm none of the
// kernels uses) rounded to float32; tests/ulp.test.ts checks it against V8's Math.exp/log1p.

/** Distance of two float32 bit patterns in float order (-0 and +0 equal; NaN vs NaN 0, NaN vs a
 *  number "infinite"). */
@inline function ulps(y: f32, r: f32): i64 {
  if (isNaN(y) || isNaN(r)) return isNaN(y) && isNaN(r) ? 0 : i64.MAX_VALUE;
  const a = reinterpret<i32>(y);
  const b = reinterpret<i32>(r);
  // a negative float's position is minus its magnitude's pattern
  const oa = a >= 0 ? <i64>a : -<i64>(a & 0x7fffffff);
  const ob = b >= 0 ? <i64>b : -<i64>(b & 0x7fffffff);
  const d = oa - ob;
  return d < 0 ? -d : d;
}

/** The reference: the correctly rounded result, up to float64 NativeMath's < 1 ulp (a double
 *  rounding can only matter within 2^-29 of a float32 rounding boundary). */
@inline function reference(kind: i32, x: f32): f32 {
  if (kind == 3) return <f32>NativeMath.log1p(<f64>x);
  if (kind == 4) return <f32>NativeMath.log(<f64>x);
  // kind 1: the fast vector exp flushes results that would be subnormal (x < ln(2^-126))
  if (kind == 1 && x < <f32>-87.33654) return 0;
  return <f32>NativeMath.exp(<f64>x);
}

/** The function under test on four inputs: 0 expV, 1 fast expWith, 2 scalar expT (Mathf.exp),
 *  3 log1pV, 4 log32V. */
@inline function apply4(kind: i32, x: v128): v128 {
  if (ASC_FEATURE_SIMD) {
    if (kind == 0) return expV<f32>(x);
    if (kind == 1) return expWith<f32>(x, expK<f32>(0, false), expK<f32>(1, false), expK<f32>(2, false), expK<f32>(3, false), expK<f32>(4, false),
      expK<f32>(5, false), expK<f32>(6, false), expK<f32>(7, false), expK<f32>(8, false), expK<f32>(9, false), expK<f32>(10, false), expK<f32>(11, false), false);
    if (kind == 3) return log1pV<f32>(x);
    if (kind == 4) return log32V(x);
    return f32x4(expT<f32>(f32x4.extract_lane(x, 0)), expT<f32>(f32x4.extract_lane(x, 1)), expT<f32>(f32x4.extract_lane(x, 2)), expT<f32>(f32x4.extract_lane(x, 3)));
  }
  return x;
}

/** Scans the float32 bit patterns lo, lo + stride, ... up to hi (inclusive, lo <= hi) through
 *  function `kind` (see apply4; the scalar build runs kind 2 only) against the reference, and
 *  writes [largest error in ulps, the x where it occurred, inputs scanned] as three f64 at `out`. */
export function scan_f32(kind: i32, lo: u32, hi: u32, stride: u32, out: usize): void {
  let worst: i64 = 0;
  let worstX: f32 = NaN;
  let count: i64 = 0;
  let b = <u64>lo;
  const end = <u64>hi;
  while (b <= end) {
    // four patterns per step, the last repeated past the end
    const b1 = min(b + stride, end), b2 = min(b + 2 * stride, end), b3 = min(b + 3 * stride, end);
    const n = b + 3 * <u64>stride <= end ? 4 : b + 2 * <u64>stride <= end ? 3 : b + stride <= end ? 2 : 1;
    const x0 = reinterpret<f32>(<u32>b), x1 = reinterpret<f32>(<u32>b1), x2 = reinterpret<f32>(<u32>b2), x3 = reinterpret<f32>(<u32>b3);
    let y0: f32, y1: f32, y2: f32, y3: f32;
    if (ASC_FEATURE_SIMD) {
      const y = apply4(kind, f32x4(x0, x1, x2, x3));
      y0 = f32x4.extract_lane(y, 0); y1 = f32x4.extract_lane(y, 1); y2 = f32x4.extract_lane(y, 2); y3 = f32x4.extract_lane(y, 3);
    } else {
      y0 = expT<f32>(x0); y1 = expT<f32>(x1); y2 = expT<f32>(x2); y3 = expT<f32>(x3);
    }
    let d = ulps(y0, reference(kind, x0));
    if (d > worst) { worst = d; worstX = x0; }
    d = ulps(y1, reference(kind, x1));
    if (d > worst) { worst = d; worstX = x1; }
    d = ulps(y2, reference(kind, x2));
    if (d > worst) { worst = d; worstX = x2; }
    d = ulps(y3, reference(kind, x3));
    if (d > worst) { worst = d; worstX = x3; }
    count += n;
    b += 4 * <u64>stride;
  }
  store<f64>(out, worst == i64.MAX_VALUE ? Infinity : <f64>worst);
  store<f64>(out, <f64>worstX, 8);
  store<f64>(out, <f64>count, 16);
}

/** y_i := the scan's reference for `kind` (to check it against V8 from JS). */
export function reference_f32(kind: i32, x: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(at<f32>(y, i), reference(kind, load<f32>(at<f32>(x, i))));
}

/** crossEntropyIndex over float32 (the shipped kernel, assembly/cross_entropy.ts), with the lean
 *  column kernel allowed or not: tests/cross_entropy_columns.test.ts compares the two. */
export function crossEntropyIndex_f32(x: usize, t: usize, w: usize, outer: i32, C: i32, inner: i32, eps: f64, loss: usize, grad: usize, scale: f64, gradPerPosition: usize, lean: bool): f64 {
  setLeanColumns(lean);
  return crossEntropyIndex<f32>(x, t, w, outer, C, inner, eps, loss, grad, scale, gradPerPosition, 0, 0, 0);
}
