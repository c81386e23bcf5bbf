// Element-wise binary cross-entropy, on probabilities and on logits, each with its gradient.
//
// Weights are periodic: `weight` holds `weightPeriod` values and element i uses
// weight[i % weightPeriod]. Any weight broadcastable to the input under NumPy rules is a trailing
// block of it repeated, so the caller passes that block (expanded where it broadcasts inside).
// The same holds for pos_weight. A zero pointer means "no weight".

import { at, upstream } from "./math";

/** PyTorch's gradient clamp is the float constant 1e-12 in both precisions: 9.999999960041972e-13. */
const EPSILON: f64 = <f64><f32>1e-12;

/** binary_cross_entropy on probabilities x in [0, 1] (validated by the caller):
 *    loss = -w (y max(log x, -100) + (1 - y) max(log(1 - x), -100))
 *    dloss/dx = w (x - y) / max((1 - x) x, EPSILON)
 *  The clamps are PyTorch's: they keep x = 0 and x = 1 finite. Returns the sum of the losses. */
export function binaryCrossEntropy<T>(
  x: usize, y: usize, weight: usize, weightPeriod: i32, n: i32,
  lossOut: usize, grad: usize, scale: f64, gradPerElement: usize,
): f64 {
  let total: f64 = 0;
  let j = 0;
  for (let i = 0; i < n; i++) {
    const xi = <f64>load<T>(at<T>(x, i));
    const yi = <f64>load<T>(at<T>(y, i));
    const w = weight != 0 ? <f64>load<T>(at<T>(weight, j)) : 1.0;
    if (++j == weightPeriod) j = 0;
    const logX = max(Math.log(xi), -100.0);
    const log1mX = max(Math.log1p(-xi), -100.0);
    const loss = -w * (yi * logX + (1 - yi) * log1mX);
    total += loss;
    if (lossOut != 0) store<T>(at<T>(lossOut, i), <T>loss);
    if (grad != 0) {
      const k = upstream<T>(gradPerElement, i, scale);
      store<T>(at<T>(grad, i), <T>(k * w * (xi - yi) / max((1 - xi) * xi, EPSILON)));
    }
  }
  return total;
}

/** binary_cross_entropy_with_logits. With l = log(1 + exp(-|x|)) + max(-x, 0) = -log sigmoid(x)
 *  (never overflows: the exp argument is <= 0) and pw the positive-class weight:
 *    loss = w ((1 - y) x + (1 + (pw - 1) y) l)
 *    dloss/dx = w ((1 + (pw - 1) y) sigmoid(x) - pw y)
 *  Returns the sum of the losses. */
export function binaryCrossEntropyWithLogits<T>(
  x: usize, y: usize, weight: usize, weightPeriod: i32, posWeight: usize, posWeightPeriod: i32, n: i32,
  lossOut: usize, grad: usize, scale: f64, gradPerElement: usize,
): f64 {
  let total: f64 = 0;
  let j = 0;
  let q = 0;
  for (let i = 0; i < n; i++) {
    const xi = <f64>load<T>(at<T>(x, i));
    const yi = <f64>load<T>(at<T>(y, i));
    const w = weight != 0 ? <f64>load<T>(at<T>(weight, j)) : 1.0;
    if (++j == weightPeriod) j = 0;
    const pw = posWeight != 0 ? <f64>load<T>(at<T>(posWeight, q)) : 1.0;
    if (++q == posWeightPeriod) q = 0;
    const e = Math.exp(-Math.abs(xi));
    const softplus = Math.log1p(e) + max(-xi, 0.0);
    const logWeight = 1 + (pw - 1) * yi;
    const loss = w * ((1 - yi) * xi + logWeight * softplus);
    total += loss;
    if (lossOut != 0) store<T>(at<T>(lossOut, i), <T>loss);
    if (grad != 0) {
      // sigmoid(x) from the same e = exp(-|x|): 1 / (1 + e) for x >= 0, e / (1 + e) otherwise.
      const sigmoid = xi >= 0 ? 1 / (1 + e) : e / (1 + e);
      const k = upstream<T>(gradPerElement, i, scale);
      store<T>(at<T>(grad, i), <T>(k * w * (logWeight * sigmoid - pw * yi)));
    }
  }
  return total;
}
