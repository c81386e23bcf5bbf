// logSoftmax / softmax along any dim, and their backward passes (PyTorch's
// _log_softmax_backward_data / _softmax_backward_data: they take the forward output, not the input).

import { fail, showShape } from '../errors.js';
import { getWorkspace } from '../loader.js';
import { callerArray, checkOptions, FloatArray, floatTensor, inputTensor, newFloatArray, normaliseDim, precisionOf, readArg, splitAt, Tensor } from '../tensor.js';
import type { HalfTensor } from '../types.js';
import { Relayout, Stream } from '../stream.js';
import { checkOut } from './loss.js';

export interface SoftmaxOptions<A extends FloatArray = FloatArray> {
  /** The dim to normalise over (default -1); negative counts from the end. */
  dim?: number;
  /** An array of the input's type and length to write the result into (then it is returned). */
  out?: A;
}

type Forward = (x: number, y: number, outer: number, C: number, inner: number) => void;
type Backward = (g: number, y: number, dx: number, outer: number, C: number, inner: number) => void;

/** Float32 chunks the kernels walk mostly in scalar code are regrouped into one long column block
 *  (Stream's 'columns', assembly/layout.ts), where the column path runs whole vectors: rows of few
 *  classes, rows whose scalar tail (C not a multiple of 4) runs the scalar exp, and a class dim
 *  followed by fewer positions than a vector holds ([N, 21, 2]). Per kernel: regroup rows of fewer
 *  than `few` classes, and rows under `tails` classes that end in a tail. Measured float32 into out
 *  (ns/elem, row path -> regrouped): softmax [524288, 2] 13.6 -> 2.3, [N, 47] 4.6 -> 2.9, [N, 64]
 *  2.0 -> 3.5 (so not there); logSoftmaxBackward [N, 6] 5.0 -> 2.9, [N, 8] 2.1 -> 2.7;
 *  softmaxBackward [N, 2] 4.2 -> 1.7, [N, 8] 1.6 -> 1.9; [N, 21, 2] 20 -> 2.4 for the forwards.
 *  Not float64: its column kernels have no tiled walk for the regrouped block's 512-byte-multiple
 *  strides, and ran slower regrouped (softmax [N, 2] 14 -> 29). */
const REGROUP: Record<string, { few: number; tails: number }> = {
  softmaxForward: { few: 16, tails: 64 },
  logSoftmaxForward: { few: 16, tails: 64 },
  logSoftmaxBackward: { few: 8, tails: 16 },
  softmaxBackward: { few: 5, tails: 0 },
};

function familyRelayout(kernelName: string, precision: string, C: number, inner: number): Relayout | undefined {
  if (precision !== 'f32') return undefined;
  const { few, tails } = REGROUP[kernelName];
  const shortRows = inner === 1 && (C < few || (C < tails && C % 4 !== 0));
  return shortRows || (inner > 1 && inner < 4) ? 'columns' : undefined;
}

function forward<A extends FloatArray>(fn: string, kernelName: string, inputArg: unknown, options?: SoftmaxOptions<A>): A {
  const opts = checkOptions(fn, options, ['dim', 'out']);
  // half-precision input: decoded per chunk in wasm, computed and returned in float32
  const input = inputTensor(fn, 'input', readArg(fn, 'input', inputArg));
  const precision = precisionOf(input.data);
  const dim = normaliseDim(fn, opts.dim ?? -1, input.shape.length);
  const { outer, classes, inner } = splitAt(input.shape, dim);
  const result = checkOut(fn, opts.out, input.data) ?? newFloatArray(precision, input.data.length);
  const ws = getWorkspace(fn);
  const stream = new Stream(ws, fn, outer, inner, [{ data: input.data, rows: classes, name: 'input', half: input.half }], [{ data: result, rows: classes, name: 'out' }], [], { relayout: familyRelayout(kernelName, precision, classes, inner) });
  const kernel = ws.kernel<Forward>(kernelName, precision);
  stream.run((c) => {
    kernel(c.inputs[0], c.outputs[0], c.count, classes, c.width);
    return 0;
  });
  return callerArray(stream.outputs[0].data as A);
}

