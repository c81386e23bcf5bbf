// crossEntropy: torch.nn.functional.cross_entropy with class-index or class-probability targets.

import { fail, showShape } from '../errors.js';
import { getWorkspace } from '../loader.js';
import { asStored, has, checkBoolean, checkNumbers, checkOptions, FloatArray, floatTensor, inputTensor, isFloatArray, newFloatArray, numberOption, Precision, precisionOf, readArg, tensorLike, Tensor, sameArray, viewsAgain } from '../tensor.js';
import { Workspace } from '../workspace.js';
import { Relayout } from '../stream.js';
import { checkIgnoreIndex, checkSmoothing, ClassLayout, classWeight, layoutAround, indexTargetLane, indexTargets } from './class_targets.js';
import { LOSS_OPTIONS, LossOptionsBase, outReplaces, LossPlan, LossResult, LossStream, planLoss, uniformScale } from './loss.js';

export interface CrossEntropyOptions<A extends FloatArray = FloatArray> extends LossOptionsBase<A> {
  /** Per-class rescaling weight, length C. */
  weight?: ArrayLike<number> | { data: ArrayLike<number>; shape?: readonly number[] };
  /** Targets equal to this are skipped (default -100). Class-index targets only. */
  ignoreIndex?: number;
  /** Mixes the target with the uniform distribution: eps in [0, 1] (default 0). */
  labelSmoothing?: number;
  /** The class dim (default 1, or 0 for a 1-D input); negative counts from the end. */
  dim?: number;
  /** z-loss coefficient z >= 0 (default 0): adds z lse^2 per non-ignored position (PaLM's z-loss;
   *  'mean' averages it over those positions by count, not by weight). */
  zLoss?: number;
  /** Also return `lse`, each position's log-sum-exp (ignored positions included). */
  returnLse?: boolean;
}

const OPTIONS = [...LOSS_OPTIONS, 'weight', 'ignoreIndex', 'labelSmoothing', 'dim', 'zLoss', 'returnLse'];
const FN = 'crossEntropy';

type IndexKernel = (x: number, t: number, w: number, outer: number, C: number, inner: number, eps: number, loss: number, grad: number, scale: number, gradPerPosition: number, z: number, zScale: number, lse: number) => number;
type ProbsKernel = IndexKernel;

/**
 * Cross-entropy between logits `input` (N, C, d1..dk) and `target`: class indices of shape
 * (N, d1..dk) (any integer typed array or number[]), or class probabilities of the input's shape
 * (a float typed array). Mirrors torch.nn.functional.cross_entropy.
 */
export function crossEntropy<A extends FloatArray, O extends CrossEntropyOptions<A> = {}>(input: Tensor<A>, target: import('../types.js').IndexTarget | import('../types.js').ProbabilityTarget, options?: O): import('../types.js').LossResultOf<A, O>;
/** Half-precision logits (a Uint16Array of float16 / bfloat16 bits with `dtype`, or a
 *  Float16Array): computed in float32, every returned array a Float32Array. */
export function crossEntropy<O extends CrossEntropyOptions<Float32Array> = {}>(input: import('../types.js').HalfTensor, target: import('../types.js').IndexTarget | import('../types.js').ProbabilityTarget, options?: O): import('../types.js').LossResultOf<Float32Array, O>;
export function crossEntropy<A extends FloatArray>(
  inputArg: Tensor<A> | import('../types.js').HalfTensor, targetArg: unknown, options?: CrossEntropyOptions<A>,
): LossResult<A> {
  return crossEntropyAs(FN, inputArg, targetArg, checkOptions(FN, options, OPTIONS));
}

/** crossEntropy under another function's name, its errors prefixed `fn`, on options that the
 *  caller has checked. Under another name it takes what that op takes: float logits (no half
 *  precision) and class-index targets (no probabilities). focalLoss with gamma 0, which is
 *  crossEntropy, runs here: crossEntropy's kernels, columns included, instead of a per-position
 *  step 10x slower on short rows. */
