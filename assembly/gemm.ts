// The GEMM micro-kernels behind linearCrossEntropy, generic over T (f32 or f64):
//
//   C[M, N] := (accumulate ? C : 0) + A[M, K] B[K, N]
//
// A is read one scalar at a time through two byte strides (A(i, k) at a + i aI + k aK), so the same
// kernel serves A, A^T and a column slice of a larger matrix with no copy; B's rows and C's rows are
// contiguous (B(k, j) at b + k bK + j sizeof<T>, C(i, j) at c + i cI + j sizeof<T>). The three
// products of the fused loss all have this form (see linear_cross_entropy.ts).
//
// SIMD (XNNPACK's wasmsimd f32-gemm "loadsplat" scheme): a register tile of MR = 4 rows of C by
// NR = 2 vectors (4 x 8 for f32, 4 x 4 for f64) lives in 8 v128 accumulators across the whole k loop;
// each k step loads the two B vectors once and one splatted A scalar per row, then does 8
// multiply-adds: 2 loads + 4 splat loads per 8 multiply-adds, with 14 of the 16 x64 vector registers
// live. A 6 x 8 tile (12 accumulators, XNNPACK's other wasmsimd shape) ran 15-30% slower here in
// V8 (2026-11-30, bench/lm.mjs --gemm: 6.0-7.3 vs 7.3-9.1 GFLOP/s side by side, loaded machine). Edges:
// a 1-row tile for the last M % 4 rows, a 1-vector tile for the last N % NR columns, scalar
// columns for the rest. The k loop is blocked by KC so one B panel (KC x NR) stays in L1 while the
// M / 4 row tiles stream past it; each tile sums one k block from 0 and adds it to C (storeSum).

import { lanes } from "./simd";

/** k-block: KC x 8 f32 of B (8 KiB) stays in L1 while every row tile of A passes it. */
const KC: i32 = 256;

/** acc + a b: every multiply-add of the GEMM goes through here, so a fused (relaxed SIMD) form can
 *  replace it in one line. */
// @ts-ignore: decorator
@inline function madd<T>(acc: v128, a: v128, b: v128): v128 {
  return v128.add<T>(acc, v128.mul<T>(a, b));
}

/** A scalar of T at p, splatted into every lane. */
// @ts-ignore: decorator
@inline function splatAt<T>(p: usize): v128 {
  if (sizeof<T>() == 4) return v128.load32_splat(p);
  return v128.load64_splat(p);
}

/** C (+)= A B as described above. */
export function gemm<T>(M: i32, N: i32, K: i32, a: usize, aI: usize, aK: usize, b: usize, bK: usize, c: usize, cI: usize, accumulate: bool): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate) for (let i = 0; i < M; i++) memory.fill(c + <usize>i * cI, 0, <usize>N << alignof<T>());
    return;
  }
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const acc = accumulate || k0 > 0;
    gemmBlock<T>(M, N, kc, a + <usize>k0 * aK, aI, aK, b + <usize>k0 * bK, bK, c, cI, acc);
  }
}

function gemmBlock<T>(M: i32, N: i32, K: i32, a: usize, aI: usize, aK: usize, b: usize, bK: usize, c: usize, cI: usize, acc: bool): void {
  const size = <usize>sizeof<T>();
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    const L = lanes<T>();
    for (; j + 2 * L <= N; j += 2 * L) {
      const bj = b + <usize>j * size, cj = c + <usize>j * size;
      let i = 0;
      for (; i + 4 <= M; i += 4) tile4x2<T>(K, a + <usize>i * aI, aI, aK, bj, bK, cj + <usize>i * cI, cI, acc);
      for (; i < M; i++) tile1x2<T>(K, a + <usize>i * aI, aK, bj, bK, cj + <usize>i * cI, acc);
    }
    for (; j + L <= N; j += L) {
      const bj = b + <usize>j * size, cj = c + <usize>j * size;
      for (let i = 0; i < M; i++) tile1x1<T>(K, a + <usize>i * aI, aK, bj, bK, cj + <usize>i * cI, acc);
    }
  }
  // Scalar columns: the whole product in the scalar build, the last N % lanes columns in the SIMD one.
  for (; j < N; j++) {
    for (let i = 0; i < M; i++) {
      const pc = c + <usize>i * cI + <usize>j * size;
      let s: T = 0;
      let pa = a + <usize>i * aI, pb = b + <usize>j * size;
      for (let k = 0; k < K; k++) {
        s += load<T>(pa) * load<T>(pb);
        pa += aK;
        pb += bK;
      }
      store<T>(pc, acc ? load<T>(pc) + s : s);
    }
  }
}

