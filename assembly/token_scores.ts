// tokenScores over an (outer, C, inner) tensor of logits: per position the log-sum-exp, the
// entropy of the softmax, the argmax and, with a target, the target's log-probability and rank;
// with K > 0 the K largest log-probabilities and their classes. An evaluation op: no gradient.
//
// With m = max_c x_c, d_c = x_c - m <= 0, e_c = exp(d_c), S = sum_c e_c >= 1 and D = sum_c e_c d_c <= 0:
//   lse       = m + log S
//   log p_c   = d_c - log S
//   entropy   = -sum_c p_c log p_c = -sum_c (e_c / S)(d_c - log S) = log S - D / S
// Both terms of the entropy are >= 0, so nothing cancels: a peaky row keeps its relative accuracy,
// if log S does: S - 1 is then below S's rounding (1 + 1e-13 carries 1e-16, a relative error of
// 1e-3 in log S: red team 20), so R, the sum of the exps other than those that are exactly 1 (the
// max's), is kept too, and where S < 2 (one exp of 1) the entropy's log S is log1p(R).
// A class with e_c = 0 (a -inf logit, or d_c below exp's underflow) adds nothing to D: 0 log 0 = 0,
// as torch.special.entr has it (the written-out -(p * log p).sum() gives NaN for a -inf logit).
//   rank      = #{c : x_c > x_t}
//   argmax    = the first c with x_c = m
// Top K, in the output row itself: the logits are scanned in class order and a logit enters only
// if it beats the worst of the K kept so far (a later equal logit never does, so ties go to the
// lower index). For K <= HEAP_K the row is kept sorted and an entry is inserted (K moves at most:
// fastest for small K); above, it is a binary heap with the worst entry at its root (log K moves
// per entry), heap-sorted once at the end, so the cost is O(C log K) for any K, K = C included.
// Then each logit is turned into its log-probability.
//
// Two passes over each row: first the max, with the target's rank and the top K from the same
// loads, then the exps (the exact exp, with gradual underflow: a subnormal exp cannot move S >= 1,
// but R and D of a confident row can be nothing else, and the fast exp's 0 lost such an entropy
// whole: red team 21, 5.3e-40 for 8.6e-37). One pass with online rescaling would cost two exps per
// element; the second pass reads a row that src/stream.ts has just brought into L2. The argmax is
// the first of the top K, or (K = 0) an early-exit scan for the first logit equal to m.
// With the class dim not last (inner > 1: dim 1 of [N, V, T], NCHW) the SIMD build computes the
// max, S and D of a vector of positions at once (columnSums: every load a whole vector), and the
// compares (rank, top K, argmax) run per position along its strided row.
//
// Rows holding a NaN, a +inf, or nothing but -inf make S NaN (exp(NaN), inf - inf, -inf - -inf):
// special() gives torch's answer per output there. torch.logsumexp treats an infinite max as 0,
// so lse is +inf with a +inf logit, -inf for a row of -inf and NaN with a NaN; softmax and
// log_softmax are NaN throughout, so entropy, logProb and every top-K value are NaN; torch.argmax
// takes NaN as the largest value (the first NaN), and so does the top-K order here.

import { MAX_THREADS } from "./threads";
import { at, expT, rowMaxForExp, withRest } from "./math";
import { addWide, expK, expWith, hmax, hsum, lanes } from "./simd";

/** expSums' results: S, D and R of the row (see the top of this file). */
let sumS: f64 = 0;
let sumD: f64 = 0;
let sumR: f64 = 0;

/**
 * Scores every position of x. `target` (i32 per position, validated: 0..C-1, or -1 where ignored)
 * may be 0, and then logProb and rank are not written; `K` may be 0, and then topV and topI are not.
 * Per-position outputs are (outer, inner) arrays; the top K are (outer, K, inner), entry k of
 * position (o, i) at (o K + k) inner + i (the caller reorders them to (outer, inner, K) when inner > 1).
 * Ignored positions get logProb NaN and rank -1.
 */