export function crossEntropyAs<A extends FloatArray>(fn: string, inputArg: unknown, targetArg: unknown, opts: Record<string, unknown>): LossResult<A> {
  // Everything the caller passed is read once, up front (tensor.ts: readArg), then validated.
  const input = readArg(fn, 'input', inputArg);
  const target = readArg(fn, 'target', targetArg);
  // The input may be half precision (tensor.ts: inputTensor): its bits are decoded per chunk in wasm
  // and the float32 kernels run on them; results are Float32Array.
  const itself = fn === FN;
  const read = itself ? inputTensor(fn, 'input', input) : { ...floatTensor(fn, 'input', input), half: null };
  const layout = layoutAround(fn, read, opts.dim);
  let x = layout.input.data;
  const precision = precisionOf(x);
  const floatType = (read.half ? Float32Array : x.constructor) as Float32ArrayConstructor | Float64ArrayConstructor;
  const weight = classWeight(fn, opts.weight, layout.classes, precision);
  const eps = checkSmoothing(fn, opts.labelSmoothing);
  const ignoreIndex = checkIgnoreIndex(fn, opts.ignoreIndex);
  const z = checkZLoss(fn, opts.zLoss);
  const wantLse = checkBoolean(fn, 'returnLse', opts.returnLse);
  const probabilities = itself && isProbabilities(target, layout);
  const plan = planLoss(fn, opts, x, layout.positionShape);
  const n = x.length;
  const positions = layout.positions;
  const { outer, classes: C, inner } = layout;

  if (probabilities) {
    if (opts.ignoreIndex !== undefined && ignoreIndex >= 0) fail(fn, 'ignore_index is not supported for floating point target', TypeError);
    const bare = isFloatArray(target) ? target : null;
    if (bare && bare.length !== n && bare.length === positions) {
      fail(fn, `a ${bare.constructor.name} target holds class probabilities and must have the input's shape ${showShape(layout.input.shape)}; pass class indices as an integer array`, TypeError);
    }
    const { data, shape } = tensorLike(fn, 'target', target, () => layout.input.shape.slice());
    if (shape.length !== layout.input.shape.length || shape.some((d, i) => d !== layout.input.shape[i])) {
      fail(fn, `a float target holds class probabilities and must have the input's shape ${showShape(layout.input.shape)}, got ${showShape(shape)}`, RangeError);
    }
    // Probabilities given as plain numbers (say, from JSON) are read in the input's float type.
    const p = isFloatArray(data) ? data : new floatType(checkNumbers(fn, 'target', data));
    const ws = getWorkspace(fn);
    const lanes = [{ data: x, rows: C, name: 'input', half: read.half }, { data: p, rows: C, type: floatType as Float32ArrayConstructor, name: 'target' }];
    const lse = wantLse ? newFloatArray(precision, positions) : null;
    // out = the input: the kernel overwrites it with the gradient, so what infiniteLse reads from it
    // is copied first (red team 5: lse NaN instead of +-inf for rows with +inf or all -inf)
    const lseInput = lse && sameArray(plan.out, x) ? x.slice() : null;
    const zs = zSum(z, plan, positions);
    // (Literal: PyTorch's -sum_c (log p_c q'_c) w_c, q' the smoothed target, where it hangs on
    // infinities; formed before the stream is built, whose reserve may grow wasm memory and so
    // detach a wasmArray input)
    const w = (c: number) => (weight ? weight[c] : 1);
    // (a float64 target of a float32 input is read in float32, as the kernel reads it)
    const inType = asStored(precision);
    const wMax = largestWeight(weight);
    const q = (t: ArrayLike<number>, e: number) => (eps > 0 ? inType(t[e]) * (1 - eps) + eps / C : inType(t[e]));
    // (before the stream is built: loss.ts outReplaces)
    const overwritten = outReplaces(plan, x, p);
    const uniform = uniformScale(plan, positions);
    const infinite = nonFiniteUpstream(plan, uniform, positions, wMax, largestOf(precision));
    const literal = infinite.length === 0 || C === 0 ? null : new Literal(x, read.half, C, inner);
    const writeRows = literal?.gradRows(infinite,
      (pos) => (plan.gradPerPosition ? plan.gradPerPosition[pos] : uniform),
      (pos, c, k) => -k * w(c) * q(p, literal.base(pos) + c * inner),
      (pos, lse) => (z > 0 ? (plan.gradPerPosition ? plan.gradPerPosition[pos] : zs.scale) * z * lse * 2 : 0));
    // The probability kernel is fast on rows and slow on columns ([8, 21, 64, 96]: 3x slower than
    // channels-last): a class dim that is not last is regrouped into rows (assembly/layout.ts).
    const stream = new LossStream(ws, fn, plan, precision, outer, C, inner, lanes, [weight], 1, lse ? [lse] : [], { relayout: inner > 1 ? 'rows' : undefined });
    const [pw] = stream.fixed;
    // Probability targets divide 'mean' by the number of positions, not by a weight sum (PyTorch:
    // NaN when the input is empty, C = 0 included); so does the z term (no position is ignored).
    const kernel = ws.kernel<ProbsKernel>('crossEntropyProbs', precision);
    const result = stream.run(n === 0 ? 0 : positions, (c, scale) =>
      kernel(c.inputs[0], c.inputs[1], pw, c.count, C, c.width, eps, c.loss, c.grad, scale, c.gradOutput, z, zs.scale, c.perPosition[0] ?? 0),
    zs.side) as LossResult<A>;
    // With no classes each position's loss is an empty sum negated: -0, as in PyTorch.
    if (C === 0 && plan.reduction !== 'mean') result.loss = typeof result.loss === 'number' ? -0 : (result.loss.fill(-0) as A);
    writeRows?.(result.grad);
    // A NaN loss (the kernel's summed loss is NaN if any position's is: no pass over a 'none' loss)
    // where a weight times a target probability is not finite: PyTorch's terms, (log p_c q'_c) w_c,
    // read after the kernel, so not where the gradient went into the input or the target
    const [xs, ps] = [stream.input(0), stream.input(1)];
    if (stream.total !== stream.total && C > 0 && !overwritten && !(wMax * largestMagnitude(ps, inType) < Infinity)) {
      const after = new Literal(xs, read.half, C, inner);
      const rowLoss = (pos: number) => {
        const logP = after.logSoftmax(pos);
        let sum = 0;
        for (let c = 0; c < C; c++) sum += logP[c] * q(ps, after.base(pos) + c * inner) * w(c);
        // (with z-loss a 'none' loss holds z lse^2 too; a reduced one gets it in finish)
        return -sum + (z > 0 && typeof result.loss !== 'number' ? z * after.lse * after.lse : 0);
      };
      if (typeof result.loss !== 'number') {
        for (let pos = 0; pos < positions; pos++) if (result.loss[pos] !== result.loss[pos]) result.loss[pos] = rowLoss(pos);
      } else {
        const sum = range(positions).reduce((a, pos) => a + rowLoss(pos), 0);
        result.loss = plan.reduction === 'mean' ? sum / positions : sum;
      }
    }
    if (lse) infiniteLse(lse, lseInput ?? xs, read.half, outer, C, inner);
    return finish(result, plan, z, zs.squares(C, positions, stream.sideTotal), positions, lse, C);
  }

  const values = indexTargets(fn, target, layout);
  const staged = indexTargetLane(fn, values, layout, ignoreIndex, weight, plan.out);
  const { denominator } = staged;
  // Class weights that sum to zero over the batch, with smoothing (zeroWeightSmoothedMean) need
  // the nll part on its own: summed before the kernel runs, since `out` may be the input and then
  // holds the gradient afterwards (red team 11: NaN instead of -inf).
  const zeroWeight = plan.reduction === 'mean' && denominator === 0 && eps > 0 && staged.lane.data.some((t) => t >= 0);
  // (that nested call may grow wasm memory, detaching targets that are a wasmArray: then a copy)
  const targetLane = zeroWeight ? { data: Int32Array.from(staged.lane.data), rows: 1 } : staged.lane;
  const targets = targetLane.data; // negative where ignored (any negative: indexTargetLane)
  // The z term's 'mean' divides by the count of non-ignored positions, not by the weight sum.
  // Counted only where it is used (a pass over the targets costs as much as the kernel on [N, 2]),
  // and before the stream is built: its reserve may grow wasm memory, which detaches targets that
  // view it (red team 12: a count of 0, loss Infinity).
  const kept = z > 0 || C === 0 ? keptPositions(targets) : 0;
  const ws = getWorkspace(fn);
  let nll = 0;
  if (zeroWeight) {
    // The nested call may grow wasm memory too: the input, out and gradOutput, when wasmArrays,
    // are taken again after it (red team 12: "input has 0 elements but this call needs ...").
    const again = viewsAgain(ws.exports.memory, [x, plan.out, plan.gradPerPosition]);
    const nllOptions = { weight: opts.weight, ignoreIndex: opts.ignoreIndex, dim: opts.dim, reduction: 'sum' } as CrossEntropyOptions<A>;
    nll = crossEntropy(input as Tensor<A>, target as never, nllOptions).loss as number;
    [x, plan.out, plan.gradPerPosition] = again();
  }
  const lse = wantLse ? newFloatArray(precision, positions) : null;
  const lseInput = lse && sameArray(plan.out, x) ? x.slice() : null;
  const zs = zSum(z, plan, kept);
  // (Literal: PyTorch's (1 - eps) nll + (eps / C) smooth, nll = -w_t log p_t, smooth = -sum_c log p_c w_c,
  // where it hangs on infinities: a non-finite upstream factor, or a non-finite class weight; formed
  // before the stream is built, whose reserve may grow wasm memory and so detach a wasmArray input)
  const w = (c: number) => (weight ? weight[c] : 1);
  const uniform = uniformScale(plan, denominator);
  const wMax = largestWeight(weight); // (NaN or Infinity where a weight is)
  const nonFiniteWeight = !(wMax < Infinity);
  // (float32: the exps' factor k ((1 - eps) w_t + (eps / C) W) / S is at most k wMax)
  const [bound, limit] = precision === 'f32' ? [wMax, largestOf(precision)] : [wMax * (1 - eps + eps / C), Number.MAX_VALUE];
  // A 'none' gradOutput is looked at by the kernel, which leaves its largest magnitude in
  // crossEntropyZSquares when z = 0 (a JavaScript pass over it cost 13% of a [65536, 2] call: red team
  // 31): its rows are formed after the kernel, from the input as it is then, unless `out` is the input.
  const late = plan.wantGrad && plan.gradPerPosition !== null && z === 0 && C > 0 && !sameArray(plan.out, x) && !(nonFiniteWeight && eps > 0);
  const rows = C === 0 || late ? [] : nonFiniteWeight && eps > 0 && plan.wantGrad ? range(positions) : nonFiniteUpstream(plan, uniform, positions, bound, limit);
  const literal = rows.length > 0 || (nonFiniteWeight && C > 0) ? new Literal(x, read.half, C, inner) : null;
  // dl: nll's -w_t (1 - eps) k at the target (zero-filled elsewhere, and at an ignored position), the
  // smoothing's -(eps / C) k w_c (PyTorch's masked 0 at an ignored position, times w_c)
  const gradRows = (from: Literal, at: number[], t: ArrayLike<number>) => from.gradRows(at,
    (pos) => (plan.gradPerPosition ? plan.gradPerPosition[pos] : uniform),
    (pos, c, k) => (c === t[pos] ? -w(c) * ((1 - eps) * k) : 0) + (eps > 0 ? -(t[pos] < 0 ? 0 : (eps / C) * k) * w(c) : 0),
    (pos, lse) => (z > 0 && t[pos] >= 0 ? (plan.gradPerPosition ? plan.gradPerPosition[pos] : zs.scale) * z * lse * 2 : 0));
  const writeRows = literal && rows.length > 0 ? gradRows(literal, rows, targets) : null;
  const literalLoss = literal && nonFiniteWeight ? indexLiteralLoss(literal, targets, w, eps, z, C, positions, plan.reduction, denominator) : null;
  const stream = new LossStream(ws, fn, plan, precision, outer, C, inner, [{ data: x, rows: C, name: 'input', half: read.half }, targetLane], [weight], 1, lse ? [lse] : [], { relayout: ws.simd ? indexRelayout(C, inner, precision) : undefined, walksClassRows: true });
  const [pw] = stream.fixed;
  const kernel = ws.kernel<IndexKernel>('crossEntropyIndex', precision);
  const result = stream.run(denominator, (c, scale) =>
    kernel(c.inputs[0], c.inputs[1], pw, c.count, C, c.width, eps, c.loss, c.grad, scale, c.gradOutput, z, zs.scale, c.perPosition[0] ?? 0),
  late ? 'crossEntropyZSquares' : zs.side) as LossResult<A>;
  // (a zero weight sum makes the upstream factor infinite: Literal's rows)
  if (zeroWeight) result.loss = zeroWeightSmoothedMean(stream.total, nll, eps, C);
  if (typeof literalLoss === 'number') result.loss = literalLoss;
  else if (literalLoss) (result.loss as A).set(literalLoss);
  writeRows?.(result.grad);
  // (the chunks' largest |gradOutput|, summed: no overflow there, none in any k a_c)
  if (late && !(stream.sideTotal * bound <= limit)) {
    const at = nonFiniteUpstream(plan, uniform, positions, bound, limit);
    if (at.length > 0) gradRows(new Literal(stream.input(0), read.half, C, inner), at, stream.input(1))(result.grad);
  }
  if (lse) infiniteLse(lse, lseInput ?? stream.input(0), read.half, outer, C, inner);
  return finish(result, plan, z, zs.squares(C, kept, stream.sideTotal), kept, lse, C);
}

