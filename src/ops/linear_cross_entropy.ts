// linearCrossEntropy: cross_entropy(input @ linearWeight.T + linearBias, target), the output layer
// of a language model, fused so the (N, C) logits never exist whole (PyTorch 2.13's
// torch.nn.functional.linear_cross_entropy; Liger Kernel's FusedLinearCrossEntropy).
//
// How it computes (assembly/linear_cross_entropy.ts has the maths): tokens in chunks of nt whose
// logits fit LOGITS_BYTES, the vocabulary in blocks of cb classes whose weight rows fit BLOCK_BYTES.
// Per chunk, one GEMM per block computes the chunk's logits (kept, so 6 N C D flops in all rather
// than Cut Cross-Entropy's 8 with recomputation), then the loss and dZ in place, then two GEMMs per
// block give gradInput and gradWeight. A plain-array weight is copied in block by block (twice per
// chunk), so wasm memory never holds it whole; a wasmArray weight is used in place. Extra memory is
// about LOGITS_BYTES + 6 * nt D + 4 cb D + 3 C floats: under 32 MiB for C up to ~500,000.

import { fail, showShape } from '../errors.js';
import { getWorkspace } from '../loader.js';
import { callerArray, has, checkBoolean, checkBuffer, checkNumbers, checkOptions, FloatArray, floatTensor, isFloatArray, newFloatArray, precisionOf, numberOption, product, readArg, tensorLike, Tensor, typedArrayKind, typeName, sameMemory, viewsAgain } from '../tensor.js';
import { checkIgnoreIndex, checkSmoothing, ClassLayout, classWeight, indexTargets, writeIndexTargets } from './class_targets.js';
import { checkZLoss, largestMagnitude, smallestMagnitude, zeroWeightSmoothedMean } from './cross_entropy.js';
import { planLoss } from './loss.js';
import type { Workspace } from '../workspace.js';
import type { JobCall } from '../threads.js';
import type { IndexTarget, LossValue, LseField, ProbabilityTarget } from '../types.js';

const FN = 'linearCrossEntropy';

export interface LinearCrossEntropyOptions<A extends FloatArray = FloatArray> {
  /** The projection's bias, length C. */
  linearBias?: ArrayLike<number> | { data: ArrayLike<number>; shape?: readonly number[] };
  /** Per-class rescaling weight, length C. */
  weight?: ArrayLike<number> | { data: ArrayLike<number>; shape?: readonly number[] };
  /** Targets equal to this are skipped (default -100). Class-index targets only. */
  ignoreIndex?: number;
  /** Mixes the target with the uniform distribution: eps in [0, 1] (default 0). */
  labelSmoothing?: number;
  reduction?: 'mean' | 'sum' | 'none';
  /** Also return gradInput, gradWeight (and gradBias when linearBias is given). */
  grad?: boolean;
  /** The upstream gradient: a number for 'mean'/'sum', an array of the loss's shape for 'none'. */
  gradOutput?: number | ArrayLike<number> | { data: ArrayLike<number>; shape?: readonly number[] };
  /** Logits become softcap * tanh(logits / softcap) before the loss (Gemma 2). */
  softcap?: number;
  /** Adds zLoss * lse^2 for every non-ignored position (PaLM's z-loss). */
  zLoss?: number;
  /** Also return the per-position log-sum-exp of the (capped) logits. */
  returnLse?: boolean;
  /** Arrays to write the gradients into (plain or a wasmArray's .array); imply grad. */
  outInput?: A;
  outWeight?: A;
  outBias?: A;
  /** Add the gradients into outInput/outWeight/outBias instead of overwriting them. */
  accumulate?: boolean;
}

export interface LinearCrossEntropyResult<A extends FloatArray = FloatArray> {
  loss: number | A;
  lse?: A;
  gradInput?: A;
  gradWeight?: A;
  gradBias?: A;
}

/** What linearCrossEntropy returns for options of type `O`: `loss` and `lse` narrowed as the other
 *  losses' results are (types.ts LossResultOf: a number for 'mean' and 'sum', the input's array
 *  type for 'none'), the gradients optional. */
export type LinearCrossEntropyResultOf<A extends FloatArray, O> =
  Omit<LinearCrossEntropyResult<A>, 'loss' | 'lse'> & { loss: LossValue<A, O> } & LseField<A, O>;

const OPTIONS = ['linearBias', 'weight', 'ignoreIndex', 'labelSmoothing', 'reduction', 'grad', 'gradOutput',
  'softcap', 'zLoss', 'returnLse', 'outInput', 'outWeight', 'outBias', 'accumulate'];