export function tokenScores<T>(
  x: usize, target: usize, outer: i32, C: i32, inner: i32, K: i32,
  lse: usize, entropy: usize, argmax: usize, logProb: usize, rank: usize, topV: usize, topI: usize,
): void {
  const L = lanes<T>();
  for (let o = 0; o < outer; o++) {
    let i = 0;
    if (ASC_FEATURE_SIMD && inner >= L) {
      // Class dim not last (dim 1 of [N, V, T], NCHW): the exps of a vector of positions at once,
      // then each position's compares (rank, top K, argmax) on its own.
      for (; i + L <= inner; i += L) {
        columnSums<T>(at<T>(x, <usize>o * C * inner + i), C, <usize>inner << alignof<T>());
        for (let l = 0; l < L; l++) position<T>(x, target, o, i + l, C, inner, K, lse, entropy, argmax, logProb, rank, topV, topI, l);
      }
    }
    for (; i < inner; i++) position<T>(x, target, o, i, C, inner, K, lse, entropy, argmax, logProb, rank, topV, topI, -1);
  }
}

/** Scores position (o, i). `lane` >= 0: its max, S and D are lane `lane` of columnSums' results;
 *  -1: they come from this position's own passes. */
function position<T>(
  x: usize, target: usize, o: i32, i: i32, C: i32, inner: i32, K: i32,
  lse: usize, entropy: usize, argmax: usize, logProb: usize, rank: usize, topV: usize, topI: usize, lane: i32,
): void {
  const stride = <usize>inner << alignof<T>();
  const pos = <usize>o * inner + i;
  const row = at<T>(x, <usize>o * C * inner + i);
  const top = <usize>o * K * inner + i;
  const t = target != 0 ? load<i32>(target + (pos << 2)) : -1;
  // Pass 1: the max, with the target's rank and the top K in the same loads when asked for.
  // (the top K without a rank count above +inf: no second variant of a large function)
  const ranked = t >= 0;
  const xt = ranked ? load<T>(row + <usize>t * stride) : <T>Infinity;
  let m = K > 0
    ? scanRankTop<T>(row, C, stride, xt, K, topV, topI, top, inner)
    : (ranked ? scanRank<T>(row, C, stride, xt, K, topV, topI, top, inner) : lane >= 0 ? <T>0 : rowMaxForExp<T>(row, C, stride));
  // Pass 2: the exps.
  if (lane >= 0) {
    m = load<T>(LANE_M + (<usize>lane << alignof<T>()));
    sumS = load<f64>(LANE_S + (<usize>lane << 3));
    sumD = load<f64>(LANE_D + (<usize>lane << 3));
    sumR = load<f64>(LANE_R + (<usize>lane << 3));
  } else {
    expSums<T>(row, m, C, stride);
  }
  if (sumS != sumS) {
    special<T>(row, C, stride, pos, t, target != 0, K, lse, entropy, argmax, logProb, rank, topV, topI, top, inner);
    return;
  }
  const logS = Math.log(sumS);
  store<T>(at<T>(lse, pos), <T>(<f64>m + logS));
  // (lse and the log-probabilities keep log S, as PyTorch's: a target's log-probability is then 0
  // where PyTorch's is, in a row whose other exps sum below S's rounding)
  store<T>(at<T>(entropy, pos), <T>((sumS < 2 ? Math.log1p(sumR) : logS) - sumD / sumS));
  // the first of the top K is the first max (ties go to the lower class)
  store<i32>(argmax + (pos << 2), K > 0 ? load<i32>(topI + (top << 2)) : firstEqual<T>(row, m, C, stride));
  if (target != 0) {
    store<T>(at<T>(logProb, pos), ranked ? <T>((<f64>xt - <f64>m) - logS) : <T>NaN);
    store<i32>(rank + (pos << 2), ranked ? scanCount : -1);
  }
  for (let k = 0; k < K; k++) {
    const p = at<T>(topV, top + <usize>k * inner);
    store<T>(p, <T>((<f64>load<T>(p) - <f64>m) - logS));
  }
}

