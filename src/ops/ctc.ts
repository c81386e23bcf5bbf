// ctcLoss: torch.nn.functional.ctc_loss (PyTorch 1.13), with the gradient PyTorch's native
// backward returns for log_probs. The kernel (assembly/ctc.ts) runs the alpha-beta recursion on
// probabilities held as m 2^k (log space's range without its exps); here every argument is
// checked first, in PyTorch's words where PyTorch has words.

import { fail, showShape } from '../errors.js';
import { getWorkspace } from '../loader.js';
import { Stream } from '../stream.js';
import { getWorkspaceLimit } from '../workspace.js';
import { callerArray, checkBoolean, checkOptions, FloatArray, readArg, floatTensor, isFloatArray, isIntArray, newFloatArray, precisionOf, show, Tensor, tensorLike, typeName } from '../tensor.js';
import { LOSS_OPTIONS, LossOptionsBase, LossResult, planLoss, uniformScale } from './loss.js';

export interface CtcLossOptions<A extends FloatArray = FloatArray> extends LossOptionsBase<A> {
  /** The blank label (default 0). */
  blank?: number;
  /** Impossible alignments give loss 0 and gradient 0 instead of +Infinity (default false). */
  zeroInfinity?: boolean;
}

/** Integer lengths: an integer typed array or number[] (or a number for unbatched input). */
export type Lengths = ArrayLike<number> | BigInt64Array | number | { data: ArrayLike<number> | BigInt64Array; shape?: readonly number[] };

const OPTIONS = [...LOSS_OPTIONS, 'blank', 'zeroInfinity'];
const FN = 'ctcLoss';
/** PyTorch's argument names, for its messages. */
const TARGETS = "argument #2 'targets'";

type Kernel = (
  lp: number, T: number, N: number, b0: number, b1: number, C: number, blank: number, targets: number, offsets: number,
  targetLengths: number, inputLengths: number, maxS: number, zeroInfinity: number, nll: number,
  grad: number, gradScale: number, scratch: number,
) => void;

/**
 * CTC loss of `targets` under `logProbs` (T, N, C), or (T, C) unbatched: normally log_softmax
 * output over C. `targets` is padded (N, S) or the 1-D concatenation of every target (length
 * sum(targetLengths)); labels are in 0..C-1 and never the blank. `inputLengths` and
 * `targetLengths` hold one length per batch element (numbers when unbatched).
 */
