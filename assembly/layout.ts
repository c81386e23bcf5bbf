// Relayout of a streamed chunk, for class dims whose own layout makes the kernels slow.
//
// A chunk is a compact (count, C, width) block: `count` outer indices, C classes, `width` inner
// positions. The kernels are fast on two layouts and slow between them:
// - rows (width 1, C contiguous per position) is fast for long rows and slow for short ones: a few
//   classes leave the per-position scalar work (target lookup, log, reductions) to dominate;
// - columns (one long run of positions per class) is fast when the run is long: the column kernel
//   vectorises across positions, and a run of 2-15 positions (NCHW with small L) wastes its lanes.
// Short rows and short columns are therefore regrouped into one long column block (C, count*width),
// and probability targets, whose column kernel is the slow one, into rows (count*width, C). Results
// go back the same way. Both copies stay within the chunk, which is L2-resident.
//
// mode 0: (count, C, width) -> (C, count*width)   mode 1: its inverse
// mode 2: (count, C, width) -> (count*width, C)   mode 3: its inverse
// Modes 0 and 1 with width 1, and modes 2 and 3 per outer index, are matrix transposes (modes 0 and
// 1 with runs of two f32 too, taking each run as one 8-byte unit): the SIMD
// build transposes them in L x L tiles of vectors (short rows of 2 or 3 f32 by shuffles of whole
// groups of 4 rows), since one scalar load and store per element cost as much as the kernel on
// [N, 2] rows.

import { at } from "./math";
import { lanes } from "./simd";

export function relayout<T>(src: usize, dst: usize, count: i32, C: i32, width: i32, mode: i32): void {
  if (mode == 2) {
    for (let o = 0; o < count; o++) transpose<T>(at<T>(src, <usize>o * C * width), C, width, at<T>(dst, <usize>o * width * C));
  } else if (mode == 3) {
    for (let o = 0; o < count; o++) transpose<T>(at<T>(src, <usize>o * width * C), width, C, at<T>(dst, <usize>o * C * width));
  } else if (sizeof<T>() == 8) {
    // modes 0 and 1 move runs of `width` values whole: runs of f64 are the bytes of runs of twice
    // as many f32 (one copy of that code in the module)
    relayout<f32>(src, dst, count, C, width << 1, mode);
  } else {
    const positions = count * width;
    const inverse = mode == 1;
    if (width == 1) return inverse ? transpose<T>(src, C, count, dst) : transpose<T>(src, count, C, dst);
    // runs of two f32 as one unit
    if (width << alignof<T>() == 8) return inverse ? transpose<f64>(src, C, count, dst) : transpose<f64>(src, count, C, dst);
    if (ASC_FEATURE_SIMD) return shortRuns(src, dst, count, C, width, positions, inverse);
    if (!inverse) {
      for (let c = 0; c < C; c++) {
        const d = at<T>(dst, <usize>c * positions);
        for (let o = 0; o < count; o++) {
          copyRun<T>(at<T>(d, <usize>o * width), at<T>(src, (<usize>o * C + c) * width), width);
        }
      }
    } else {
      for (let o = 0; o < count; o++) {
        for (let c = 0; c < C; c++) {
          copyRun<T>(at<T>(dst, (<usize>o * C + c) * width), at<T>(src, <usize>c * positions + <usize>o * width), width);
        }
      }
    }
  }
}

/** Copies n values: vectors (the last one overlapping the one before), or a plain loop when n is
 *  below a vector (memory.copy calls out of wasm in V8: slow for the runs of 2-15 values here). */
// @ts-ignore: decorator
@inline function copyRun<T>(dst: usize, src: usize, n: i32): void {
  if (ASC_FEATURE_SIMD) if (n >= lanes<T>()) {
    const L = lanes<T>();
    for (let i = 0; i < n - L; i += L) v128.store(at<T>(dst, i), v128.load(at<T>(src, i)));
    v128.store(at<T>(dst, n - L), v128.load(at<T>(src, n - L)));
    return;
  }
  for (let i = 0; i < n; i++) store<T>(at<T>(dst, i), load<T>(at<T>(src, i)));
}

