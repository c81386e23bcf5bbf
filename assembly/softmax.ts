// log_softmax and softmax over one dim of an (outer, C, inner) tensor, forward beside backward.
//
// Stable form (log-sum-exp with max subtraction): with m = max_c x_c,
//   log_softmax(x)_c = (x_c - m) - log(sum_k exp(x_k - m))
// Every exp argument is <= 0, so nothing overflows at logits of 1e4 (f32) or 1e300 (f64); an entry
// of -inf gives exp(-inf) = 0 exactly; a row of all -inf gives m = -inf and NaN, as PyTorch does.

import { at, expT, rowExpSum, rowMaxForExp, rowScale } from "./math";
import { lanes } from "./simd";

/** Writes log_softmax(x) along the class dim into y (y may equal x). */
export function logSoftmaxForward<T>(x: usize, y: usize, outer: i32, C: i32, inner: i32): void {
  const stride = <usize>inner << alignof<T>();
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const offset = (<usize>o * C * inner + i) << alignof<T>();
      const row = x + offset;
      const m = rowMaxForExp<T>(row, C, stride);
      const logSum = Math.log(rowExpSum<T>(row, m, C, stride, 0, false)); // exps only feed a sum >= 1
      rowShift<T>(row, y + offset, C, stride, m, logSum);
    }
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

/** Gradient of log_softmax given its output y and the upstream gradient g:
 *  dx_c = g_c - exp(y_c) * sum_k g_k  (PyTorch's _log_softmax_backward_data). */
export function logSoftmaxBackward<T>(g: usize, y: usize, dx: usize, outer: i32, C: i32, inner: i32): void {
  const stride = <usize>inner << alignof<T>();
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const offset = (<usize>o * C * inner + i) << alignof<T>();
      let sumG: f64 = 0;
      for (let c = 0; c < C; c++) sumG += <f64>load<T>(g + offset + <usize>c * stride);
      for (let c = 0; c < C; c++) {
        const p = offset + <usize>c * stride;
        store<T>(dx + p, <T>(<f64>load<T>(g + p) - <f64>expT<T>(load<T>(y + p)) * sumG));
      }
    }
  }
}

/** Writes softmax(x) along the class dim into y (y may equal x): the exps are stored first and
 *  normalised in a second pass, so there is one exp per element. */
export function softmaxForward<T>(x: usize, y: usize, outer: i32, C: i32, inner: i32): void {
  const stride = <usize>inner << alignof<T>();
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const offset = (<usize>o * C * inner + i) << alignof<T>();
      const row = x + offset;
      const out = y + offset;
      const m = rowMaxForExp<T>(row, C, stride);
      const sum = rowExpSum<T>(row, m, C, stride, out, false); // exp / sum <= exp: see rowScale
      rowScale<T>(out, C, stride, 1.0 / sum, 0, 0);
    }
  }
}

/** Gradient of softmax given its output y and the upstream gradient g:
 *  dx_c = y_c * (g_c - sum_k g_k y_k)  (PyTorch's _softmax_backward_data). */
export function softmaxBackward<T>(g: usize, y: usize, dx: usize, outer: i32, C: i32, inner: i32): void {
  const stride = <usize>inner << alignof<T>();
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const offset = (<usize>o * C * inner + i) << alignof<T>();
      let dot: f64 = 0;
      for (let c = 0; c < C; c++) {
        const p = offset + <usize>c * stride;
        dot += <f64>load<T>(g + p) * <f64>load<T>(y + p);
      }
      for (let c = 0; c < C; c++) {
        const p = offset + <usize>c * stride;
        store<T>(dx + p, <T>(<f64>load<T>(y + p) * (<f64>load<T>(g + p) - dot)));
      }
    }
  }
}