export function ctcLoss<A extends FloatArray, O extends CtcLossOptions<A> = {}>(logProbs: Tensor<A>, targets: Exclude<import('../types.js').IndexTarget, number>, inputLengths: Lengths, targetLengths: Lengths, options?: O): import('../types.js').LossResultOf<A, O>;
export function ctcLoss<A extends FloatArray>(
  logProbsArg: Tensor<A>, targetsArg: unknown, inputLengthsArg: Lengths, targetLengthsArg: Lengths, options?: CtcLossOptions<A>,
): LossResult<A> {
  // Everything the caller passed is read once, up front (tensor.ts: readArg), then validated.
  const opts = checkOptions(FN, options, OPTIONS);
  const logProbs = readArg(FN, 'logProbs', logProbsArg);
  const targets = readArg(FN, 'targets', targetsArg);
  const inputLengths = readArg(FN, 'inputLengths', inputLengthsArg);
  const targetLengths = readArg(FN, 'targetLengths', targetLengthsArg);
  const input = floatTensor(FN, 'logProbs', logProbs);
  const shape = input.shape;
  if (shape.length !== 3 && shape.length !== 2) {
    fail(FN, `Expected 3-dimensional tensor (or 2-dimensional when unbatched), but got ${shape.length}-dimensional tensor for argument #1 'log_probs' (shape ${showShape(shape)})`, RangeError);
  }
  const batched = shape.length === 3;
  const T = shape[0];
  const N = batched ? shape[1] : 1;
  const C = shape[shape.length - 1];
  const lp = input.data;
  const precision = precisionOf(lp);

  const blank = opts.blank === undefined ? 0 : opts.blank;
  if (typeof blank !== 'number' || !Number.isInteger(blank)) fail(FN, `blank must be an integer, got ${show(blank)}`, TypeError);
  if (blank < 0 || blank >= C) fail(FN, `blank must be in label range (blank = ${blank}, classes are 0..${C - 1})`, RangeError);
  const zeroInfinity = checkBoolean(FN, 'zeroInfinity', opts.zeroInfinity);
  const plan = planLoss(FN, opts, lp, batched ? [N] : []);

  const il = lengths('inputLengths', 'input_lengths', inputLengths, N, batched, T);
  const tl = lengths('targetLengths', 'target_lengths', targetLengths, N, batched, Number.MAX_SAFE_INTEGER);
  const { labels, offsets, maxS } = readTargets(targets, tl, N, C, blank);

  // The upstream gradient of each element's loss: 'mean' divides by the target length (at least
  // 1) and by N, as PyTorch's (loss / target_lengths.clamp_min(1)).mean() does.
  const gradScale = new Float64Array(N);
  if (plan.wantGrad) {
    for (let b = 0; b < N; b++) {
      if (plan.gradPerPosition) gradScale[b] = plan.gradPerPosition[b];
      else gradScale[b] = plan.reduction === 'mean' ? uniformScale(plan, N) / Math.max(tl[b], 1) : plan.gradScalar;
    }
  }

  const ws = getWorkspace(FN);
  const scratch = scratchBytes(T, maxS, C);
  const grad = plan.wantGrad ? plan.out ?? newFloatArray(precision, lp.length) : null;
  const n = lp.length;
  // Threads (src/threads.ts): the batch elements are cut into one range per thread, each with a
  // scratch of its own. Every element's loss and gradient is computed alone, by the same code
  // whichever thread runs it, and the losses are added here in element order: the same bits.
  const fixed = [labels.length * 4, N * 4, N * 4, N * 4, N * 8, N * 8];
  // One chunk holding all of logProbs (every frame of an element is needed at once); a wasmArray
  // is used in place.
  const open = (ranges: [number, number][]) => new Stream(ws, FN, 1, 1, [{ data: lp, rows: n, name: 'logProbs' }],
    grad ? [{ data: grad, rows: n, name: 'out' }] : [], [...fixed, ...ranges.map(() => scratch)]);
  const wasm = ws.exports.memory.buffer;
  const copied = [lp, grad].filter((a) => a && a.buffer !== wasm).map((a) => a!.byteLength); // arrays used in place take no room
  let ranges = batchRanges(il, tl, C, N, threadsFor(ws.pool?.size ?? 1, [...fixed, ...copied], scratch, N, T * C));
  let stream: Stream;
  try {
    stream = open(ranges);
  } catch (e) {
    // Over the workspace limit with a scratch per thread (an estimate: the stream has the last
    // word on what it needs): one thread, as without a pool.
    if (ranges.length === 1 || !(e instanceof RangeError)) throw e;
    ranges = [[0, N]];
    stream = open(ranges);
  }
  let nll: Float64Array;
  if (stream.idle) {
    // No frames (T = 0), no elements or no classes: nothing reaches the kernel. With no frames an
    // empty target has probability 1 (loss 0) and any other is impossible (+Infinity).
    nll = Float64Array.from(tl, (length) => (length === 0 ? 0 : Infinity));
  } else {
    const [pLabels, pOffsets, pTl, pIl, pNll, pScale, ...pScratch] = stream.fixed;
    const buffer = ws.exports.memory.buffer;
    new Int32Array(buffer, pLabels, labels.length).set(labels);
    new Int32Array(buffer, pOffsets, N).set(offsets);
    new Int32Array(buffer, pTl, N).set(tl);
    new Int32Array(buffer, pIl, N).set(il);
    new Float64Array(buffer, pScale, N).set(gradScale);
    const name = `ctcLoss_${precision}`;
    stream.run((c) => {
      const parts = ranges.map(([b0, b1], k) => [{ name, args: [c.inputs[0], T, N, b0, b1, C, blank, pLabels, pOffsets, pTl, pIl, maxS, zeroInfinity ? 1 : 0, pNll, grad ? c.outputs[0] : 0, pScale, pScratch[k]] }]);
      if (parts.length > 1) ws.pool!.forkJoin(FN, parts);
      else (ws.exports[name] as Kernel)(...(parts[0][0].args as Parameters<Kernel>));
      return 0;
    });
    nll = new Float64Array(ws.exports.memory.buffer, pNll, N).slice();
  }
  if (zeroInfinity) nll.forEach((v, b) => v === Infinity && (nll[b] = 0));
  let loss: number | FloatArray;
  if (plan.reduction === 'none') {
    loss = newFloatArray(precision, N);
    loss.set(nll);
  } else {
    let sum = 0;
    for (let b = 0; b < N; b++) sum += plan.reduction === 'mean' ? nll[b] / Math.max(tl[b], 1) : nll[b];
    loss = plan.reduction === 'mean' ? sum / N : sum; // N = 0: NaN, as PyTorch's mean of nothing
  }
  const result: LossResult = { loss };
  if (grad) result.grad = callerArray(stream.outputs[0].data as FloatArray);
  return result as LossResult<A>;
}