/** Bytes of one chunk's logits (and as much again for probability targets). */
const LOGITS_BYTES = 16 << 20;
/** Bytes of one vocabulary block of the weight: about an L2's worth, streamed past each panel of X^T. */
const BLOCK_BYTES = 256 << 10;
/** Bytes of the chunk's input, packed input and gradient together. */
const TOKEN_BYTES = 6 << 20;
/** Tokens per packed panel (assembly/linear_cross_entropy.ts PANEL). */
const PANEL = 8;

type Kernel = (...args: number[]) => void;

/**
 * Cross-entropy of the logits `input @ linearWeight.T + linearBias` (class dim last) against
 * `target`, without materialising the logits. `input` [...lead, D], `linearWeight` [C, D], `target`
 * class indices of shape `lead` or probabilities [...lead, C]. See LinearCrossEntropyOptions.
 */
export function linearCrossEntropy<A extends FloatArray, O extends LinearCrossEntropyOptions<A> = {}>(
  input: Tensor<A>, linearWeight: Tensor<A>, target: IndexTarget | ProbabilityTarget, options?: O,
): LinearCrossEntropyResultOf<A, O>;
export function linearCrossEntropy<A extends FloatArray>(
  inputArg: Tensor<A>, weightArg: Tensor<A>, targetArg: unknown, options?: LinearCrossEntropyOptions<A>,
): LinearCrossEntropyResult<A> {
  // Everything the caller passed is read once, up front (tensor.ts: readArg), then validated: a
  // getter of a later argument that shrinks or detaches an earlier one's buffer runs before the
  // checks, never between a check and the kernel (red team 55: a linearWeight getter that shrank
  // the input to 0 bytes left the call computing on the previous call's hidden states).
  const opts = checkOptions(FN, options, OPTIONS);
  const inputRead = readArg(FN, 'input', inputArg);
  const linearRead = readArg(FN, 'linearWeight', weightArg);
  const target = readArg(FN, 'target', targetArg);
  const input = floatTensor(FN, 'input', inputRead);
  const linear = floatTensor(FN, 'linearWeight', linearRead);
  const x = input.data;
  const w = linear.data;
  const precision = precisionOf(x);
  const Ctor = x.constructor as Float32ArrayConstructor | Float64ArrayConstructor;
  if (input.shape.length === 0) fail(FN, 'input must have at least one dimension (the features D), got a 0-d tensor', RangeError);
  if (w.constructor !== x.constructor) fail(FN, `linearWeight must be a ${Ctor.name} like the input, got ${typeName(w)}`, TypeError);
  if (linear.shape.length !== 2) fail(FN, `linearWeight must be 2-D [C, D], got shape ${showShape(linear.shape)}`, RangeError);
  const lead = input.shape.slice(0, -1);
  const D = input.shape[input.shape.length - 1];
  const N = product(lead);
  const [C, Dw] = linear.shape;
  if (Dw !== D) {
    // F.linear's words: the product input [N, D] @ linearWeight.T [Dw, C]
    fail(FN, `mat1 and mat2 shapes cannot be multiplied (${N}x${D} and ${Dw}x${C}): input's last dim D = ${D} must equal linearWeight's second dim (shape ${showShape(linear.shape)})`, RangeError);
  }
  if (C === 0) fail(FN, 'linearWeight has no classes (C = 0)', RangeError);
  const bias = optionalVector(opts.linearBias, 'linearBias', C);
  let classW = classWeight(FN, opts.weight, C, precision);
  const eps = checkSmoothing(FN, opts.labelSmoothing);
  const ignoreIndex = checkIgnoreIndex(FN, opts.ignoreIndex);
  const cap = numberOption(FN, 'softcap', opts.softcap, 0);
  if (opts.softcap !== undefined && !(cap > 0 && cap < Infinity)) fail(FN, `softcap must be a positive finite number, got ${cap}`, RangeError);
  // Below the input type's smallest normal number every capped logit is subnormal and 1 / softcap
  // overflows: the softcap's derivative came out NaN or infinite where it is 0 (red team 55, float32
  // softcap 1e-40). Refused rather than computed from a few bits.
  const minCap = precision === 'f32' ? 2 ** -126 : 2 ** -1022;
  if (cap > 0 && cap < minCap) fail(FN, `softcap must be at least ${minCap} (the smallest normal ${precision === 'f32' ? 'float32' : 'float64'} number: below it the capped logits are subnormal), got ${cap}`, RangeError);
  // Above float32's range a float32 softcap is infinite in the derivative's float32 division (the
  // backward then left the logits uncapped where the forward capped them; PyTorch float32's cap
  // overflows to NaN): refused (review of red team 59's fix).
  if (precision === 'f32' && Math.fround(cap) === Infinity) fail(FN, `softcap must be at most 3.4028234663852886e38 for float32 input (the largest float32 number), got ${cap}`, RangeError);
  const zLoss = checkZLoss(FN, opts.zLoss);
  const returnLse = checkBoolean(FN, 'returnLse', opts.returnLse);
  const accumulate = checkBoolean(FN, 'accumulate', opts.accumulate);
  const outInput = outArray(opts.outInput, 'outInput', Ctor, N * D);
  const outWeight = outArray(opts.outWeight, 'outWeight', Ctor, C * D);
  const outBias = outArray(opts.outBias, 'outBias', Ctor, C);
  if (outBias && !bias) fail(FN, 'outBias was given but there is no linearBias to differentiate', TypeError);
  // (accepted and ignored before: the caller's gradients silently stopped accumulating; red team 60)
  if (accumulate && !outInput && !outWeight && !outBias) fail(FN, 'accumulate: true adds the gradients into outInput / outWeight / outBias, and none was given; pass the arrays to add into', TypeError);
  // The gradients are written while the input and weight are still being read: no sharing.
  for (const [name, out] of [['outInput', outInput], ['outWeight', outWeight], ['outBias', outBias]] as const) {
    for (const [other, a] of [['input', x], ['linearWeight', w]] as const) {
      if (out && overlaps(out, a)) fail(FN, `${name} shares memory with ${other}; pass a separate array`, RangeError);
    }
  }
  // The class weights are read again for every chunk of tokens, after earlier chunks wrote their
  // gradients: weights kept in a gradient's memory are read from a copy (red team 62: weight inside
  // outWeight or outInput took the gradients 67-100% off once the tokens spanned two chunks).
  if (ArrayBuffer.isView(classW) && [outInput, outWeight, outBias].some((out) => out && overlaps(out, classW as FloatArray))) classW = (classW as FloatArray).slice();
  // Nor with each other: each is written while the others are still being written or read.
  const outs = [['outInput', outInput], ['outWeight', outWeight], ['outBias', outBias]] as const;
  outs.forEach(([name, out], i) => outs.slice(i + 1).forEach(([other, b]) => {
    if (out && b && overlaps(out, b)) fail(FN, `${name} shares memory with ${other}; pass separate arrays`, RangeError);
  }));
  const wantGrad = checkBoolean(FN, 'grad', opts.grad) || !!(outInput || outWeight || outBias);
  if (opts.gradOutput !== undefined && !wantGrad) {
    fail(FN, 'gradOutput was given but no gradient was requested; pass grad: true (or outInput / outWeight / outBias) with it', TypeError);
  }
  const plan = planLoss(FN, { reduction: opts.reduction, grad: wantGrad, gradOutput: opts.gradOutput }, x, lead);

  // Targets: probabilities when float data, else class indices (crossEntropy's rules, class dim last).
  const layout: ClassLayout = {
    input: { data: x, shape: [...lead, C] }, dim: lead.length, outer: N, classes: C, inner: 1, positionShape: lead, positions: N,
  };
  const tData = target !== null && typeof target === 'object' && !Array.isArray(target) && has(target, 'data') ? (target as { data: unknown }).data : target;
  let probs: FloatArray | null = null;
  let targets: Int32Array | null = null;
  let denominator: number;
  let counted: number;
  if (isFloatArray(tData)) {
    if (opts.ignoreIndex !== undefined && ignoreIndex >= 0) fail(FN, 'ignore_index is not supported for floating point target', TypeError);
    const { data, shape } = tensorLike(FN, 'target', target, () => [...lead, C]);
    if ((data as object).constructor !== x.constructor) fail(FN, `probability targets must be a ${Ctor.name} like the input, got ${typeName(data)}`, TypeError);
    // Later token chunks of the target are read after earlier chunks' gradients are written.
    for (const [name, out] of outs) if (out && overlaps(out, data as FloatArray)) fail(FN, `${name} shares memory with target; pass a separate array`, RangeError);
    if (shape.length !== lead.length + 1 || shape.some((d, i) => d !== layout.input.shape[i])) {
      fail(FN, `a float target holds class probabilities and must have shape ${showShape(layout.input.shape)} (the logits' shape [...lead, C]), got ${showShape(shape)}`, RangeError);
    }
    probs = data as FloatArray;
    denominator = counted = N;
  } else {
    const values = indexTargets(FN, target, layout);
    targets = new Int32Array(N);
    denominator = writeIndexTargets(FN, values, targets, layout, ignoreIndex, classW);
    counted = 0;
    for (let n = 0; n < N; n++) if (targets[n] >= 0) counted++;
  }

  const ws = getWorkspace(FN);
  const inPlace = { x: resident(ws, x), w: resident(ws, w), gx: outInput ? resident(ws, outInput) : -1, gw: outWeight ? resident(ws, outWeight) : -1 };
  // (outBias and probability targets are never used in place, but in wasm memory they must be in a live wasmArray)
  if (outBias) resident(ws, outBias);
  if (probs) resident(ws, probs);
  let gradInput: FloatArray | null = wantGrad ? (outInput ?? new Ctor(N * D)) : null;
  let gradWeight: FloatArray | null = wantGrad ? (outWeight ?? new Ctor(C * D)) : null;
  let gradBias: FloatArray | null = wantGrad && bias ? (outBias ?? new Ctor(C)) : null;
  const perPosition = plan.reduction === 'none' ? new Ctor(N) : null;
  const lse = returnLse ? new Ctor(N) : null;
  let total = 0;
  let zTotal = 0;
  // 'mean' with smoothing where the kept targets' class weights sum to zero: PyTorch's division of
  // the nll and smoothing parts by zero apart (zeroWeightSmoothedMean) needs the nll part's sum, and
  // its infinite upstream gradient makes every kept token's gradient NaN (crossEntropy's rule).
  const zeroWeightMean = plan.reduction === 'mean' && targets !== null && denominator === 0 && eps > 0 && counted > 0;
  let nllTotal = 0;

  if (N > 0) {
    const bytes = Ctor.BYTES_PER_ELEMENT;
    const nt = tokensPerChunk(N, C, D, bytes, probs !== null);
    const ntp = Math.ceil(nt / PANEL) * PANEL;
    // A multiple of 8 classes, so that a block splits evenly over 2 threads in 4-row tiles.
    const cb = Math.max(8, Math.min(C, Math.floor(BLOCK_BYTES / Math.max(1, D * bytes)) & ~7));
    // reserve may grow memory, detaching every view of it the caller passed (wasmArrays' .array):
    // from after it on only views taken again are read, written or handed back (red team 13: a
    // class weight given as a wasmArray).
    const again = viewsAgain(ws.exports.memory, [gradInput, gradWeight, gradBias, probs, classW]);
    const [pXt, pX, pZ, pP, pW, pGW, pGX, pBias, pCW, pGB, pT, pStats, pCoef] = ws.reserve(FN, [
      ntp * D * bytes, inPlace.x >= 0 ? 0 : nt * D * bytes, C * ntp * bytes, probs ? nt * C * bytes : 0,
      inPlace.w >= 0 ? 0 : 2 * cb * D * bytes, wantGrad && !(inPlace.gw >= 0) ? 2 * cb * D * bytes : 0,
      wantGrad && !(inPlace.gx >= 0) ? nt * D * bytes : 0, bias ? C * bytes : 0, classW ? C * bytes : 0,
      gradBias ? C * 8 : 0, targets ? nt * 4 : 0, 11 * ntp * 8, 9 * ntp * 8,
    ]);
    [gradInput, gradWeight, gradBias, probs, classW] = again();
    // Float32: where the largest upstream factor times the largest class weight passes 2^60 (float64:
    // 2^956, see upstreamShift), dZ = factor (softmax - target) is formed and summed 2^-shift smaller and the gradients are
    // scaled back by 2^shift once summed: float32's dZ overflowed where PyTorch float64's gradients
    // fit (red team 40: x [0.01], W [0.01, 0.01], weight [8, 1], 'sum', gradOutput 3e38 gave
    // gradInput [inf] (SIMD) or [NaN] for float64's [0]). An entry beyond float32's max becomes the
    // signed infinity, float64's value rounded. A power of two: shift 0 changes nothing, and
    // otherwise only what falls below float32's normal range once scaled rounds differently: dZ
    // under about 2^-186 (1e-56) of the largest factor times the largest weight. Accumulating, the
    // new gradients are formed apart and added to copies of the old values at the end, as PyTorch's
    // .grad += new (dividing the old values flushed small ones to 0: red team 41).
    const shift = upstreamShift();
    const down = 2 ** -shift;
    const before = shift && accumulate ? [gradInput!.slice(), gradWeight!.slice(), gradBias?.slice()] : null;
    const adding = accumulate && !before;
    const mem = ws.exports.memory.buffer;
    const view = (p: number, n: number) => ws.floats(precision, p, n);
    const f64 = (p: number, n: number) => new Float64Array(mem, p, n);
    if (bias) view(pBias, C).set(bias);
    let weightSum = C;
    if (classW) {
      view(pCW, C).set(classW);
      weightSum = 0;
      for (let c = 0; c < C; c++) weightSum += classW[c];
    }
    // The bias gradient is summed in f64 over every chunk and rounded once at the end
    // (assembly/linear_cross_entropy.ts lceBackward says why).
    if (gradBias) {
      const sums = f64(pGB, C);
      for (let c = 0; c < C; c++) sums[c] = adding ? gradBias[c] : 0;
    }
    const k = (name: string) => ws.kernel<Kernel>(name, precision);
    const pack = k('lcePack'), forward = k('lceForward'), backward = k('lceBackward');
    // The GEMMs (nearly all the work) run block by block, each block's split over the threads.
    const gemms = new BlockGemms(ws, precision);
    // Vocabulary block b is classes [b cb, (b + 1) cb). A plain array's blocks of the weight (and
    // of gradWeight) pass through two buffers in turn: block b + 1 is copied in (and block b - 1's
    // gradients out) while the threads compute block b, in the buffer block b - 1 used.
    const blocks = Math.ceil(C / cb);
    const span = (b: number) => [b * cb, Math.min(C, (b + 1) * cb)];
    const weightBlock = (b: number): number => {
      const [c0, c1] = span(b);
      if (inPlace.w >= 0) return inPlace.w + c0 * D * bytes;
      const p = pW + (b % 2) * cb * D * bytes;
      view(p, (c1 - c0) * D).set(w.subarray(c0 * D, c1 * D));
      return p;
    };
    const stats = f64(pStats, 11 * ntp);
    const coef = f64(pCoef, 9 * ntp);
    const gOut = plan.gradPerPosition;
    for (let n0 = 0; n0 < N; n0 += nt) {
      const m = Math.min(nt, N - n0);
      let xp: number;
      if (inPlace.x >= 0) xp = inPlace.x + n0 * D * bytes;
      else {
        view(pX, m * D).set(x.subarray(n0 * D, (n0 + m) * D));
        xp = pX;
      }
      pack(xp, m, D, pXt, ntp);
      for (let b = 0, wp = weightBlock(0); b < blocks; b++) {
        const [c0, c1] = span(b);
        gemms.logits(wp, c1 - c0, D, pXt, ntp, pZ + c0 * ntp * bytes, () => {
          if (b + 1 < blocks) wp = weightBlock(b + 1);
        });
      }
      if (probs) view(pP, m * C).set(probs.subarray(n0 * C, (n0 + m) * C));
      if (targets) new Int32Array(mem, pT, m).set(targets.subarray(n0, n0 + m));
      forward(pZ, ntp, m, C, bias ? pBias : 0, cap, targets ? pT : 0, probs ? pP : 0, classW ? pCW : 0, eps, weightSum, pStats);
      for (let j = 0; j < m; j++) {
        const n = n0 + j;
        const ignored = targets !== null && targets[n] < 0;
        const l = stats[6 * ntp + j];
        const s = stats[5 * ntp + j];
        // (torch.logsumexp takes an infinite max as 0: +inf for a row with +inf and no NaN, -inf
        // for a row of -inf, where m + log S is inf - inf; the max is NaN with a NaN: red team 20)
        if (lse) lse[n] = s === s ? s : infiniteMax(stats[j], s);
        const z = ignored ? 0 : zLoss * s * s;
        total += l;
        zTotal += z;
        if (perPosition) perPosition[n] = l + z;
        const wt = targets && !ignored ? (classW ? classW[targets[n]] : 1) : 0;
        if (zeroWeightMean && !ignored) nllTotal += wt * (s - stats[8 * ntp + j]); // lse - the target's logit
        if (!wantGrad) continue;
        // Upstream gradients of the loss term and of the z term (mean: their own denominators).
        let g: number, gz: number;
        if (gOut) g = gz = gOut[n];
        else if (plan.reduction === 'mean') [g, gz] = [plan.gradScalar / denominator, plan.gradScalar / counted];
        else g = gz = plan.gradScalar;
        if (shift) [g, gz] = [g * down, gz * down];
        coef[j] = s;
        if (ignored) {
          coef[ntp + j] = coef[2 * ntp + j] = coef[3 * ntp + j] = coef[7 * ntp + j] = 0;
          continue;
        }
        const zTerm = zLoss > 0 ? gz * zLoss * s * 2 : 0; // (PyTorch's order for z (lse lse): see assembly/cross_entropy.ts zFactor)
        coef[7 * ntp + j] = zTerm; // (alone, for a softmax of exactly 1: see lceBackward)
        if (targets) {
          coef[ntp + j] = zeroWeightMean ? NaN : g * ((1 - eps) * wt + (eps / C) * weightSum) + zTerm;
          coef[2 * ntp + j] = g * (1 - eps) * wt;
          // Without smoothing PyTorch has no smoothing term: 0, not g * 0 (NaN for the infinite g
          // of 'mean' over class weights that sum to zero).
          coef[3 * ntp + j] = eps > 0 ? g * (eps / C) : 0;
        } else {
          coef[ntp + j] = g * stats[4 * ntp + j] + zTerm;
          coef[2 * ntp + j] = 0;
          coef[3 * ntp + j] = g;
        }
      }
      if (!wantGrad) continue;
      backward(pZ, ntp, m, C, cap, targets ? pT : 0, probs ? pP : 0, classW ? pCW : 0, eps, weightSum, pCoef, gradBias ? pGB : 0, pStats);
      const gxp = inPlace.gx >= 0 ? inPlace.gx + n0 * D * bytes : pGX;
      if (adding && !(inPlace.gx >= 0)) view(pGX, m * D).set(gradInput!.subarray(n0 * D, (n0 + m) * D));
      // gradWeight's blocks: in place, or through the workspace (read in when adding to them).
      const addW = adding || n0 > 0;
      const gradBlock = (b: number): number => {
        const [c0, c1] = span(b);
        if (inPlace.gw >= 0) return inPlace.gw + c0 * D * bytes;
        const p = pGW + (b % 2) * cb * D * bytes;
        if (addW) view(p, (c1 - c0) * D).set(gradWeight!.subarray(c0 * D, c1 * D));
        return p;
      };
      const gradOut = (b: number): void => {
        const [c0, c1] = span(b);
        if (!(inPlace.gw >= 0)) gradWeight!.set(view(pGW + (b % 2) * cb * D * bytes, (c1 - c0) * D), c0 * D);
      };
      for (let b = 0, wp = weightBlock(0), gp = gradBlock(0); b < blocks; b++) {
        const [c0, c1] = span(b);
        gemms.grads(pZ + c0 * ntp * bytes, ntp, m, c1 - c0, D, wp, xp, gxp, adding || c0 > 0, gp, addW, () => {
          if (b > 0) gradOut(b - 1); // before block b + 1 takes its buffer
          if (b + 1 < blocks) [wp, gp] = [weightBlock(b + 1), gradBlock(b + 1)];
        });
      }
      gradOut(blocks - 1);
      if (!(inPlace.gx >= 0)) gradInput!.set(view(pGX, m * D), n0 * D);
    }
    if (gradBias) for (let c = 0, sums = f64(pGB, C); c < C; c++) gradBias[c] = sums[c] / down + (before ? before[2]![c] : 0); // (rounded once)
    if (shift) [gradInput!, gradWeight!].forEach((a, i) => { for (let j = 0; j < a.length; j++) a[j] = a[j] / down + (before ? before[i]![j] : 0); });
  } else if (wantGrad && !accumulate) {
    gradWeight!.fill(0);
    if (gradBias) gradBias.fill(0);
  }

  // 'mean' divides as PyTorch does, in IEEE arithmetic (every target ignored: 0 / 0 = NaN); the z
  // term is averaged over the non-ignored positions, not weighted.
  let loss: number | A;
  if (perPosition) loss = perPosition as A;
  else if (plan.reduction === 'mean') {
    loss = (zeroWeightMean ? zeroWeightSmoothedMean(total, nllTotal, eps, C) : total / denominator) + (zLoss > 0 ? zTotal / counted : 0);
  }
  else loss = total + zTotal;
  // (a JS number accumulated in float64, as every op's 'mean' and 'sum': it was rounded to float32
  // here, so the same float32 logits gave crossEntropy and linearCrossEntropy different losses,
  // and a sum beyond float32's max came back infinite: red team 55)
  const result: LinearCrossEntropyResult<A> = { loss };
  if (lse) result.lse = lse as A;
  if (gradInput) {
    // The caller's own arrays when nothing grew; the live views made above when memory grew.
    result.gradInput = callerArray(gradInput) as A;
    result.gradWeight = callerArray(gradWeight!) as A;
    if (gradBias) result.gradBias = callerArray(gradBias) as A;
  }
  return result;

  /** v, or 0 where it is not finite. */
  function finite(v: number): number {
    return Math.abs(v) < Infinity ? v : 0;
  }

  /** The shift of the prescale above: 0 unless the largest finite upstream factor times the
   *  largest finite class weight (at least 1) times the largest probability target row's mass (at
   *  least 1) passes 2^60 in float32 (one infinite factor left the others unscaled: red team 41),
   *  or 2^956 in float64, the same 2^68 below the type's largest number: float64's products dZ W
   *  overflowed to opposite infinities and added to NaN where the exact gradient is +inf, as
   *  PyTorch's fused multiply-adds give (red team 60: gradOutput [1e308, 1, 1]). */
  function upstreamShift(): number {
    if (!wantGrad) return 0;
    const gOut = plan.gradPerPosition;
    const g = gOut ? largestMagnitude(gOut, finite) : Math.abs(plan.reduction === 'mean' ? plan.gradScalar / denominator : plan.gradScalar);
    // A probability target's mass multiplies dZ = g (s P - w q) too, P = sum_c w_c q_c (red team
    // 55: q [3e38, 0, 0, 0] with gradOutput 2 gave infinite gradients where float64's fit).
    let mass = 1;
    for (let n = 0; probs && n < N; n++) {
      let m = eps; // (smoothing's eps / C per class)
      for (let c = n * C; c < (n + 1) * C; c++) m += Math.abs(finite(probs[c]));
      if (m > mass) mass = m;
    }
    // (in logs: float64's product may pass its range)
    const e = Math.ceil(Math.log2(g) + Math.log2(mass) + Math.log2(Math.max(1, classW ? largestMagnitude(classW, finite) : 1)));
    const limit = precision === 'f32' ? 60 : 956;
    // (at most 1000, so that 2^-shift stays a normal float64: float64's three factors can pass 2^2000)
    const shift = e > limit && e < Infinity ? Math.min(e - limit, 1000) : 0;
    // Float64 'none' factors spanning more than the range: a position's factor scaled into the
    // subnormals would lose its own gradInput row's digits, which the unscaled pass kept exact
    // (review: gradOutput [1e308, 1e-300]); float64 keeps its unscaled pass there, as before.
    // (Float32 scales: red team 41's [1e38, 1e-30], documented.)
    if (shift && precision === 'f64' && gOut && smallestMagnitude(gOut) * 2 ** -shift < 2 ** -969) return 0;
    return shift;
  }

  function optionalVector(v: unknown, name: string, length: number): FloatArray | null {
    if (v === undefined) return null;
    const { data, shape } = tensorLike(FN, name, v, (n) => [n]);
    const values = checkNumbers(FN, name, data);
    if (shape.length !== 1 || values.length !== length) fail(FN, `${name} must have shape [${length}] (C), got ${showShape(shape)}`, RangeError);
    const out = new Ctor(length);
    out.set(values);
    return out;
  }

  function outArray(v: unknown, name: string, type: Float32ArrayConstructor | Float64ArrayConstructor, length: number): A | null {
    if (v === undefined) return null;
    // (a Proxy or look-alike object is not a typed array, whatever its constructor says: red team 32)
    if (v === null || typeof v !== 'object' || typedArrayKind(v) === undefined || (v as object).constructor !== type) fail(FN, `${name} must be a ${type.name} like the input, got ${typeName(v)}`, TypeError);
    checkBuffer(FN, name, v);
    const a = v as A;
    if (a.length !== length) fail(FN, `${name} has ${a.length} elements but needs ${length}`, RangeError);
    return a;
  }
}

