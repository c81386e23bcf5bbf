// Public types that hold under any TypeScript setup, and the result types narrowed by the options.
//
// The declarations must compile for a Node-only consumer (`lib: ["es2022"]`, `types: ["node"]`,
// no skipLibCheck), where the DOM's BufferSource, Response and, with older @types/node, the
// WebAssembly namespace do not exist. So the types of init()'s sources are looked up on
// `typeof globalThis`: the real WebAssembly.Module / URL / Response where the consumer's libs
// declare them, a structural stand-in where they don't.

import type { FloatArray, IntArray, Reduction } from './tensor.js';

type Globals = typeof globalThis;

/** Bytes of a wasm module: an ArrayBuffer, a typed array, a DataView or a Node Buffer. */
export type BytesSource = ArrayBuffer | ArrayBufferView;

/** A compiled `WebAssembly.Module` (any object where the consumer's libs lack WebAssembly). */
export type WasmModule = Globals extends { WebAssembly: { Module: { prototype: infer M } } } ? M : object;

/** A `WebAssembly.Memory` (its buffer where the consumer's libs lack WebAssembly). */
export type WasmMemory = Globals extends { WebAssembly: { Memory: { prototype: infer M } } } ? M : { readonly buffer: ArrayBuffer };

/** A `URL`. */
export type UrlLike = Globals extends { URL: { prototype: infer U } } ? U : { readonly href: string };

/** A fetch `Response`. */
export type ResponseLike = Globals extends { Response: { prototype: infer R } } ? R : { readonly ok: boolean; arrayBuffer(): Promise<ArrayBuffer> };

/** A `Float16Array` where the consumer's libs declare one (never otherwise). */
export type Float16ArrayLike = Globals extends { Float16Array: { prototype: infer F } } ? F : never;

/** Half-precision logits: the raw bits of float16 or bfloat16 values in a Uint16Array, named by
 *  `dtype` (as WebGPU inference and ONNX fp16 models hand them back), or a Float16Array. */
export type HalfTensor =
  | { data: Uint16Array; shape: readonly number[]; dtype: 'float16' | 'bfloat16' }
  | { data: Float16ArrayLike; shape: readonly number[] };

/** A target as a tensor; its shape may be left out when it follows from the input's. */
export type TargetTensor<D> = { data: D; shape?: readonly number[] };

/** Class indices: an integer typed array (BigInt64Array for int64 data), a number[], or a tensor
 *  of either; a plain number for an unbatched (C,) input. */
export type IndexTarget = IntArray | readonly number[] | TargetTensor<IntArray | readonly number[]> | number;

/** Class probabilities (soft labels): a float typed array of the input's shape, or a tensor. */
export type ProbabilityTarget = FloatArray | TargetTensor<FloatArray>;

/** BCE targets in [0, 1], the input's shape: a float typed array, a number[], or a tensor of either. */
export type BinaryTarget = FloatArray | readonly number[] | TargetTensor<FloatArray | readonly number[]>;

/** The type of option `K` in `O` (undefined when `O` lacks it). Read by key rather than by
 *  `O extends { reduction?: ... }`, which fails for options without that key (weak type check). */
type OptionOf<O, K extends string> = K extends keyof O ? O[K] : undefined;

/** `loss`: a number for 'mean' and 'sum' (the default), the input's array type for 'none', and
 *  either when the reduction is not known at compile time. */
export type LossValue<A extends FloatArray, O> =
  [OptionOf<O, 'reduction'>] extends ['mean' | 'sum' | undefined] ? number : [OptionOf<O, 'reduction'>] extends ['none'] ? A : number | A;

/** `grad`: present (the input's array type) with `grad: true` or `out`, absent when neither was
 *  passed, and `A | undefined` when that is not known at compile time. */
export type GradValue<A extends FloatArray, O> =
  [OptionOf<O, 'grad'>] extends [true] ? A : [OptionOf<O, 'out'>] extends [FloatArray] ? A
  : [OptionOf<O, 'grad'>, OptionOf<O, 'out'>] extends [false | undefined, undefined] ? undefined : A | undefined;

/** `lse` (crossEntropy): present (the input's array type) with `returnLse: true`, absent when not
 *  asked for, optional when that is not known at compile time. */
export type LseField<A extends FloatArray, O> =
  [OptionOf<O, 'returnLse'>] extends [true] ? { lse: A } : [OptionOf<O, 'returnLse'>] extends [false | undefined] ? { lse?: undefined } : { lse?: A };

/** What a loss function returns for options of type `O` (see LossValue, GradValue and LseField). */
export type LossResultOf<A extends FloatArray, O> =
  { loss: LossValue<A, O> } & (GradValue<A, O> extends undefined ? { grad?: undefined } : { grad: GradValue<A, O> }) & LseField<A, O>;