/** The 4-row by 2-vector register tile. */
// @ts-ignore: decorator
@inline function tile4x2<T>(K: i32, a: usize, aI: usize, aK: usize, b: usize, bK: usize, c: usize, cI: usize, acc: bool): void {
  const c1 = c + cI, c2 = c1 + cI, c3 = c2 + cI;
  let x00 = v128.splat<T>(<T>0), x01 = x00, x10 = x00, x11 = x00, x20 = x00, x21 = x00, x30 = x00, x31 = x00;
  const a1 = aI, a2 = aI * 2, a3 = aI * 3;
  let pa = a, pb = b;
  for (let k = 0; k < K; k++) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let s = splatAt<T>(pa);
    x00 = madd<T>(x00, s, b0); x01 = madd<T>(x01, s, b1);
    s = splatAt<T>(pa + a1);
    x10 = madd<T>(x10, s, b0); x11 = madd<T>(x11, s, b1);
    s = splatAt<T>(pa + a2);
    x20 = madd<T>(x20, s, b0); x21 = madd<T>(x21, s, b1);
    s = splatAt<T>(pa + a3);
    x30 = madd<T>(x30, s, b0); x31 = madd<T>(x31, s, b1);
    pa += aK;
    pb += bK;
  }
  storeSum<T>(c, x00, acc); storeSum<T>(c + 16, x01, acc);
  storeSum<T>(c1, x10, acc); storeSum<T>(c1 + 16, x11, acc);
  storeSum<T>(c2, x20, acc); storeSum<T>(c2 + 16, x21, acc);
  storeSum<T>(c3, x30, acc); storeSum<T>(c3 + 16, x31, acc);
}

/** C's vector at c := (acc ? C + x : x). A tile sums its k block from 0 and adds C once at the
 *  end: starting from C added every term of the whole product onto one running sum (gradInput over
 *  a 100,000-class vocabulary), and float32 linearCrossEntropy gradients were 10x further from
 *  float64 than PyTorch float32's, whose BLAS adds its k blocks the same way (red team 60:
 *  gradInput 1.19e-5 normwise for torch's 1.24e-6 at C = 100,000; gradWeight over 32,768 tokens
 *  2.15e-6 for 1.46e-7). */
// @ts-ignore: decorator
@inline function storeSum<T>(c: usize, x: v128, acc: bool): void {
  v128.store(c, acc ? v128.add<T>(v128.load(c), x) : x);
}

/** One row by 2 vectors (the last M % 4 rows). */
// @ts-ignore: decorator
@inline function tile1x2<T>(K: i32, a: usize, aK: usize, b: usize, bK: usize, c: usize, acc: bool): void {
  let x0 = v128.splat<T>(<T>0), x1 = x0;
  let pa = a, pb = b;
  for (let k = 0; k < K; k++) {
    const s = splatAt<T>(pa);
    x0 = madd<T>(x0, s, v128.load(pb));
    x1 = madd<T>(x1, s, v128.load(pb, 16));
    pa += aK;
    pb += bK;
  }
  storeSum<T>(c, x0, acc); storeSum<T>(c + 16, x1, acc);
}

/** One row by one vector (the last columns that fill a vector but not two). */
// @ts-ignore: decorator
@inline function tile1x1<T>(K: i32, a: usize, aK: usize, b: usize, bK: usize, c: usize, acc: bool): void {
  let x0 = v128.splat<T>(<T>0);
  let pa = a, pb = b;
  for (let k = 0; k < K; k++) {
    x0 = madd<T>(x0, splatAt<T>(pa), v128.load(pb));
    pa += aK;
    pb += bK;
  }
  storeSum<T>(c, x0, acc);
}