/** How many threads a call takes: 1 without a pool, for a small call (under MIN_WORK of logProbs
 *  elements, where a fork and join would cost more than it saves) or a single element; else the
 *  pool's threads, as many as the workspace limit leaves room for a scratch each beside the call's
 *  other regions (byte sizes). */
function threadsFor(threads: number, regions: number[], scratch: number, N: number, work: number): number {
  if (threads <= 1 || N <= 1 || work * N < MIN_WORK) return 1;
  const aligned = (b: number) => Math.ceil(b / 16) * 16; // as Workspace.reserve lays regions out
  const room = Math.floor((getWorkspaceLimit() - regions.reduce((a, b) => a + aligned(b), 0)) / aligned(scratch));
  return Math.max(1, Math.min(threads, N, room));
}
const MIN_WORK = 1 << 16;

/** Batch elements 0..N-1 cut into `parts` contiguous ranges of about equal work (an element's work
 *  taken as its frames times its states and classes). */
function batchRanges(il: Float64Array, tl: Float64Array, C: number, N: number, parts: number): [number, number][] {
  if (parts <= 1) return [[0, N]];
  const cost = (b: number) => il[b] * (2 * tl[b] + 1 + C) + 1;
  let total = 0;
  for (let b = 0; b < N; b++) total += cost(b);
  const out: [number, number][] = [];
  let b0 = 0;
  let sum = 0;
  for (let b = 0; b < N; b++) {
    sum += cost(b);
    if (sum >= (total * (out.length + 1)) / parts && out.length < parts - 1) {
      out.push([b0, b + 1]);
      b0 = b + 1;
    }
  }
  out.push([b0, N]);
  return out.filter(([a, z]) => z > a);
}

/** Bytes of the kernel's scratch (its layout is in assembly/ctc.ts): rows of W = 2S + 4 f64,
 *  4 max(T, 2) of them for alpha and the emissions, 4 for beta, 2 skip masks; C sums (rounded up to
 *  even); two label arrays of S + 1 i32 (rounded up to a multiple of 4). Computed here, in doubles,
 *  so that no size can wrap around before the workspace limit sees it. */
function scratchBytes(T: number, S: number, C: number): number {
  const W = 2 * S + 4;
  return ((4 * Math.max(T, 2) + 6) * W + 2 * Math.ceil(C / 2)) * 8 + 4 * Math.ceil((S + 1) / 4) * 8;
}

