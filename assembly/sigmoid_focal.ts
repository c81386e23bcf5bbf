// sigmoid_focal_loss (torchvision.ops.sigmoid_focal_loss, torchvision 0.14), element-wise on logits:
//
//   p = sigmoid(x),  ce = binary_cross_entropy_with_logits(x, y),  p_t = p y + (1 - p)(1 - y)
//   loss = alpha_t ce (1 - p_t)^gamma,  alpha_t = alpha y + (1 - alpha)(1 - y)  (alpha < 0: alpha_t = 1)
//
// The gradient is autograd's, step by step back through that composition (not a simplified
// closed form), so NaN and infinities come out where PyTorch's do: at p_t = 1 with 0 < gamma < 1,
// d/du u^gamma = gamma u^(gamma - 1) is +inf at u = 1 - p_t = 0 and autograd's chain turns it
// into NaN (inf * 0 in the p_t product), while gamma = 0 has a zero gradient there (pow's backward
// returns 0 for a zero exponent) and gamma >= 1 a finite one.
//
// Everything runs in f64, for float32 input too (the fixtures' reference is float64 PyTorch on the
// same values: in float32 sigmoid(x) already rounds to 1 at x = 17, in float64 at x = 37).

import { at, powFocal, upstream } from "./math";

/** Returns the sum of the losses; per-element losses to `lossOut`, the gradient (times `scale` or
 *  the per-element upstream gradient) to `grad`, when those are non-zero. */
export function sigmoidFocalLoss<T>(
  x: usize, y: usize, n: i32, alpha: f64, gamma: f64,
  lossOut: usize, grad: usize, scale: f64, gradPerElement: usize,
): f64 {
  let total: f64 = 0;
  for (let i = 0; i < n; i++) {
    const xi = <f64>load<T>(at<T>(x, i));
    const yi = <f64>load<T>(at<T>(y, i));
    // sigmoid and BCE with logits from one e = exp(-|x|), in the cancellation-free form of bce.ts
    // (x = -inf gives NaN there, as PyTorch's form does).
    const e = Math.exp(-Math.abs(xi));
    const p = xi >= 0 ? 1 / (1 + e) : e / (1 + e);
    const low = min(xi, 0.0);
    const ce = max(xi, 0.0) * (1 - yi) + max(-xi, 0.0) * yi + Math.log1p(e) + (low - low);
    const pt = p * yi + (1 - p) * (1 - yi);
    const u = 1 - pt;
    const m = gamma == 2 ? u * u : gamma == 1 ? u : powFocal(u, gamma);
    const alphaT = alpha >= 0 ? alpha * yi + (1 - alpha) * (1 - yi) : 1.0;
    const loss = alphaT * (ce * m);
    total += loss;
    if (lossOut != 0) store<T>(at<T>(lossOut, i), <T>loss);
    if (grad != 0) {
      const g = upstream<T>(gradPerElement, i, scale) * alphaT; // through alpha_t * loss
      const gCe = g * m;                                         // loss = ce * m
      const gM = g * ce;
      // m = u^gamma: pow's backward, zero for a zero exponent
      const gU = gamma == 0 ? 0.0 : gM * (gamma == 2 ? 2 * u : gamma == 1 ? 1.0 : gamma * powFocal(u, gamma - 1));
      const gPt = -gU;
      const gP = gPt * yi - gPt * (1 - yi);                      // p_t = p y + (1 - p)(1 - y)
      store<T>(at<T>(grad, i), <T>(gP * ((1 - p) * p) + gCe * (p - yi)));
    }
  }
  return total;
}