/** Modes 0 (`inverse` false) and 1 for runs of 3 or more f32 (NCHW with L = 3, 4, ...; f64 with
 *  L = 2, 3, ... as runs of 4, 6, ...): one vector move per 4 values or fewer of a run, whose lanes past the run the
 *  next run's move overwrites, as the runs are written in order, end to end in dst. The last run,
 *  whose vectors would read and write past both blocks, goes by lanes. (By lanes throughout, the
 *  two regroups of [16644, 21, 3] float32 took 0.9 ns per element: 3.2 against 2.3 for L = 2, whose
 *  runs are transposed as 8-byte units; copyRun's vector loop took runs of 5 to 1.2.) */
function shortRuns(src: usize, dst: usize, count: i32, C: i32, width: i32, positions: i32, inverse: bool): void {
  const outer = inverse ? count : C, inner = inverse ? C : count; // dst's order: (outer, inner)
  const run = <usize>width << 2;
  // bytes from one run in src to the next one dst takes (b + 1), and between outer indices (a + 1)
  const step = inverse ? <usize>positions << 2 : <usize>C * run;
  let d = dst;
  for (let a = 0; a < outer; a++) {
    let s = src + <usize>a * run;
    const last = a == outer - 1;
    const n = last ? inner - 1 : inner;
    // Three copies of one loop, for speed only: runs of up to 4 and up to 8 (NCHW L = 3..8, the
    // common short runs) move one or two vectors with no inner loop; the generic loop's per-run
    // loop and its bound cost about as much as the move itself at those widths.
    if (width <= 4) {
      for (let b = 0; b < n; b++) {
        v128.store(d, v128.load(s));
        d += run;
        s += step;
      }
    } else if (width <= 8) {
      for (let b = 0; b < n; b++) {
        v128.store(d, v128.load(s));
        v128.store(d, v128.load(s, 16), 16);
        d += run;
        s += step;
      }
    } else {
      for (let b = 0; b < n; b++) {
        for (let v: usize = 0; v < run; v += 16) v128.store(d + v, v128.load(s + v));
        d += run;
        s += step;
      }
    }
    if (last) copyRun<f32>(d, s, width);
  }
}

/** dst (K, R) := the transpose of src (R, K), both row-major. */
function transpose<T>(src: usize, R: i32, K: i32, dst: usize): void {
  if (R == 1 || K == 1) return memory.copy(dst, src, (<usize>R * K) << alignof<T>());
  let r0 = 0;
  if (ASC_FEATURE_SIMD) {
    const L = lanes<T>();
    if (sizeof<T>() == 4 && K < 4) { // rows of 2 or 3 f32: 4 rows are K whole vectors
      for (; r0 + 4 <= R; r0 += 4) deinterleave(at<f32>(src, <usize>r0 * K), K, at<f32>(dst, r0), R);
    } else if (sizeof<T>() == 4 && R < 4) { // the inverse: 2 or 3 rows of columns, 4 at a time
      let k0 = 0;
      for (; k0 + 4 <= K; k0 += 4) interleave(at<f32>(src, k0), K, at<f32>(dst, <usize>k0 * R), R);
      for (let r = 0; r < R; r++) {
        for (let k = k0; k < K; k++) store<T>(at<T>(dst, <usize>k * R + r), load<T>(at<T>(src, <usize>r * K + k)));
      }
      return;
    } else {
      const kEnd = K - K % L;
      for (; r0 + L <= R; r0 += L) {
        for (let k0 = 0; k0 < kEnd; k0 += L) tile<T>(at<T>(src, <usize>r0 * K + k0), K, at<T>(dst, <usize>k0 * R + r0), R);
        for (let r = r0; r < r0 + L; r++) {
          for (let k = kEnd; k < K; k++) store<T>(at<T>(dst, <usize>k * R + r), load<T>(at<T>(src, <usize>r * K + k)));
        }
      }
    }
  }
  for (let r = r0; r < R; r++) {
    for (let k = 0; k < K; k++) store<T>(at<T>(dst, <usize>k * R + r), load<T>(at<T>(src, <usize>r * K + k)));
  }
}