/** PyTorch's 'mean' of label-smoothed cross-entropy with class-index targets when the class
 *  weights of the non-ignored targets sum to zero: it divides the nll part and the smoothing part
 *  by that zero separately, (1 - eps) (nll / 0) + (eps / C) (smooth / 0), so the loss is NaN when
 *  their signs differ (0 / 0 included) and +-inf otherwise, where total / 0 would give +-inf.
 *  `total` is the summed loss, (1 - eps) nll + (eps / C) smooth; `nll` its summed nll part.
 *  Shared with linearCrossEntropy. */
export function zeroWeightSmoothedMean(total: number, nll: number, eps: number, C: number): number {
  const smooth = (total - (1 - eps) * nll) / (eps / C);
  return (1 - eps) * (nll / 0) + (eps / C) * (smooth / 0);
}

/** Where PyTorch's result hangs on infinities, wasm-xent forms it as PyTorch composes it, in
 *  JavaScript (float64; the softmax rounded to float32 for float32 and half inputs, as PyTorch
 *  float32 holds it): the kernels' fused forms (e_c a - k w_t for the gradient, w (S - shift) for the
 *  loss) give other infinities and NaNs there. Two cases, both rare and both found by red teams:
 *  - the gradient at positions whose upstream factor k is not finite (gradOutput +-inf or NaN, a
 *    scalar or entries of a 'none' gradOutput, or 'mean' over class weights that sum to zero), or
 *    whose k a_c may overflow (gradOutput 1e300 times a weight of 1e38):
 *    dl_c = k a_c per log-probability (`dl`; NaN where a_c is 0, as inf * 0; exactly 0 where
 *    PyTorch's nll zero-fills), then log_softmax's backward dx = dl - p sum(dl) (plus the z term's
 *    k_z 2 z lse p), +-inf where the signs differ and NaN where they agree (stop 28; red team 30:
 *    160 of 1152 cases off, probability targets included);
 *  - the rows and loss where a class weight or a target probability is +-inf or NaN: PyTorch's
 *    terms w_c p_c log p_c give +-inf where the fused form gives NaN (inf * 0 at the max class), and
 *    an ignored position's gradient is NaN with smoothing (PyTorch's masked 0 times the weight;
 *    red team 30, patterns A and B).
 *  PyTorch's rows elsewhere are the kernels' to the last bit, so only these positions are formed here. */
