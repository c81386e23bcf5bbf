// The module's export list: concrete f32/f64 entry points over the generic kernels.
// Kernels take byte pointers into this module's memory and sizes; they never allocate, validate
// or throw. The TypeScript side (src/) validates every argument and owns the memory above
// heapBase() (see src/workspace.ts).

import { logSoftmaxForward, logSoftmaxBackward, softmaxForward, softmaxBackward, softmaxScratchSlot } from "./softmax";
import { crossEntropyIndex, crossEntropyProbs, crossEntropyScratchSlot, zSquares } from "./cross_entropy";
import { nllLoss } from "./nll";
import { binaryCrossEntropy, binaryCrossEntropyWithLogits, bceScratchSlot, outsideUnit } from "./bce";
import { ctcLoss } from "./ctc";

import { klDiv } from "./kl_div";
import { sigmoidFocalLoss } from "./sigmoid_focal";
import { focalLoss } from "./focal";

/** First byte the host may use as its workspace (after this module's static data). */
export function heapBase(): usize { return __heap_base; }

/** Whether this is the SIMD build (asconfig target "release") or the scalar one ("scalar"). */
export function simdBuild(): bool { return ASC_FEATURE_SIMD; }

/** Points this instance at thread slot k's scratch blocks (src/threads.ts: instances that share one
 *  memory must not share scratch). The host's own instance keeps slot 0. */
export function setThreadSlot(k: i32): void {
  crossEntropyScratchSlot(k);
  bceScratchSlot(k);
  tokenScoresScratchSlot(k);
  softmaxScratchSlot(k);
}

/** Whether this is the relaxed-SIMD build (asconfig target "relaxed": fused multiply-add). */
export function relaxedBuild(): bool { return ASC_FEATURE_RELAXED_SIMD; }

export function logSoftmaxForward_f32(x: usize, y: usize, outer: i32, C: i32, inner: i32): void { logSoftmaxForward<f32>(x, y, outer, C, inner); }
export function logSoftmaxForward_f64(x: usize, y: usize, outer: i32, C: i32, inner: i32): void { logSoftmaxForward<f64>(x, y, outer, C, inner); }
export function logSoftmaxBackward_f32(g: usize, y: usize, dx: usize, outer: i32, C: i32, inner: i32): void { logSoftmaxBackward<f32>(g, y, dx, outer, C, inner); }
export function logSoftmaxBackward_f64(g: usize, y: usize, dx: usize, outer: i32, C: i32, inner: i32): void { logSoftmaxBackward<f64>(g, y, dx, outer, C, inner); }
export function softmaxForward_f32(x: usize, y: usize, outer: i32, C: i32, inner: i32): void { softmaxForward<f32>(x, y, outer, C, inner); }
export function softmaxForward_f64(x: usize, y: usize, outer: i32, C: i32, inner: i32): void { softmaxForward<f64>(x, y, outer, C, inner); }
export function softmaxBackward_f32(g: usize, y: usize, dx: usize, outer: i32, C: i32, inner: i32): void { softmaxBackward<f32>(g, y, dx, outer, C, inner); }
export function softmaxBackward_f64(g: usize, y: usize, dx: usize, outer: i32, C: i32, inner: i32): void { softmaxBackward<f64>(g, y, dx, outer, C, inner); }

