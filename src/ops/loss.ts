// What every loss shares: its reduction, the upstream gradient, the optional `out` array, and how
// a result leaves wasm memory (copied, so returned arrays belong to the caller).

import { fail, showShape } from '../errors.js';
import { checkBoolean, checkBuffer, checkNumbers, checkReduction, FloatArray, newFloatArray, Precision, product, Reduction, tensorLike, typeName } from '../tensor.js';
import { Workspace } from '../workspace.js';

export interface LossResult<A extends FloatArray = FloatArray> {
  /** A number for 'mean' and 'sum'; per-position losses (the input's float type) for 'none'. */
  loss: number | A;
  /** d loss / d input, when `grad: true` (or `out`) was passed. */
  grad?: A;
}

export interface LossOptionsBase<A extends FloatArray = FloatArray> {
  reduction?: Reduction;
  /** Also return d loss / d input. */
  grad?: boolean;
  /** The upstream gradient: a number for 'mean'/'sum', an array of the loss's shape for 'none'. */
  gradOutput?: number | ArrayLike<number> | { data: ArrayLike<number>; shape?: readonly number[] };
  /** An array of the input's type and length to write the gradient into (implies `grad`). */
  out?: A;
}

export const LOSS_OPTIONS = ['reduction', 'grad', 'gradOutput', 'out'] as const;

/** The parsed reduction/gradient options of one call. */
export interface LossPlan {
  reduction: Reduction;
  wantGrad: boolean;
  /** Upstream gradient when it is one number (mean/sum, or the default of ones). */
  gradScalar: number;
  /** Upstream gradient per loss element for 'none', or null. */
  gradPerPosition: ArrayLike<number> | null;
  out: FloatArray | null;
}

export function planLoss(
  fn: string, options: Record<string, unknown>, input: FloatArray, lossShape: readonly number[],
): LossPlan {
  const reduction = checkReduction(fn, options.reduction);
  const out = checkOut(fn, options.out, input);
  const wantGrad = checkBoolean(fn, 'grad', options.grad) || out !== null;
  let gradScalar = 1;
  let gradPerPosition: ArrayLike<number> | null = null;
  const g = options.gradOutput;
  if (g !== undefined && !wantGrad) {
    fail(fn, 'gradOutput was given but no gradient was requested; pass grad: true (or out) with it', TypeError);
  }
  if (g !== undefined) {
    if (reduction !== 'none' || (lossShape.length === 0 && typeof g === 'number')) {
      if (typeof g !== 'number') fail(fn, `gradOutput must be a number for reduction '${reduction}', got ${typeName(g)}`, TypeError);
      gradScalar = g;
    } else {
      const { data, shape } = tensorLike(fn, 'gradOutput', g, () => lossShape.slice());
      const values = checkNumbers(fn, 'gradOutput', data);
      const sameShape = shape.length === lossShape.length && shape.every((d, i) => d === lossShape[i]);
      if (values.length !== product(lossShape) || (!sameShape && lossShape.length > 0)) {
        fail(fn, `gradOutput of shape ${showShape(shape)} does not match the loss shape ${showShape(lossShape)}`, RangeError);
      }
      gradPerPosition = values;
    }
  }
  return { reduction, wantGrad, gradScalar, gradPerPosition, out };
}

function checkOut(fn: string, out: unknown, input: FloatArray): FloatArray | null {
  if (out === undefined) return null;
  if (out === null || (out as object).constructor !== input.constructor) {
    fail(fn, `out must be a ${input.constructor.name} like the input, got ${typeName(out)}`, TypeError);
  }
  const o = out as FloatArray;
  checkBuffer(fn, 'out', o);
  if (o.length !== input.length) fail(fn, `out has ${o.length} elements but the input has ${input.length}`, RangeError);
  return o;
}

/** Byte sizes of the regions a loss call needs beyond its inputs: per-position losses (for 'none'),
 *  the gradient, and the per-position upstream gradient. */
export function outputRegions(plan: LossPlan, precision: Precision, lossLength: number, inputLength: number): number[] {
  const bytes = precision === 'f32' ? 4 : 8;
  return [
    plan.reduction === 'none' ? lossLength * bytes : 0,
    plan.wantGrad ? inputLength * bytes : 0,
    plan.gradPerPosition ? lossLength * bytes : 0,
  ];
}

/** Copies the per-position upstream gradient in; returns the pointers the kernels take (0 = absent). */
export function bindOutputs(ws: Workspace, plan: LossPlan, precision: Precision, regions: number[], lossLength: number) {
  const [lossPtr, gradPtr, gradOutPtr] = regions;
  if (plan.gradPerPosition) ws.floats(precision, gradOutPtr, lossLength).set(plan.gradPerPosition);
  return {
    lossPtr: plan.reduction === 'none' ? lossPtr : 0,
    gradPtr: plan.wantGrad ? gradPtr : 0,
    gradOutPtr: plan.gradPerPosition ? gradOutPtr : 0,
  };
}

/** The upstream gradient factor the kernels apply when it is uniform: gradOutput / denominator for 'mean'. */
export function uniformScale(plan: LossPlan, denominator: number): number {
  return plan.reduction === 'mean' ? plan.gradScalar / denominator : plan.gradScalar;
}

/** Copies results out of wasm memory into arrays the caller owns. */
export function collect(
  ws: Workspace, plan: LossPlan, precision: Precision, pointers: { lossPtr: number; gradPtr: number },
  total: number, denominator: number, lossLength: number, inputLength: number,
): LossResult {
  let loss: number | FloatArray;
  if (plan.reduction === 'none') loss = ws.floats(precision, pointers.lossPtr, lossLength).slice();
  // A zero denominator (every target ignored, zero total weight, an empty batch) makes 'mean' NaN
  // in PyTorch whatever the numerator: with label smoothing the numerator need not be 0.
  else loss = plan.reduction === 'mean' ? (denominator === 0 ? NaN : total / denominator) : total;
  if (!plan.wantGrad) return { loss };
  const view = ws.floats(precision, pointers.gradPtr, inputLength);
  const grad = plan.out ?? newFloatArray(precision, inputLength);
  grad.set(view);
  return { loss, grad };
}