class Literal {
  private readonly value: (v: number) => number;
  private readonly round: (v: number) => number;
  private readonly logP: Float64Array;
  /** The last logSoftmax row's lse, max + log(sum exp(x - max)). */
  lse = 0;
  constructor(private readonly x: ArrayLike<number>, half: 'float16' | 'bfloat16' | null, private readonly C: number, private readonly inner: number) {
    this.value = half ? halfDecoder(half) : (v: number) => v;
    this.round = asStored(half ? 'f32' : precisionOf(x as FloatArray));
    this.logP = new Float64Array(C);
  }

  /** The first element of position pos (its classes are `inner` apart). */
  base(pos: number): number {
    return Math.floor(pos / this.inner) * this.C * this.inner + (pos % this.inner);
  }

  /** Position pos's log_softmax as PyTorch forms it, x - max - log(sum exp(x - max)) (a NaN or a
   *  +inf in the row, or a row of -inf, makes it NaN, as in PyTorch). */
  logSoftmax(pos: number): Float64Array {
    const { x, value, C, inner, logP } = this;
    const base = this.base(pos);
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, value(x[base + c * inner]));
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(value(x[base + c * inner]) - m);
    const logS = Math.log(s);
    for (let c = 0; c < C; c++) logP[c] = value(x[base + c * inner]) - m - logS;
    this.lse = m + logS;
    return logP;
  }

  /** The gradient rows at `rows`, formed now (before the kernel: `out` may be the input) and
   *  written by the function returned (after it). */
  gradRows(rows: number[], k: (pos: number) => number, dl: (pos: number, c: number, k: number) => number, zTerm: (pos: number, lse: number) => number): (grad: FloatArray | undefined) => void {
    const { C, inner, round } = this;
    const values = new Float64Array(rows.length * C);
    const d = new Float64Array(C);
    rows.forEach((pos, r) => {
      const kp = k(pos);
      let sum = 0;
      for (let c = 0; c < C; c++) sum += (d[c] = dl(pos, c, kp));
      const logP = this.logSoftmax(pos);
      const z = zTerm(pos, this.lse);
      for (let c = 0; c < C; c++) {
        const prob = round(Math.exp(logP[c]));
        values[r * C + c] = d[c] - prob * sum + (z !== 0 ? z * prob : 0);
      }
    });
    return (grad) => {
      if (grad) rows.forEach((pos, r) => {
        const base = this.base(pos);
        for (let c = 0; c < C; c++) grad[base + c * inner] = values[r * C + c];
      });
    };
  }
}

