// crossEntropy: torch.nn.functional.cross_entropy with class-index or class-probability targets.

import { fail, showShape } from '../errors.js';
import { getWorkspace } from '../loader.js';
import { checkOptions, FloatArray, isFloatArray, precisionOf, tensorLike, Tensor } from '../tensor.js';
import { checkIgnoreIndex, checkIndexTargets, classLayout, classWeight, indexTargets, writeIndexTargets } from './class_targets.js';
import { bindOutputs, collect, LOSS_OPTIONS, LossOptionsBase, LossResult, outputRegions, planLoss, uniformScale } from './loss.js';

export interface CrossEntropyOptions<A extends FloatArray = FloatArray> extends LossOptionsBase<A> {
  /** Per-class rescaling weight, length C. */
  weight?: ArrayLike<number> | { data: ArrayLike<number>; shape?: readonly number[] };
  /** Targets equal to this are skipped (default -100). Class-index targets only. */
  ignoreIndex?: number;
  /** Mixes the target with the uniform distribution: eps in [0, 1] (default 0). */
  labelSmoothing?: number;
  /** The class dim (default 1, or 0 for a 1-D input); negative counts from the end. */
  dim?: number;
}

const OPTIONS = [...LOSS_OPTIONS, 'weight', 'ignoreIndex', 'labelSmoothing', 'dim'];
const FN = 'crossEntropy';

type IndexKernel = (x: number, t: number, w: number, outer: number, C: number, inner: number, eps: number, loss: number, grad: number, scale: number, gradPerPosition: number) => number;
type ProbsKernel = IndexKernel;

/**
 * Cross-entropy between logits `input` (N, C, d1..dk) and `target`: class indices of shape
 * (N, d1..dk) (any integer typed array or number[]), or class probabilities of the input's shape
 * (a float typed array). Mirrors torch.nn.functional.cross_entropy.
 */
export function crossEntropy<A extends FloatArray>(
  input: Tensor<A>, target: unknown, options?: CrossEntropyOptions<A>,
): LossResult<A> {
  const opts = checkOptions(FN, options, OPTIONS);
  const layout = classLayout(FN, input, opts.dim);
  const x = layout.input.data;
  const precision = precisionOf(x);
  const bytes = precision === 'f32' ? 4 : 8;
  const weight = classWeight(FN, opts.weight, layout.classes);
  const eps = opts.labelSmoothing === undefined ? 0 : (opts.labelSmoothing as number);
  if (typeof eps !== 'number' || !(eps >= 0 && eps <= 1)) {
    fail(FN, `label_smoothing must be between 0.0 and 1.0. Got: ${String(opts.labelSmoothing)}`, RangeError);
  }
  const ignoreIndex = checkIgnoreIndex(FN, opts.ignoreIndex);
  const probabilities = isFloatArray(target) || (isTensorOf(target) && isFloatArray(target.data));
  const plan = planLoss(FN, opts, x, layout.positionShape);
  const n = x.length;
  const positions = layout.positions;
  const { outer, classes: C, inner } = layout;

  if (probabilities) {
    if (opts.ignoreIndex !== undefined && ignoreIndex >= 0) fail(FN, 'ignore_index is not supported for floating point target', TypeError);
    const bare = isFloatArray(target) ? target : null;
    if (bare && bare.length !== n && bare.length === positions) {
      fail(FN, `a ${bare.constructor.name} target holds class probabilities and must have the input's shape ${showShape(layout.input.shape)}; pass class indices as an integer array`, TypeError);
    }
    const { data: p, shape } = tensorLike(FN, 'target', target, () => layout.input.shape.slice());
    if (shape.length !== layout.input.shape.length || shape.some((d, i) => d !== layout.input.shape[i])) {
      fail(FN, `a float target holds class probabilities and must have the input's shape ${showShape(layout.input.shape)}, got ${showShape(shape)}`, RangeError);
    }
    const ws = getWorkspace(FN);
    const [px, pp, pw, ...outs] = ws.reserve(FN, [n * bytes, n * bytes, weight ? C * bytes : 0, ...outputRegions(plan, precision, positions, n)]);
    ws.floats(precision, px, n).set(x);
    ws.floats(precision, pp, n).set(p as FloatArray);
    if (weight) ws.floats(precision, pw, C).set(weight);
    const ptr = bindOutputs(ws, plan, precision, outs, positions);
    // Probability targets divide 'mean' by the number of positions, not by a weight sum.
    const denominator = positions;
    const kernel = ws.kernel<ProbsKernel>('crossEntropyProbs', precision);
    const total = kernel(px, pp, weight ? pw : 0, outer, C, inner, eps, ptr.lossPtr, ptr.gradPtr, uniformScale(plan, denominator), ptr.gradOutPtr);
    return collect(ws, plan, precision, ptr, total, denominator, positions, n) as LossResult<A>;
  }

  const targets = indexTargets(FN, target, layout);
  checkIndexTargets(FN, targets, layout, ignoreIndex);
  const ws = getWorkspace(FN);
  const [px, pt, pw, ...outs] = ws.reserve(FN, [n * bytes, positions * 4, weight ? C * bytes : 0, ...outputRegions(plan, precision, positions, n)]);
  const denominator = writeIndexTargets(FN, targets, ws.ints(pt, positions), layout, ignoreIndex, weight);
  ws.floats(precision, px, n).set(x);
  if (weight) ws.floats(precision, pw, C).set(weight);
  const ptr = bindOutputs(ws, plan, precision, outs, positions);
  const kernel = ws.kernel<IndexKernel>('crossEntropyIndex', precision);
  const total = kernel(px, pt, weight ? pw : 0, outer, C, inner, eps, ptr.lossPtr, ptr.gradPtr, uniformScale(plan, denominator), ptr.gradOutPtr);
  return collect(ws, plan, precision, ptr, total, denominator, positions, n) as LossResult<A>;
}

function isTensorOf(t: unknown): t is { data: unknown } {
  return t !== null && typeof t === 'object' && 'data' in t;
}