/** columnSums' results per lane: the max (T), S, D and R (f64). */
// One block per thread (src/threads.ts), as crossEntropy's.
const LANES = memory.data(112 * MAX_THREADS, 16);
let LANE_M = LANES;
let LANE_S = LANES + 16;
let LANE_D = LANES + 48;
let LANE_R = LANES + 80;

/** Points this instance's column scratch at thread slot k's block. */
export function tokenScoresScratchSlot(k: i32): void {
  LANE_M = LANES + <usize>k * 112;
  LANE_S = LANE_M + 16;
  LANE_D = LANE_M + 48;
  LANE_R = LANE_M + 80;
}

/** The max, S and D of the positions of one vector (class c of lane l at base + c stride + l size),
 *  into LANE_M, LANE_S, LANE_D and LANE_R. The sums are f64 per position, each term widened as it comes. */
function columnSums<T>(base: usize, C: i32, stride: usize): void {
  let vm = v128.load(base);
  for (let c = 1; c < C; c++) vm = v128.pmax<T>(vm, v128.load(base + <usize>c * stride));
  const k0 = expK<T>(0, true), k1 = expK<T>(1, true), k2 = expK<T>(2, true), k3 = expK<T>(3, true), k4 = expK<T>(4, true), k5 = expK<T>(5, true);
  const k6 = expK<T>(6, true), k7 = expK<T>(7, true), k8 = expK<T>(8, true), k9 = expK<T>(9, true), kc = expK<T>(10, true), ku = expK<T>(11, true);
  let s0 = f64x2.splat(0);
  let s1 = s0;
  let d0 = s0;
  let d1 = s0;
  let r0 = s0;
  let r1 = s0;
  const one = v128.splat<T>(<T>1);
  for (let c = 0; c < C; c++) {
    const dv = v128.sub<T>(v128.load(base + <usize>c * stride), vm);
    const e = expWith<T>(dv, k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, kc, ku, true);
    const ed = v128.mul<T>(e, v128.pmax<T>(dv, kc)); // as in expSums
    // S = the exps of 1 (the max's) + R, added last: summed from 1, exps each below half an ulp
    // of it vanished however many there were (float64 [1, 1000, 2] dim 1: lse exactly m for
    // m + 8.4e-14; red team 22)
    const isOne = v128.eq<T>(e, one);
    const rest = v128.andnot(e, isOne);
    s0 = widen<T>(s0, v128.and(e, isOne), false);
    d0 = widen<T>(d0, ed, false);
    r0 = widen<T>(r0, rest, false);
    if (sizeof<T>() == 4) {
      s1 = widen<T>(s1, v128.and(e, isOne), true);
      d1 = widen<T>(d1, ed, true);
      r1 = widen<T>(r1, rest, true);
    }
  }
  s0 = f64x2.add(r0, s0);
  s1 = f64x2.add(r1, s1);
  v128.store(LANE_M, vm);
  v128.store(LANE_S, s0);
  v128.store(LANE_S, s1, 16);
  v128.store(LANE_D, d0);
  v128.store(LANE_D, d1, 16);
  v128.store(LANE_R, r0);
  v128.store(LANE_R, r1, 16);
}

/** s + the low (or high) f64 pair of a vector of T (all of it for f64). */
// @ts-ignore: decorator
@inline function widen<T>(s: v128, part: v128, high: bool): v128 {
  if (sizeof<T>() == 8) return f64x2.add(s, part);
  return f64x2.add(s, f64x2.promote_low_f32x4(high ? v128.shuffle<f32>(part, part, 2, 3, 0, 1) : part));
}