/** A block's GEMM work (below this many multiply-adds, about 50 us on one thread, it stays on the
 *  calling thread: a fork and join costs microseconds, more when a worker has to be woken). */
const SPLIT_MIN = 1 << 19;
/** How far the calling thread's share of a block moves after each split block (see BlockGemms). */
const SHARE_STEP = 0.02;

/** The three GEMMs of a vocabulary block (assembly/linear_cross_entropy.ts lceLogits, lceGrads),
 *  each split over the threads (src/threads.ts forkJoin) when there is a pool and the block is big
 *  enough. A split never changes a number: the logits are split by class rows, gradWeight by class
 *  rows and gradInput by token rows, so every output element is the same dot product, summed in the
 *  same order, on whichever thread computes it (the GEMM's 4-row and 1-row tiles do the same
 *  arithmetic per element). Each block is joined before the next is staged, so the one weight block
 *  and gradWeight block in the workspace are never overwritten while read. */
class BlockGemms {
  private readonly names: { logits: string; grads: string };
  private readonly size: number;
  /** The calling thread's share of a split block. Besides its share it copies the next block in
   *  (and the last one's gradients out) while the workers compute, so it takes less than they do:
   *  after each block its share moves by SHARE_STEP, up if it had to wait for a worker, down if
   *  not. Shares change which thread computes a row, never the row's numbers. */
  private share: number;

