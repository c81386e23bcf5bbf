// tokenScores: one pass over language-model logits for evaluation and sampling diagnostics. Per
// position (every index of the input but the class dim, in order: torch.movedim(logits, dim, -1)):
// torch.logsumexp, the entropy of the softmax (torch.special.entr(softmax).sum), torch.argmax,
// and with a target the log_softmax at the target and its rank; with topK, torch.topk of
// log_softmax (ties to the lower class). No gradient.

import { fail } from '../errors.js';
import { getWorkspace } from '../loader.js';
import { checkOptions, FloatArray, inputTensor, newFloatArray, precisionOf, readArg, show, Tensor } from '../tensor.js';
import { Lane, Stream } from '../stream.js';
import type { HalfTensor, IndexTarget } from '../types.js';
import { checkIgnoreIndex, indexTargetLane, indexTargets, layoutAround } from './class_targets.js';

export interface TokenScoresOptions {
  /** The class (vocabulary) dim (default -1, the last); negative counts from the end. */
  dim?: number;
  /** How many of the largest log-probabilities to return per position (0..C; default: none). */
  topK?: number;
  /** Targets equal to this are not scored: logProb NaN, rank -1 (default -100). */
  ignoreIndex?: number;
}

/** What tokenScores returns. Per-position arrays have the input's shape without the class dim; the
 *  top-K arrays have that shape followed by K. Floats are the input's type. */
export interface TokenScores<A extends FloatArray = FloatArray> {
  /** log(sum(exp(logits))) over the classes. */
  lse: A;
  /** -sum p log p of softmax(logits), in nats. */
  entropy: A;
  /** The first class with the largest logit (the first NaN, if any). */
  argmax: Int32Array;
  /** log_softmax(logits) at the target; NaN where the target is ignoreIndex. With a target only. */
  logProb?: A;
  /** How many classes have a strictly larger logit than the target (0: the model's top choice);
   *  -1 where the target is ignoreIndex. With a target only. */
  rank?: Int32Array;
  /** The topK largest log-probabilities per position, descending. With topK only. */
  topKLogProbs?: A;
  /** Their classes (ties: the lower class first). With topK only. */
  topKIndices?: Int32Array;
}

type OptionOf<O, K extends string> = K extends keyof O ? O[K] : undefined;

/** tokenScores' result narrowed by whether a target was given and by the topK option. */
export type TokenScoresOf<A extends FloatArray, HasTarget extends boolean, O> = Pick<TokenScores<A>, 'lse' | 'entropy' | 'argmax'>
  & (HasTarget extends true ? Required<Pick<TokenScores<A>, 'logProb' | 'rank'>> : { logProb?: undefined; rank?: undefined })
  & ([OptionOf<O, 'topK'>] extends [undefined] ? { topKLogProbs?: undefined; topKIndices?: undefined }
    : [OptionOf<O, 'topK'>] extends [number] ? Required<Pick<TokenScores<A>, 'topKLogProbs' | 'topKIndices'>>
      : Pick<TokenScores<A>, 'topKLogProbs' | 'topKIndices'>);

const FN = 'tokenScores';
const OPTIONS = ['dim', 'topK', 'ignoreIndex'];

type Kernel = (x: number, target: number, outer: number, C: number, inner: number, K: number,
  lse: number, entropy: number, argmax: number, logProb: number, rank: number, topV: number, topI: number) => void;

/**
 * Scores language-model `logits` (any shape; the classes along `dim`, default the last) and, when
 * given, class-index targets of the input's shape without `dim`. See TokenScores for the outputs.
 */
