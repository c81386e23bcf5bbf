// binaryCrossEntropy (on probabilities) and binaryCrossEntropyWithLogits: element-wise losses whose
// weight and posWeight broadcast against the input under NumPy rules.

import { fail, showShape } from '../errors.js';
import { getWorkspace } from '../loader.js';
import { asStored, checkNumbers, checkOptions, FloatArray, floatTensor, isFloatArray, precisionOf, product, readArg, sameArray, Tensor, tensorLike, typeName } from '../tensor.js';
import { LOSS_OPTIONS, LossOptionsBase, outReplaces, LossPlan, LossResult, LossStream, planLoss } from './loss.js';
import { Lane } from '../stream.js';

type Broadcastable = number | ArrayLike<number> | { data: ArrayLike<number>; shape?: readonly number[] };

export interface BceOptions<A extends FloatArray = FloatArray> extends LossOptionsBase<A> {
  /** Rescaling weight broadcastable to the input (a bare array broadcasts along the last dim). */
  weight?: Broadcastable;
}

export interface BceWithLogitsOptions<A extends FloatArray = FloatArray> extends BceOptions<A> {
  /** Weight of positive examples, broadcast from the last dim (length C for (N, C)). */
  posWeight?: Broadcastable;
}

type FloatConstructor = Float32ArrayConstructor | Float64ArrayConstructor;

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
export function periodic(fn: string, name: string, arg: unknown, shape: readonly number[], type: FloatConstructor): Periodic | null {
  if (arg === undefined || arg === null) return null;
  // A plain number is a 0-d weight: it broadcasts everywhere (posWeight: 2).
  if (typeof arg === 'number') arg = { data: [arg], shape: [] };
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
  return { values: expand(values, wBlock, block, type), period };
}

/** Broadcasts `values` (shape `from`) to `to` (same rank; `from` has 1 where `to` repeats), one dim
 *  at a time from the last: each expansion is a few fill/copyWithin calls per outer index. */
function expand(values: ArrayLike<number>, from: readonly number[], to: readonly number[], type: FloatConstructor): FloatArray {
  const out = new type(product(to));
  if (out.length === 0) return out; // a zero-size dim: nothing to broadcast into
  out.set(values);
  let inner = 1; // elements after dim d, already expanded
  const shape = from.slice();
  for (let d = to.length - 1; d >= 0; d--) {
    if (shape[d] === 1 && to[d] !== 1) {
      const outer = product(shape.slice(0, d));
      // From the last outer index down, so sources are read before they are overwritten.
      for (let o = outer - 1; o >= 0; o--) {
        const src = o * inner;
        const dst = o * to[d] * inner;
        if (inner === 1) out.fill(out[src], dst, dst + to[d]);
        else for (let r = to[d] - 1; r >= 0; r--) out.copyWithin(dst + r * inner, src, src + inner);
      }
      shape[d] = to[d];
    }
    inner *= shape[d];
  }
  return out;
}

export function floatTarget(fn: string, target: unknown, input: Tensor<FloatArray>, mismatch: (t: readonly number[]) => string): FloatArray {
  const { data, shape } = tensorLike(fn, 'target', target, (length) => (length === input.data.length ? input.shape.slice() : [length]));
  if (!isFloatArray(data) && !Array.isArray(data)) fail(fn, `target must be a Float32Array, Float64Array or an array of numbers, got ${typeName(data)}`, TypeError);
  if (shape.length !== input.shape.length || shape.some((d, i) => d !== input.shape[i])) fail(fn, mismatch(shape), RangeError);
  // Plain numbers (say, from JSON) are read in the input's float type.
  return isFloatArray(data) ? data : new (input.data.constructor as Float64ArrayConstructor)(checkNumbers(fn, 'target', data));
}

/** The kernels' arguments: x, y, weight and its period, [posWeight and its period: logits only],
 *  n, loss, grad, scale, gradPerElement (assembly/index.ts). */
type BceKernel = (...args: number[]) => number;