  constructor(private readonly ws: Workspace, precision: 'f32' | 'f64') {
    this.names = { logits: `lceLogits_${precision}`, grads: `lceGrads_${precision}` };
    this.size = precision === 'f32' ? 4 : 8;
    this.share = 1 / (ws.pool?.size ?? 1);
  }

  /** Threads to split a block of `work` multiply-adds over. */
  private parts(work: number): number {
    const pool = this.ws.pool;
    return pool && work >= SPLIT_MIN ? pool.size : 1;
  }

  /** Runs the parts (parts[0] on this thread) with `between` run here meanwhile. */
  private run(parts: JobCall[][], between: () => void): void {
    const live = parts.filter((p, k) => k === 0 || p.length > 0);
    if (live.length > 1) {
      const late = this.ws.pool!.forkJoin(FN, live, between);
      this.share = Math.min(1, Math.max(0, this.share + (late ? SHARE_STEP : -SHARE_STEP)));
      return;
    }
    // A block that could split but whose rows all fell to this thread (its share rounded to 1)
    // lowers the share too: otherwise no later block of the call would split again.
    if (parts.length > 1) this.share = Math.max(0, this.share - SHARE_STEP);
    between();
    for (const p of live) for (const c of p) (this.ws.exports[c.name] as Kernel)(...c.args);
  }

