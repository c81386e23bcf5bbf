// log_softmax and softmax over one dim of an (outer, C, inner) tensor, forward beside backward.
//
// Stable form (log-sum-exp with max subtraction): with m = max_c x_c,
//   log_softmax(x)_c = (x_c - m) - log(sum_k exp(x_k - m))
// Every exp argument is <= 0, so nothing overflows at logits of 1e4 (f32) or 1e300 (f64); an entry
// of -inf gives exp(-inf) = 0 exactly; a row of all -inf gives m = -inf and NaN, as PyTorch does.
//
// Backward passes take the forward output y and the upstream gradient g (PyTorch's
// _log_softmax_backward_data and _softmax_backward_data):
//   log_softmax: dx_c = g_c - exp(y_c) sum_k g_k        softmax: dx_c = y_c (g_c - sum_k g_k y_k)
//
// Two layouts. The class dim last (inner == 1): one position's row is contiguous and the row
// helpers of math.ts (or the row loops below) vectorise along it. The class dim not last
// (inner > 1, e.g. dim 1 of NCHW): in the SIMD build the positions of one vector sit in its lanes
// and each pass walks the classes (columns()), so every load is a whole vector whatever C is;
// where the class rows are a multiple of 512 bytes apart, tileColumns() walks several vectors.

import { at, expT, rowExpSum, rowMaxForExp, rowScale } from "./math";
import { addWide, expK, expWith, flushBelow, hsum, lanes, logSumsV, minNormalV, narrow, nmaddV, widen } from "./simd";
import { MAX_THREADS } from "./threads";

const LOG_SOFTMAX = 0;
const SOFTMAX = 1;
const LOG_SOFTMAX_BACKWARD = 2;
const SOFTMAX_BACKWARD = 3;

/** Writes log_softmax(x) along the class dim into y. y must not overlap x (src/stream.ts never
 *  passes an output over an input): the columns path may compute a position twice. */
export function logSoftmaxForward<T>(x: usize, y: usize, outer: i32, C: i32, inner: i32): void {
  family<T>(LOG_SOFTMAX, x, 0, y, outer, C, inner);
}

/** Writes softmax(x) along the class dim into y (not overlapping x). */
export function softmaxForward<T>(x: usize, y: usize, outer: i32, C: i32, inner: i32): void {
  family<T>(SOFTMAX, x, 0, y, outer, C, inner);
}

/** Gradient of log_softmax given its output y and the upstream gradient g (dx overlapping neither). */
export function logSoftmaxBackward<T>(g: usize, y: usize, dx: usize, outer: i32, C: i32, inner: i32): void {
  family<T>(LOG_SOFTMAX_BACKWARD, g, y, dx, outer, C, inner);
}

/** Gradient of softmax given its output y and the upstream gradient g (dx overlapping neither). */
export function softmaxBackward<T>(g: usize, y: usize, dx: usize, outer: i32, C: i32, inner: i32): void {
  family<T>(SOFTMAX_BACKWARD, g, y, dx, outer, C, inner);
}

/** Runs one op over every position: inputs a (x or g) and b (y for the backward ops), output out. */
function family<T>(op: i32, a: usize, b: usize, out: usize, outer: i32, C: i32, inner: i32): void {
  if (C <= 0) return;
  const stride = <usize>inner << alignof<T>();
  const L = lanes<T>();
  for (let o = 0; o < outer; o++) {
    const slice = (<usize>o * C * inner) << alignof<T>();
    if (ASC_FEATURE_SIMD && inner >= L) {
      let i = 0;
      if (sizeof<T>() == 4 && (stride & 511) == 0) {
        // rows a multiple of 512 bytes apart (src/stream.ts's ALIASING_BYTES: the same rule, by
        // which crossEntropy's chunks step off such strides) share a few of L1's sets: tileColumns,
        // over as many vectors as keep about
        // TILE_BYTES of the slice in L1 (at least one cache line of each row). float32 only: its
        // float64 instance would cost 420 B of gzip, and the no-bundler page's budget has no room.
        const nv = max(4, min(TILE_VECTORS, TILE_BYTES / (C * 16)));
        for (; i + nv * L <= inner; i += nv * L) {
          const p = slice + (<usize>i << alignof<T>());
          tileColumns<T>(op, a + p, b + p, out + p, C, stride, nv);
        }
      }
      for (; i + L <= inner; i += L) {
        const p = slice + (<usize>i << alignof<T>());
        columns<T>(op, a + p, b + p, out + p, C, stride);
      }
      // The last, partial vector overlaps the one before it: its first lanes are computed again,
      // to the same values (lanes never mix).
      if (i < inner) {
        const p = slice + (<usize>(inner - L) << alignof<T>());
        columns<T>(op, a + p, b + p, out + p, C, stride);
      }
      continue;
    }
    for (let i = 0; i < inner; i++) {
      const p = slice + (<usize>i << alignof<T>());
      row<T>(op, a + p, b + p, out + p, C, stride);
    }
  }
}

