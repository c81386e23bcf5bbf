// focalLoss: multi-class focal loss on logits with class-index targets,
// -w_t (1 - p_t)^gamma log p_t with p = softmax(input, dim); the options are nllLoss's plus gamma.

import { checkOptions, FloatArray, Tensor } from '../tensor.js';
import { indexTargetLoss } from './class_targets.js';
import { crossEntropyAs } from './cross_entropy.js';
import type { ChunkLayout } from '../stream.js';
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
  // gamma 0 is crossEntropy: its path, under this name (float logits, class-index targets)
  if (gamma === 0) return crossEntropyAs(FN, inputArg, targetArg, opts);
  return indexTargetLoss(FN, 'focalLoss', inputArg, targetArg, opts, [gamma], (C, inner, simd, precision) => focalLayout(C, inner, simd, precision === 'f32' && gamma > 0)) as LossResult<A>;
}

/** Where focalLoss's chunks go. Float32 with gamma > 0 (the kernel's column path,
 *  assembly/focal.ts focalColumns): rows of fewer than 64 classes and class runs shorter than 16
 *  positions are regrouped into columns; a longer class run is walked in place. Otherwise the
 *  kernel is per position: with the class dim not last and 8 or more classes, the SIMD builds'
 *  chunks are regrouped into rows, where the row helpers vectorise; else its strided walk of the
 *  class rows keeps chunks off aliasing strides (src/stream.ts). Float32 forward + gradient, gamma
 *  2, ns/elem, 2026-12-03, columns / rows: [524288, 2] 12.6 / 39.6 (plain JS 30), [49932, 21] 4.3 /
 *  14.2, [16644, 63] 4.1 / 6.9, [16384, 64] 5.1 / 4.3, [1049, 1000] 3.7 / 1.7; NCHW columns / the
 *  regroup into rows: [8, 21, 64, 64] 3.7 / 15.0, [4, 150, 32, 32] 3.3 / 4.5, [4, 1000, 16, 16]
 *  3.5 / 3.7; [2, 5, 256, 256] 6.7, where the strided walk took 33. */
function focalLayout(C: number, inner: number, simd: boolean, columns: boolean): ChunkLayout {
  if (!simd) return { walksClassRows: true };
  if (columns && (inner > 1 || C < 64)) return inner < 16 ? { relayout: 'columns', walksClassRows: true } : { walksClassRows: true };
  return inner > 1 && C >= 8 ? { relayout: 'rows' } : { walksClassRows: true };
}
