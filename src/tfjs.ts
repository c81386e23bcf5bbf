// wasm-xent/tfjs: the loss family as TensorFlow.js functions (tf.Tensor in, tf.Tensor out).
//
// Each loss reads its input once (dataSync), and one wasm call computes the loss and, when a
// gradient tape is recording (tf.grads, optimizer.minimize, model.fit), the gradient too. The
// gradient is handed to tfjs through tf.customGrad as a plain Float32Array held by the backward
// closure: no tensor is kept alive between the passes (a saved tensor would need save() and
// would leak when no backward pass runs), and the closure goes with the tape. Targets are
// constants: no gradient flows into them.
//
// This entry imports @tensorflow/tfjs-core (an optional peer dependency); the root entry does not.

import * as tf from '@tensorflow/tfjs-core';
import { fail } from './errors.js';
import { crossEntropy as ceLoss, CrossEntropyOptions } from './ops/cross_entropy.js';
import { nllLoss as nllLossOp, NllLossOptions } from './ops/nll_loss.js';
import { focalLoss as focalLossOp, FocalLossOptions } from './ops/focal.js';
import { binaryCrossEntropy as bceOp, binaryCrossEntropyWithLogits as bceLogitsOp, BceOptions, BceWithLogitsOptions } from './ops/bce.js';
import { klDiv as klDivOp, KlDivOptions } from './ops/kl_div.js';
import { sigmoidFocalLoss as sigmoidFocalOp, SigmoidFocalLossOptions } from './ops/sigmoid_focal.js';
import { logSoftmax as logSoftmaxOp, logSoftmaxBackward, softmax as softmaxOp, softmaxBackward, SoftmaxOptions } from './ops/softmax.js';
import type { LossResult } from './ops/loss.js';
import { checkOptionsObject, own, type Tensor } from './tensor.js';

export { init, initSync } from './loader.js';

/** The options of the array API, less the ones this entry manages (the gradient flows through
 *  tfjs), with tensor-valued options also accepted as tf.Tensors. */
type TfOptions<O> = { [K in Exclude<keyof O, 'grad' | 'out' | 'gradOutput' | 'returnLse'>]?: O[K] | (K extends 'weight' | 'posWeight' ? tf.Tensor : never) };
export type TfCrossEntropyOptions = TfOptions<CrossEntropyOptions>;
export type TfNllLossOptions = TfOptions<NllLossOptions>;
export type TfFocalLossOptions = TfOptions<FocalLossOptions>;
export type TfBceOptions = TfOptions<BceOptions>;
export type TfBceWithLogitsOptions = TfOptions<BceWithLogitsOptions>;
export type TfKlDivOptions = TfOptions<KlDivOptions>;
export type TfSigmoidFocalLossOptions = TfOptions<SigmoidFocalLossOptions>;
export type TfSoftmaxOptions = { dim?: number };

/** The reduction an options type asks for, `D` when it names none. */
type ReductionOf<O, D> = 'reduction' extends keyof O ? Exclude<O['reduction' & keyof O], undefined> extends never ? D : Exclude<O['reduction' & keyof O], undefined> : D;

/** What a loss returns: a tf.Scalar for 'mean', 'sum' and 'batchmean' (`D` is the function's
 *  default), the per-position losses for 'none', and tf.Tensor when that is not known. */
export type TfLoss<O, D = 'mean'> = [ReductionOf<O, D>] extends ['none'] ? tf.Tensor : [ReductionOf<O, D>] extends ['mean' | 'sum' | 'batchmean'] ? tf.Scalar : tf.Tensor;

/** A target: a tf.Tensor, or anything the array API takes (typed arrays, number[], { data, shape }). */
export type TfTarget = tf.Tensor | import('./types.js').IndexTarget | import('./types.js').ProbabilityTarget | import('./types.js').BinaryTarget;

/** What tf.customGrad takes (its type is not exported by name). */
type CustomGrad = Parameters<typeof tf.customGrad>[0];

type Run = (input: Tensor<Float32Array>, options: Record<string, unknown>) => LossResult<Float32Array>;

/** x as { data, shape }: a float32 tf.Tensor, read once (on the CPU backend dataSync hands out
 *  the tensor's own array, on WebGL it downloads it). */
function readInput(fn: string, x: unknown): Tensor<Float32Array> {
  if (!(x instanceof tf.Tensor)) fail(fn, `input must be a tf.Tensor, got ${x === null ? 'null' : typeof x === 'object' ? (x as object).constructor?.name ?? 'Object' : typeof x}`, TypeError);
  if (x.isDisposed) fail(fn, 'input is a disposed tf.Tensor', TypeError);
  if (x.dtype !== 'float32') fail(fn, `input must be a float32 tf.Tensor, got ${x.dtype}`, TypeError);
  return { data: x.dataSync() as Float32Array, shape: x.shape };
}

