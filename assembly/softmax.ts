// log_softmax and softmax over one dim of an (outer, C, inner) tensor, forward beside backward.
//
// Stable form (log-sum-exp with max subtraction): with m = max_c x_c,
//   log_softmax(x)_c = (x_c - m) - log(sum_k exp(x_k - m))
// Every exp argument is <= 0, so nothing overflows at logits of 1e4 (f32) or 1e300 (f64); an entry
// of -inf gives exp(-inf) = 0 exactly; a row of all -inf gives m = -inf and NaN, as PyTorch does.

import { expT, rowMax } from "./math";

/** Writes log_softmax(x) along the class dim into y (y may equal x). */
export function logSoftmaxForward<T>(x: usize, y: usize, outer: i32, C: i32, inner: i32): void {
  const stride = <usize>inner << alignof<T>();
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const offset = (<usize>o * C * inner + i) << alignof<T>();
      const row = x + offset;
      const m = rowMax<T>(row, C, stride);
      let sum: f64 = 0;
      for (let c = 0; c < C; c++) sum += <f64>expT<T>(load<T>(row + <usize>c * stride) - m);
      const logSum = Math.log(sum);
      const out = y + offset;
      for (let c = 0; c < C; c++) {
        const p = <usize>c * stride;
        store<T>(out + p, <T>(<f64>(load<T>(row + p) - m) - logSum));
      }
    }
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

/** Writes softmax(x) along the class dim into y (y may equal x). */
export function softmaxForward<T>(x: usize, y: usize, outer: i32, C: i32, inner: i32): void {
  const stride = <usize>inner << alignof<T>();
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const offset = (<usize>o * C * inner + i) << alignof<T>();
      const row = x + offset;
      const out = y + offset;
      const m = rowMax<T>(row, C, stride);
      // Store the exps first and normalise in a second pass: one exp per element.
      let sum: f64 = 0;
      for (let c = 0; c < C; c++) {
        const p = <usize>c * stride;
        const e = expT<T>(load<T>(row + p) - m);
        store<T>(out + p, e);
        sum += <f64>e;
      }
      const inv = 1.0 / sum;
      for (let c = 0; c < C; c++) {
        const p = <usize>c * stride;
        store<T>(out + p, <T>(<f64>load<T>(out + p) * inv));
      }
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
