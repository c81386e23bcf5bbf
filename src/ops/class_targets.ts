// What cross_entropy and nll_loss share: the class layout of the input around `dim`, class-index
// targets (checked and copied into wasm memory as i32 in one pass) and the per-class weight.

import { fail, showShape } from '../errors.js';
import { getWorkspace } from '../loader.js';
import { checkNumbers, has, FloatArray, floatTensor, sameMemory, isFloatArray, isIntArray, normaliseDim, Precision, precisionOf, numberOption, readArg, show, splitAt, Tensor, tensorLike, typedArrayKind, typeName } from '../tensor.js';
import { LossResult, LossStream, planLoss } from './loss.js';
import type { ChunkLayout, Lane } from '../stream.js';

export interface ClassLayout<D = FloatArray> {
  input: Tensor<D>;
  dim: number;
  outer: number;
  classes: number;
  inner: number;
  /** The input's shape without the class dim: the shape of index targets and of 'none' losses. */
  positionShape: number[];
  positions: number;
}

/** Reads the input and views it as (outer, C, inner) around the class dim (default 1, or 0 for 1-D). */
export function classLayout(fn: string, inputArg: unknown, dimOption: unknown): ClassLayout {
  return layoutAround(fn, floatTensor(fn, 'input', inputArg), dimOption);
}

/** classLayout of an input already read (crossEntropy's, which may hold half-precision bits). */
export function layoutAround<D extends ArrayLike<number>>(fn: string, input: Tensor<D>, dimOption: unknown): ClassLayout<D> {
  const ndim = input.shape.length;
  if (ndim === 0) fail(fn, 'input must have at least one dimension (the classes), got a 0-d tensor', RangeError);
  const dim = dimOption === undefined ? (ndim === 1 ? 0 : 1) : normaliseDim(fn, dimOption, ndim);
  const { outer, classes, inner } = splitAt(input.shape, dim);
  const positionShape = input.shape.filter((_, i) => i !== dim);
  return { input, dim, outer, classes, inner, positionShape, positions: outer * inner };
}

/** How an ignored position reaches the kernels: any negative i32 (valid targets are 0..C-1). */
const IGNORED = -1;

/** Integer typed arrays an Int32Array's set() converts exactly (not Uint32Array: 2^32 - 100
 *  would wrap to -100, an ignore_index; nor BigInt64Array). */
const EXACT_IN_I32 = new Set(['Int8Array', 'Uint8Array', 'Int16Array', 'Uint16Array', 'Int32Array']);

export type IndexTargetValues = ArrayLike<number> | BigInt64Array;

/** Reads class-index targets: an integer typed array or number[] (bare or { data, shape }) of the
 *  input's shape without the class dim, or a plain number for an unbatched input. */