/** The positions whose upstream factor k is not finite, or whose k times `bound` (the largest
 *  coefficient a_c in magnitude) exceeds `limit`, the largest value of the gradient's type, so that
 *  some dl_c = k a_c may overflow it (Literal), or [] (the usual case: one test of the scalar, or one
 *  pass over a 'none' gradOutput). */
function nonFiniteUpstream(plan: LossPlan, uniform: number, positions: number, bound: number, limit: number): number[] {
  const at: number[] = [];
  const perPosition = plan.gradPerPosition;
  if (!plan.wantGrad) return at;
  if (perPosition) {
    for (let p = 0; p < positions; p++) if (!(Math.abs(perPosition[p]) * bound <= limit)) at.push(p);
  } else if (!(Math.abs(uniform) * bound <= limit)) {
    for (let p = 0; p < positions; p++) at.push(p);
  }
  return at;
}

/** The largest value of a gradient of `precision` (float32 for float32 and half inputs): beyond it
 *  the kernels' float32 factors overflow where the gradient's entries may not (red team 38:
 *  float32 [0, 0], weight 1.5, gradOutput 3e38 gave [-inf, 2.25e38], float64 [-2.25e38, 2.25e38];
 *  the SIMD builds' column kernels made every entry infinite, the scalar build's only the target). */
