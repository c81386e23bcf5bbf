// What every loss shares: its reduction, the upstream gradient, the optional `out` array, and how
// inputs stream through wasm memory in chunks and results leave it (copied, so returned arrays
// belong to the caller).

import { fail, showShape } from '../errors.js';
import { callerArray, checkBoolean, sameArray, checkBuffer, checkNumbers, checkReduction, FloatArray, newFloatArray, own, Precision, precisionOf, product, Reduction, tensorLike, typedArrayKind, typeName, viewsAgain } from '../tensor.js';
import { Chunk, ChunkLayout, Lane, Stream } from '../stream.js';
import { Workspace } from '../workspace.js';

export interface LossResult<A extends FloatArray = FloatArray> {
  /** A number for 'mean' and 'sum'; per-position losses (the input's float type) for 'none'. */
  loss: number | A;
  /** d loss / d input, when `grad: true` (or `out`) was passed. */
  grad?: A;
  /** Per-position log-sum-exp (crossEntropy with `returnLse: true`). */
  lse?: A;
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
  /** Upstream gradient per loss element for 'none' (in the input's float type), or null. */
  gradPerPosition: FloatArray | null;
  out: FloatArray | null;
}

export function planLoss(
  fn: string, options: Record<string, unknown>, input: FloatArray | Uint16Array, lossShape: readonly number[],
): LossPlan {
  // own fields only: the ops pass object literals, whose absent fields a polluted Object.prototype
  // would otherwise supply (red team 51: Object.prototype.out reached linearCrossEntropy)
  const option = (key: string) => (own(options, key) ? options[key] : undefined);
  const reduction = checkReduction(fn, option('reduction'));
  const out = checkOut(fn, option('out'), input);
  const wantGrad = checkBoolean(fn, 'grad', option('grad')) || out !== null;
  let gradScalar = 1;
  let gradPerPosition: FloatArray | null = null;
  const g = option('gradOutput');
  if (g !== undefined && !wantGrad) {
    fail(fn, 'gradOutput was given but no gradient was requested; pass grad: true (or out) with it', TypeError);
  }
  if (g !== undefined) {
    if (reduction !== 'none' || (lossShape.length === 0 && typeof g === 'number')) {
      if (typeof g !== 'number') fail(fn, `gradOutput must be a number for reduction '${reduction}', got ${typeName(g)}`, TypeError);
      // PyTorch holds gradOutput in the input's type: a float32 call scales by float32(g).
      gradScalar = precisionOf(input) === 'f32' ? Math.fround(g) : g;
    } else {
      const { data, shape } = tensorLike(fn, 'gradOutput', g, () => lossShape.slice());
      const values = checkNumbers(fn, 'gradOutput', data);
      const sameShape = shape.length === lossShape.length && shape.every((d, i) => d === lossShape[i]);
      if (values.length !== product(lossShape) || (!sameShape && lossShape.length > 0)) {
        fail(fn, `gradOutput of shape ${showShape(shape)} does not match the loss shape ${showShape(lossShape)}`, RangeError);
      }
      gradPerPosition = newFloatArray(precisionOf(input), values.length);
      gradPerPosition.set(values);
    }
  }
  return { reduction, wantGrad, gradScalar, gradPerPosition, out };
}

/** The optional `out` array: the input's type and length, not shared (a Float32Array for a
 *  half-precision input, whose results are float32). */
export function checkOut(fn: string, out: unknown, input: FloatArray | Uint16Array): FloatArray | null {
  if (out === undefined) return null;
  const half = input instanceof Uint16Array;
  const type = half ? Float32Array : input.constructor;
  // (a Proxy or look-alike object is not a typed array, whatever its constructor says: red team 32)
  if (out === null || typeof out !== 'object' || typedArrayKind(out) === undefined || (out as object).constructor !== type) {
    fail(fn, `out must be a ${type.name} ${half ? '(results of half-precision input are float32)' : 'like the input'}, got ${typeName(out)}`, TypeError);
  }
  const o = out as FloatArray;
  checkBuffer(fn, 'out', o);
  if (o.length !== input.length) fail(fn, `out has ${o.length} elements but the input has ${input.length}`, RangeError);
  return o;
}

/** Where a loss kernel finds the current chunk (see Stream): its inputs in the order given, and
 *  where it writes per-position losses and the gradient and reads the upstream gradient (0 = absent). */
export interface LossChunk extends Chunk {
  loss: number;
  grad: number;
  gradOutput: number;
  /** The chunk's blocks of the `perPosition` outputs (crossEntropy's lse), in the order given. */
  perPosition: number[];
}

/**
 * Runs a loss kernel over an (outer, C, inner) input in chunks (see src/stream.ts). `inputs` are
 * streamed in with the input's layout (rows = C) or per position (rows = 1); the 'none' losses,
 * the gradient and the per-position upstream gradient are added from the plan (`lossRows` loss
 * values per position: 1 for class losses, all of them for element-wise ones). `fixed` are values
 * (weights) copied once into wasm memory in the input's precision; their pointers are `fixed` after
 * construction (0 for a null entry, or when there is nothing to compute). `perPosition` are
 * extra outputs with one value per position (crossEntropy's lse), written by the kernel.
 */