export function indexTargets(fn: string, target: unknown, layout: ClassLayout<ArrayLike<number>>): IndexTargetValues {
  const expected = layout.positionShape;
  if (typeof target === 'number') {
    if (expected.length !== 0) fail(fn, `a plain number target needs an unbatched input of shape [C], got input of shape ${showShape(layout.input.shape)}`, TypeError);
    return [target];
  }
  if (typeof target === 'bigint') {
    // Number() would round a value beyond the safe range; name it exactly.
    if (!Number.isSafeInteger(Number(target))) fail(fn, `Target ${target} is out of bounds. (classes are 0..${layout.classes - 1})`, RangeError);
    return indexTargets(fn, Number(target), layout);
  }
  // A bare 1-D target of the wrong length reads as a batch-size mismatch, as in PyTorch; for an
  // unbatched input a bare array is a 1-D target (the scalar forms are a number or shape []).
  const bareShape = (length: number) => (expected.length === 0 || (expected.length === 1 && length !== layout.positions) ? [length] : expected.slice());
  const { data, shape } = tensorLike(fn, 'target', target, bareShape);
  // 16-bit float bits (a dtype, as half-precision logits carry, or an onnxruntime 'float16' Tensor)
  // are floats, not class indices: read as integers, float16 2.0 would be "class 16384". PyTorch:
  // "expected scalar type Long but found Half".
  const dtype = target !== null && typeof target === 'object' && has(target, 'dtype') ? (target as { dtype?: unknown }).dtype : undefined;
  if (dtype !== undefined) {
    fail(fn, `target must hold class indices (an integer typed array or an array of numbers), got ${typeof dtype === 'string' ? dtype : typeName(dtype)} values (dtype ${JSON.stringify(dtype)}); ${fn === 'crossEntropy' ? 'class probabilities go in a Float32Array or Float64Array of the input\'s shape' : 'pass class indices'}`, TypeError);
  }
  const probabilitiesAllowed = fn === 'crossEntropy';
  const sameAsInput = shape.length === layout.input.shape.length && shape.every((d, i) => d === layout.input.shape[i]);
  const multiTarget = () => fail(fn, '0D or 1D target tensor expected, multi-target not supported', RangeError);
  if (isFloatArray(data)) {
    if (!probabilitiesAllowed && expected.length === 1 && shape.length >= 2) multiTarget();
    fail(fn, `target must hold class indices (an integer typed array or an array of numbers), got a ${typeName(data)}${probabilitiesAllowed ? '' : ` (${fn} takes no class probabilities: use crossEntropy for those)`}`, TypeError);
  }
  if (!isIntArray(data) && !Array.isArray(data)) fail(fn, `target must be an integer typed array or an array of numbers, got ${typeName(data)}`, TypeError);
  if (probabilitiesAllowed && sameAsInput && expected.length !== shape.length) {
    fail(fn, `Expected floating point type for target with class probabilities, got ${typeName(data)}`, TypeError);
  }
  if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
    if (expected.length === 0) fail(fn, `size mismatch (got input: ${showShape(layout.input.shape)}, target: ${showShape(shape)})`, RangeError);
    if (expected.length === 1 && shape.length >= 2) multiTarget();
    const batched = layout.input.shape.length >= 2;
    if (batched && shape.length >= 1 && shape[0] !== expected[0]) {
      fail(fn, `Expected input batch_size (${expected[0]}) to match target batch_size (${shape[0]}).`, RangeError);
    }
    fail(fn, `Expected target size ${showShape(expected)}, got ${showShape(shape)}`, RangeError);
  }
  return data as IndexTargetValues;
}

/** Copies validated targets into `dest` (wasm memory) and returns the 'mean' denominator: the sum
 *  of w[t] over non-ignored positions. Throws a RangeError naming the first bad target and where. */
export function writeIndexTargets(
  fn: string, values: IndexTargetValues, dest: Int32Array, layout: ClassLayout<ArrayLike<number>>,
  ignoreIndex: number, weight: ArrayLike<number> | null,
): number {
  const C = layout.classes;
  let denominator = 0;
  if (EXACT_IN_I32.has(typedArrayKind(values)!) && values.length === dest.length) {
    dest.set(values as ArrayLike<number>); // converted natively, exactly
    return checkI32Targets(fn, dest, layout, ignoreIndex, weight);
  }
  for (let p = 0; p < values.length; p++) {
    const raw = values[p];
    const t = typeof raw === 'bigint' ? Number(raw) : (raw as number);
    if (t === ignoreIndex) {
      dest[p] = IGNORED;
      continue;
    }
    if (!(t >= 0 && t < C) || !Number.isInteger(t)) badTarget(fn, raw, p, layout, ignoreIndex);
    dest[p] = t;
    denominator += weight ? weight[t] : 1;
  }
  return denominator;
}

/** Class-index targets as a stream lane, with the 'mean' denominator (as writeIndexTargets).
 *  Targets in an integer typed array that Int32Array's set() converts exactly are checked where
 *  they are and streamed from the caller's memory, converted per chunk by the stream: no array of
 *  positions is allocated and filled per call (on [N, 2] rows, allocating, filling and checking one
 *  took a third of the call). Two cases still go through a converted copy (writeIndexTargets):
 *  a position holding a non-negative ignore_index (the kernels take only negative targets as
 *  ignored, so it is rewritten to -1), and targets sharing memory with `out` (the stream would
 *  refuse the overlap, or read targets the kernel has overwritten). */
