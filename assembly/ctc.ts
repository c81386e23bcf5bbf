// CTC loss (Graves et al. 2006) and its gradient, as PyTorch 1.13's CPU kernel computes them
// (aten/src/ATen/native/LossCTC.cpp), forward beside backward.
//
// For one batch element with S labels l_1..l_S and input length Tb, the extended sequence
// l' = (blank, l_1, blank, l_2, ..., l_S, blank) has L = 2S + 1 states. In log space, with
// y_t(s) = logProbs[t][l'(s)]:
//   alpha_0(0) = y_0(0),  alpha_0(1) = y_0(1),  alpha_0(s) = -inf otherwise
//   alpha_t(s) = lse(alpha_{t-1}(s), alpha_{t-1}(s-1), [skip(s)] alpha_{t-1}(s-2)) + y_t(s)
// where skip(s) holds when l'(s) is a label different from l'(s-2) (a blank may be jumped over
// only between two different labels), and
//   nll = -lse(alpha_{Tb-1}(L-1), alpha_{Tb-1}(L-2))   (-alpha_{Tb-1}(0) when S = 0).
// beta is the same recursion run backwards (it includes y_t(s), as in PyTorch), so it is computed
// here as the alpha of the reversed problem: time reversed, labels reversed. Then
//   beta_t(s) = alphaRev_{Tb-1-t}(L-1-s).
// PyTorch's gradient with respect to log_probs (its native backward, which assumes the input is a
// log_softmax output and so folds the softmax Jacobian's exp(lp) term in) is, with g the upstream
// gradient of this element's loss,
//   grad_t(c) = (exp(lp_t(c)) - sum_{s: l'(s) = c} exp(alpha_t(s) + beta_t(s) + nll - lp_t(c))) g
// for t < Tb, and 0 for t >= Tb. PyTorch sums the second term in log space; here it is summed
// in linear space (each term is a posterior occupation probability, at most 1), one exp per state.
// Like PyTorch: an impossible alignment (nll = +inf) gives NaN for t < Tb (0 with zeroInfinity),
// and a -inf log-probability gives NaN in its own gradient entry (PyTorch computes -inf - -inf).
//
// Precision: everything runs in f64 whatever T is. For float32 input, alpha and nll reach
// hundreds or thousands, and the gradient's exponent alpha + beta + nll - lp cancels them down to
// O(1): float32's ulp at 1000 (6e-5) would show directly in the gradient.
//
// Vectorisation (SIMD build): every state of row t depends only on row t-1, so a row is computed
// two states per f64x2 vector. A row is stored with two leading -inf pads (so s-1 and s-2 are
// always loadable) and one trailing slack entry (the odd lane of the last vector): row width
// W = L + 3 = 2S + 4, state s at index s + 2. Lane 0 of every vector is an even state (the blank),
// lane 1 an odd one (a label), so the emission vector is (y_blank, y_label).

import { at } from "./math";
import { expV, log64V } from "./simd";

const NEG_INF: f64 = -Infinity;

/** f64 entries per stored row for S labels (see above). */
// @ts-ignore: decorator
@inline export function ctcRowWidth(S: i32): i32 {
  return 2 * S + 4;
}

/** PyTorch's log(exp(a) + exp(b) + exp(c)): the max is subtracted first, and an all -inf triple
 *  gives -inf (its max is replaced by 0 to avoid -inf - -inf). */
// @ts-ignore: decorator
@inline function lse3(a: f64, b: f64, c: f64): f64 {
  let m = a;
  if (b > m) m = b;
  if (c > m) m = c;
  if (m == NEG_INF) m = 0;
  return Math.log(Math.exp(a - m) + Math.exp(b - m) + Math.exp(c - m)) + m;
}

/** lse3 on two states at once. With hi >= mid >= lo the sum is 1 + exp(mid - hi) + exp(lo - hi),
 *  in [1, 3], so two exps and one log on a well-scaled argument. (hi - hi) is 0, or NaN when hi is
 *  +inf or NaN, as PyTorch's exp(a - max) is. A lane whose max is -inf is -inf. */
// @ts-ignore: decorator
@inline function lse3V(a: v128, b: v128, c: v128, negInf: v128, one: v128): v128 {
  const lo1 = f64x2.min(a, b);
  const hi1 = f64x2.max(a, b);
  const hi = f64x2.max(hi1, c);
  const mid = f64x2.max(lo1, f64x2.min(hi1, c));
  const lo = f64x2.min(lo1, c);
  let sum = f64x2.add(expV<f64>(f64x2.sub(mid, hi)), expV<f64>(f64x2.sub(lo, hi)));
  sum = f64x2.add(f64x2.add(sum, one), f64x2.sub(hi, hi));
  return v128.bitselect(negInf, f64x2.add(hi, log64V(sum)), f64x2.eq(hi, negInf));
}

