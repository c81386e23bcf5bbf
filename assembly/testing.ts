// Test-only entry (asconfig targets "testing" and "testing-scalar", written to build/testing/, never
// shipped in dist/): exposes the element-wise maths the kernels inline (simd.ts, math.ts) applied
// to whole arrays, so tests/ulp.test.ts and scripts/ulp.mjs can measure every function's error
// against a float64 / double-double reference. Arrays are byte pointers into this module's memory,
// above heapBase(); n is the element count.

import { expK, expV, expWith, lanes, log1pV, log64V } from "./simd";
import { at, expT } from "./math";

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

/** y_i := exp(x_i) with the scalar exp of both builds (Mathf.exp / Math.exp). */
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

/** y_i := log(x_i) with log64V (the NCHW path's log of the per-position sums; n even). */
export function log64V_f64(x: usize, y: usize, n: i32): void {
  if (ASC_FEATURE_SIMD) {
    for (let i = 0; i < n; i += 2) v128.store(at<f64>(y, i), log64V(v128.load(at<f64>(x, i))));
  }
}