export function indexTargetLane(
  fn: string, values: IndexTargetValues, layout: ClassLayout<ArrayLike<number>>, ignoreIndex: number,
  weight: ArrayLike<number> | null, out: ArrayLike<number> | null,
): { lane: Lane; denominator: number } {
  const kind = typedArrayKind(values);
  if (kind !== undefined && EXACT_IN_I32.has(kind) && values.length === layout.positions && readable(values as Int32Array, out)) {
    const denominator = checkIntTargets(fn, values as ArrayLike<number>, layout, ignoreIndex, weight);
    if (denominator !== null) return { lane: { data: values as Int32Array, rows: 1, type: Int32Array, name: 'target' }, denominator };
  }
  const targets = new Int32Array(layout.positions);
  const denominator = writeIndexTargets(fn, values, targets, layout, ignoreIndex, weight);
  return { lane: { data: targets, rows: 1, name: 'target' }, denominator };
}

/** Whether targets can be read again after their check: not in `out`'s memory, which the kernel
 *  writes (the stream would refuse the overlap, or read targets already overwritten). */
function readable(values: Int32Array, out: ArrayLike<number> | null): boolean {
  return out === null || !sameMemory((out as Int32Array).buffer, values.buffer);
}

/** indexTargetLane's check of targets where they are (read only): the 'mean' denominator, or null
 *  when a position holds ignore_index and ignore_index is not negative (the targets then need the
 *  copy that rewrites it). The same sum in the same order as writeIndexTargets: the same bits.
 *  checkI32Targets below is its twin for writeIndexTargets's i32 copy, on purpose: V8 keeps the
 *  element-type feedback of a loop per function, and one function fed both the caller's arrays
 *  (a Uint8Array mask) and that Int32Array copy (linearCrossEntropy, or a non-negative ignore_index)
 *  reads every target through a polymorphic load. Merged, crossEntropy [524288, 2] float32 with
 *  Uint8Array targets, out and grad, ran 3-5% slower per call in a process that had also called
 *  linearCrossEntropy (19 of 20 alternating process pairs); alone, Uint8 or Int32, no change. */
function checkIntTargets(fn: string, values: ArrayLike<number>, layout: ClassLayout<ArrayLike<number>>, ignoreIndex: number, weight: ArrayLike<number> | null): number | null {
  const C = layout.classes;
  const n = values.length;
  let ignored = 0;
  if (weight === null) { // a count (exact below 2^53)
    if (ignoreIndex < 0 || ignoreIndex >= C) {
      if (n >= WASM_CHECK_MIN) return checkTargetsInWasm(fn, values as IntArray, layout, ignoreIndex);
      // No valid class can be ignore_index: one unsigned compare per target (a negative one wraps
      // above C) instead of three.
      for (let p = 0; p < n; p++) {
        if (values[p] >>> 0 < C) continue;
        const t = values[p];
        if (t !== ignoreIndex) badTarget(fn, t, p, layout, ignoreIndex);
        if (ignoreIndex >= 0) return null;
        ignored++;
      }
      return n - ignored;
    }
    for (let p = 0; p < n; p++) {
      const t = values[p];
      if (t >= 0 && t < C && t !== ignoreIndex) continue;
      if (t !== ignoreIndex) badTarget(fn, t, p, layout, ignoreIndex);
      if (ignoreIndex >= 0) return null;
      ignored++;
    }
    return n - ignored;
  }
  const w = Float64Array.from(weight);
  let denominator = 0;
  for (let p = 0; p < n; p++) {
    const t = values[p];
    if (t >= 0 && t < C && t !== ignoreIndex) {
      denominator += w[t];
      continue;
    }
    if (t !== ignoreIndex) badTarget(fn, t, p, layout, ignoreIndex);
    if (ignoreIndex >= 0) return null;
  }
  return denominator;
}

type IntArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array;