/** N integer lengths in 0..max (PyTorch's `name`): an integer array, or one number when unbatched. */
function lengths(name: string, torchName: string, value: unknown, N: number, batched: boolean, max: number): Float64Array {
  let values: ArrayLike<number | bigint>;
  if (typeof value === 'number' || typeof value === 'bigint') {
    if (batched) fail(FN, `${name} must be an array of ${N} lengths for batched input, got a ${typeof value}`, TypeError);
    values = [value];
  } else {
    const { data, shape } = tensorLike(FN, name, value, (length) => [length]);
    if (isFloatArray(data)) fail(FN, `${torchName} must be integral (got a ${typeName(data)})`, TypeError);
    if (shape.length > 1) fail(FN, `${name} must be 1-dimensional, got shape ${showShape(shape)}`, RangeError);
    values = data as ArrayLike<number | bigint>;
  }
  if (values.length !== N) fail(FN, `${torchName} must be of size batch_size (got ${values.length} lengths, batch_size ${N})`, RangeError);
  // Float64, not Int32: a length past 2^31 must reach the bound checks (and their messages) as
  // itself, not clamped (red team 4: input_lengths 2^32 + 3 was reported as 2147483647)
  const out = new Float64Array(N);
  for (let b = 0; b < N; b++) {
    const v = Number(values[b]);
    if (!Number.isInteger(v)) fail(FN, `${name}[${b}] = ${String(values[b])} is not an integer`, TypeError);
    if (v < 0) fail(FN, `Expected ${torchName} to have value at least 0, but got value ${String(values[b])} (${name}[${b}])`, RangeError);
    // (the value as given: a BigInt past 2^53 is not its rounded Number; red team 56)
    if (v > max) fail(FN, `Expected ${torchName} to have value at most ${max}, but got value ${String(values[b])} (${name}[${b}])`, RangeError);
    out[b] = v; // target lengths past the targets' size fail readTargets' checks
  }
  return out;
}

/** Reads padded (N, S) or concatenated targets, checks every label an element uses, and packs
 *  them: element b's labels at labels[offsets[b]..]. */
function readTargets(targets: unknown, tl: Float64Array, N: number, C: number, blank: number) {
  const { data, shape } = tensorLike(FN, 'targets', targets, (length) => [length]);
  if (isFloatArray(data)) fail(FN, `targets must be an integer typed array or an array of numbers, got ${typeName(data)}`, TypeError);
  if (!isIntArray(data) && !Array.isArray(data)) fail(FN, `targets must be an integer typed array or an array of numbers, got ${typeName(data)}`, TypeError);
  const values = data as ArrayLike<number | bigint>;
  if (shape.length !== 1 && shape.length !== 2) fail(FN, `Expected 1 to 2 dimensions, but got ${shape.length}-dimensional tensor for ${TARGETS}`, RangeError);
  let maxS = 0;
  let total = 0;
  for (let b = 0; b < N; b++) {
    maxS = Math.max(maxS, tl[b]);
    total += tl[b];
  }
  const padded = shape.length === 2;
  if (padded) {
    if (shape[0] !== N) fail(FN, `Expected tensor to have size ${N} at dimension 0, but got size ${shape[0]} for ${TARGETS}`, RangeError);
    if (shape[1] < maxS) fail(FN, `Expected tensor to have size at least ${maxS} at dimension 1, but got size ${shape[1]} for ${TARGETS}`, RangeError);
  } else if (shape[0] !== total) {
    fail(FN, `Expected tensor to have size ${total} at dimension 0, but got size ${shape[0]} for ${TARGETS}`, RangeError);
  }
  const labels = new Int32Array(total);
  const offsets = new Int32Array(N);
  let k = 0;
  for (let b = 0; b < N; b++) {
    offsets[b] = k;
    const start = padded ? b * shape[1] : k;
    for (let j = 0; j < tl[b]; j++, k++) {
      const raw = values[start + j];
      const v = Number(raw);
      const where = padded ? `[${b}, ${j}]` : `[${start + j}]`;
      if (!Number.isInteger(v)) fail(FN, `target ${String(raw)} at position ${where} is not an integer label`, TypeError);
      if (v < 0 || v >= C) fail(FN, `Target ${String(raw)} is out of bounds. (at position ${where}; labels are 0..${C - 1})`, RangeError);
      if (v === blank) fail(FN, `Target ${v} at position ${where} is the blank label; targets must not contain blank (${blank})`, RangeError);
      labels[k] = v;
    }
  }
  return { labels, offsets, maxS };
}
