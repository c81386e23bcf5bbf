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

/** In the SIMD builds, chunks the kernels would walk mostly in scalar code are regrouped into one
 *  long column block (Stream's 'columns', assembly/layout.ts), where the column path runs whole
 *  vectors: rows of few classes; float32 rows whose row helpers end in scalar tails (C not a
 *  multiple of 8 for the forwards, whose tails run the scalar exp; of 4 for logSoftmaxBackward);
 *  and, in float32, a class dim followed by 2 or 3 positions ([N, 21, 2]: fewer than a vector
 *  holds; float64's two lanes take those as columns already). Per precision and kernel: rows of
 *  fewer than `few` classes, rows under `tails` classes that end in a tail, and short position runs
 *  when `runs`. From a sweep of C = 1..255 (into out, ns/elem, row path -> regrouped): float32
 *  softmax [524288, 2] 13.6 -> 2.3, [N, 20] 5.4 -> 2.8, [N, 47] 4.6 -> 2.9, [N, 24] 2.5 -> 2.9 and
 *  [N, 64] 2.0 -> 3.5 (so not those); logSoftmaxBackward [N, 6] 5.0 -> 2.9, [N, 8] 2.1 -> 2.7;
 *  softmaxBackward [N, 2] 4.2 -> 1.7, [N, 8] 1.6 -> 1.9, [N, 64, 2] 2.6 -> 3.4 (its rows have no exp:
 *  red team 33); [N, 21, 2] 20 -> 2.4 for the forwards. float64 softmax [N, 2] 16.3 -> 5.7,
 *  logSoftmax [N, 2] 20.8 -> 8.2 (plain JS 17.8), [N, 21] 6.2 -> 5.4; its backward ops gained
 *  nothing. The scalar build has no column path: regrouped, it walked the block strided (red team
 *  33: softmaxBackward [2048, 64, 2] 2.5 -> 9.5). */
const REGROUP: Record<string, Record<string, { few: number; tails: number; tail: number; runs: boolean }>> = {
  f32: {
    softmaxForward: { few: 16, tails: 64, tail: 8, runs: true },
    logSoftmaxForward: { few: 16, tails: 64, tail: 8, runs: true },
    logSoftmaxBackward: { few: 8, tails: 16, tail: 4, runs: true },
    softmaxBackward: { few: 5, tails: 0, tail: 4, runs: false },
  },
  f64: {
    softmaxForward: { few: 16, tails: 0, tail: 2, runs: false },
    logSoftmaxForward: { few: 24, tails: 0, tail: 2, runs: false },
    logSoftmaxBackward: { few: 0, tails: 0, tail: 2, runs: false },
    softmaxBackward: { few: 0, tails: 0, tail: 2, runs: false },
  },
};

function familyRelayout(simd: boolean, kernelName: string, precision: string, outer: number, C: number, inner: number): Relayout | undefined {
  // (a few positions fill no vector either way: regrouped they would only pay for the copies)
  if (!simd || outer * inner < 16) return undefined;
  const { few, tails, tail, runs } = REGROUP[precision][kernelName];
  const shortRows = inner === 1 && (C < few || (C < tails && C % tail !== 0));
  return shortRows || (runs && inner > 1 && inner < 4) ? 'columns' : undefined;
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
  const stream = new Stream(ws, fn, outer, inner, [{ data: input.data, rows: classes, name: 'input', half: input.half }], [{ data: result, rows: classes, name: 'out' }], [], { relayout: familyRelayout(ws.simd, kernelName, precision, outer, classes, inner) });
  const kernel = ws.kernel<Forward>(kernelName, precision);
  stream.run((c) => {
    kernel(c.inputs[0], c.outputs[0], c.count, classes, c.width);
    return 0;
  });
  return callerArray(stream.outputs[0].data as A);
}

function backward<A extends FloatArray>(fn: string, kernelName: string, gradOutputArg: Tensor<A>, outputArg: Tensor<A>, options?: SoftmaxOptions<A>): A {
  const opts = checkOptions(fn, options, ['dim', 'out']);
  const gradOutput = readArg(fn, 'gradOutput', gradOutputArg); // (both read, then validated: linear_cross_entropy.ts)
  const output = readArg(fn, 'output', outputArg);
  const g = floatTensor(fn, 'gradOutput', gradOutput);
  const y = floatTensor(fn, 'output', output);
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
  const stream = new Stream(ws, fn, outer, inner, lanes, [{ data: dx, rows: classes, name: 'out' }], [], { relayout: familyRelayout(ws.simd, kernelName, precision, outer, classes, inner) });
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