/** Targets from this many on are checked by the module (assembly/targets.ts): about 0.15 ns per
 *  target with the copy, where the loop above takes 1.25 in V8 (a sixth of crossEntropy
 *  [524288, 2] float32 into `out`). Below it the loop, with no views made per block. */
const WASM_CHECK_MIN = 1024;

/** checkIntTargets without a weight, where no class is ignore_index: the count of positions not
 *  ignored, or null when some are and ignore_index is not negative (as checkIntTargets). Targets in
 *  wasm memory (a wasmArray's Int32Array) are checked where they are; others go through the
 *  module's static block, which this never grows memory for (a growth would detach the call's
 *  wasmArray arguments before the stream takes their views again). */
function checkTargetsInWasm(fn: string, values: IntArray, layout: ClassLayout<ArrayLike<number>>, ignoreIndex: number): number | null {
  const ws = getWorkspace(fn);
  const check = ws.call('checkTargets');
  const n = values.length;
  const hasIgnore = (ignoreIndex | 0) === ignoreIndex ? 1 : 0;
  const memory = ws.exports.memory.buffer;
  let ignored = 0;
  const inPlace = values instanceof Int32Array && sameMemory(values.buffer, memory);
  const block = inPlace ? n : BLOCK_TARGETS;
  const staging = inPlace ? null : new Int32Array(memory, ws.call('targetBlock')(), block);
  for (let p0 = 0; p0 < n; p0 += block) {
    const k = Math.min(block, n - p0);
    if (staging) staging.set(values.subarray(p0, p0 + k));
    const r = check(staging ? staging.byteOffset : values.byteOffset, k, layout.classes, hasIgnore ? ignoreIndex : 0, hasIgnore);
    if (r < 0) badTarget(fn, values[p0 - 1 - r], p0 - 1 - r, layout, ignoreIndex);
    ignored += r;
  }
  if (ignored > 0 && ignoreIndex >= 0) return null;
  return n - ignored;
}

/** Targets per block through the module's static block (assembly/targets.ts TARGET_BLOCK_BYTES). */
const BLOCK_TARGETS = 16384 / 4;

/** writeIndexTargets for targets already in `dest`: one loop over i32 only (W3's Uint8Array mask
 *  took 15 ns per position in the loop that sees every target type, about 2 here). The same sum
 *  in the same order, so the same bits. (Not merged with checkIntTargets: see there.) */
function checkI32Targets(fn: string, dest: Int32Array, layout: ClassLayout<ArrayLike<number>>, ignoreIndex: number, weight: ArrayLike<number> | null): number {
  const C = layout.classes;
  // Without a weight the sum is a count (exact below 2^53): no array of C ones, which at an LLM's
  // vocabulary would be 1.2 MB allocated and filled on every call.
  const w = weight ? Float64Array.from(weight) : null;
  const n = dest.length;
  let denominator = 0;
  for (let p = 0; p < n; p++) {
    const t = dest[p];
    if (t === ignoreIndex) {
      dest[p] = IGNORED;
      continue;
    }
    if (t < 0 || t >= C) badTarget(fn, t, p, layout, ignoreIndex);
    denominator += w ? w[t] : 1;
  }
  return denominator;
}

/** The error for target `raw` at flat position `p`: its value and where it is. */
function badTarget(fn: string, raw: number | bigint, p: number, layout: ClassLayout<ArrayLike<number>>, ignoreIndex: number): never {
  if (typeof raw === 'number' && !Number.isInteger(raw)) {
    fail(fn, `target ${String(raw)} at position ${position(p, layout.positionShape)} is not an integer class index`, TypeError);
  }
  const classes = layout.classes === 0 ? 'there are no classes (C = 0)' : `classes are 0..${layout.classes - 1}`;
  return fail(fn, `Target ${String(raw)} is out of bounds. (at position ${position(p, layout.positionShape)}; ${classes}, ignoreIndex ${ignoreIndex})`, RangeError);
}

/** Unravels a flat index into a shape: 7 in [2, 4] -> [1, 3]. */
function position(flat: number, shape: readonly number[]): string {
  if (shape.length === 0) return '[]';
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(flat % shape[d]);
    flat = Math.floor(flat / shape[d]);
  }
  return showShape(idx);
}

