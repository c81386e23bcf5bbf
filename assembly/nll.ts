// nll_loss over an (outer, C, inner) tensor of log-probabilities x with class-index targets t:
//   loss = -w_t x_t per position (0 where t == ignore_index);  dloss/dx_c = -w_t [c == t].
// 'mean' divides by the sum of w_t over non-ignored positions; the caller folds that into `scale`.

import { at, upstream } from "./math";

/** Same conventions as crossEntropyIndex: targets are validated i32, `weight`, `lossOut`, `grad`
 *  and `gradPerPosition` may be 0. Returns the sum of the per-position losses in f64. */
export function nllLoss<T>(
  x: usize, target: usize, weight: usize, outer: i32, C: i32, inner: i32,
  lossOut: usize, grad: usize, scale: f64, gradPerPosition: usize,
): f64 {
  if (grad != 0) memory.fill(grad, 0, (<usize>outer * C * inner) << alignof<T>());
  let total: f64 = 0;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const pos = <usize>o * inner + i;
      const t = load<i32>(target + (pos << 2));
      let loss: f64 = 0;
      if (t >= 0) { // t < 0: an ignored position (the caller maps ignore_index to -1)
        const element = (<usize>o * C + t) * inner + i;
        const wt = weight != 0 ? <f64>load<T>(at<T>(weight, t)) : 1.0;
        loss = -wt * <f64>load<T>(at<T>(x, element));
        if (grad != 0) store<T>(at<T>(grad, element), <T>(-wt * upstream<T>(gradPerPosition, pos, scale)));
      }
      total += loss;
      if (lossOut != 0) store<T>(at<T>(lossOut, pos), <T>loss);
    }
  }
  return total;
}