function run<A extends FloatArray>(
  fn: string, inputArg: Tensor<A>, target: unknown, options: unknown, logits: boolean,
): LossResult<A> {
  const opts = checkOptions(fn, options, logits ? [...LOSS_OPTIONS, 'weight', 'posWeight'] : [...LOSS_OPTIONS, 'weight']);
  // (every argument read before any is validated: a later getter that shrinks an earlier buffer
  // runs before the checks; linear_cross_entropy.ts, red team 55)
  const inputRead = readArg(fn, 'input', inputArg);
  target = readArg(fn, 'target', target);
  const input = floatTensor(fn, 'input', inputRead);
  const x = input.data;
  const shape = input.shape;
  const y = floatTarget(fn, target, input, (t) =>
    logits
      ? `Target size (torch.Size(${showShape(t)})) must be the same as input size (torch.Size(${showShape(shape)}))`
      : `Using a target size (torch.Size(${showShape(t)})) that is different to the input size (torch.Size(${showShape(shape)})) is deprecated. Please ensure they have the same size.`,
  );
  const type = x.constructor as FloatConstructor;
  const weight = periodic(fn, 'weight', opts.weight, shape, type);
  const posWeight = logits ? periodic(fn, 'posWeight', opts.posWeight, shape, type) : null;
  const plan = planLoss(fn, opts, x, shape);
  // The range check is the kernel's (below), except when `out` is the input (computed in place):
  // by the time the kernel's flag is read the input holds gradients, so the search for the
  // offending element runs here, before any of it is overwritten (and before the stream's memory
  // growth can detach a wasmArray input). An `out` that overlaps the input in part the stream refuses.
  if (!logits && sameArray(plan.out, x)) checkUnitRange(fn, x);
  const precision = precisionOf(x);
  const n = product(shape); // not x.length: a getter read since may have shrunk x's resizable buffer (the stream refuses it)
  const ws = getWorkspace(fn);
  // A weight of a short period (a per-class weight) is copied into wasm memory once and the input
  // streams in whole periods, so every chunk starts a period of both weights. A longer one (a
  // per-sample [N, 1] weight, a full-shape mask) streams beside the input instead, tiled to its
  // length: staging a whole long period at once would grow wasm memory with the input.
  const streamed = (w: Periodic | null) => w !== null && w.period > MAX_FIXED_PERIOD;
  const unit = Math.max(...[weight, posWeight].map((w) => (w && !streamed(w) ? w.period : 1)));
  const units = unit === 0 ? 0 : n / unit;
  const lanes: Lane[] = [{ data: x, rows: unit, name: 'input' }, { data: y, rows: unit, type, name: 'target' }];
  for (const [w, name] of [[weight, 'weight'], [posWeight, 'posWeight']] as const) {
    if (w && streamed(w)) lanes.push({ data: tiled(w, n, type), rows: unit, type, name });
  }
  const fixed = [weight, posWeight].map((w) => (w && !streamed(w) ? w.values : null));
  // (before the stream is built: loss.ts outReplaces)
  const overwritten = outReplaces(plan, x, y);
  const stream = new LossStream(ws, fn, plan, precision, units, unit, 1, lanes, fixed, unit);
  const kernel = ws.kernel<BceKernel>(logits ? 'binaryCrossEntropyWithLogits' : 'binaryCrossEntropy', precision);
  // 'mean': the kernel takes gradOutput itself and multiplies by 1 / n last, as PyTorch divides last.
  const mean = plan.reduction === 'mean';
  const result = stream.run(n, (c, scale) => {
    const [px, py] = c.inputs;
    const length = c.count * unit;
    // Each weight as the kernel takes it: a pointer and a period (a streamed one never wraps in a chunk).
    let next = 2;
    const operand = (w: Periodic | null, k: number): [number, number] =>
      w === null ? [0, 1] : streamed(w) ? [c.inputs[next++], length] : [stream.fixed[k], w.period];
    const [pw, wPeriod] = operand(weight, 0);
    return kernel(px, py, pw, wPeriod, ...(logits ? operand(posWeight, 1) : []), length, c.loss, c.grad, mean ? plan.gradScalar : scale, c.gradOutput, mean ? 1 / n : 1);
  }, logits ? undefined : 'binaryCrossEntropyOutside') as LossResult<A>;
  // The kernel checks that every input it read is in [0, 1] (assembly/bce.ts, outsideUnit): a
  // JavaScript loop over the input took a third of the call. Only when one was not is the input
  // searched here, for PyTorch's message with the first offending element. `out` has then been
  // written, as PyTorch's out= is when its kernel raises.
  // (Only another thread writing the input during the call could leave nothing to find: that
  // race makes any result meaningless, as it did when JavaScript checked the input first.)
  if (stream.sideTotal > 0) checkUnitRange(fn, stream.input(0) as FloatArray);
  if (logits && !overwritten) nonFiniteTargets(result, stream.total, plan, stream.input(0), stream.input(1), weight, posWeight, n, asStored(precision));
  return result;
}

/** binaryCrossEntropyWithLogits where a target or posWeight is +-inf or NaN: PyTorch's terms,
 *  (1 - y) x + (1 + (pw - 1) y) (log(e^-m + e^(-x - m)) + m) with m = max(-x, 0), and its gradient
 *  ((pw y + 1 - y) sigmoid(x) - pw y) g, give +-inf where the kernel's stable form gives NaN (inf * 0
 *  inside it; red team 30, pattern E): see literalWhereNonFinite. */
