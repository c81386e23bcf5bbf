// Target helpers: one-hot encoding and inverse-frequency class weights.

import { fail } from '../errors.js';
import { isIntArray, MAX_DIM, readArg, tensorLike, typeName } from '../tensor.js';

function classIndices(fn: string, target: unknown, numClasses: unknown): { values: ArrayLike<number | bigint>; shape: number[]; C: number } {
  if (typeof numClasses !== 'number' || !Number.isSafeInteger(numClasses) || numClasses < 1) {
    fail(fn, `numClasses must be a positive integer, got ${String(numClasses)}`, RangeError);
  }
  const { data, shape } = tensorLike(fn, 'target', readArg(fn, 'target', target), (length) => [length]);
  if (!isIntArray(data) && !Array.isArray(data)) fail(fn, `target must be an integer typed array or an array of numbers, got ${typeName(data)}`, TypeError);
  const values = data as ArrayLike<number | bigint>;
  for (let i = 0; i < values.length; i++) {
    const t = Number(values[i]);
    if (!Number.isInteger(t)) fail(fn, `target[${i}] = ${String(values[i])} is not an integer class index`, TypeError);
    // (PyTorch's one_hot words a negative class apart: "smaller than num_classes" pointed the wrong way
    // for a padding -100, red team 60)
    if (t < 0) fail(fn, `Class values must be non-negative: target[${i}] = ${String(values[i])} (an ignore index such as -100 has no class: leave those positions out)`, RangeError);
    if (t >= numClasses) fail(fn, `Class values must be smaller than num_classes: target[${i}] = ${String(values[i])}, numClasses ${numClasses}`, RangeError); // (the value itself: a BigInt past 2^53 is not its rounded Number; red team 56)
  }
  return { values, shape, C: numClasses };
}

/** One-hot encoding: shape [...target.shape, numClasses], a Float32Array ready to be used as
 *  probability targets with `dim: -1` (or directly for (N, C) inputs). */
export function oneHot(target: import('../types.js').IndexTarget, numClasses: number): Float32Array;
export function oneHot(target: unknown, numClasses: number): Float32Array {
  const { values, C } = classIndices('oneHot', target, numClasses);
  if (values.length * C > MAX_DIM) {
    fail('oneHot', `a one-hot array of ${values.length} x ${C} values is too large (at most ${MAX_DIM} elements)`, RangeError);
  }
  const out = new Float32Array(values.length * C);
  for (let i = 0; i < values.length; i++) out[i * C + Number(values[i])] = 1;
  return out;
}

/**
 * Class weights proportional to 1 / frequency, normalised to sum 1: w_c = (1/p_c) / sum_k (1/p_k)
 * over the classes present. For a binary mask this is [p1, p0] = [alpha, 1 - alpha] with
 * alpha = mean(mask). A class absent from `target` gets weight 0 (it contributes nothing to an
 * index-target loss anyway); an empty target gives all zeros.
 */
export function inverseFrequencyWeights(target: import('../types.js').IndexTarget, numClasses: number): Float32Array;
export function inverseFrequencyWeights(target: unknown, numClasses: number): Float32Array {
  const { values, C } = classIndices('inverseFrequencyWeights', target, numClasses);
  const counts = new Float64Array(C);
  for (let i = 0; i < values.length; i++) counts[Number(values[i])]++;
  let norm = 0;
  for (let c = 0; c < C; c++) if (counts[c] > 0) norm += 1 / counts[c];
  const out = new Float32Array(C);
  for (let c = 0; c < C; c++) if (counts[c] > 0) out[c] = 1 / counts[c] / norm;
  return out;
}

