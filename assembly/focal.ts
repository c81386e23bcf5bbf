// Multi-class focal loss over an (outer, C, inner) tensor of logits with class-index targets t:
//
//   lp = log_softmax(x) along C,  lp_t = lp[t],  p_t = exp(lp_t),  u = 1 - p_t
//   loss = -w_t (u^gamma lp_t)                      (0 where t is ignored)
//
// gamma = 0 is cross-entropy. The gradient is autograd's chain through that formula (the reference
// is the formula written in torch), step by step, so its NaNs are PyTorch's: with k the upstream
// gradient and G = d loss / d lp_t,
//   G = -k w_t u^gamma + (-(-k w_t lp_t) gamma u^(gamma - 1)) p_t    (the second term 0 for gamma = 0)
//   dloss/dx_c = G ([c == t] - s_c),  s = softmax(x)                 (log_softmax's backward)
// At p_t = 1 with 0 < gamma < 1, u^(gamma - 1) is +inf and G is NaN (0 * inf) or infinite, as in
// PyTorch; a target logit of -inf gives an infinite loss and, for gamma > 0, a NaN gradient row.
//
// One pass for the max, one for the exps (kept in the gradient row), one to scale them: the same
// passes and row helpers as cross-entropy. The per-position scalars are f64.

import { at, expSumRest, powFocal, rowExpSum, rowMax, rowMaxForExp, rowScale, upstream } from "./math";

/** Targets are validated i32 (0..C-1, or -1 where ignored); `weight` (C values), `lossOut`, `grad`
 *  and `gradPerPosition` may be 0. Returns the sum of the per-position losses in f64. */
export function focalLoss<T>(
  x: usize, target: usize, weight: usize, outer: i32, C: i32, inner: i32, gamma: f64,
  lossOut: usize, grad: usize, scale: f64, gradPerPosition: usize,
): f64 {
  const stride = <usize>inner << alignof<T>();
  let total: f64 = 0;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const pos = <usize>o * inner + i;
      const offset = (<usize>o * C * inner + i) << alignof<T>();
      const row = x + offset;
      const g = grad + offset;
      const t = load<i32>(target + (pos << 2));
      if (t < 0) {
        if (lossOut != 0) store<T>(at<T>(lossOut, pos), <T>0);
        if (grad != 0) ignoredGrad<T>(row, g, C, stride);
        continue;
      }
      const m = rowMaxForExp<T>(row, C, stride);
      const sum = rowExpSum<T>(row, m, C, stride, grad != 0 ? g : 0, true); // exact: the exps feed a gradient that gradOutput may scale up
      // log S as log1p(R) where 1 < S < 2, R the exps other than the max's 1 (S near 1 holds R to
      // an ulp of 1 only: [30, 0, 0] lost 5e-4 of R = 1.9e-13, hence of u and the loss; red team
      // 23), and u = 1 - p_t as 0 - expm1(lp_t), not a difference that cancels (0 - : +0 at lp_t =
      // 0). Where S rounds to 1, log S is 0 and u is 0, as PyTorch's (its p_t = 1 behaviour).
      // gamma 0 keeps crossEntropy's steps, so that it stays crossEntropy bit for bit.
      const confident = gamma != 0 && sum < 2 && sum != 1;
      const logSum = confident ? Math.log1p(expSumRest) : Math.log(sum);
      const lpt = <f64>(load<T>(row + <usize>t * stride) - m) - logSum;
      const pt = Math.exp(lpt);
      const u = 0 - Math.expm1(lpt);
      const mod = gamma == 2 ? u * u : gamma == 1 ? u : gamma == 0 ? 1.0 : powFocal(u, gamma);
      const w = weight != 0 ? <f64>load<T>(at<T>(weight, t)) : 1.0;
      const loss = -w * (mod * lpt);
      total += loss;
      if (lossOut != 0) store<T>(at<T>(lossOut, pos), <T>loss);
      if (grad != 0) {
        const gProduct = -(upstream<T>(gradPerPosition, pos, scale) * w); // d loss / d (mod lp_t)
        let G = gProduct * mod;
        if (gamma != 0) {
          const slope = gamma == 2 ? 2 * u : gamma == 1 ? 1.0 : gamma * powFocal(u, gamma - 1);
          G += -((gProduct * lpt) * slope) * pt; // through u = 1 - p_t and p_t = exp(lp_t)
        }
        // s_c = e_c / sum: scale the stored exps by -G / sum, then add G at the target, rounded to
        // T first as crossEntropy's subtractTarget does (gamma 0 is crossEntropy bit for bit; at
        // p_t = 1 the two terms cancel to 0, as in PyTorch's g - p sum(g))
        rowScale<T>(g, C, stride, -G / sum, 0, 0);
        const p = g + <usize>t * stride;
        // (a confident row's max target: G (1 - s_t) is G u, where G - G s_t cancels as above; an
        // infinite G keeps PyTorch's inf - inf, NaN)
        const exact = confident && load<T>(row + <usize>t * stride) == m && G - G == 0;
        store<T>(p, exact ? <T>(G * u) : <T>(<f64>load<T>(p) + <f64><T>G));
      }
    }
  }
  return total;
}

/** The gradient row of an ignored position: PyTorch back-propagates a zero through log_softmax,
 *  0 * exp(lp), which is 0, or NaN for the whole row when lp is NaN (a NaN or +inf logit, or a
 *  row of all -inf): as cross-entropy does. */
function ignoredGrad<T>(row: usize, g: usize, C: i32, stride: usize): void {
  const m = rowMax<T>(row, C, stride);
  const zero: T = m - m == 0 ? <T>0 : <T>NaN;
  for (let c = 0; c < C; c++) store<T>(g + <usize>c * stride, zero);
}