/** The per-class weight: C numbers (an array, a float typed array, or a 1-D tensor). */
export function classWeight(fn: string, weight: unknown, classes: number, precision: Precision): ArrayLike<number> | null {
  if (weight === undefined || weight === null) return null;
  const { data, shape } = tensorLike(fn, 'weight', weight, (length) => [length]);
  const values = checkNumbers(fn, 'weight', data);
  if (shape.length !== 1 || values.length !== classes) {
    fail(fn, `weight tensor should be defined either for all ${classes} classes or no classes but got weight tensor of shape: ${showShape(shape)}`, RangeError);
  }
  // The values the kernel reads, in the input's type, so that the 'mean' denominator sums the same
  // weights (red team 14: float32 input with number[] weights of 1e-45 summed them unrounded).
  return precision === 'f32' && !(values instanceof Float32Array) ? Float32Array.from(values) : values;
}

export function checkIgnoreIndex(fn: string, ignoreIndex: unknown): number {
  if (ignoreIndex === undefined) return -100;
  if (typeof ignoreIndex !== 'number' || !Number.isSafeInteger(ignoreIndex)) {
    fail(fn, `ignoreIndex must be a safe integer (|v| < 2^53), got ${show(ignoreIndex)}`, TypeError);
  }
  return ignoreIndex;
}

/** labelSmoothing (PyTorch's label_smoothing): a number in [0, 1], 0 when not given. A value of
 *  another type is named as such (red team 44: '0.1' was "must be between 0.0 and 1.0. Got: 0.1", a RangeError). */
export function checkSmoothing(fn: string, value: unknown): number {
  const eps = numberOption(fn, 'labelSmoothing', value, 0);
  if (!(eps >= 0 && eps <= 1)) fail(fn, `label_smoothing must be between 0.0 and 1.0. Got: ${eps}`, RangeError);
  return eps;
}

/** The pipeline of a loss over class-index targets with weight and ignoreIndex (nllLoss,
 *  focalLoss): read the arguments once, lay the input out around the class dim, check the weight
 *  and targets, and stream the kernel `name` over the chunks, 'mean' dividing by the sum of w_t.
 *  `extra` are the kernel's own arguments between the layout and the outputs (focal's gamma), checked
 *  by the caller from `opts` before this runs. `chunks`: see src/stream.ts's ChunkLayout. */
export function indexTargetLoss(
  fn: string, name: string, inputArg: unknown, targetArg: unknown, opts: Record<string, unknown>, extra: number[] = [],
  chunks: ChunkLayout | ((C: number, inner: number, simd: boolean, precision: Precision) => ChunkLayout) = {},
): LossResult {
  const input = readArg(fn, 'input', inputArg);
  const target = readArg(fn, 'target', targetArg);
  const layout = classLayout(fn, input, opts.dim);
  const x = layout.input.data;
  const precision = precisionOf(x);
  const weight = classWeight(fn, opts.weight, layout.classes, precision);
  const ignoreIndex = checkIgnoreIndex(fn, opts.ignoreIndex);
  const plan = planLoss(fn, opts, x, layout.positionShape);
  const values = indexTargets(fn, target, layout);
  const { outer, classes: C, inner, positions } = layout;
  const { lane, denominator } = indexTargetLane(fn, values, layout, ignoreIndex, weight, plan.out);
  const ws = getWorkspace(fn);
  const stream = new LossStream(ws, fn, plan, precision, outer, C, inner, [{ data: x, rows: C, name: 'input' }, lane], [weight], 1, [], typeof chunks === 'function' ? chunks(C, inner, ws.simd, precision) : chunks);
  const [pw] = stream.fixed;
  const kernel = ws.kernel<(...args: number[]) => number>(name, precision);
  return stream.run(denominator, (c, scale) =>
    kernel(c.inputs[0], c.inputs[1], pw, c.count, C, c.width, ...extra, c.loss, c.grad, scale, c.gradOutput),
  );
}