/** What a function's targets hold: class indices (nllLoss, focalLoss), indices or probabilities
 *  (crossEntropy), or values of the input's shape (the element-wise losses). */
type TargetKind = 'index' | 'either' | 'float';

/** A target or tensor-valued option as the array API takes it; a tf.Tensor becomes { data, shape }.
 *  tfjs's default dtypes are converted where they mean something else than their array type
 *  says: float32 class indices (tf.tensor1d([0, 2])) of the input's rank less one become a
 *  number[], which the array API checks are whole numbers; int32 targets of the input's rank
 *  (tf.oneHot's) for a function that takes float targets become a Float32Array. */
function readTensorArg(fn: string, name: string, t: unknown, x?: unknown, kind: TargetKind = 'float'): unknown {
  if (!(t instanceof tf.Tensor)) return t;
  if (t.isDisposed) fail(fn, `${name} is a disposed tf.Tensor`, TypeError);
  if (t.dtype !== 'float32' && t.dtype !== 'int32') fail(fn, `${name} must be a float32 or int32 tf.Tensor, got ${t.dtype}`, TypeError);
  const data = t.dataSync() as Float32Array | Int32Array;
  const rank = x instanceof tf.Tensor ? x.rank : -2;
  if (t.dtype === 'float32' && kind !== 'float' && t.rank === rank - 1) return { data: Array.from(data), shape: t.shape };
  // (an int32 weight or posWeight, x not given, as its float32 values: class counts from tf.oneHot(...).sum(0); red team 45)
  if (t.dtype === 'int32' && kind !== 'index' && (t.rank === rank || x === undefined)) return { data: Float32Array.from(data), shape: t.shape };
  return { data, shape: t.shape };
}

/** The options passed on: grad/out/gradOutput refused (the tape supplies the upstream gradient),
 *  weight and posWeight read from tf.Tensors. */
function readOptions(fn: string, options: object | undefined): Record<string, unknown> {
  if (options === undefined) return Object.create(null); // (not {}: a polluted Object.prototype would be read)
  checkOptionsObject(fn, options);
  const opts = withPrototypeOf(options, ownValues(options));
  for (const key of ['grad', 'out', 'gradOutput']) {
    if (own(opts, key) && opts[key] !== undefined) fail(fn, `option '${key}' is not taken by wasm-xent/tfjs: the gradient flows through tfjs (tf.grads, optimizer.minimize, model.fit)`, TypeError);
  }
  // A loss here returns one tensor: an lse asked for would be silently dropped.
  if (own(opts, 'returnLse') && opts.returnLse !== undefined && opts.returnLse !== false) fail(fn, "option 'returnLse' is not taken by wasm-xent/tfjs (a loss returns one tensor): use tf.logSumExp(x, classDim), or the array API's crossEntropy", TypeError);
  for (const key of ['weight', 'posWeight']) if (own(opts, key)) opts[key] = readTensorArg(fn, key, opts[key]);
  return opts;
}

/** `copy` with the prototype of `options`: options inherited through a prototype stay inherited,
 *  for the function to refuse them by name (src/tensor.ts checkOptions), not dropped by the copy.
 *  Not src/modules.ts `merged`, which copies descriptors so that the function runs each getter
 *  once: readOptions reads grad, out, gradOutput, returnLse, weight and posWeight itself and
 *  replaces weight and posWeight, so its copy is of values (ownValues: each getter run once,
 *  here). */
/** The own string-keyed properties of `o` as values (each getter run once), non-enumerable ones
 *  kept and still non-enumerable: the array API and the classes read such an option (a spread
 *  dropped it: `reduction: 'sum'` gave a mean), and checkOptions, which lists enumerable keys,
 *  treats them alike. */
function ownValues(o: object): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key of Object.getOwnPropertyNames(o)) {
    const { enumerable } = Object.getOwnPropertyDescriptor(o, key)!;
    Object.defineProperty(copy, key, { value: (o as Record<string, unknown>)[key], enumerable, writable: true, configurable: true });
  }
  return copy;
}

function withPrototypeOf(options: object, copy: Record<string, unknown>): Record<string, unknown> {
  const proto = Object.getPrototypeOf(options);
  if (proto !== Object.prototype) Object.setPrototypeOf(copy, proto);
  return copy;
}

/**
 * Runs one loss on x and returns it as a tensor: a scalar for 'mean' / 'sum' (and 'batchmean'),
 * the per-position losses for 'none' (the input's shape without the class dim `classDim`, or the
 * input's shape for element-wise losses, classDim null). The gradient is computed in the same
 * call when a tape is recording; the backward pass multiplies it by the upstream gradient dy.
 */