function largestOf(precision: Precision): number {
  return precision === 'f32' ? 3.4028234663852886e38 : Number.MAX_VALUE;
}

/** The largest |w_c| (1 without weights; NaN or Infinity if a weight is). */
function largestWeight(weight: ArrayLike<number> | null): number {
  return weight ? largestMagnitude(weight) : 1;
}

/** crossEntropy's loss with class indices as PyTorch composes it (Literal), formed before the
 *  kernel runs (`out` may be the input): per position (1 - eps) nll + (eps / C) smooth (+ z lse^2)
 *  ('none'; 0 where ignored), or the two parts summed apart and, for 'mean', each divided by the
 *  denominator (the z term is then added by finish, from the kernel's sum of lse^2). */
function indexLiteralLoss(literal: Literal, targets: ArrayLike<number>, w: (c: number) => number, eps: number, z: number, C: number, positions: number, reduction: string, denominator: number): number | Float64Array {
  const each = reduction === 'none' ? new Float64Array(positions) : null;
  let nllSum = 0, smoothSum = 0;
  for (let pos = 0; pos < positions; pos++) {
    const t = targets[pos];
    if (t < 0) continue;
    const logP = literal.logSoftmax(pos);
    const nll = -w(t) * logP[t];
    let smooth = 0;
    if (eps > 0) {
      for (let c = 0; c < C; c++) smooth += logP[c] * w(c);
      smooth = -smooth;
    }
    // (with z-loss a 'none' loss holds z lse^2 too; a reduced one gets it in finish)
    if (each) each[pos] = (eps > 0 ? (1 - eps) * nll + (eps / C) * smooth : nll) + (z > 0 ? z * literal.lse * literal.lse : 0);
    nllSum += nll;
    smoothSum += smooth;
  }
  if (each) return each;
  const d = reduction === 'mean' ? denominator : 1;
  return eps > 0 ? (1 - eps) * (nllSum / d) + (eps / C) * (smoothSum / d) : nllSum / d;
}