function backward<A extends FloatArray>(fn: string, kernelName: string, gradOutputArg: Tensor<A>, outputArg: Tensor<A>, options?: SoftmaxOptions<A>): A {
  const opts = checkOptions(fn, options, ['dim', 'out']);
  const gradOutput = readArg(fn, 'gradOutput', gradOutputArg);
  const g = floatTensor(fn, 'gradOutput', gradOutput);
  const y = floatTensor(fn, 'output', readArg(fn, 'output', outputArg));
  if (g.data.constructor !== y.data.constructor) fail(fn, `gradOutput is a ${g.data.constructor.name} but output is a ${y.data.constructor.name}`, TypeError);
  if (g.shape.length !== y.shape.length || g.shape.some((d, i) => d !== y.shape[i])) {
    fail(fn, `gradOutput of shape ${showShape(g.shape)} does not match output of shape ${showShape(y.shape)}`, RangeError);
  }
  const precision = precisionOf(y.data);
  const dim = normaliseDim(fn, opts.dim ?? -1, y.shape.length);
  const { outer, classes, inner } = splitAt(y.shape, dim);
  const dx = checkOut(fn, opts.out, y.data) ?? newFloatArray(precision, y.data.length);
  const ws = getWorkspace(fn);
  const lanes = [{ data: g.data, rows: classes, name: 'gradOutput' }, { data: y.data, rows: classes, name: 'output' }];
  const stream = new Stream(ws, fn, outer, inner, lanes, [{ data: dx, rows: classes, name: 'out' }], [], { relayout: familyRelayout(kernelName, precision, classes, inner) });
  const kernel = ws.kernel<Backward>(kernelName, precision);
  stream.run((c) => {
    kernel(c.inputs[0], c.inputs[1], c.outputs[0], c.count, classes, c.width);
    return 0;
  });
  return callerArray(stream.outputs[0].data as A);
}

/** log(softmax(x)) along `dim`, computed stably (max subtraction). Mirrors torch.log_softmax.
 *  Half-precision input (HalfTensor) gives a Float32Array. */
export function logSoftmax<A extends FloatArray>(input: Tensor<A>, options?: SoftmaxOptions<A>): A;
export function logSoftmax(input: HalfTensor, options?: SoftmaxOptions<Float32Array>): Float32Array;
export function logSoftmax<A extends FloatArray>(input: Tensor<A> | HalfTensor, options?: SoftmaxOptions<A>): A {
  return forward('logSoftmax', 'logSoftmaxForward', input, options);
}

/** softmax(x) along `dim`. Mirrors torch.softmax. Half-precision input gives a Float32Array. */
export function softmax<A extends FloatArray>(input: Tensor<A>, options?: SoftmaxOptions<A>): A;
export function softmax(input: HalfTensor, options?: SoftmaxOptions<Float32Array>): Float32Array;
export function softmax<A extends FloatArray>(input: Tensor<A> | HalfTensor, options?: SoftmaxOptions<A>): A {
  return forward('softmax', 'softmaxForward', input, options);
}

/** d/dx of log_softmax given the upstream gradient and the forward output: g - exp(y) * sum(g). */
export function logSoftmaxBackward<A extends FloatArray>(gradOutput: Tensor<A>, output: Tensor<A>, options?: SoftmaxOptions<A>): A {
  return backward('logSoftmaxBackward', 'logSoftmaxBackward', gradOutput, output, options);
}

/** d/dx of softmax given the upstream gradient and the forward output: y * (g - sum(g * y)). */
export function softmaxBackward<A extends FloatArray>(gradOutput: Tensor<A>, output: Tensor<A>, options?: SoftmaxOptions<A>): A {
  return backward('softmaxBackward', 'softmaxBackward', gradOutput, output, options);
}