function lossOp(fn: string, x: unknown, options: Record<string, unknown>, classDim: number | null, run: Run): tf.Tensor {
  const input = readInput(fn, x);
  // Asked before the op runs: inside customGrad's forward function the tape is paused.
  const taping = tf.engine().isTapeOn();
  const op = tf.customGrad(((xt: tf.Tensor) => {
    const r = run(input, withPrototypeOf(options, Object.assign(ownValues(options), { grad: taping })));
    const rank = input.shape.length;
    const dim = classDim === null ? null : classDim < 0 ? classDim + Math.max(rank, 1) : classDim;
    const lossShape = input.shape.filter((_, i) => i !== dim);
    const value = typeof r.loss === 'number' ? tf.scalar(r.loss) : tf.tensor(r.loss, lossShape, 'float32');
    const grad = r.grad;
    // The class dim's extent and what lies after it, for a per-position dy ('none').
    const classes = dim === null || rank === 0 ? 1 : input.shape[dim];
    const inner = dim === null ? 1 : input.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
    const gradFunc = (dy: tf.Tensor) => {
      // Never reached without a gradient: customGrad records a backward pass only while taping.
      if (!grad) return fail(fn, 'no gradient was computed (the loss ran outside a gradient tape)');
      return tf.tensor(times(grad, dy.dataSync() as Float32Array, typeof r.loss === 'number', classes, inner), xt.shape, 'float32');
    };
    return { value, gradFunc };
  }) as unknown as CustomGrad);
  return op(x as tf.Tensor);
}

/**
 * The gradient times the upstream gradient dy, which has the loss's shape: one number for a
 * reduced loss, or one per position ('none'; repeated over the class dim of extent `classes`,
 * before `inner` elements; classes = inner = 1 for element-wise losses). In JS rather than a
 * tf.mul: tfjs's CPU backend broadcasts [N, 1] * [N, C] several times slower than this loop, and
 * a dy of 1 (every reduced loss at the top of the graph) costs nothing.
 */
function times(grad: Float32Array, dy: Float32Array, reduced: boolean, classes: number, inner: number): Float32Array {
  if (reduced) {
    const s = dy[0];
    return s === 1 ? grad : grad.map((v) => v * s);
  }
  const out = new Float32Array(grad.length);
  const block = classes * inner;
  for (let o = 0; o * block < grad.length; o++) {
    for (let c = 0; c < classes; c++) {
      const k = (o * classes + c) * inner;
      for (let i = 0; i < inner; i++) out[k + i] = grad[k + i] * dy[o * inner + i];
    }
  }
  return out;
}

const classDimOf = (options: Record<string, unknown>, x: tf.Tensor) =>
  typeof options.dim === 'number' ? options.dim : x.rank === 1 ? 0 : 1;

/** torch.nn.functional.cross_entropy on logits `x`: class-index targets (int32, or integral float32,
 *  of x's shape without the class dim) or class probabilities (float32, x's shape). */
export function crossEntropy<O extends TfCrossEntropyOptions = {}>(x: tf.Tensor, target: TfTarget, options?: O): TfLoss<O> {
  const opts = readOptions('crossEntropy', options);
  const t = readTensorArg('crossEntropy', 'target', target, x, 'either');
  return lossOp('crossEntropy', x, opts, classDimOf(opts, x), (input, o) => ceLoss(input, t as never, o) as LossResult<Float32Array>) as TfLoss<O>;
}

/** torch.nn.functional.nll_loss on log-probabilities `x` with class-index targets. */
export function nllLoss<O extends TfNllLossOptions = {}>(x: tf.Tensor, target: TfTarget, options?: O): TfLoss<O> {
  const opts = readOptions('nllLoss', options);
  const t = readTensorArg('nllLoss', 'target', target, x, 'index');
  return lossOp('nllLoss', x, opts, classDimOf(opts, x), (input, o) => nllLossOp(input, t as never, o) as LossResult<Float32Array>) as TfLoss<O>;
}

/** Multi-class focal loss on logits `x` with class-index targets (wasm-xent's focalLoss). */
export function focalLoss<O extends TfFocalLossOptions = {}>(x: tf.Tensor, target: TfTarget, options?: O): TfLoss<O> {
  const opts = readOptions('focalLoss', options);
  const t = readTensorArg('focalLoss', 'target', target, x, 'index');
  return lossOp('focalLoss', x, opts, classDimOf(opts, x), (input, o) => focalLossOp(input, t, o)) as TfLoss<O>;
}