export function tokenScores<A extends FloatArray, O extends TokenScoresOptions = {}>(logits: Tensor<A>, target?: null, options?: O): TokenScoresOf<A, false, O>;
export function tokenScores<A extends FloatArray, O extends TokenScoresOptions = {}>(logits: Tensor<A>, target: IndexTarget, options?: O): TokenScoresOf<A, true, O>;
export function tokenScores<A extends FloatArray, O extends TokenScoresOptions = {}>(logits: Tensor<A>, target?: IndexTarget | null, options?: O): TokenScoresOf<A, boolean, O>;
/** Half-precision logits (HalfTensor: float16 / bfloat16 bits, or a Float16Array) give Float32Array results. */
export function tokenScores<O extends TokenScoresOptions = {}>(logits: HalfTensor, target?: null, options?: O): TokenScoresOf<Float32Array, false, O>;
export function tokenScores<O extends TokenScoresOptions = {}>(logits: HalfTensor, target: IndexTarget, options?: O): TokenScoresOf<Float32Array, true, O>;
export function tokenScores<O extends TokenScoresOptions = {}>(logits: HalfTensor, target?: IndexTarget | null, options?: O): TokenScoresOf<Float32Array, boolean, O>;
export function tokenScores<A extends FloatArray>(logitsArg: Tensor<A> | HalfTensor, targetArg?: unknown, options?: TokenScoresOptions): TokenScores<A> {
  const opts = checkOptions(FN, options, OPTIONS);
  // Half-precision logits (float16 / bfloat16 bits) are decoded to float32 chunk by chunk in wasm.
  const logitsRead = readArg(FN, 'logits', logitsArg); // (all read, then validated: linear_cross_entropy.ts)
  const target = readArg(FN, 'target', targetArg);
  const input = inputTensor(FN, 'logits', logitsRead);
  // The class dim defaults to the last (logits of shape [batch, sequence, vocabulary]).
  const layout = layoutAround(FN, input, opts.dim ?? -1);
  const x = layout.input.data;
  const precision = precisionOf(x);
  const { outer, classes: C, inner, positions } = layout;
  const K = opts.topK === undefined ? -1 : checkTopK(opts.topK, C);
  if (C === 0 && positions > 0) fail(FN, 'Expected reduction dim to have non-zero size (the class dim is empty)', RangeError);
  const ignoreIndex = checkIgnoreIndex(FN, opts.ignoreIndex);
  const hasTarget = target !== undefined && target !== null;
  const targets = hasTarget ? indexTargetLane(FN, indexTargets(FN, target, layout), layout, ignoreIndex, null, null).lane : null;

  const result: TokenScores<A> = {
    lse: newFloatArray(precision, positions) as A,
    entropy: newFloatArray(precision, positions) as A,
    argmax: new Int32Array(positions),
  };
  if (targets) {
    result.logProb = newFloatArray(precision, positions) as A;
    result.rank = new Int32Array(positions);
  }
  if (K >= 0) {
    result.topKLogProbs = newFloatArray(precision, positions * K) as A;
    result.topKIndices = new Int32Array(positions * K);
  }
  const inputs: Lane[] = [{ data: x, rows: C, name: 'logits', half: input.half }];
  if (targets) inputs.push(targets);
  const outputs: Lane[] = [result.lse, result.entropy, result.argmax, result.logProb, result.rank].filter((a) => a).map((data) => ({ data: data!, rows: 1 }));
  // The top K leave the kernel as (outer, K, inner), the layout the stream copies in chunks.
  const byClass = K > 0 && inner > 1 ? { values: newFloatArray(precision, positions * K), indices: new Int32Array(positions * K) } : null;
  if (K > 0) outputs.push({ data: byClass?.values ?? result.topKLogProbs!, rows: K }, { data: byClass?.indices ?? result.topKIndices!, rows: K });
  const ws = getWorkspace(FN);
  const stream = new Stream(ws, FN, outer, inner, inputs, outputs, [], { walksClassRows: true });
  const kernel = ws.kernel<Kernel>('tokenScores', precision);
  stream.run((c) => {
    const [lse, entropy, argmax, logProb = 0, rank = 0] = c.outputs.slice(0, targets ? 5 : 3);
    const [topV, topI] = K > 0 ? c.outputs.slice(targets ? 5 : 3) : [0, 0];
    kernel(c.inputs[0], targets ? c.inputs[1] : 0, c.count, C, c.width, Math.max(K, 0), lse, entropy, argmax, logProb, rank, topV, topI);
    return 0;
  });
  if (byClass) {
    // (outer, K, inner) -> (outer, inner, K): each position's K entries together.
    const { topKLogProbs: v, topKIndices: ix } = result;
    for (let o = 0; o < outer; o++) {
      for (let k = 0; k < K; k++) {
        const from = (o * K + k) * inner;
        for (let i = 0; i < inner; i++) {
          v![(o * inner + i) * K + k] = byClass.values[from + i];
          ix![(o * inner + i) * K + k] = byClass.indices[from + i];
        }
      }
    }
  }
  return result;
}

/** topK: an integer in 0..C, as torch.topk requires ("selected index k out of range"). */
function checkTopK(k: unknown, C: number): number {
  if (typeof k !== 'number' || !Number.isInteger(k)) fail(FN, `topK must be an integer, got ${show(k)}`, TypeError);
  if (k < 0 || k > C) fail(FN, `selected index k out of range (topK ${k}, but the class dim has ${C} classes)`, RangeError);
  return k;
}