  /** [0, n) cut into `parts` ranges, the first this thread's share, the rest equal; inner bounds
   *  are multiples of 4 (the GEMM's register tile rows); some may be empty. */
  private ranges(n: number, parts: number): [number, number][] {
    if (parts === 1) return [[0, n]];
    const first = Math.min(n, Math.round((n * this.share) / 4) * 4);
    const step = Math.ceil((n - first) / (parts - 1) / 4) * 4;
    return Array.from({ length: parts }, (_, k) => (k === 0 ? [0, first] : [Math.min(n, first + (k - 1) * step), Math.min(n, first + k * step)]));
  }

  /** Z^T rows [0, cb) := W_b X^T (lceLogits), split by class rows. */
  logits(w: number, cb: number, D: number, xt: number, ntp: number, zt: number, between: () => void): void {
    const s = this.size;
    this.run(this.ranges(cb, this.parts(cb * ntp * D)).map(([r0, r1]) => (r1 > r0 ? [
      { name: this.names.logits, args: [w + r0 * D * s, r1 - r0, D, xt, ntp, zt + r0 * ntp * s] },
    ] : [])), between);
  }

  /** gradX (+)= dZ_b^T W_b split by token rows, and gradW_b (+)= dZ_b X split by class rows (lceGrads). */
  grads(dz: number, ntp: number, nt: number, cb: number, D: number, w: number, x: number, gradX: number, accX: boolean, gradW: number, accW: boolean, between: () => void): void {
    const s = this.size;
    const parts = this.parts(2 * cb * nt * D);
    const tokens = this.ranges(nt, parts);
    const classes = this.ranges(cb, parts);
    this.run(tokens.map(([t0, t1], k) => {
      const [r0, r1] = classes[k];
      const calls: JobCall[] = [];
      if (t1 > t0) calls.push({ name: this.names.grads, args: [dz + t0 * s, ntp, t1 - t0, cb, D, w, 0, gradX + t0 * D * s, accX ? 1 : 0, 0, 0] });
      if (r1 > r0) calls.push({ name: this.names.grads, args: [dz + r0 * ntp * s, ntp, nt, r1 - r0, D, 0, x, 0, 0, gradW + r0 * D * s, accW ? 1 : 0] });
      return calls;
    }), between);
  }
}