/** torch.nn.functional.binary_cross_entropy on probabilities `x`, targets of x's shape. */
export function binaryCrossEntropy<O extends TfBceOptions = {}>(x: tf.Tensor, target: TfTarget, options?: O): TfLoss<O> {
  const opts = readOptions('binaryCrossEntropy', options);
  const t = readTensorArg('binaryCrossEntropy', 'target', target, x);
  return lossOp('binaryCrossEntropy', x, opts, null, (input, o) => bceOp(input, t as never, o) as LossResult<Float32Array>) as TfLoss<O>;
}

/** torch.nn.functional.binary_cross_entropy_with_logits on logits `x`, targets of x's shape. */
export function binaryCrossEntropyWithLogits<O extends TfBceWithLogitsOptions = {}>(x: tf.Tensor, target: TfTarget, options?: O): TfLoss<O> {
  const opts = readOptions('binaryCrossEntropyWithLogits', options);
  const t = readTensorArg('binaryCrossEntropyWithLogits', 'target', target, x);
  return lossOp('binaryCrossEntropyWithLogits', x, opts, null, (input, o) => bceLogitsOp(input, t as never, o) as LossResult<Float32Array>) as TfLoss<O>;
}

/** torch.nn.functional.kl_div on log-probabilities `x`, targets of x's shape. */
export function klDiv<O extends TfKlDivOptions = {}>(x: tf.Tensor, target: TfTarget, options?: O): TfLoss<O> {
  const opts = readOptions('klDiv', options);
  const t = readTensorArg('klDiv', 'target', target, x);
  return lossOp('klDiv', x, opts, null, (input, o) => klDivOp(input, t, o)) as TfLoss<O>;
}

/** torchvision.ops.sigmoid_focal_loss on logits `x` (its default reduction is 'none', as there). */
export function sigmoidFocalLoss<O extends TfSigmoidFocalLossOptions = {}>(x: tf.Tensor, target: TfTarget, options?: O): TfLoss<O, 'none'> {
  const opts = readOptions('sigmoidFocalLoss', options);
  const t = readTensorArg('sigmoidFocalLoss', 'target', target, x);
  return lossOp('sigmoidFocalLoss', x, opts, null, (input, o) => sigmoidFocalOp(input, t, o)) as TfLoss<O, 'none'>;
}

type Forward = (input: Tensor<Float32Array>, options: SoftmaxOptions<Float32Array>) => Float32Array;
type Backward = (dy: Tensor<Float32Array>, y: Tensor<Float32Array>, options: SoftmaxOptions<Float32Array>) => Float32Array;

/** softmax / logSoftmax: the backward pass takes the forward output, kept as an array. */
function activation(fn: string, x: unknown, options: TfSoftmaxOptions | undefined, forward: Forward, backward: Backward): tf.Tensor {
  const input = readInput(fn, x);
  const op = tf.customGrad(((xt: tf.Tensor) => {
    const y = forward(input, { dim: options?.dim });
    const gradFunc = (dy: tf.Tensor) => tf.tensor(backward(readInput(fn, dy), { data: y, shape: input.shape }, { dim: options?.dim }), xt.shape, 'float32');
    return { value: tf.tensor(y, input.shape.slice(), 'float32'), gradFunc };
  }) as unknown as CustomGrad);
  return op(x as tf.Tensor);
}

/** log(softmax(x)) along `dim` (default -1). */
export function logSoftmax(x: tf.Tensor, options?: TfSoftmaxOptions): tf.Tensor {
  return activation('logSoftmax', x, options, logSoftmaxOp, logSoftmaxBackward);
}

/** softmax(x) along `dim` (default -1). */
export function softmax(x: tf.Tensor, options?: TfSoftmaxOptions): tf.Tensor {
  return activation('softmax', x, options, softmaxOp, softmaxBackward);
}

// Losses for model.compile({ loss }). tfjs-layers calls them as (yTrue, yPred) with yTrue of
// yPred's shape, and averages what they return: per-sample losses, as its own losses return, so
// sample weights apply per sample. The class dim is the last one (Keras's channels-last layout).

/** Softmax cross-entropy of logits yPred against one-hot or probability targets yTrue (both
 *  [N, C], or [N, ..., C]): the per-sample losses. tfjs's categoricalCrossentropy on logits. */
export function categoricalCrossentropyFromLogits(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
  return crossEntropy(yPred, yTrue, { reduction: 'none', dim: -1 });
}

/** Sigmoid binary cross-entropy of logits yPred against targets yTrue in [0, 1] (same shape): the
 *  mean over the last axis per sample, as tfjs's binaryCrossentropy returns it. */
export function binaryCrossentropyFromLogits(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mean(binaryCrossEntropyWithLogits(yPred, yTrue, { reduction: 'none' }), -1));
}
