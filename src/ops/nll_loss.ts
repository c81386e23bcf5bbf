// nllLoss: torch.nn.functional.nll_loss on log-probabilities with class-index targets.

import { getWorkspace } from '../loader.js';
import { checkOptions, FloatArray, precisionOf, readArg, Tensor } from '../tensor.js';
import { checkIgnoreIndex, classLayout, classWeight, indexTargets, writeIndexTargets } from './class_targets.js';
import { LOSS_OPTIONS, LossOptionsBase, LossResult, LossStream, planLoss } from './loss.js';

export interface NllLossOptions<A extends FloatArray = FloatArray> extends LossOptionsBase<A> {
  weight?: ArrayLike<number> | { data: ArrayLike<number>; shape?: readonly number[] };
  ignoreIndex?: number;
  dim?: number;
}

const OPTIONS = [...LOSS_OPTIONS, 'weight', 'ignoreIndex', 'dim'];
const FN = 'nllLoss';

type NllKernel = (x: number, t: number, w: number, outer: number, C: number, inner: number, loss: number, grad: number, scale: number, gradPerPosition: number) => number;

/** Negative log-likelihood of class-index `target` under log-probabilities `input` (N, C, d1..dk). */
export function nllLoss<A extends FloatArray, O extends NllLossOptions<A> = {}>(input: Tensor<A>, target: import('../types.js').IndexTarget, options?: O): import('../types.js').LossResultOf<A, O>;
export function nllLoss<A extends FloatArray>(inputArg: Tensor<A>, targetArg: unknown, options?: NllLossOptions<A>): LossResult<A> {
  const opts = checkOptions(FN, options, OPTIONS);
  const input = readArg(FN, 'input', inputArg);
  const target = readArg(FN, 'target', targetArg);
  const layout = classLayout(FN, input, opts.dim);
  const x = layout.input.data;
  const precision = precisionOf(x);
  const weight = classWeight(FN, opts.weight, layout.classes);
  const ignoreIndex = checkIgnoreIndex(FN, opts.ignoreIndex);
  const plan = planLoss(FN, opts, x, layout.positionShape);
  const values = indexTargets(FN, target, layout);
  const { outer, classes: C, inner, positions } = layout;

  const targets = new Int32Array(positions);
  const denominator = writeIndexTargets(FN, values, targets, layout, ignoreIndex, weight);
  const ws = getWorkspace(FN);
  const stream = new LossStream(ws, FN, plan, precision, outer, C, inner, [{ data: x, rows: C, name: 'input' }, { data: targets, rows: 1 }], [weight]);
  const [pw] = stream.fixed;
  const kernel = ws.kernel<NllKernel>('nllLoss', precision);
  return stream.run(denominator, (c, scale) =>
    kernel(c.inputs[0], c.inputs[1], pw, c.count, C, c.width, c.loss, c.grad, scale, c.gradOutput),
  ) as LossResult<A>;
}
