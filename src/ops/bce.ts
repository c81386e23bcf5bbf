// binaryCrossEntropy (on probabilities) and binaryCrossEntropyWithLogits: element-wise losses whose
// weight and posWeight broadcast against the input under NumPy rules.

import { fail, showShape } from '../errors.js';
import { getWorkspace } from '../loader.js';
import { checkNumbers, checkOptions, FloatArray, floatTensor, isFloatArray, precisionOf, product, Tensor, tensorLike, typeName } from '../tensor.js';
import { LOSS_OPTIONS, LossOptionsBase, LossResult, LossStream, planLoss } from './loss.js';

type Broadcastable = ArrayLike<number> | { data: ArrayLike<number>; shape?: readonly number[] };

export interface BceOptions<A extends FloatArray = FloatArray> extends LossOptionsBase<A> {
  /** Rescaling weight broadcastable to the input (a bare array broadcasts along the last dim). */
  weight?: Broadcastable;
}

export interface BceWithLogitsOptions<A extends FloatArray = FloatArray> extends BceOptions<A> {
  /** Weight of positive examples, broadcast from the last dim (length C for (N, C)). */
  posWeight?: Broadcastable;
}

/** A broadcast operand reduced to the trailing block of the input it repeats over. */
interface Periodic {
  values: ArrayLike<number>;
  period: number;
}

/**
 * Reduces a weight broadcastable to `shape` to one period: with the weight's shape aligned to the
 * input's trailing dims, the first dim where it is not 1 starts a block of the input that the
 * weight covers; everything before repeats it. Entries of 1 inside that block are expanded.
 */
export function periodic(fn: string, name: string, arg: unknown, shape: readonly number[]): Periodic | null {
  if (arg === undefined || arg === null) return null;
  const { data, shape: wShape } = tensorLike(fn, name, arg, (length) => [length]);
  const values = checkNumbers(fn, name, data);
  const notBroadcastable = () => fail(fn, `${name} of shape ${showShape(wShape)} is not broadcastable to the input shape ${showShape(shape)}`, RangeError);
  if (wShape.length > shape.length) notBroadcastable();
  const aligned = [...new Array(shape.length - wShape.length).fill(1), ...wShape];
  aligned.forEach((d, i) => d !== 1 && d !== shape[i] && notBroadcastable());
  let start = aligned.findIndex((d) => d !== 1);
  if (start < 0) start = shape.length;
  const block = shape.slice(start);
  const period = product(block);
  const wBlock = aligned.slice(start);
  if (wBlock.every((d, i) => d === block[i])) return { values, period };
  // Expand size-1 dims inside the block: walk the block's indices, mapping each to the weight's.
  const expanded = new Float64Array(period);
  const index = new Array(block.length).fill(0);
  for (let i = 0; i < period; i++) {
    let w = 0;
    for (let d = 0; d < block.length; d++) w = w * wBlock[d] + (wBlock[d] === 1 ? 0 : index[d]);
    expanded[i] = values[w];
    for (let d = block.length - 1; d >= 0 && ++index[d] === block[d]; d--) index[d] = 0;
  }
  return { values: expanded, period };
}

function floatTarget(fn: string, target: unknown, input: Tensor<FloatArray>, mismatch: (t: readonly number[]) => string): FloatArray {
  const { data, shape } = tensorLike(fn, 'target', target, () => input.shape.slice());
  if (!isFloatArray(data)) fail(fn, `target must be a Float32Array or Float64Array, got ${typeName(data)}`, TypeError);
  if (shape.length !== input.shape.length || shape.some((d, i) => d !== input.shape[i])) fail(fn, mismatch(shape), RangeError);
  return data;
}

type BceKernel = (x: number, y: number, w: number, wPeriod: number, n: number, loss: number, grad: number, scale: number, gradPerElement: number) => number;
type BceLogitsKernel = (x: number, y: number, w: number, wPeriod: number, pw: number, pwPeriod: number, n: number, loss: number, grad: number, scale: number, gradPerElement: number) => number;