/** One position (C values `stride` bytes apart). */
function row<T>(op: i32, a: usize, b: usize, out: usize, C: i32, stride: usize): void {
  if (op == LOG_SOFTMAX) {
    const m = rowMaxForExp<T>(a, C, stride);
    rowShift<T>(a, out, C, stride, m, Math.log(rowExpSum<T>(a, m, C, stride, 0, false))); // exps only feed a sum >= 1
  } else if (op == SOFTMAX) {
    // The exps are stored first and normalised in a second pass: one exp per element.
    const m = rowMaxForExp<T>(a, C, stride);
    rowScale<T>(out, C, stride, 1.0 / rowExpSum<T>(a, m, C, stride, out, false), 0, 0); // exp / sum <= exp: see rowScale
  } else if (op == LOG_SOFTMAX_BACKWARD) {
    logSoftmaxBackwardRow<T>(a, b, out, C, stride);
  } else {
    softmaxBackwardRow<T>(a, b, out, C, stride);
  }
}

/** y_c := (x_c - m) - logSum along one row. */
function rowShift<T>(row: usize, out: usize, C: i32, stride: usize, m: T, logSum: f64): void {
  let c = 0;
  if (ASC_FEATURE_SIMD && stride == sizeof<T>()) {
    const L = lanes<T>();
    const vm = v128.splat<T>(m);
    const vl = v128.splat<T>(<T>logSum);
    for (; c + L <= C; c += L) {
      v128.store(at<T>(out, c), v128.sub<T>(v128.sub<T>(v128.load(at<T>(row, c)), vm), vl));
    }
  }
  for (; c < C; c++) {
    const p = <usize>c * stride;
    store<T>(out + p, <T>(<f64>(load<T>(row + p) - m) - logSum));
  }
}

/** sum_c a_c (or sum_c a_c b_c when `dot`) along a contiguous row from its start, each vector
 *  widened into f64 as it comes (the sums stay f64, as on the scalar path); stops before the last
 *  C % lanes entries, which the caller adds. */
// @ts-ignore: decorator
@inline function rowSumV<T>(a: usize, b: usize, C: i32, dot: bool): f64 {
  const L = lanes<T>();
  let acc = f64x2.splat(0);
  for (let c = 0; c + L <= C; c += L) {
    const v = v128.load(at<T>(a, c));
    acc = addWide<T>(acc, dot ? v128.mul<T>(v, v128.load(at<T>(b, c))) : v);
  }
  return hsum(acc);
}

/** dx_c = g_c - exp(y_c) sum_k g_k along one row. A y above 0 (not a log-probability, but PyTorch
 *  takes any y) leaves the vector loop: the vector exp is only for arguments <= 0. */