/** Tokens per chunk: the chunk's logits (and probability targets) within LOGITS_BYTES, its token
 *  arrays within TOKEN_BYTES; a multiple of the panel width when there are that many. */
function tokensPerChunk(N: number, C: number, D: number, bytes: number, probs: boolean): number {
  const byLogits = Math.floor(LOGITS_BYTES / (probs ? 2 : 1) / (C * bytes));
  const byTokens = Math.floor(TOKEN_BYTES / Math.max(1, 3 * D * bytes));
  let nt = Math.max(1, Math.min(N, byLogits, byTokens));
  if (nt > PANEL && nt < N) nt -= nt % PANEL;
  return nt;
}

function overlaps(a: FloatArray, b: FloatArray): boolean {
  return sameMemory(a.buffer, b.buffer) && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/** The byte offset of an array that lives in a live wasmArray (used in place), else -1. */
function resident(ws: Workspace, a: FloatArray): number {
  const memory = ws.exports.memory;
  if (!sameMemory(a.buffer, memory.buffer)) return -1;
  if (!ws.isPinned(a.byteOffset, a.byteLength)) {
    fail(FN, 'an array views wasm-xent\'s memory outside any live wasmArray; pass a wasmArray\'s .array or an ordinary typed array', TypeError);
  }
  return a.byteOffset;
}

/** torch.logsumexp's answer for a token whose m + log S is NaN: its max m when m is +-inf, else NaN. */
function infiniteMax(m: number, lse: number): number {
  return m === Infinity || m === -Infinity ? m : lse;
}
