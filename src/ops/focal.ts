// focalLoss: multi-class focal loss on logits with class-index targets,
// -w_t (1 - p_t)^gamma log p_t with p = softmax(input, dim); the options are nllLoss's plus gamma.

import { getWorkspace } from '../loader.js';
import { checkOptions, FloatArray, precisionOf, readArg, Tensor } from '../tensor.js';
import { checkIgnoreIndex, classLayout, classWeight, indexTargets, writeIndexTargets } from './class_targets.js';
import { LOSS_OPTIONS, LossOptionsBase, LossResult, LossStream, planLoss } from './loss.js';
import { finiteOption } from './sigmoid_focal.js';

export interface FocalLossOptions<A extends FloatArray = FloatArray> extends LossOptionsBase<A> {
  /** Exponent of the modulating factor (1 - p_t) (default 2; 0 gives crossEntropy). */
  gamma?: number;
  /** Per-class weight, length C. */
  weight?: ArrayLike<number> | { data: ArrayLike<number>; shape?: readonly number[] };
  /** Targets equal to this are skipped (default -100). */
  ignoreIndex?: number;
  /** The class dim (default 1, or 0 for a 1-D input); negative counts from the end. */
  dim?: number;
}

const OPTIONS = [...LOSS_OPTIONS, 'gamma', 'weight', 'ignoreIndex', 'dim'];
const FN = 'focalLoss';

type Kernel = (x: number, t: number, w: number, outer: number, C: number, inner: number, gamma: number, loss: number, grad: number, scale: number, gradPerPosition: number) => number;

/** Focal loss of class-index `target` under logits `input` (N, C, d1..dk). 'mean' divides by the
 *  sum of w_t over non-ignored positions, as nllLoss and crossEntropy do. */
export function focalLoss<A extends FloatArray>(inputArg: Tensor<A>, targetArg: unknown, options?: FocalLossOptions<A>): LossResult<A> {
  const opts = checkOptions(FN, options, OPTIONS);
  const input = readArg(FN, 'input', inputArg);
  const target = readArg(FN, 'target', targetArg);
  const layout = classLayout(FN, input, opts.dim);
  const x = layout.input.data;
  const precision = precisionOf(x);
  const weight = classWeight(FN, opts.weight, layout.classes);
  const ignoreIndex = checkIgnoreIndex(FN, opts.ignoreIndex);
  const gamma = finiteOption(FN, 'gamma', opts.gamma, 2);
  const plan = planLoss(FN, opts, x, layout.positionShape);
  const values = indexTargets(FN, target, layout);
  const { outer, classes: C, inner, positions } = layout;

  const targets = new Int32Array(positions);
  const denominator = writeIndexTargets(FN, values, targets, layout, ignoreIndex, weight);
  const ws = getWorkspace(FN);
  const stream = new LossStream(ws, FN, plan, precision, outer, C, inner, [{ data: x, rows: C, name: 'input' }, { data: targets, rows: 1 }], [weight]);
  const [pw] = stream.fixed;
  const kernel = ws.kernel<Kernel>('focalLoss', precision);
  return stream.run(denominator, (c, scale) =>
    kernel(c.inputs[0], c.inputs[1], pw, c.count, C, c.width, gamma, c.loss, c.grad, scale, c.gradOutput),
  ) as LossResult<A>;
}