/** S, D and R of one row (into sumS, sumD and sumR), accumulated in f64. */
function expSums<T>(row: usize, m: T, C: i32, stride: usize): void {
  let c = 0;
  let s: f64 = 0;
  let d: f64 = 0;
  let r: f64 = 0;
  let ones: f64 = 0;
  if (ASC_FEATURE_SIMD) if (stride == sizeof<T>() && C >= lanes<T>()) {
    // One vector per step: S and D need four accumulators beside exp's constants, and two vectors
    // per step would not fit V8's 16 vector registers.
    const L = lanes<T>();
    const end = C - C % L;
    const vm = v128.splat<T>(m);
    const k0 = expK<T>(0, true), k1 = expK<T>(1, true), k2 = expK<T>(2, true), k3 = expK<T>(3, true), k4 = expK<T>(4, true), k5 = expK<T>(5, true);
    const k6 = expK<T>(6, true), k7 = expK<T>(7, true), k8 = expK<T>(8, true), k9 = expK<T>(9, true), kc = expK<T>(10, true), ku = expK<T>(11, true);
    let accS = f64x2.splat(0);
    let accD = accS;
    let accR = accS;
    const one = v128.splat<T>(<T>1);
    while (c < end) {
      // Sums in T over blocks of BLOCK vectors, then widened into f64 (as math.ts's expSumVectors).
      const blockEnd = min(c + BLOCK * L, end);
      let a = v128.splat<T>(<T>0);
      let b = a;
      let rest = a;
      for (; c < blockEnd; c += L) {
        const dv = v128.sub<T>(v128.load(at<T>(row, c)), vm);
        const e = expWith<T>(dv, k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, kc, ku, true);
        a = v128.add<T>(a, e);
        rest = v128.add<T>(rest, v128.andnot(e, v128.eq<T>(e, one)));
        // e d with d clamped at exp's cutoff: where the exp gives 0 (d below the cutoff or -inf),
        // the product is 0 and not 0 * -inf = NaN; a NaN d stays NaN.
        b = v128.add<T>(b, v128.mul<T>(e, v128.pmax<T>(dv, kc)));
      }
      accS = addWide<T>(accS, a);
      accD = addWide<T>(accD, b);
      accR = addWide<T>(accR, rest);
    }
    s = hsum(accS);
    d = hsum(accD);
    r = hsum(accR);
  }
  for (; c < C; c++) {
    const dc = load<T>(row + <usize>c * stride) - m;
    const e = expT<T>(dc);
    if (e != 1) {
      s += <f64>e;
      r += <f64>e;
    } else {
      ones += 1; // added last (math.ts rowExpSum says why)
    }
    if (e != 0) d += <f64>e * <f64>dc; // skips 0 * -inf
  }
  sumS = withRest(s + ones, r); // (math.ts withRest: what the vector lane holding the 1 lost of R)
  sumD = d;
  sumR = r;
}

/** Vectors summed in T before a partial sum is widened to f64. */
const BLOCK = 16;

/** The first class whose logit equals m (the row's max, not NaN). */
function firstEqual<T>(row: usize, m: T, C: i32, stride: usize): i32 {
  let c = 0;
  if (ASC_FEATURE_SIMD) if (stride == sizeof<T>()) {
    const L = lanes<T>();
    const vm = v128.splat<T>(m);
    for (; c + L <= C; c += L) if (v128.any_true(v128.eq<T>(v128.load(at<T>(row, c)), vm))) break;
  }
  for (; c < C; c++) if (load<T>(row + <usize>c * stride) == m) return c;
  return 0; // unreachable: m is one of the row's logits
}

/** Whether logit a comes before logit b in the top-K order when a has the higher index: a larger
 *  value, or a NaN over a number (torch.argmax's order). */
// @ts-ignore: decorator
@inline function above<T>(a: T, b: T): bool {
  return a > b || (a != a && b == b);
}

/** scanWith's count of logits above the target's. */
let scanCount: i32 = 0;

// Pass 1 with the rank, or with the rank and the top K: one function each (see math.ts's rowExpSum).
function scanRank<T>(row: usize, C: i32, stride: usize, xt: T, K: i32, topV: usize, topI: usize, top: usize, inner: i32): T {
  return scanWith<T>(row, C, stride, xt, K, topV, topI, top, inner, true, false);
}