/** An L x L tile: rows of src (stride K elements) become columns of dst (stride R elements). */
// @ts-ignore: decorator
@inline function tile<T>(src: usize, K: i32, dst: usize, R: i32): void {
  const s = <usize>K << alignof<T>();
  const d = <usize>R << alignof<T>();
  if (sizeof<T>() == 8) {
    const a = v128.load(src);
    const b = v128.load(src + s);
    v128.store(dst, v128.shuffle<f64>(a, b, 0, 2));
    v128.store(dst + d, v128.shuffle<f64>(a, b, 1, 3));
    return;
  }
  const r0 = v128.load(src);
  const r1 = v128.load(src + s);
  const r2 = v128.load(src + 2 * s);
  const r3 = v128.load(src + 3 * s);
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(dst + d, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  v128.store(dst + 2 * d, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * d, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}

/** 4 rows of K = 2 or 3 f32 (K contiguous vectors at src) into columns 0..K-1 of dst (stride R). */
// @ts-ignore: decorator
@inline function deinterleave(src: usize, K: i32, dst: usize, R: i32): void {
  const d = <usize>R << 2;
  const a = v128.load(src);
  const b = v128.load(src, 16);
  if (K == 2) { // a = x0 y0 x1 y1, b = x2 y2 x3 y3
    v128.store(dst, v128.shuffle<f32>(a, b, 0, 2, 4, 6));
    v128.store(dst + d, v128.shuffle<f32>(a, b, 1, 3, 5, 7));
    return;
  }
  const c = v128.load(src, 32); // a = x0 y0 z0 x1, b = y1 z1 x2 y2, c = z2 x3 y3 z3
  v128.store(dst, v128.shuffle<f32>(v128.shuffle<f32>(a, b, 0, 3, 6, 7), c, 0, 1, 2, 5));
  v128.store(dst + d, v128.shuffle<f32>(v128.shuffle<f32>(a, b, 1, 4, 7, 7), c, 0, 1, 2, 6));
  v128.store(dst + 2 * d, v128.shuffle<f32>(v128.shuffle<f32>(a, b, 2, 5, 5, 5), c, 0, 1, 4, 7));
}

/** deinterleave's inverse: R = 2 or 3 rows (stride K) of 4 f32 at src into 4 rows of R at dst. */
// @ts-ignore: decorator
@inline function interleave(src: usize, K: i32, dst: usize, R: i32): void {
  const s = <usize>K << 2;
  const x = v128.load(src);
  const y = v128.load(src + s);
  if (R == 2) {
    v128.store(dst, v128.shuffle<f32>(x, y, 0, 4, 1, 5));
    v128.store(dst, v128.shuffle<f32>(x, y, 2, 6, 3, 7), 16);
    return;
  }
  const z = v128.load(src + 2 * s);
  v128.store(dst, v128.shuffle<f32>(v128.shuffle<f32>(x, y, 0, 4, 1, 5), z, 0, 1, 4, 2));
  v128.store(dst, v128.shuffle<f32>(v128.shuffle<f32>(x, y, 2, 5, 6, 6), z, 1, 5, 0, 2), 16);
  v128.store(dst, v128.shuffle<f32>(v128.shuffle<f32>(x, y, 3, 7, 3, 7), z, 6, 0, 1, 7), 32);
}

/** Copies `rows` runs of `bytes` bytes from src (runs `srcStride` bytes apart) to dst (runs
 *  `dstStride` apart): a chunk of a wasmArray whose inner dim the stream slices (an NCHW image
 *  over the chunk size) goes between the array and the chunk's compact block as part of the
 *  chunk's job, on whichever thread runs it, instead of through JS on the calling thread. */
export function copyRows(src: usize, dst: usize, rows: i32, bytes: i32, srcStride: i32, dstStride: i32): void {
  for (let r = 0; r < rows; r++) memory.copy(dst + <usize>r * dstStride, src + <usize>r * srcStride, bytes);
}
