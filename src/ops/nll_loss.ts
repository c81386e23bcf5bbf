// nllLoss: torch.nn.functional.nll_loss on log-probabilities with class-index targets.

import { checkOptions, FloatArray, Tensor } from '../tensor.js';
import { indexTargetLoss } from './class_targets.js';
import { LOSS_OPTIONS, LossOptionsBase, LossResult } from './loss.js';

export interface NllLossOptions<A extends FloatArray = FloatArray> extends LossOptionsBase<A> {
  weight?: ArrayLike<number> | { data: ArrayLike<number>; shape?: readonly number[] };
  ignoreIndex?: number;
  dim?: number;
}

const OPTIONS = [...LOSS_OPTIONS, 'weight', 'ignoreIndex', 'dim'];
const FN = 'nllLoss';


/** Negative log-likelihood of class-index `target` under log-probabilities `input` (N, C, d1..dk). */
export function nllLoss<A extends FloatArray, O extends NllLossOptions<A> = {}>(input: Tensor<A>, target: import('../types.js').IndexTarget, options?: O): import('../types.js').LossResultOf<A, O>;
export function nllLoss<A extends FloatArray>(inputArg: Tensor<A>, targetArg: unknown, options?: NllLossOptions<A>): LossResult<A> {
  return indexTargetLoss(FN, 'nllLoss', inputArg, targetArg, checkOptions(FN, options, OPTIONS)) as LossResult<A>;
}