function scanRankTop<T>(row: usize, C: i32, stride: usize, xt: T, K: i32, topV: usize, topI: usize, top: usize, inner: i32): T {
  return scanWith<T>(row, C, stride, xt, K, topV, topI, top, inner, true, true);
}

/** Returns the row's max (pmax, as math.ts's rowMaxForExp: a NaN reaches S through its exp),
 *  counts the logits above xt into scanCount (`rank`) and fills the K entries of the position's
 *  top-K row (`topk`: values `inner` elements apart from element index `top`) with the first K
 *  logits, then with every later one that beats the K-th largest so far: after the first few
 *  vectors of a row that is rare, and a vector that has such a lane leaves the loop for the
 *  insertion (a call inside the loop would make V8 keep its vectors on the stack: +8 instructions
 *  per element, bench/instructions.sh tok5). */
// @ts-ignore: decorator
@inline function scanWith<T>(row: usize, C: i32, stride: usize, xt: T, K: i32, topV: usize, topI: usize, top: usize, inner: i32, rank: bool, topk: bool): T {
  let c = 0;
  let count = 0;
  let m = load<T>(row);
  const lastV = at<T>(topV, top + <usize>worstSlot(K) * inner);
  if (topk) fillTop<T>(row, stride, K, topV, topI, top, inner);
  if (ASC_FEATURE_SIMD) if (stride == sizeof<T>() && C >= 2 * lanes<T>()) {
    const L = lanes<T>();
    const vt = v128.splat<T>(xt);
    let vm = v128.load(row);
    let counts = v128.splat<i32>(0);
    let floor = topk ? v128.splat<T>(load<T>(lastV)) : vt; // the K-th largest so far
    while (true) {
      // two vectors per step: one compare of their lane-wise max against the K-th largest
      for (; c + 2 * L <= C; c += 2 * L) {
        const v0 = v128.load(at<T>(row, c));
        const v1 = v128.load(at<T>(row, c + L));
        const p = v128.pmax<T>(v0, v1);
        vm = v128.pmax<T>(vm, p);
        if (rank) {
          // a true comparison is all ones, -1 in each lane: subtracting it counts
          const g0 = v128.gt<T>(v0, vt);
          const g1 = v128.gt<T>(v1, vt);
          counts = sizeof<T>() == 4 ? i32x4.sub(i32x4.sub(counts, g0), g1) : i64x2.sub(i64x2.sub(counts, g0), g1);
        }
        if (topk) if (v128.any_true(v128.gt<T>(p, floor))) break;
      }
      if (!topk || c + 2 * L > C) break;
      insertLanes<T>(row, c, 2 * L, K, topV, topI, top, inner);
      floor = v128.splat<T>(load<T>(lastV));
      c += 2 * L;
    }
    m = hmax<T>(vm);
    if (rank) {
      count = sizeof<T>() == 4
        ? i32x4.extract_lane(counts, 0) + i32x4.extract_lane(counts, 1) + i32x4.extract_lane(counts, 2) + i32x4.extract_lane(counts, 3)
        : <i32>(i64x2.extract_lane(counts, 0) + i64x2.extract_lane(counts, 1));
    }
  }
  for (; c < C; c++) {
    const v = load<T>(row + <usize>c * stride);
    m = max<T>(m, v);
    if (rank) if (v > xt) count++;
    if (topk) if (c >= K && above<T>(v, load<T>(lastV))) offer<T>(v, c, K, topV, topI, top, inner);
  }
  if (topk) sortTop<T>(K, topV, topI, top, inner);
  scanCount = count;
  return m;
}

/** The logits of classes c .. c + count - 1 that enter a full top-K row (classes below K are in already). */
function insertLanes<T>(row: usize, c: i32, count: i32, K: i32, topV: usize, topI: usize, top: usize, inner: i32): void {
  const lastV = at<T>(topV, top + <usize>worstSlot(K) * inner);
  for (let l = 0; l < count; l++) {
    const v = load<T>(at<T>(row, c + l));
    if (c + l >= K && v > load<T>(lastV)) offer<T>(v, c + l, K, topV, topI, top, inner);
  }
}

