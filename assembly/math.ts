// Scalar helpers shared by every kernel family, generic over the element type T (f32 or f64).
//
// Layout convention used by all kernels: a tensor viewed as (outer, C, inner), row-major, so
// element (o, c, i) sits at byte offset ((o * C + c) * inner + i) * sizeof<T>(). The class dim is
// walked with stride `inner`, so any class dim (NCHW, (N, C, L), channels-last) needs no transpose.
//
// Precision policy: element-wise maths runs in T (Mathf for f32, Math for f64), while every sum
// across classes or positions accumulates in f64, so a float32 mean over a million positions stays
// within 1e-6 relative of the float64 result.

/** exp in the element type: Mathf.exp for f32, Math.exp for f64. */
// @ts-ignore: decorator
@inline export function expT<T>(x: T): T {
  if (sizeof<T>() == 4) return <T>Mathf.exp(<f32>x);
  return <T>Math.exp(<f64>x);
}

/** Address of element `index` of an array of T starting at `base`. */
// @ts-ignore: decorator
@inline export function at<T>(base: usize, index: usize): usize {
  return base + (index << alignof<T>());
}

/** Largest entry of a strided row; NaN anywhere makes it NaN (wasm's min/max propagate NaN),
 *  which is how PyTorch lets a NaN logit poison its whole row. */
// @ts-ignore: decorator
@inline export function rowMax<T>(row: usize, C: i32, stride: usize): T {
  let m = load<T>(row);
  for (let c = 1; c < C; c++) m = max<T>(m, load<T>(row + <usize>c * stride));
  return m;
}

/** The upstream gradient for position `pos`: one per position for reduction 'none'
 *  (`perPosition` != 0), otherwise the single pre-divided factor `uniform`. */
// @ts-ignore: decorator
@inline export function upstream<T>(perPosition: usize, pos: usize, uniform: f64): f64 {
  return perPosition != 0 ? <f64>load<T>(at<T>(perPosition, pos)) : uniform;
}