/** Fills `mask` (W i64 entries, indexed by state s) with all-ones
 *  where the skip transition into state s is allowed: s = 2k + 1 odd, k >= 1, l_k != l_{k-1}.
 *  `labels` holds S labels plus a blank pad (read by the slack lane). */
function fillSkipMask(mask: usize, labels: usize, S: i32, W: i32): void {
  memory.fill(mask, 0, <usize>W << 3);
  for (let k = 1; k < S; k++) {
    if (load<i32>(labels + (<usize>k << 2)) != load<i32>(labels + (<usize>(k - 1) << 2))) {
      store<i64>(mask + (<usize>(2 * k + 1) << 3), -1);
    }
  }
}

/** Row 0 of the recursion at `row`: y(0) for the blank, y(1) for the first label, -inf elsewhere. */
function firstRow<T>(row: usize, lpRow: usize, labels: usize, S: i32, blank: i32, W: i32): void {
  for (let i = 0; i < W; i++) store<f64>(row + (<usize>i << 3), NEG_INF);
  store<f64>(row + 16, <f64>load<T>(at<T>(lpRow, blank)));
  if (S > 0) store<f64>(row + 24, <f64>load<T>(at<T>(lpRow, load<i32>(labels))));
}

/** One step of the recursion: row `cur` from row `prev` and the log-probabilities `lpRow`. */
function stepRow<T>(prev: usize, cur: usize, lpRow: usize, labels: usize, mask: usize, S: i32, blank: i32): void {
  const L = 2 * S + 1;
  const yBlank = <f64>load<T>(at<T>(lpRow, blank));
  if (ASC_FEATURE_SIMD) {
    const negInf = f64x2.splat(NEG_INF);
    const one = f64x2.splat(1.0);
    const blankV = f64x2.splat(yBlank);
    for (let s = 0; s < L; s += 2) {
      const p = prev + (<usize>s << 3);
      const a = v128.load(p, 16); // states s, s+1
      const b = v128.load(p, 8);  // s-1, s
      const c = v128.bitselect(v128.load(p), negInf, v128.load(mask + (<usize>s << 3))); // s-2, s-1
      const y = f64x2.replace_lane(blankV, 1, <f64>load<T>(at<T>(lpRow, load<i32>(labels + (<usize>(s >> 1) << 2)))));
      v128.store(cur + (<usize>s << 3), f64x2.add(lse3V(a, b, c, negInf, one), y), 16);
    }
    store<f64>(cur + (<usize>(L + 2) << 3), NEG_INF); // the slack lane
  } else {
    for (let s = 0; s < L; s++) {
      const p = prev + (<usize>s << 3);
      const c = load<i64>(mask + (<usize>s << 3)) != 0 ? load<f64>(p) : NEG_INF;
      const y = (s & 1) == 0 ? yBlank : <f64>load<T>(at<T>(lpRow, load<i32>(labels + (<usize>(s >> 1) << 2))));
      store<f64>(cur + (<usize>s << 3), lse3(load<f64>(p, 16), load<f64>(p, 8), c) + y, 16);
    }
  }
  store<f64>(cur, NEG_INF);
  store<f64>(cur, NEG_INF, 8);
}

/** Runs the recursion over `frames` rows of log-probabilities (row t at lp0 + t * lpStride bytes),
 *  storing row t at rows + t * W * 8 when `keepAll`, else alternating between two rows. Returns
 *  the address of the last row. */
function recursion<T>(lp0: usize, lpStride: isize, frames: i32, labels: usize, mask: usize, S: i32, blank: i32, rows: usize, keepAll: bool): usize {
  const W = ctcRowWidth(S);
  const rowBytes = <usize>W << 3;
  firstRow<T>(rows, lp0, labels, S, blank, W);
  let prev = rows;
  for (let t = 1; t < frames; t++) {
    const cur = keepAll ? rows + <usize>t * rowBytes : rows + (<usize>(t & 1)) * rowBytes;
    stepRow<T>(prev, cur, lp0 + <usize>(<isize>t * lpStride), labels, mask, S, blank);
    prev = cur;
  }
  return prev;
}