/** The top K of a row with NaNs (special()), one logit at a time in the order above(). */
function topKScalar<T>(row: usize, C: i32, stride: usize, K: i32, topV: usize, topI: usize, top: usize, inner: i32): void {
  const lastV = at<T>(topV, top + <usize>worstSlot(K) * inner);
  fillTop<T>(row, stride, K, topV, topI, top, inner);
  for (let c = K; c < C; c++) {
    const v = load<T>(row + <usize>c * stride);
    if (above<T>(v, load<T>(lastV))) offer<T>(v, c, K, topV, topI, top, inner);
  }
  sortTop<T>(K, topV, topI, top, inner);
}

/** Above this K the top K are a heap (see the top of this file). Insertion costs about K/2 moves
 *  per entering logit, the heap about log2 K moves of two compares each, plus a final sort. Measured
 *  on [64, 32000] f32 (loaded machine, +-30%): random logits, where few logits enter after the first
 *  vectors, gave the two the same time for K = 4..64; ascending rows, where every logit enters,
 *  gave the heap 1.3x at K = 16, 3x at K = 32 and 64. tests/token_scores.test.ts has K on both sides. */
const HEAP_K = 16;

/** The slot of the worst of the K kept entries, which a logit must beat to enter: the end of the
 *  sorted row, or the heap's root. */
// @ts-ignore: decorator
@inline function worstSlot(K: i32): i32 {
  return K > HEAP_K ? 0 : K - 1;
}

/** Puts classes 0 .. K-1 into the top-K row: sorted by insertion, or as they come and then made a
 *  heap (bottom-up, O(K)). */
function fillTop<T>(row: usize, stride: usize, K: i32, topV: usize, topI: usize, top: usize, inner: i32): void {
  if (K <= HEAP_K) {
    for (let k = 0; k < K; k++) insert<T>(load<T>(row + <usize>k * stride), k, k, K, topV, topI, top, inner);
    return;
  }
  for (let k = 0; k < K; k++) {
    const here = top + <usize>k * inner;
    store<T>(at<T>(topV, here), load<T>(row + <usize>k * stride));
    store<i32>(topI + (here << 2), k);
  }
  for (let j = (K >> 1) - 1; j >= 0; j--) {
    const here = top + <usize>j * inner;
    siftDown<T>(load<T>(at<T>(topV, here)), load<i32>(topI + (here << 2)), j, K, topV, topI, top, inner);
  }
}

/** Logit v of class c (c >= K, and v beats the worst kept entry) replaces the worst entry.
 *  Inlined: a call in between cost K = 5 about 2% more instructions (bench/instructions.sh tok5). */
// @ts-ignore: decorator
@inline function offer<T>(v: T, c: i32, K: i32, topV: usize, topI: usize, top: usize, inner: i32): void {
  if (K <= HEAP_K) insert<T>(v, c, K, K, topV, topI, top, inner);
  else siftDown<T>(v, c, 0, K, topV, topI, top, inner);
}

/** Turns a heap into the sorted row (best first): the root, the worst, is swapped to the end and
 *  the heap shrinks by one, K - 1 times. The sorted row (K <= HEAP_K) is left as it is. */
function sortTop<T>(K: i32, topV: usize, topI: usize, top: usize, inner: i32): void {
  if (K <= HEAP_K) return;
  for (let n = K - 1; n > 0; n--) {
    const last = top + <usize>n * inner;
    const v = load<T>(at<T>(topV, last));
    const c = load<i32>(topI + (last << 2));
    store<T>(at<T>(topV, last), load<T>(at<T>(topV, top)));
    store<i32>(topI + (last << 2), load<i32>(topI + (top << 2)));
    siftDown<T>(v, c, 0, n, topV, topI, top, inner);
  }
}

/** Whether entry (a, ia) is worse than (b, ib): a smaller logit (NaN the largest, as above()), or
 *  an equal one of a higher class. A total order, so the heap's order is the top-K order. */