export function crossEntropyIndex_f32(x: usize, t: usize, w: usize, outer: i32, C: i32, inner: i32, eps: f64, loss: usize, grad: usize, scale: f64, gradPerPosition: usize, z: f64, zScale: f64, lse: usize): f64 { return crossEntropyIndex<f32>(x, t, w, outer, C, inner, eps, loss, grad, scale, gradPerPosition, z, zScale, lse); }
export function crossEntropyIndex_f64(x: usize, t: usize, w: usize, outer: i32, C: i32, inner: i32, eps: f64, loss: usize, grad: usize, scale: f64, gradPerPosition: usize, z: f64, zScale: f64, lse: usize): f64 { return crossEntropyIndex<f64>(x, t, w, outer, C, inner, eps, loss, grad, scale, gradPerPosition, z, zScale, lse); }
export function crossEntropyProbs_f32(x: usize, p: usize, w: usize, outer: i32, C: i32, inner: i32, eps: f64, loss: usize, grad: usize, scale: f64, gradPerPosition: usize, z: f64, zScale: f64, lse: usize): f64 { return crossEntropyProbs<f32>(x, p, w, outer, C, inner, eps, loss, grad, scale, gradPerPosition, z, zScale, lse); }
export function crossEntropyProbs_f64(x: usize, p: usize, w: usize, outer: i32, C: i32, inner: i32, eps: f64, loss: usize, grad: usize, scale: f64, gradPerPosition: usize, z: f64, zScale: f64, lse: usize): f64 { return crossEntropyProbs<f64>(x, p, w, outer, C, inner, eps, loss, grad, scale, gradPerPosition, z, zScale, lse); }
/** The sum of lse^2 over the non-ignored positions of the last crossEntropy kernel call (z-loss). */
export function crossEntropyZSquares(): f64 { return zSquares; }

export function nllLoss_f32(x: usize, t: usize, w: usize, outer: i32, C: i32, inner: i32, loss: usize, grad: usize, scale: f64, gradPerPosition: usize): f64 { return nllLoss<f32>(x, t, w, outer, C, inner, loss, grad, scale, gradPerPosition); }
export function nllLoss_f64(x: usize, t: usize, w: usize, outer: i32, C: i32, inner: i32, loss: usize, grad: usize, scale: f64, gradPerPosition: usize): f64 { return nllLoss<f64>(x, t, w, outer, C, inner, loss, grad, scale, gradPerPosition); }

export function binaryCrossEntropy_f32(x: usize, y: usize, w: usize, wPeriod: i32, n: i32, loss: usize, grad: usize, scale: f64, gradPerElement: usize, inverse: f64): f64 { return binaryCrossEntropy<f32>(x, y, w, wPeriod, n, loss, grad, scale, gradPerElement, inverse); }
export function binaryCrossEntropy_f64(x: usize, y: usize, w: usize, wPeriod: i32, n: i32, loss: usize, grad: usize, scale: f64, gradPerElement: usize, inverse: f64): f64 { return binaryCrossEntropy<f64>(x, y, w, wPeriod, n, loss, grad, scale, gradPerElement, inverse); }
/** 1 if the last binaryCrossEntropy kernel call met an input outside [0, 1], else 0. */
export function binaryCrossEntropyOutside(): i32 { return outsideUnit; }
export function binaryCrossEntropyWithLogits_f32(x: usize, y: usize, w: usize, wPeriod: i32, pw: usize, pwPeriod: i32, n: i32, loss: usize, grad: usize, scale: f64, gradPerElement: usize, inverse: f64): f64 { return binaryCrossEntropyWithLogits<f32>(x, y, w, wPeriod, pw, pwPeriod, n, loss, grad, scale, gradPerElement, inverse); }
export function binaryCrossEntropyWithLogits_f64(x: usize, y: usize, w: usize, wPeriod: i32, pw: usize, pwPeriod: i32, n: i32, loss: usize, grad: usize, scale: f64, gradPerElement: usize, inverse: f64): f64 { return binaryCrossEntropyWithLogits<f64>(x, y, w, wPeriod, pw, pwPeriod, n, loss, grad, scale, gradPerElement, inverse); }