function logSoftmaxBackwardRow<T>(g: usize, y: usize, dx: usize, C: i32, stride: usize): void {
  const L = lanes<T>();
  const simd = ASC_FEATURE_SIMD && stride == sizeof<T>() && C >= L;
  let sum: f64 = 0;
  let c = 0;
  if (ASC_FEATURE_SIMD && simd) {
    sum = rowSumV<T>(g, 0, C, false);
    c = C - C % L;
  }
  for (; c < C; c++) sum += <f64>load<T>(g + <usize>c * stride);
  c = 0;
  if (ASC_FEATURE_SIMD && simd) {
    const vs = v128.splat<T>(<T>sum);
    const zero = v128.splat<T>(<T>0);
    const k0 = expK<T>(0, true), k1 = expK<T>(1, true), k2 = expK<T>(2, true), k3 = expK<T>(3, true), k4 = expK<T>(4, true), k5 = expK<T>(5, true);
    const k6 = expK<T>(6, true), k7 = expK<T>(7, true), k8 = expK<T>(8, true), k9 = expK<T>(9, true), kc = expK<T>(10, true), ku = expK<T>(11, true);
    for (; c + L <= C; c += L) {
      const yv = v128.load(at<T>(y, c));
      if (v128.any_true(v128.gt<T>(yv, zero))) break;
      const e = expWith<T>(yv, k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, kc, ku, true);
      v128.store(at<T>(dx, c), nmaddV<T>(e, vs, v128.load(at<T>(g, c))));
    }
  }
  for (; c < C; c++) {
    const p = <usize>c * stride;
    store<T>(dx + p, <T>(<f64>load<T>(g + p) - <f64>expT<T>(load<T>(y + p)) * sum));
  }
}

/** dx_c = y_c (g_c - sum_k g_k y_k) along one row. */
function softmaxBackwardRow<T>(g: usize, y: usize, dx: usize, C: i32, stride: usize): void {
  const L = lanes<T>();
  const simd = ASC_FEATURE_SIMD && stride == sizeof<T>() && C >= L;
  let dot: f64 = 0;
  let c = 0;
  if (ASC_FEATURE_SIMD && simd) {
    dot = rowSumV<T>(g, y, C, true);
    c = C - C % L;
  }
  for (; c < C; c++) {
    const p = <usize>c * stride;
    dot += <f64>load<T>(g + p) * <f64>load<T>(y + p);
  }
  c = 0;
  if (ASC_FEATURE_SIMD && simd) {
    const vd = v128.splat<T>(<T>dot);
    for (; c + L <= C; c += L) {
      v128.store(at<T>(dx, c), v128.mul<T>(v128.load(at<T>(y, c)), v128.sub<T>(v128.load(at<T>(g, c)), vd)));
    }
  }
  for (; c < C; c++) {
    const p = <usize>c * stride;
    store<T>(dx + p, <T>(<f64>load<T>(y + p) * (<f64>load<T>(g + p) - dot)));
  }
}

// The columns path (class dim not last, SIMD build): positions in lanes.

/** The per-position log of the sums s0 (and s1), as one vector of T. Not inlined: inside columns()
 *  its f64 temporaries made V8 spill the exp loop's registers, and log_softmax over a non-last dim
 *  ran at twice softmax's instructions per element (bench/instructions.sh lsc/smc: 34.2 vs 17.5). */
function logSums<T>(s0: v128, s1: v128): v128 {
  return logSumsV<T>(s0, s1);
}

/** One vector of positions starting at a (b, out). Sums across classes are f64 per position, each
 *  term widened as it comes: a few instructions per vector, and the loss of a sum rounded in f32
 *  (1 + 5e-4 keeps 4 digits of the 5e-4) never shows. */