// @ts-ignore: decorator
@inline function worse<T>(a: T, ia: i32, b: T, ib: i32): bool {
  return above<T>(b, a) || (ia > ib && !above<T>(a, b));
}

/** Places entry (v, c) at heap slot j of a heap of n entries (slot k's children are 2k+1, 2k+2),
 *  moving worse children up until neither child is worse than it. */
function siftDown<T>(v: T, c: i32, j: i32, n: i32, topV: usize, topI: usize, top: usize, inner: i32): void {
  while (true) {
    let w = 2 * j + 1;
    if (w >= n) break;
    let child = top + <usize>w * inner;
    let cv = load<T>(at<T>(topV, child));
    let ci = load<i32>(topI + (child << 2));
    if (w + 1 < n) {
      const right = child + <usize>inner;
      const rv = load<T>(at<T>(topV, right));
      const ri = load<i32>(topI + (right << 2));
      if (worse<T>(rv, ri, cv, ci)) {
        w++;
        child = right;
        cv = rv;
        ci = ri;
      }
    }
    if (!worse<T>(cv, ci, v, c)) break;
    const here = top + <usize>j * inner;
    store<T>(at<T>(topV, here), cv);
    store<i32>(topI + (here << 2), ci);
    j = w;
  }
  const here = top + <usize>j * inner;
  store<T>(at<T>(topV, here), v);
  store<i32>(topI + (here << 2), c);
}

/** Inserts logit v of class c into a sorted top-K row holding n entries (n = K: the last one drops
 *  out). Not inlined: it runs rarely, outside the hot loops. */
function insert<T>(v: T, c: i32, n: i32, K: i32, topV: usize, topI: usize, top: usize, inner: i32): void {
  let j = min(n, K - 1);
  while (j > 0) {
    const prev = top + <usize>(j - 1) * inner;
    const w = load<T>(at<T>(topV, prev));
    if (!above<T>(v, w)) break;
    const here = top + <usize>j * inner;
    store<T>(at<T>(topV, here), w);
    store<i32>(topI + (here << 2), load<i32>(topI + (prev << 2)));
    j--;
  }
  const here = top + <usize>j * inner;
  store<T>(at<T>(topV, here), v);
  store<i32>(topI + (here << 2), c);
}

/** A row whose S is NaN (a NaN, a +inf, or only -inf logits): torch's values, as described at the
 *  top of this file. */
function special<T>(
  row: usize, C: i32, stride: usize, pos: usize, t: i32, hasTarget: bool, K: i32,
  lse: usize, entropy: usize, argmax: usize, logProb: usize, rank: usize, topV: usize, topI: usize, top: usize, inner: i32,
): void {
  let firstNaN = -1;
  let best = -1;
  let m: T = <T>0;
  for (let c = 0; c < C; c++) {
    const v = load<T>(row + <usize>c * stride);
    if (v != v) {
      if (firstNaN < 0) firstNaN = c;
    } else if (best < 0 || v > m) {
      best = c;
      m = v;
    }
  }
  // without a NaN, m is +inf (torch.logsumexp: inf) or every logit is -inf (log 0 = -inf)
  store<T>(at<T>(lse, pos), firstNaN >= 0 ? <T>NaN : m);
  store<T>(at<T>(entropy, pos), <T>NaN);
  store<i32>(argmax + (pos << 2), firstNaN >= 0 ? firstNaN : best);
  if (hasTarget) {
    store<T>(at<T>(logProb, pos), <T>NaN);
    // IEEE comparisons, as torch's (x > x[t]).sum(): a NaN is above nothing and has nothing above it
    let n = -1;
    if (t >= 0) {
      const xt = load<T>(row + <usize>t * stride);
      n = 0;
      for (let c = 0; c < C; c++) if (load<T>(row + <usize>c * stride) > xt) n++;
    }
    store<i32>(rank + (pos << 2), n);
  }
  if (K > 0) {
    topKScalar<T>(row, C, stride, K, topV, topI, top, inner);
    for (let k = 0; k < K; k++) store<T>(at<T>(topV, top + <usize>k * inner), <T>NaN);
  }
}
