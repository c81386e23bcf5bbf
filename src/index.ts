// wasm-xent: PyTorch's cross-entropy loss family, with gradients, as a WebAssembly module.

export { init, initSync, wasmBuild, wasmMemoryBytes } from './loader.js';
export { wasmArray, WasmArray } from './wasm-array.js';
export type { InitSource } from './loader.js';
export { setWorkspaceLimit, getWorkspaceLimit } from './workspace.js';
export { crossEntropy } from './ops/cross_entropy.js';
export type { CrossEntropyOptions } from './ops/cross_entropy.js';
export { nllLoss } from './ops/nll_loss.js';
export type { NllLossOptions } from './ops/nll_loss.js';
export { logSoftmax, softmax, logSoftmaxBackward, softmaxBackward } from './ops/softmax.js';
export type { SoftmaxOptions } from './ops/softmax.js';
export { binaryCrossEntropy, binaryCrossEntropyWithLogits } from './ops/bce.js';
export type { BceOptions, BceWithLogitsOptions } from './ops/bce.js';
export { ctcLoss } from './ops/ctc.js';
export type { CtcLossOptions, Lengths } from './ops/ctc.js';
export { klDiv } from './ops/kl_div.js';
export type { KlDivOptions, KlDivReduction } from './ops/kl_div.js';
export { sigmoidFocalLoss } from './ops/sigmoid_focal.js';
export type { SigmoidFocalLossOptions } from './ops/sigmoid_focal.js';
export { focalLoss } from './ops/focal.js';
export type { FocalLossOptions } from './ops/focal.js';
export { oneHot, inverseFrequencyWeights } from './ops/targets.js';
export type { LossResult, LossOptionsBase } from './ops/loss.js';
export type { Tensor, FloatArray, IntArray, Reduction } from './tensor.js';
export type { BytesSource, WasmModule, UrlLike, ResponseLike, TargetTensor, IndexTarget, ProbabilityTarget, BinaryTarget, LossValue, GradValue, LossResultOf } from './types.js';
export { CrossEntropyLoss, NLLLoss, BCELoss, BCEWithLogitsLoss, LogSoftmax, Softmax, CTCLoss, KLDivLoss, SigmoidFocalLoss, FocalLoss } from './modules.js';
export { linearCrossEntropy } from './ops/linear_cross_entropy.js';
export type { LinearCrossEntropyOptions, LinearCrossEntropyResult } from './ops/linear_cross_entropy.js';