function columns<T>(op: i32, a: usize, b: usize, out: usize, C: i32, stride: usize): void {
  const zero = v128.splat<T>(<T>0);
  let s0 = f64x2.splat(0);
  let s1 = s0;
  if (op == LOG_SOFTMAX || op == SOFTMAX) {
    let m = v128.load(a);
    for (let c = 1; c < C; c++) m = v128.pmax<T>(m, v128.load(a + <usize>c * stride));
    // pmax may skip a NaN, which still reaches the sum through its exp.
    const k0 = expK<T>(0, false), k1 = expK<T>(1, false), k2 = expK<T>(2, false), k3 = expK<T>(3, false), k4 = expK<T>(4, false), k5 = expK<T>(5, false);
    const k6 = expK<T>(6, false), k7 = expK<T>(7, false), k8 = expK<T>(8, false), k9 = expK<T>(9, false), kc = expK<T>(10, false), ku = expK<T>(11, false);
    for (let c = 0; c < C; c++) {
      const e = expWith<T>(v128.sub<T>(v128.load(a + <usize>c * stride), m), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, kc, ku, false);
      if (op == SOFTMAX) v128.store(out + <usize>c * stride, e);
      s0 = widen<T>(s0, e, false);
      if (sizeof<T>() == 4) s1 = widen<T>(s1, e, true);
    }
    if (op == LOG_SOFTMAX) {
      const lse = logSums<T>(s0, s1);
      for (let c = 0; c < C; c++) {
        v128.store(out + <usize>c * stride, v128.sub<T>(v128.sub<T>(v128.load(a + <usize>c * stride), m), lse));
      }
    } else {
      // Normalise the stored exps, flushing would-be subnormal products as rowScale does.
      const one = f64x2.splat(1);
      const r = narrow<T>(f64x2.div(one, s0), f64x2.div(one, s1));
      const tiny = v128.div<T>(minNormalV<T>(), r);
      for (let c = 0; c < C; c++) {
        const q = out + <usize>c * stride;
        const v = v128.load(q);
        v128.store(q, v128.mul<T>(flushBelow<T>(v, tiny), r));
      }
    }
    return;
  }
  // Backward: pass 1 sums g (log_softmax) or g y (softmax) per position.
  let positive = zero;
  for (let c = 0; c < C; c++) {
    const p = <usize>c * stride;
    const g = v128.load(a + p);
    const y = v128.load(b + p);
    let v = g;
    if (op == LOG_SOFTMAX_BACKWARD) positive = v128.or(positive, v128.gt<T>(y, zero));
    else v = v128.mul<T>(g, y);
    s0 = widen<T>(s0, v, false);
    if (sizeof<T>() == 4) s1 = widen<T>(s1, v, true);
  }
  const sum = narrow<T>(s0, s1);
  if (op == SOFTMAX_BACKWARD) {
    for (let c = 0; c < C; c++) {
      const p = <usize>c * stride;
      v128.store(out + p, v128.mul<T>(v128.load(b + p), v128.sub<T>(v128.load(a + p), sum)));
    }
    return;
  }
  if (v128.any_true(positive)) {
    // A y above 0 (see logSoftmaxBackwardRow): these positions one by one, with the scalar exp.
    for (let l = 0; l < lanes<T>(); l++) {
      const p = <usize>l << alignof<T>();
      logSoftmaxBackwardRow<T>(a + p, b + p, out + p, C, stride);
    }
    return;
  }
  const k0 = expK<T>(0, true), k1 = expK<T>(1, true), k2 = expK<T>(2, true), k3 = expK<T>(3, true), k4 = expK<T>(4, true), k5 = expK<T>(5, true);
  const k6 = expK<T>(6, true), k7 = expK<T>(7, true), k8 = expK<T>(8, true), k9 = expK<T>(9, true), kc = expK<T>(10, true), ku = expK<T>(11, true);
  for (let c = 0; c < C; c++) {
    const p = <usize>c * stride;
    const e = expWith<T>(v128.load(b + p), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, kc, ku, true);
    v128.store(out + p, nmaddV<T>(e, sum, v128.load(a + p)));
  }
}

// Lane-wise scratch of tileColumns, one block per thread slot (src/threads.ts): for each of up
// to TILE_VECTORS vectors of positions, its max M and a second per-position value P (T), and the
// f64 sums S (two f64x2 per vector of f32, one of f64).
const TILE_VECTORS: i32 = 32; // at most this many vectors per walk (the scratch's size)
const TILE_BYTES: i32 = 16384;
const COLS_BYTES: usize = <usize>TILE_VECTORS * (16 + 16 + 32);
const COLS = memory.data(<i32>COLS_BYTES * MAX_THREADS, 64);
let COL_M = COLS;
let COL_P = COLS + <usize>TILE_VECTORS * 16;
let COL_S = COLS + <usize>TILE_VECTORS * 32;