export function ctcLoss_f32(lp: usize, T: i32, N: i32, b0: i32, b1: i32, C: i32, blank: i32, targets: usize, offsets: usize, targetLengths: usize, inputLengths: usize, maxS: i32, zeroInfinity: bool, nll: usize, grad: usize, gradScale: usize, scratch: usize): void { ctcLoss<f32>(lp, T, N, b0, b1, C, blank, targets, offsets, targetLengths, inputLengths, maxS, zeroInfinity, nll, grad, gradScale, scratch); }
export function ctcLoss_f64(lp: usize, T: i32, N: i32, b0: i32, b1: i32, C: i32, blank: i32, targets: usize, offsets: usize, targetLengths: usize, inputLengths: usize, maxS: i32, zeroInfinity: bool, nll: usize, grad: usize, gradScale: usize, scratch: usize): void { ctcLoss<f64>(lp, T, N, b0, b1, C, blank, targets, offsets, targetLengths, inputLengths, maxS, zeroInfinity, nll, grad, gradScale, scratch); }

export function klDiv_f32(x: usize, t: usize, n: i32, logTarget: bool, loss: usize, grad: usize, scale: f64, gradPerElement: usize): f64 { return klDiv<f32>(x, t, n, logTarget, loss, grad, scale, gradPerElement); }
export function klDiv_f64(x: usize, t: usize, n: i32, logTarget: bool, loss: usize, grad: usize, scale: f64, gradPerElement: usize): f64 { return klDiv<f64>(x, t, n, logTarget, loss, grad, scale, gradPerElement); }

export function sigmoidFocalLoss_f32(x: usize, y: usize, n: i32, alpha: f64, gamma: f64, loss: usize, grad: usize, scale: f64, gradPerElement: usize): f64 { return sigmoidFocalLoss<f32>(x, y, n, alpha, gamma, loss, grad, scale, gradPerElement); }
export function sigmoidFocalLoss_f64(x: usize, y: usize, n: i32, alpha: f64, gamma: f64, loss: usize, grad: usize, scale: f64, gradPerElement: usize): f64 { return sigmoidFocalLoss<f64>(x, y, n, alpha, gamma, loss, grad, scale, gradPerElement); }

export function focalLoss_f32(x: usize, t: usize, w: usize, outer: i32, C: i32, inner: i32, gamma: f64, loss: usize, grad: usize, scale: f64, gradPerPosition: usize): f64 { return focalLoss<f32>(x, t, w, outer, C, inner, gamma, loss, grad, scale, gradPerPosition); }
export function focalLoss_f64(x: usize, t: usize, w: usize, outer: i32, C: i32, inner: i32, gamma: f64, loss: usize, grad: usize, scale: f64, gradPerPosition: usize): f64 { return focalLoss<f64>(x, t, w, outer, C, inner, gamma, loss, grad, scale, gradPerPosition); }

import { relayout } from "./layout";
export { copyRows } from "./layout";
export { checkTargets, targetBlock } from "./targets";
export function relayout_f32(src: usize, dst: usize, count: i32, C: i32, width: i32, mode: i32): void { relayout<f32>(src, dst, count, C, width, mode); }
export function relayout_f64(src: usize, dst: usize, count: i32, C: i32, width: i32, mode: i32): void { relayout<f64>(src, dst, count, C, width, mode); }

import { decodeFloat16, decodeBfloat16 } from "./half";

// Half-precision inputs: the 16-bit bits of a chunk decoded into float32 before the f32 kernels.
export function decodeFloat16_f32(src: usize, dst: usize, n: i32): void { decodeFloat16(src, dst, n); }
export function decodeBfloat16_f32(src: usize, dst: usize, n: i32): void { decodeBfloat16(src, dst, n); }

// tokenScores (issue 12): per-position lse, entropy, argmax, target log-probability and rank, top K.
import { tokenScores, tokenScoresScratchSlot } from "./token_scores";
export function tokenScores_f32(x: usize, target: usize, outer: i32, C: i32, inner: i32, K: i32, lse: usize, entropy: usize, argmax: usize, logProb: usize, rank: usize, topV: usize, topI: usize): void { tokenScores<f32>(x, target, outer, C, inner, K, lse, entropy, argmax, logProb, rank, topV, topI); }
export function tokenScores_f64(x: usize, target: usize, outer: i32, C: i32, inner: i32, K: i32, lse: usize, entropy: usize, argmax: usize, logProb: usize, rank: usize, topV: usize, topI: usize): void { tokenScores<f64>(x, target, outer, C, inner, K, lse, entropy, argmax, logProb, rank, topV, topI); }