function run<A extends FloatArray>(
  fn: string, inputArg: Tensor<A>, target: unknown, options: unknown, logits: boolean,
): LossResult<A> {
  const opts = checkOptions(fn, options, logits ? [...LOSS_OPTIONS, 'weight', 'posWeight'] : [...LOSS_OPTIONS, 'weight']);
  const input = floatTensor(fn, 'input', inputArg);
  const x = input.data;
  const shape = input.shape;
  const y = floatTarget(fn, target, input, (t) =>
    logits
      ? `Target size (${showShape(t)}) must be the same as input size (${showShape(shape)})`
      : `Using a target size (${showShape(t)}) that is different to the input size (${showShape(shape)}) is deprecated. Please ensure they have the same size.`,
  );
  const weight = periodic(fn, 'weight', opts.weight, shape);
  const posWeight = logits ? periodic(fn, 'posWeight', opts.posWeight, shape) : null;
  if (!logits) {
    for (let i = 0; i < x.length; i++) {
      if (!(x[i] >= 0 && x[i] <= 1)) fail(fn, `all elements of input should be between 0 and 1 (input[${i}] = ${x[i]})`, RangeError);
    }
  }
  const plan = planLoss(fn, opts, x, shape);
  const precision = precisionOf(x);
  const bytes = precision === 'f32' ? 4 : 8;
  const n = x.length;
  const ws = getWorkspace(fn);
  // Stream in units of the longer weight period, so every chunk starts a period of both weights.
  const unit = Math.max(weight?.period ?? 1, posWeight?.period ?? 1);
  const units = unit === 0 ? 0 : n / unit;
  const stream = new LossStream(ws, fn, plan, precision, units, unit, 1, [{ data: x, rows: unit }, { data: y, rows: unit, type: x.constructor as Float32ArrayConstructor }], [
    weight ? weight.period * bytes : 0, posWeight ? posWeight.period * bytes : 0,
  ], unit);
  const [pw, ppw] = stream.fixed;
  if (weight) ws.floats(precision, pw, weight.period).set(weight.values);
  if (posWeight) ws.floats(precision, ppw, posWeight.period).set(posWeight.values);
  const bce = ws.kernel<BceKernel>('binaryCrossEntropy', precision);
  const bceLogits = ws.kernel<BceLogitsKernel>('binaryCrossEntropyWithLogits', precision);
  return stream.run(n, (c, scale) => {
    const [px, py] = c.inputs;
    return logits
      ? bceLogits(px, py, weight ? pw : 0, weight?.period ?? 1, posWeight ? ppw : 0, posWeight?.period ?? 1, c.count * unit, c.loss, c.grad, scale, c.gradOutput)
      : bce(px, py, weight ? pw : 0, weight?.period ?? 1, c.count * unit, c.loss, c.grad, scale, c.gradOutput);
  }) as LossResult<A>;
}

/** Binary cross-entropy between probabilities `input` in [0, 1] and `target`. Mirrors
 *  torch.nn.functional.binary_cross_entropy (log clamped at -100). */
export function binaryCrossEntropy<A extends FloatArray, O extends BceOptions<A> = {}>(input: Tensor<A>, target: import('../types.js').BinaryTarget, options?: O): import('../types.js').LossResultOf<A, O>;
export function binaryCrossEntropy<A extends FloatArray>(input: Tensor<A>, target: unknown, options?: BceOptions<A>): LossResult<A> {
  return run('binaryCrossEntropy', input, target, options, false);
}

/** Binary cross-entropy on logits, computed stably. Mirrors
 *  torch.nn.functional.binary_cross_entropy_with_logits (pos_weight broadcasts from the last dim). */
export function binaryCrossEntropyWithLogits<A extends FloatArray, O extends BceWithLogitsOptions<A> = {}>(input: Tensor<A>, target: import('../types.js').BinaryTarget, options?: O): import('../types.js').LossResultOf<A, O>;
export function binaryCrossEntropyWithLogits<A extends FloatArray>(input: Tensor<A>, target: unknown, options?: BceWithLogitsOptions<A>): LossResult<A> {
  return run('binaryCrossEntropyWithLogits', input, target, options, true);
}