/** Points this instance's column scratch at thread slot k's block. */
export function softmaxScratchSlot(k: i32): void {
  COL_M = COLS + <usize>k * COLS_BYTES;
  COL_P = COL_M + <usize>TILE_VECTORS * 16;
  COL_S = COL_M + <usize>TILE_VECTORS * 32;
}

/** columns() for nv vectors of positions (4 <= nv <= TILE_VECTORS) at once, keeping the
 *  per-position values in the COL_ scratch instead of registers (too many for several vectors and
 *  the exp's constants). For strides that are multiples of 512 bytes: the class rows of one position then
 *  share a few of L1's sets, and with one vector per walk of the classes the lines it read were
 *  evicted before the next vector of the same lines came. Raw kernel, f32, ns/elem, softmax /
 *  logSoftmax / softmaxBackward, one vector per walk -> this: [1, 64, 1024] (a 256 KB slice, in L2)
 *  5.5 / 4.6 / 5.4 -> 2.0 / 2.2 / 0.9; [2, 21, 16384] (128 x 128 images) 6.6 / 5.1 / 5.6 -> 2.1 /
 *  2.4 / 0.9; [64, 4, 1024] 3.1 / 4.5 / 1.7 -> 2.2 / 3.7 / 1.0. Walking 16 KB of the slice at a
 *  time also reads each row in runs of up to 512 bytes, which the hardware prefetcher follows
 *  better than a line at a time: [16, 64, 1024] (4 MB, as a wasmArray is read in place)
 *  softmaxBackward 8.3 with one line per walk, 1.1 with 32. On other strides the scratch
 *  traffic costs more than it saves (inner 1000, one line per walk: 3.1 -> 3.6, 2.7 -> 3.6,
 *  1.2 -> 1.9) and columns() runs: the same bits (tests/shapes.test.ts). */