/** PyTorch's nll from the last alpha row: -lse(alpha(L-1), alpha(L-2)), or -alpha(0) when S = 0. */
function finalNll(row: usize, S: i32): f64 {
  if (S == 0) return -load<f64>(row, 16);
  const l1 = load<f64>(row + (<usize>(2 * S + 2) << 3));
  const l2 = load<f64>(row + (<usize>(2 * S + 1) << 3));
  let m = max(l1, l2);
  if (m == NEG_INF) m = 0;
  return -(Math.log(Math.exp(l1 - m) + Math.exp(l2 - m)) + m);
}

/**
 * CTC loss for N batch elements of logProbs (T, N, C) in T. `targets` holds every element's
 * labels (validated: in 0..C-1, never the blank), element b's at targets + offsets[b] * 4;
 * `targetLengths` and `inputLengths` are validated (0 <= inputLength <= T). Writes each element's
 * nll (f64) to `nll`. When grad != 0 also writes the gradient (T, N, C) in T, element b scaled by
 * the f64 gradScale[b]; `scratch` is laid out below. zeroInfinity zeroes the gradient of elements whose nll is +inf.
 * An element with inputLength 0 has nll 0 when its target is empty and +inf otherwise (the
 * empty input emits only the empty sequence), and a zero gradient.
 */
export function ctcLoss<T>(
  lp: usize, T: i32, N: i32, C: i32, blank: i32,
  targets: usize, offsets: usize, targetLengths: usize, inputLengths: usize, maxS: i32,
  zeroInfinity: bool, nll: usize, grad: usize, gradScale: usize, scratch: usize,
): void {
  // scratch (src/ops/ctc.ts sizes it): alpha rows (max(T, 2) of width W), two beta rows, two skip
  // masks (W each), the per-class sums (C, rounded up to even), two label arrays (S + 1 each,
  // rounded up to a multiple of 4)
  const Wmax = <usize>ctcRowWidth(maxS);
  const alpha = scratch;
  const beta = alpha + <usize>max(T, 2) * Wmax * 8;
  const maskF = beta + 2 * Wmax * 8;
  const maskR = maskF + Wmax * 8;
  const sums = maskR + Wmax * 8;
  const labelsF = sums + <usize>((C + 1) & ~1) * 8;
  const labelsR = labelsF + <usize>((maxS + 4) & ~3) * 4;
  const frameStride = <isize>N * C << alignof<T>(); // bytes from (t, b) to (t + 1, b)

  for (let b = 0; b < N; b++) {
    const S = load<i32>(targetLengths + (<usize>b << 2));
    const Tb = load<i32>(inputLengths + (<usize>b << 2));
    const W = ctcRowWidth(S);
    const tg = targets + (<usize>load<i32>(offsets + (<usize>b << 2)) << 2);
    // labels forward and reversed, each with a blank pad for the slack lane
    for (let k = 0; k < S; k++) {
      const l = load<i32>(tg + (<usize>k << 2));
      store<i32>(labelsF + (<usize>k << 2), l);
      store<i32>(labelsR + (<usize>(S - 1 - k) << 2), l);
    }
    store<i32>(labelsF + (<usize>S << 2), blank);
    store<i32>(labelsR + (<usize>S << 2), blank);
    fillSkipMask(maskF, labelsF, S, W);

    const lp0 = lp + (<usize>b * C << alignof<T>()); // (t = 0, b)
    let loss: f64;
    if (Tb == 0) {
      loss = S == 0 ? 0 : Infinity;
    } else {
      loss = finalNll(recursion<T>(lp0, frameStride, Tb, labelsF, maskF, S, blank, alpha, grad != 0), S);
    }
    store<f64>(nll + (<usize>b << 3), loss);
    if (grad == 0) continue;

    const g0 = grad + (<usize>b * C << alignof<T>());
    const rowBytes = <usize>C << alignof<T>();
    // rows t >= Tb get no gradient, nor do elements with nothing to differentiate
    const zeroFrom = Tb == 0 || (zeroInfinity && loss == Infinity) ? 0 : Tb;
    for (let t = zeroFrom; t < T; t++) memory.fill(g0 + <usize>(<isize>t * frameStride), 0, rowBytes);
    if (zeroFrom == 0) continue;
    if (!isFinite(loss)) {
      // PyTorch: exp(log-sum + nll - lp) with nll = +inf (or NaN) is NaN for every class
      for (let t = 0; t < Tb; t++) {
        const g = g0 + <usize>(<isize>t * frameStride);
        for (let c = 0; c < C; c++) store<T>(at<T>(g, c), <T>NaN);
      }
      continue;
    }
    gradient<T>(lp0, frameStride, Tb, C, S, blank, labelsF, labelsR, maskR, alpha, beta, sums, loss, load<f64>(gradScale + (<usize>b << 3)), g0);
  }
}

