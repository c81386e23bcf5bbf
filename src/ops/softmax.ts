// logSoftmax / softmax along any dim, and their backward passes (PyTorch's
// _log_softmax_backward_data / _softmax_backward_data: they take the forward output, not the input).

import { fail, showShape } from '../errors.js';
import { getWorkspace } from '../loader.js';
import { checkOptions, FloatArray, floatTensor, newFloatArray, normaliseDim, precisionOf, splitAt, Tensor } from '../tensor.js';

export interface SoftmaxOptions {
  /** The dim to normalise over (default -1); negative counts from the end. */
  dim?: number;
}

type Forward = (x: number, y: number, outer: number, C: number, inner: number) => void;
type Backward = (g: number, y: number, dx: number, outer: number, C: number, inner: number) => void;

function forward<A extends FloatArray>(fn: string, kernelName: string, inputArg: Tensor<A>, options?: SoftmaxOptions): A {
  const opts = checkOptions(fn, options, ['dim']);
  const input = floatTensor(fn, 'input', inputArg);
  const precision = precisionOf(input.data);
  const dim = normaliseDim(fn, opts.dim ?? -1, input.shape.length);
  const { outer, classes, inner } = splitAt(input.shape, dim);
  const n = input.data.length;
  const ws = getWorkspace(fn);
  const [p] = ws.reserve(fn, [n * (precision === 'f32' ? 4 : 8)]);
  ws.floats(precision, p, n).set(input.data);
  ws.kernel<Forward>(kernelName, precision)(p, p, outer, classes, inner);
  return ws.floats(precision, p, n).slice() as A;
}

function backward<A extends FloatArray>(fn: string, kernelName: string, gradOutputArg: Tensor<A>, outputArg: Tensor<A>, options?: SoftmaxOptions): A {
  const opts = checkOptions(fn, options, ['dim']);
  const g = floatTensor(fn, 'gradOutput', gradOutputArg);
  const y = floatTensor(fn, 'output', outputArg);
  if (g.data.constructor !== y.data.constructor) fail(fn, `gradOutput is a ${g.data.constructor.name} but output is a ${y.data.constructor.name}`, TypeError);
  if (g.shape.length !== y.shape.length || g.shape.some((d, i) => d !== y.shape[i])) {
    fail(fn, `gradOutput of shape ${showShape(g.shape)} does not match output of shape ${showShape(y.shape)}`, RangeError);
  }
  const precision = precisionOf(y.data);
  const dim = normaliseDim(fn, opts.dim ?? -1, y.shape.length);
  const { outer, classes, inner } = splitAt(y.shape, dim);
  const n = y.data.length;
  const bytes = n * (precision === 'f32' ? 4 : 8);
  const ws = getWorkspace(fn);
  const [pg, py, pdx] = ws.reserve(fn, [bytes, bytes, bytes]);
  ws.floats(precision, pg, n).set(g.data);
  ws.floats(precision, py, n).set(y.data);
  ws.kernel<Backward>(kernelName, precision)(pg, py, pdx, outer, classes, inner);
  const dx = newFloatArray(precision, n);
  dx.set(ws.floats(precision, pdx, n));
  return dx as A;
}

/** log(softmax(x)) along `dim`, computed stably (max subtraction). Mirrors torch.log_softmax. */
export function logSoftmax<A extends FloatArray>(input: Tensor<A>, options?: SoftmaxOptions): A {
  return forward('logSoftmax', 'logSoftmaxForward', input, options);
}

/** softmax(x) along `dim`. Mirrors torch.softmax. */
export function softmax<A extends FloatArray>(input: Tensor<A>, options?: SoftmaxOptions): A {
  return forward('softmax', 'softmaxForward', input, options);
}

/** d/dx of log_softmax given the upstream gradient and the forward output: g - exp(y) * sum(g). */
export function logSoftmaxBackward<A extends FloatArray>(gradOutput: Tensor<A>, output: Tensor<A>, options?: SoftmaxOptions): A {
  return backward('logSoftmaxBackward', 'logSoftmaxBackward', gradOutput, output, options);
}

/** d/dx of softmax given the upstream gradient and the forward output: y * (g - sum(g * y)). */
export function softmaxBackward<A extends FloatArray>(gradOutput: Tensor<A>, output: Tensor<A>, options?: SoftmaxOptions): A {
  return backward('softmaxBackward', 'softmaxBackward', gradOutput, output, options);
}