function tileColumns<T>(op: i32, a: usize, b: usize, out: usize, C: i32, stride: usize, nv: i32): void {
  const zero = v128.splat<T>(<T>0);
  for (let k = 0; k < nv; k++) {
    v128.store(COL_S + <usize>k * 32, f64x2.splat(0));
    v128.store(COL_S + <usize>k * 32, f64x2.splat(0), 16);
  }
  if (op == LOG_SOFTMAX || op == SOFTMAX) {
    for (let k = 0; k < nv; k++) v128.store(COL_M + <usize>k * 16, v128.load(a + <usize>k * 16));
    for (let c = 1; c < C; c++) {
      const q = a + <usize>c * stride;
      for (let k = 0; k < nv; k++) {
        const pm = COL_M + <usize>k * 16;
        v128.store(pm, v128.pmax<T>(v128.load(pm), v128.load(q + <usize>k * 16)));
      }
    }
    // pmax may skip a NaN, which still reaches the sum through its exp.
    const k0 = expK<T>(0, false), k1 = expK<T>(1, false), k2 = expK<T>(2, false), k3 = expK<T>(3, false), k4 = expK<T>(4, false), k5 = expK<T>(5, false);
    const k6 = expK<T>(6, false), k7 = expK<T>(7, false), k8 = expK<T>(8, false), k9 = expK<T>(9, false), kc = expK<T>(10, false), ku = expK<T>(11, false);
    for (let c = 0; c < C; c++) {
      const q = a + <usize>c * stride;
      for (let k = 0; k < nv; k++) {
        const v = <usize>k * 16;
        const e = expWith<T>(v128.sub<T>(v128.load(q + v), v128.load(COL_M + v)), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, kc, ku, false);
        if (op == SOFTMAX) v128.store(out + <usize>c * stride + v, e);
        addSums<T>(COL_S + <usize>k * 32, e);
      }
    }
    if (op == LOG_SOFTMAX) {
      for (let k = 0; k < nv; k++) {
        const ps = COL_S + <usize>k * 32;
        v128.store(COL_P + <usize>k * 16, logSums<T>(v128.load(ps), v128.load(ps, 16)));
      }
      for (let c = 0; c < C; c++) {
        const q = <usize>c * stride;
        for (let k = 0; k < nv; k++) {
          const v = <usize>k * 16;
          v128.store(out + q + v, v128.sub<T>(v128.sub<T>(v128.load(a + q + v), v128.load(COL_M + v)), v128.load(COL_P + v)));
        }
      }
    } else {
      // Normalise the stored exps, flushing would-be subnormal products as rowScale does: P holds
      // 1 / S, M the threshold below which an exp is flushed.
      const one = f64x2.splat(1);
      for (let k = 0; k < nv; k++) {
        const ps = COL_S + <usize>k * 32;
        const r = narrow<T>(f64x2.div(one, v128.load(ps)), f64x2.div(one, v128.load(ps, 16)));
        v128.store(COL_P + <usize>k * 16, r);
        v128.store(COL_M + <usize>k * 16, v128.div<T>(minNormalV<T>(), r));
      }
      for (let c = 0; c < C; c++) {
        const q = out + <usize>c * stride;
        for (let k = 0; k < nv; k++) {
          const v = <usize>k * 16;
          const e = v128.load(q + v);
          v128.store(q + v, v128.mul<T>(flushBelow<T>(e, v128.load(COL_M + v)), v128.load(COL_P + v)));
        }
      }
    }
    return;
  }
  // Backward: pass 1 sums g (log_softmax) or g y (softmax) per position.
  let positive = zero;
  for (let c = 0; c < C; c++) {
    const p = <usize>c * stride;
    for (let k = 0; k < nv; k++) {
      const v = p + <usize>k * 16;
      const g = v128.load(a + v);
      const y = v128.load(b + v);
      if (op == LOG_SOFTMAX_BACKWARD) {
        positive = v128.or(positive, v128.gt<T>(y, zero));
        addSums<T>(COL_S + <usize>k * 32, g);
      } else {
        addSums<T>(COL_S + <usize>k * 32, v128.mul<T>(g, y));
      }
    }
  }
  for (let k = 0; k < nv; k++) {
    const ps = COL_S + <usize>k * 32;
    v128.store(COL_P + <usize>k * 16, narrow<T>(v128.load(ps), v128.load(ps, 16)));
  }
  if (op == SOFTMAX_BACKWARD) {
    for (let c = 0; c < C; c++) {
      const p = <usize>c * stride;
      for (let k = 0; k < nv; k++) {
        const v = p + <usize>k * 16;
        v128.store(out + v, v128.mul<T>(v128.load(b + v), v128.sub<T>(v128.load(a + v), v128.load(COL_P + <usize>k * 16))));
      }
    }
    return;
  }
  if (v128.any_true(positive)) {
    // A y above 0 (see logSoftmaxBackwardRow): vector by vector, as columns() does them (the same
    // bits whichever path a vector takes).
    for (let k = 0; k < nv; k++) {
      const v = <usize>k * 16;
      columns<T>(op, a + v, b + v, out + v, C, stride);
    }
    return;
  }
  const k0 = expK<T>(0, true), k1 = expK<T>(1, true), k2 = expK<T>(2, true), k3 = expK<T>(3, true), k4 = expK<T>(4, true), k5 = expK<T>(5, true);
  const k6 = expK<T>(6, true), k7 = expK<T>(7, true), k8 = expK<T>(8, true), k9 = expK<T>(9, true), kc = expK<T>(10, true), ku = expK<T>(11, true);
  for (let c = 0; c < C; c++) {
    const p = <usize>c * stride;
    for (let k = 0; k < nv; k++) {
      const v = p + <usize>k * 16;
      const e = expWith<T>(v128.load(b + v), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, kc, ku, true);
      v128.store(out + v, nmaddV<T>(e, v128.load(COL_P + <usize>k * 16), v128.load(a + v)));
    }
  }
}

/** Adds a vector of T to its positions' f64 sums at ps (lanes 0-1 at ps, lanes 2-3 at ps + 16 for f32). */
// @ts-ignore: decorator
@inline function addSums<T>(ps: usize, v: v128): void {
  v128.store(ps, widen<T>(v128.load(ps), v, false));
  if (sizeof<T>() == 4) v128.store(ps, widen<T>(v128.load(ps, 16), v, true), 16);
}
