// nllLoss: torch.nn.functional.nll_loss on log-probabilities with class-index targets.

import { getWorkspace } from '../loader.js';
import { checkOptions, FloatArray, precisionOf, Tensor } from '../tensor.js';
import { checkIgnoreIndex, checkIndexTargets, classLayout, classWeight, indexTargets, writeIndexTargets } from './class_targets.js';
import { bindOutputs, collect, LOSS_OPTIONS, LossOptionsBase, LossResult, outputRegions, planLoss, uniformScale } from './loss.js';

export interface NllLossOptions<A extends FloatArray = FloatArray> extends LossOptionsBase<A> {
  weight?: ArrayLike<number> | { data: ArrayLike<number>; shape?: readonly number[] };
  ignoreIndex?: number;
  dim?: number;
}

const OPTIONS = [...LOSS_OPTIONS, 'weight', 'ignoreIndex', 'dim'];
const FN = 'nllLoss';

type NllKernel = (x: number, t: number, w: number, outer: number, C: number, inner: number, loss: number, grad: number, scale: number, gradPerPosition: number) => number;

/** Negative log-likelihood of class-index `target` under log-probabilities `input` (N, C, d1..dk). */
export function nllLoss<A extends FloatArray>(input: Tensor<A>, target: unknown, options?: NllLossOptions<A>): LossResult<A> {
  const opts = checkOptions(FN, options, OPTIONS);
  const layout = classLayout(FN, input, opts.dim);
  const x = layout.input.data;
  const precision = precisionOf(x);
  const bytes = precision === 'f32' ? 4 : 8;
  const weight = classWeight(FN, opts.weight, layout.classes);
  const ignoreIndex = checkIgnoreIndex(FN, opts.ignoreIndex);
  const plan = planLoss(FN, opts, x, layout.positionShape);
  const targets = indexTargets(FN, target, layout);
  checkIndexTargets(FN, targets, layout, ignoreIndex);
  const { outer, classes: C, inner, positions } = layout;
  const n = x.length;

  const ws = getWorkspace(FN);
  const [px, pt, pw, ...outs] = ws.reserve(FN, [n * bytes, positions * 4, weight ? C * bytes : 0, ...outputRegions(plan, precision, positions, n)]);
  const denominator = writeIndexTargets(FN, targets, ws.ints(pt, positions), layout, ignoreIndex, weight);
  ws.floats(precision, px, n).set(x);
  if (weight) ws.floats(precision, pw, C).set(weight);
  const ptr = bindOutputs(ws, plan, precision, outs, positions);
  const kernel = ws.kernel<NllKernel>('nllLoss', precision);
  const total = kernel(px, pt, weight ? pw : 0, outer, C, inner, ptr.lossPtr, ptr.gradPtr, uniformScale(plan, denominator), ptr.gradOutPtr);
  return collect(ws, plan, precision, ptr, total, denominator, positions, n) as LossResult<A>;
}