// linearCrossEntropy (assembly/linear_cross_entropy.ts) and its GEMM (assembly/gemm.ts)
import { gemm } from "./gemm";
import { lcePack, lceLogits, lceForward, lceBackward, lceGrads } from "./linear_cross_entropy";

export function gemm_f32(M: i32, N: i32, K: i32, a: usize, aI: usize, aK: usize, b: usize, bK: usize, c: usize, cI: usize, accumulate: bool): void { gemm<f32>(M, N, K, a, aI, aK, b, bK, c, cI, accumulate); }
export function gemm_f64(M: i32, N: i32, K: i32, a: usize, aI: usize, aK: usize, b: usize, bK: usize, c: usize, cI: usize, accumulate: bool): void { gemm<f64>(M, N, K, a, aI, aK, b, bK, c, cI, accumulate); }
export function lcePack_f32(x: usize, nt: i32, D: i32, xt: usize, ntp: i32): void { lcePack<f32>(x, nt, D, xt, ntp); }
export function lcePack_f64(x: usize, nt: i32, D: i32, xt: usize, ntp: i32): void { lcePack<f64>(x, nt, D, xt, ntp); }
export function lceLogits_f32(w: usize, cb: i32, D: i32, xt: usize, ntp: i32, zt: usize): void { lceLogits<f32>(w, cb, D, xt, ntp, zt); }
export function lceLogits_f64(w: usize, cb: i32, D: i32, xt: usize, ntp: i32, zt: usize): void { lceLogits<f64>(w, cb, D, xt, ntp, zt); }
export function lceForward_f32(zt: usize, ntp: i32, nt: i32, C: i32, bias: usize, cap: f64, targets: usize, probs: usize, weight: usize, eps: f64, weightSum: f64, stats: usize): void { lceForward<f32>(zt, ntp, nt, C, bias, cap, targets, probs, weight, eps, weightSum, stats); }
export function lceForward_f64(zt: usize, ntp: i32, nt: i32, C: i32, bias: usize, cap: f64, targets: usize, probs: usize, weight: usize, eps: f64, weightSum: f64, stats: usize): void { lceForward<f64>(zt, ntp, nt, C, bias, cap, targets, probs, weight, eps, weightSum, stats); }
export function lceBackward_f32(zt: usize, ntp: i32, nt: i32, C: i32, cap: f64, targets: usize, probs: usize, weight: usize, eps: f64, weightSum: f64, coef: usize, gradBias: usize, stats: usize): void { lceBackward<f32>(zt, ntp, nt, C, cap, targets, probs, weight, eps, weightSum, coef, gradBias, stats); }
export function lceBackward_f64(zt: usize, ntp: i32, nt: i32, C: i32, cap: f64, targets: usize, probs: usize, weight: usize, eps: f64, weightSum: f64, coef: usize, gradBias: usize, stats: usize): void { lceBackward<f64>(zt, ntp, nt, C, cap, targets, probs, weight, eps, weightSum, coef, gradBias, stats); }
export function lceGrads_f32(dz: usize, ntp: i32, nt: i32, cb: i32, D: i32, w: usize, x: usize, gradX: usize, accX: bool, gradW: usize, accW: bool): void { lceGrads<f32>(dz, ntp, nt, cb, D, w, x, gradX, accX, gradW, accW); }
export function lceGrads_f64(dz: usize, ntp: i32, nt: i32, cb: i32, D: i32, w: usize, x: usize, gradX: usize, accX: bool, gradW: usize, accW: bool): void { lceGrads<f64>(dz, ntp, nt, cb, D, w, x, gradX, accX, gradW, accW); }