export class LossStream {
  readonly fixed: number[];
  /** The sum of the per-position losses of the last run, before any reduction. */
  total = 0;
  private readonly stream: Stream;
  private readonly lossValues: FloatArray | null;
  private readonly grad: FloatArray | null;

  constructor(
    ws: Workspace, fn: string, private readonly plan: LossPlan, precision: Precision,
    outer: number, C: number, inner: number, inputs: Lane[], fixed: (ArrayLike<number> | null)[], lossRows = 1,
    private readonly perPosition: FloatArray[] = [],
    layout: ChunkLayout = {},
  ) {
    this.lossValues = plan.reduction === 'none' ? newFloatArray(precision, outer * lossRows * inner) : null;
    this.grad = plan.wantGrad ? plan.out ?? newFloatArray(precision, outer * C * inner) : null;
    const extraInputs: Lane[] = plan.gradPerPosition ? [{ data: plan.gradPerPosition, rows: lossRows }] : [];
    const outputs: Lane[] = perPosition.map((data) => ({ data, rows: 1 }));
    if (this.lossValues) outputs.push({ data: this.lossValues, rows: lossRows });
    if (this.grad) outputs.push({ data: this.grad, rows: C, name: 'out' });
    const bytes = precision === 'f32' ? 4 : 8;
    // The stream's reserve may grow memory, detaching fixed values given as wasmArrays (a weight's
    // .array): they are read from views made after it (red team 13).
    const again = viewsAgain(ws.exports.memory, fixed);
    const lengths = fixed.map((v) => v?.length ?? 0);
    const lanes: Lane[] = [];
    for (let i = 0; i < inputs.length; i++) lanes.push(inputs[i]);
    for (let i = 0; i < extraInputs.length; i++) lanes.push(extraInputs[i]);
    const fixedBytes: number[] = [];
    for (let i = 0; i < lengths.length; i++) fixedBytes.push(lengths[i] * bytes);
    this.stream = new Stream(ws, fn, outer, inner, lanes, outputs, fixedBytes, layout);
    const values = again();
    this.fixed = this.stream.fixed.map((pointer, k) => (values[k] && !this.stream.idle ? pointer : 0));
    this.fixed.forEach((pointer, k) => pointer && ws.floats(precision, pointer, lengths[k]).set(values[k]!));
  }

  /** Input k as it is after `run`: the caller's array, or a fresh view of a wasmArray when the
   *  call grew memory (which detaches the caller's view). */
  input(k: number): Lane['data'] {
    return this.stream.inputs[k].data;
  }

  /** What the stream's `side` export read summed over the chunks of the last run (see Stream.run). */
  get sideTotal(): number {
    return this.stream.sideTotal;
  }

  /** Runs `kernel` on every chunk with the uniform upstream gradient `scale`; 'mean' divides the
   *  summed loss by `denominator`. `side`: an export to read after each chunk (Stream.run). */
  run(denominator: number, kernel: (chunk: LossChunk, scale: number) => number, side?: string): LossResult {
    const { plan, lossValues, grad } = this;
    const scale = uniformScale(plan, denominator);
    const extra = this.perPosition.length;
    const perPositionUpstream = plan.gradPerPosition !== null;
    // The stream's chunk, completed in place (the stream makes a new one per chunk and keeps none):
    // no copy of it per chunk.
    const total = this.stream.run((chunk) => {
      const c = chunk as LossChunk;
      let k = extra;
      c.loss = lossValues ? chunk.outputs[k++] : 0;
      c.grad = grad ? chunk.outputs[k++] : 0;
      c.gradOutput = perPositionUpstream ? chunk.inputs[chunk.inputs.length - 1] : 0;
      c.perPosition = extra === 0 ? NO_POINTERS : chunk.outputs.slice(0, extra);
      return kernel(c, scale);
    }, side);
    // 'mean' divides as PyTorch does, in IEEE arithmetic: a zero denominator (every target ignored,
    // class weights that sum to zero, an empty batch) gives NaN for 0 / 0 and +-Infinity otherwise.
    const loss = lossValues ?? (plan.reduction === 'mean' ? total / denominator : total);
    // The stream's own view of the gradient: the `out` array itself, or a fresh view of the same
    // wasmArray when this call grew memory and detached the caller's.
    this.total = total;
    return grad ? { loss, grad: callerArray(this.stream.outputs[this.stream.outputs.length - 1].data as FloatArray) } : { loss };
  }
}

/** A chunk's perPosition when there are none (never written to). */
const NO_POINTERS: number[] = Object.freeze([]) as unknown as number[];

/** Whether the gradient is written over one of `arrays` (`out` is exactly that array), so that its
 *  values are gone after the kernel. Decided before the stream is built: a wasmArray input and out,
 *  detached by the stream's growth, would compare equal. */
export function outReplaces(plan: LossPlan, ...arrays: ArrayBufferView[]): boolean {
  return plan.wantGrad && arrays.some((a) => sameArray(plan.out, a));
}

/** The upstream gradient factor the kernels apply when it is uniform: gradOutput / denominator for 'mean'. */
export function uniformScale(plan: LossPlan, denominator: number): number {
  return plan.reduction === 'mean' ? plan.gradScalar / denominator : plan.gradScalar;
}