/** The largest |v| over values read through `read` (NaN or Infinity if any is). */
export function largestMagnitude(values: ArrayLike<number>, read: (v: number) => number = (v) => v): number {
  let most = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(read(values[i]));
    if (!(a <= most)) most = a === a ? a : NaN;
    if (most !== most) break;
  }
  return most;
}

/** The smallest nonzero finite |v| over values (Infinity when there is none): largestMagnitude's
 *  other end, for a scaling that must keep the smallest factor normal. */
export function smallestMagnitude(values: ArrayLike<number>): number {
  let least = Infinity;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    if (a > 0 && a < least) least = a;
  }
  return least;
}

/** 0, 1, ..., n - 1. */
function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** float16 or bfloat16 bits to their value. */
function halfDecoder(half: 'float16' | 'bfloat16'): (bits: number) => number {
  if (half === 'bfloat16') {
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    return (bits) => ((u[0] = bits << 16), f[0]);
  }
  return (bits) => {
    const e = (bits >> 10) & 0x1f, m = bits & 0x3ff, sign = bits & 0x8000 ? -1 : 1;
    if (e === 0x1f) return m ? NaN : sign * Infinity;
    return sign * (e ? (1 + m / 1024) * 2 ** (e - 15) : m * 2 ** -24);
  };
}

/** The number of positions whose target is not ignored. */
function keptPositions(targets: ArrayLike<number>): number {
  let kept = 0;
  for (let p = 0; p < targets.length; p++) kept += targets[p] >= 0 ? 1 : 0;
  return kept;
}

/** The zLoss option: a finite number >= 0 (0 when absent). */
export function checkZLoss(fn: string, value: unknown): number {
  const z = numberOption(fn, 'zLoss', value, 0);
  if (!(z >= 0 && z < Infinity)) fail(fn, `zLoss must be a finite number >= 0, got ${z}`, RangeError);
  return z;
}

/** The z term's bookkeeping over the chunks of one call: the upstream factor the kernels apply to
 *  it when uniform (gradOutput, divided by the count of non-ignored positions for 'mean'), and the
 *  sum of lse^2 over those positions, read after each chunk (crossEntropyZSquares). */
function zSum(z: number, plan: LossPlan, kept: number) {
  return {
    scale: plan.reduction === 'mean' ? plan.gradScalar / kept : plan.gradScalar,
    /** The export holding the last kernel call's sum of lse^2, read after each chunk (z-loss only). */
    side: z > 0 ? 'crossEntropyZSquares' : undefined,
    /** With no classes the kernels never run: lse is -inf, so lse^2 is +inf at every kept position. */
    squares: (C: number, count: number, sum: number) => (C === 0 && count > 0 ? Infinity : sum),
  };
}

/** Adds the z term to a reduced loss ('none' losses hold it already, from the kernel) and attaches
 *  lse. 'mean' averages z lse^2 over the `kept` positions. */
function finish<A extends FloatArray>(result: LossResult<A>, plan: LossPlan, z: number, squares: number, kept: number, lse: FloatArray | null, C: number): LossResult<A> {
  if (z > 0) {
    if (typeof result.loss === 'number') result.loss += plan.reduction === 'mean' ? (z * squares) / kept : z * squares;
    else if (C === 0 && kept > 0) result.loss.fill(Infinity);
  }
  if (lse) {
    if (C === 0) lse.fill(-Infinity); // log of an empty sum, as torch.logsumexp gives
    result.lse = lse as A;
  }
  return result;
}