function nonFiniteTargets(result: LossResult, total: number, plan: LossPlan, x: ArrayLike<number>, yIn: ArrayLike<number>, weight: Periodic | null, posWeight: Periodic | null, n: number, read: (v: number) => number): void {
  // (`read`: values as the kernel reads them, tensor.ts asStored)
  const at = (w: Periodic | null, i: number) => (w ? read(w.values[i % w.period]) : 1);
  const y = { length: n, at: (i: number) => read(yIn[i]) };
  const mean = plan.reduction === 'mean';
  // (the elements whose y or pw y is not finite: y +-inf or NaN, a pw of +-inf, or their product overflowing)
  literalWhereNonFinite(result, total, n, (i) => !(Math.abs(y.at(i)) * (1 + Math.abs(at(posWeight, i))) < Infinity), (i) => {
    const l = logitsTerm(x[i], y.at(i), posWeight ? at(posWeight, i) : null);
    return weight ? l * at(weight, i) : l;
  }, mean, (i) => {
    const xi = x[i], yi = y.at(i), g = plan.gradPerPosition ? plan.gradPerPosition[i] : plan.gradScalar;
    const sigmoid = 1 / (1 + Math.exp(-xi));
    const t = at(posWeight, i) * yi;
    const d = (posWeight ? (t + 1 - yi) * sigmoid - t : sigmoid - yi) * g;
    const w = weight ? d * at(weight, i) : d;
    return mean ? w / n : w;
  });
}

/** PyTorch's binary_cross_entropy_with_logits term as it composes it (m = max(-x, 0)):
 *  (1 - y) x + m + log(e^-m + e^(-x - m)), or with pos_weight
 *  (1 - y) x + (1 + (pw - 1) y) (log(e^-m + e^(-x - m)) + m). */
export function logitsTerm(x: number, y: number, pw: number | null): number {
  const m = Math.max(-x, 0);
  const log = Math.log(Math.exp(-m) + Math.exp(-x - m));
  return pw === null ? (1 - y) * x + m + log : (1 - y) * x + ((pw - 1) * y + 1) * (log + m);
}

/** Where an element-wise loss came out NaN and some elements hold a non-finite target (or factor),
 *  PyTorch's composition gives +-inf where the kernels' stable forms give NaN (inf * 0 inside them):
 *  those elements (`nonFinite`) get `lossAt` (in a 'none' loss) and `gradAt`, and a reduced loss is
 *  summed again over every element in float64 ('mean': over n). Looked for only when the kernel's
 *  summed loss `total` is NaN (a pass over the elements then): no cost otherwise. The caller skips it where `out` is the
 *  input or the target, whose values the gradient has replaced. */
export function literalWhereNonFinite(result: LossResult, total: number, n: number, nonFinite: (i: number) => boolean, lossAt: (i: number) => number, mean: boolean, gradAt: ((i: number) => number) | null): void {
  if (total === total) return; // (the kernel's summed loss: NaN if any element's is)
  const loss = result.loss;
  const special: number[] = [];
  for (let i = 0; i < n; i++) if (nonFinite(i)) special.push(i);
  if (special.length === 0) return;
  if (typeof loss === 'number') {
    let total = 0;
    for (let i = 0; i < n; i++) total += lossAt(i);
    result.loss = mean ? total / n : total;
  }
  for (const i of special) {
    if (typeof loss !== 'number') loss[i] = lossAt(i);
    if (gradAt && result.grad) result.grad[i] = gradAt(i);
  }
}

/** Throws PyTorch's error naming the first element of `data` outside [0, 1] (or NaN), if any. */
function checkUnitRange(fn: string, data: FloatArray): void {
  const i = data.findIndex((v) => !(v >= 0 && v <= 1));
  if (i >= 0) fail(fn, `all elements of input should be between 0 and 1 (input[${i}] = ${data[i]})`, RangeError);
}

/** Weight periods longer than this stream beside the input instead of sitting in wasm memory. */
const MAX_FIXED_PERIOD = 1 << 14;

/** A periodic weight repeated to `n` values, in the kernel's float type (used as is when it is one). */
function tiled(w: Periodic, n: number, type: FloatConstructor): FloatArray {
  if (w.values.length === n && w.values instanceof type) return w.values as FloatArray;
  const out = new type(n);
  for (let start = 0; start < n; start += w.period) out.set(w.values, start);
  return out;
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
