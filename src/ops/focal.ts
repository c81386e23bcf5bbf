// focalLoss: multi-class focal loss on logits with class-index targets,
// -w_t (1 - p_t)^gamma log p_t with p = softmax(input, dim); the options are nllLoss's plus gamma.

import { checkOptions, FloatArray, Tensor } from '../tensor.js';
import { indexTargetLoss } from './class_targets.js';
import { LOSS_OPTIONS, LossOptionsBase, LossResult } from './loss.js';
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


/** Focal loss of class-index `target` under logits `input` (N, C, d1..dk). 'mean' divides by the
 *  sum of w_t over non-ignored positions, as nllLoss and crossEntropy do. */
export function focalLoss<A extends FloatArray>(inputArg: Tensor<A>, targetArg: unknown, options?: FocalLossOptions<A>): LossResult<A> {
  const opts = checkOptions(FN, options, OPTIONS);
  const gamma = finiteOption(FN, 'gamma', opts.gamma, 2);
  // Its kernel is per position. With the class dim not last and 8 or more classes, the SIMD
  // builds' chunks are regrouped into rows, where the row helpers vectorise (float32
  // [8, 21, 64, 64] 24.4 -> 12.8 ns/elem; 5 classes 33.0 -> 34.6, so not there; the scalar build
  // 21 -> 25, so not there either); otherwise its strided walk of the class rows keeps chunks off
  // aliasing strides (src/stream.ts: [8, 21, 64, 64] had gone 37.5 -> 31.4).
  return indexTargetLoss(FN, 'focalLoss', inputArg, targetArg, opts, [gamma], (C, inner, simd) => (simd && inner > 1 && C >= 8 ? { relayout: 'rows' } : { walksClassRows: true })) as LossResult<A>;
}