/** torch.logsumexp's answer where the kernel's m + log(sum exp(x - m)) is NaN only because the
 *  max is infinite (inf - inf): +inf for a row holding +inf (and no NaN), -inf for a row of -inf
 *  (a padded position). Rows with a NaN stay NaN. Only NaN entries are looked at: rare rows. */
function infiniteLse(lse: FloatArray, x: ArrayLike<number>, half: 'float16' | 'bfloat16' | null, outer: number, C: number, inner: number): void {
  // Half-precision bits: classify without decoding (exponent all ones: inf or NaN).
  const kind = (v: number): number => {
    if (!half) return v !== v ? 0 : v === Infinity ? 1 : v === -Infinity ? -1 : 2;
    const [shift, mask, mant] = half === 'float16' ? [10, 0x1f, 0x3ff] : [7, 0xff, 0x7f];
    if (((v >> shift) & mask) !== mask) return 2;
    return v & mant ? 0 : v & 0x8000 ? -1 : 1;
  };
  for (let p = 0; p < lse.length; p++) {
    if (lse[p] === lse[p] || C === 0) continue;
    const o = Math.floor(p / inner);
    const i = p % inner;
    let nan = false, pos = false, allNeg = true;
    for (let c = 0; c < C; c++) {
      const k = kind(x[(o * C + c) * inner + i]);
      if (k === 0) nan = true;
      if (k === 1) pos = true;
      if (k !== -1) allNeg = false;
    }
    if (!nan) lse[p] = pos ? Infinity : allNeg ? -Infinity : lse[p];
  }
}

/** Class-index targets: short rows (a few classes) and short columns (NCHW-style inputs with fewer
 *  than 16 positions per class run) are regrouped into long columns, where the kernel vectorises
 *  across positions (assembly/layout.ts). Measured on [N, C] and [N, 21, L], forward + gradient:
 *  C = 2, 3, 10 1.5-2.5x faster, L = 2-15 2-3x faster; from L = 16 on, the kernel's own layouts
 *  win. Float32 rows are the row kernel's where C is a multiple of 8 from 32 on, or from 128 on;
 *  the others (its scalar tails) ran 1.1-3.3x slower than regrouped (2026-12-03, one process,
 *  ns/elem rows / columns: C = 21 8.39 / 2.55, 63 4.24 / 2.32, 127 3.08 / 2.76; 32 2.96 / 3.36,
 *  129 2.07 / 2.68). Float64 rows of more than 16 classes stay rows (C = 21 6.79 / 6.07, 24 5.83 /
 *  6.00, 32 5.04 / 7.38; C = 16, 7.02 / 8.35, stays regrouped: [N, 16] then gives the bits of
 *  [1, 16, N], tests/redteam2.test.ts). Only in the SIMD builds: the scalar build has no column path and
 *  ran 4-10% slower regrouped (C = 2 31.8 against 30.6 ns/elem). */
function indexRelayout(C: number, inner: number, precision: Precision): Relayout | undefined {
  if (inner > 1) return inner < 16 ? 'columns' : undefined;
  const rows = precision === 'f64' ? C > 16 : C >= 128 || (C >= 32 && C % 8 === 0);
  return rows ? undefined : 'columns';
}

/** Whether a target holds class probabilities: float data, or plain numbers laid out like the
 *  input (a tensor of the input's rank, or a bare array of the input's length when that is not also
 *  the number of positions). Anything else is read as class indices. */
function isProbabilities(target: unknown, layout: ClassLayout<ArrayLike<number>>): boolean {
  const tensor = target !== null && typeof target === 'object' && !Array.isArray(target) && has(target, 'data');
  const data = tensor ? (target as { data: unknown }).data : target;
  if (isFloatArray(data)) return true;
  if (!Array.isArray(data)) return false;
  const shape = tensor ? (target as { shape?: unknown }).shape : undefined;
  if (Array.isArray(shape)) return shape.length === layout.input.shape.length && shape.length !== layout.positionShape.length;
  return data.length === layout.input.data.length && data.length !== layout.positions;
}