/** The backward pass of one element: beta rows from t = Tb-1 down to 0 (the reversed recursion),
 *  each combined at once with the stored alpha row of the same t into the gradient row. */
function gradient<T>(
  lp0: usize, frameStride: isize, Tb: i32, C: i32, S: i32, blank: i32,
  labelsF: usize, labelsR: usize, maskR: usize, alpha: usize, beta: usize, sums: usize,
  nll: f64, scale: f64, g0: usize,
): void {
  const L = 2 * S + 1;
  const W = ctcRowWidth(S);
  const rowBytes = <usize>W << 3;
  fillSkipMask(maskR, labelsR, S, W);
  let prev: usize = 0;
  for (let r = 0; r < Tb; r++) { // r: reversed time, t = Tb - 1 - r
    const t = Tb - 1 - r;
    const lpRow = lp0 + <usize>(<isize>t * frameStride);
    const cur = beta + (<usize>(r & 1)) * rowBytes;
    if (r == 0) firstRow<T>(cur, lpRow, labelsR, S, blank, W);
    else stepRow<T>(prev, cur, lpRow, labelsR, maskR, S, blank);
    prev = cur;
    const a = alpha + <usize>t * rowBytes;
    // sums[c] := sum over states s with l'(s) = c of exp(alpha_t(s) + beta_t(s) + nll - y_t(s));
    // beta_t(s) is the reversed row's state L-1-s, stored at index L+1-s.
    memory.fill(sums, 0, <usize>C << 3);
    const yBlank = <f64>load<T>(at<T>(lpRow, blank));
    let blankSum: f64 = 0;
    if (ASC_FEATURE_SIMD) {
      const blankV = f64x2.splat(yBlank);
      const nllV = f64x2.splat(nll);
      let acc = f64x2.splat(0);
      for (let s = 0; s < L; s += 2) {
        const bRev = v128.load(cur + (<usize>(L - s) << 3)); // states L-2-s, L-1-s of the reversed row
        const bt = v128.shuffle<f64>(bRev, bRev, 1, 0);      // beta_t(s), beta_t(s+1)
        const label = load<i32>(labelsF + (<usize>(s >> 1) << 2));
        const y = f64x2.replace_lane(blankV, 1, <f64>load<T>(at<T>(lpRow, label)));
        const x = f64x2.sub(f64x2.add(f64x2.add(v128.load(a + (<usize>s << 3), 16), bt), nllV), y);
        const o = expV<f64>(x);
        if (s + 1 < L) {
          acc = f64x2.add(acc, o);
          const p = sums + (<usize>label << 3);
          store<f64>(p, load<f64>(p) + f64x2.extract_lane(o, 1));
        } else {
          blankSum += f64x2.extract_lane(o, 0);
        }
      }
      blankSum += f64x2.extract_lane(acc, 0);
      // lane 1 of acc summed label terms that already went to their classes
    } else {
      for (let s = 0; s < L; s++) {
        const bt = load<f64>(cur + (<usize>(L + 1 - s) << 3));
        const label = (s & 1) == 0 ? blank : load<i32>(labelsF + (<usize>(s >> 1) << 2));
        const y = <f64>load<T>(at<T>(lpRow, label));
        const o = Math.exp(load<f64>(a + (<usize>s << 3), 16) + bt + nll - y);
        if ((s & 1) == 0) blankSum += o;
        else {
          const p = sums + (<usize>label << 3);
          store<f64>(p, load<f64>(p) + o);
        }
      }
    }
    const pb = sums + (<usize>blank << 3);
    store<f64>(pb, load<f64>(pb) + blankSum);
    gradientRow<T>(lpRow, sums, C, scale, g0 + <usize>(<isize>t * frameStride));
  }
}

/** grad(c) = (exp(lp(c)) - sums(c) + (lp(c) - lp(c))) * scale: the last term is 0, or NaN where
 *  lp(c) is -inf (or NaN), which is where PyTorch's exp(... - lp) is NaN. */
function gradientRow<T>(lpRow: usize, sums: usize, C: i32, scale: f64, g: usize): void {
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    const k = f64x2.splat(scale);
    for (; c + 2 <= C; c += 2) {
      const x = sizeof<T>() == 4
        ? f64x2.promote_low_f32x4(v128.load64_zero(at<T>(lpRow, c)))
        : v128.load(at<T>(lpRow, c));
      // expV wants x <= 0, which log-probabilities are
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
