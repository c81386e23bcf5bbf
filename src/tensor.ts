// Tensors as the API sees them ({ data, shape }, row-major), and every check on their form.

import { fail, showShape } from './errors.js';
import { FloatArray, Precision } from './workspace.js';

export type { FloatArray, Precision };
export type IntArray = Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array | BigInt64Array;
export type NumericArray = FloatArray | IntArray | readonly number[];

/** A row-major, contiguous tensor: `data.length` equals the product of `shape`. */
export interface Tensor<A = FloatArray> {
  data: A;
  shape: readonly number[];
}

export type Reduction = 'mean' | 'sum' | 'none';

/** A tensor or a bare array whose shape follows from context. */
export type TensorLike<A> = Tensor<A> | A;

export function isFloatArray(x: unknown): x is FloatArray {
  const kind = typedArrayKind(x);
  return kind === 'Float32Array' || kind === 'Float64Array';
}

const INT_KINDS = new Set(['Int8Array', 'Int16Array', 'Int32Array', 'Uint8Array', 'Uint16Array', 'Uint32Array', 'BigInt64Array']);

export function isIntArray(x: unknown): x is IntArray {
  const kind = typedArrayKind(x);
  // (the bits of a Float16Array are floats, not integers)
  return kind !== undefined && INT_KINDS.has(kind) && !float16Views.has(x as object);
}

/** A number as the kernels of `precision` read it: rounded to float32 for float32 (and half-precision)
 *  input, whatever array it came from (a float64 target of a float32 input, a JS number option). */
export function asStored(precision: Precision): (v: number) => number {
  return precision === 'f32' ? Math.fround : (v: number) => v;
}

export function precisionOf(data: FloatArray | Uint16Array): Precision {
  // half-precision input (raw 16-bit bits) is computed in float32
  return data instanceof Float32Array || data instanceof Uint16Array ? 'f32' : 'f64';
}

/** Whether `key` is an own property of `o` (Object.prototype.hasOwnProperty, which `o` may
 *  shadow or, made with Object.create(null), lack). */
export function own(o: object, key: PropertyKey): boolean {
  return Object.prototype.hasOwnProperty.call(o, key);
}

/** Whether `key` is a property of `o` that is not Object.prototype's: its own, or a class's (an
 *  onnxruntime Tensor's data is a getter on its prototype). A polluted Object.prototype never
 *  makes a plain object look like a tensor, nor gives one a dtype (red team 51). */
export function has(o: object, key: string): boolean {
  for (let p: object | null = o; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    if (own(p, key)) return true;
  }
  return false;
}

export function typeName(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'Array';
  if (typeof x === 'object') {
    if (float16Views.has(x)) return 'Float16Array';
    const name = typedArrayKind(x) ?? String((x as object).constructor?.name ?? 'Object');
    // A Proxy of a typed array (or a look-alike) names a typed-array class without being one.
    return name in TYPED_ARRAYS && typedArrayKind(x) === undefined ? `${name}-like object that is not a typed array (a Proxy?)` : name;
  }
  return typeof x;
}

export function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** The largest extent a shape entry may have: the kernels take sizes as i32. */
export const MAX_DIM = 0x7fffffff;

/** The most dims a shape may have (PyTorch's limit). */
export const MAX_NDIM = 64;

/** A shape array longer than MAX_NDIM, recorded by readArg without copying it. */
class TooManyDims {
  constructor(readonly ndim: number) {}
}

/** Checks a shape: an array of non-negative integers (each at most 2^31 - 1) whose product is a safe
 *  integer no larger than 2^31 - 1 and equal to `length`. Returns a copy. */
export function checkShape(fn: string, name: string, shape: unknown, length: number): number[] {
  if (shape instanceof TooManyDims) fail(fn, `${name}.shape has ${shape.ndim} dimensions (at most ${MAX_NDIM})`, RangeError);
  if (!Array.isArray(shape)) fail(fn, `${name}.shape must be an array of non-negative integers, got ${typeName(shape)}`, TypeError);
  const dims = readArg(fn, `${name}.shape`, shape) as unknown[]; // a copy: nothing below reads the caller's array
  // An index loop, not forEach: forEach skips the holes of a sparse array such as [2, , 3].
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      fail(fn, `${name}.shape[${i}] must be a non-negative integer, got ${show(d)}`, TypeError);
    }
    if (d > MAX_DIM) fail(fn, `${name}.shape[${i}] = ${d} is too large (at most ${MAX_DIM})`, RangeError);
  }
  const checked = dims as number[];
  const n = product(checked);
  if (!Number.isSafeInteger(n) || n > MAX_DIM) fail(fn, `${name} shape ${showShape(checked)} has too many elements (at most ${MAX_DIM})`, RangeError);
  if (n !== length) fail(fn, `${name} shape ${showShape(checked)} holds ${n} elements but its data has ${length}`, RangeError);
  return checked;
}

/** A value as it appears in a message: strings quoted, other things as String() or their type. */
/** A numeric option read as a number (undefined: `fallback`), else a TypeError that shows it:
 *  one check for every such option (red team 44: labelSmoothing '0.1' was a RangeError). */
export function numberOption(fn: string, name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') fail(fn, `${name} must be a number, got ${show(value)}`, TypeError);
  return value;
}

export function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean') return String(v);
  return typeName(v);
}

/** True when `buffer` has been detached (transferred or neutered): its views read as empty. Node 20
 *  has no ArrayBuffer.prototype.detached, but constructing a view on a detached buffer throws. */
export function isDetached(buffer: ArrayBufferLike): boolean {
  if (buffer.byteLength !== 0) return false;
  const flag = (buffer as ArrayBuffer & { detached?: boolean }).detached;
  if (typeof flag === 'boolean') return flag;
  try {
    new Uint8Array(buffer);
    return false;
  } catch {
    return true;
  }
}

// Reading arguments once. Every public function first turns its arguments and options into plain
// values (`readArg`, `readOptions`): typed arrays become fresh views built from the engine's own
// getters (a subclass overriding `length`, or a Proxy, cannot lie about what memory they cover),
// plain arrays and shapes are copied element by element, tensors and options are read key by key,
// each getter once. Only then is anything validated, so no user code (a getter, a Proxy trap, a
// resizable buffer shrunk from an option's getter) runs between a check and the use it guards.

type AnyTypedArray = FloatArray | IntArray | BigUint64Array | Uint8ClampedArray;
type TypedArrayConstructor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => AnyTypedArray;
const TYPED_ARRAYS: Record<string, TypedArrayConstructor> = {
  Float32Array, Float64Array, Int8Array, Int16Array, Int32Array, Uint8Array, Uint16Array, Uint32Array,
  BigInt64Array, BigUint64Array, Uint8ClampedArray,
};
const TypedArrayPrototype = Object.getPrototypeOf(Int8Array.prototype);
const intrinsic = (key: PropertyKey) => Object.getOwnPropertyDescriptor(TypedArrayPrototype, key)!.get!;
const tagOf = intrinsic(Symbol.toStringTag);
const bufferOf = intrinsic('buffer');
const byteOffsetOf = intrinsic('byteOffset');
const lengthOf = intrinsic('length');

/** Views of wasm memory that went stale: detached by memory growth, or handed out by a wasmArray
 *  that was freed since. They get errors that say so (workspace.ts and wasm-array.ts fill these). */
export const grownMemoryBuffers = new WeakSet<ArrayBufferLike>();
export const freedViews = new WeakSet<object>();
/** The module's memory buffers when it runs on shared memory (threads): the only SharedArrayBuffers
 *  accepted (workspace.ts fills it). */
export const sharedWasmBuffers = new WeakSet<ArrayBufferLike>();
/** The module's memory buffer as it is now (workspace.ts sets it). V8 may hand out a new
 *  SharedArrayBuffer object for a shared memory that did not grow (seen when another module in the
 *  process grew its own shared memory): a view of the current object is ours too. */
export const currentMemory: { buffer: () => ArrayBufferLike | null } = { buffer: () => null };

/** The class name of a real typed array (from its internal slot, not its prototype), or undefined. */
export function typedArrayKind(x: unknown): string | undefined {
  return x !== null && typeof x === 'object' ? (tagOf.call(x) as string | undefined) : undefined;
}

/** A typed array as a fresh view of the same memory, built from the engine's own getters; throws
 *  for shared, detached and stale (freed or grown-past) wasm views. Non-typed arrays pass through. */
function plainView(fn: string, name: string, x: object): unknown {
  const kind = typedArrayKind(x);
  if (kind === undefined) return x;
  if (isFloat16Array(x, kind)) return float16Bits(fn, name, x);
  const buffer = usableBuffer(fn, name, x);
  const view = new TYPED_ARRAYS[kind](buffer, byteOffsetOf.call(x) as number, lengthOf.call(x) as number);
  callers.set(view, x);
  if (float16Views.has(x)) float16Views.add(view); // read again (a nested call): still float16 bits
  return view;
}

/** plainView's checks of a typed array that is not a Float16Array (no view is made): the buffer
 *  it views, which is neither freed, shared (but for wasm-xent's own), detached nor grown past. */
function usableBuffer(fn: string, name: string, x: object): ArrayBufferLike {
  checkNotFreed(fn, name, x);
  const buffer = bufferOf.call(x) as ArrayBufferLike;
  if (typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer) {
    // With threads the module's memory is shared: its own wasmArrays are accepted, as views of
    // the memory as it is now (an older buffer covers only the memory before it grew).
    if (grownMemoryBuffers.has(buffer)) fail(fn, `${name} is a view of wasm-xent's memory from before the memory grew; read the wasmArray's .array again after every call`, TypeError);
    if (!sharedWasmBuffers.has(buffer) && buffer !== currentMemory.buffer()) fail(fn, `${name} is backed by a SharedArrayBuffer; copy it into an ordinary array first`, TypeError);
  }
  if (isDetached(buffer)) {
    if (grownMemoryBuffers.has(buffer)) fail(fn, `${name} is a view of wasm-xent's memory from before the memory grew; read the wasmArray's .array again after every call`, TypeError);
    fail(fn, `${name} is backed by a detached ArrayBuffer (it was transferred); pass an array that still owns its memory`, TypeError);
  }
  return buffer;
}

const callers = new WeakMap<object, object>();

/** Whether two buffers are the same memory: the same object, or two objects of wasm-xent's shared
 *  memory (with threads there is one, and V8 may hand out a new object for it: see currentMemory).
 *  Red team 12: targets seen through an older object of it passed the stream's checks as an
 *  ordinary array (the per-call workspace re-read as class indices: a trap). */
export function sameMemory(a: ArrayBufferLike, b: ArrayBufferLike): boolean {
  return a === b || (isSharedWasm(a) && isSharedWasm(b));
}

/** Whether `a` and `b` are the same elements of the same memory (an in-place call's out and input;
 *  false for no `a`, an absent out). */
export function sameArray(a: ArrayBufferView | null, b: ArrayBufferView): boolean {
  return !!a && sameMemory(a.buffer, b.buffer) && a.byteOffset === b.byteOffset && a.byteLength === b.byteLength && a.constructor === b.constructor;
}

function isSharedWasm(b: ArrayBufferLike): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && b instanceof SharedArrayBuffer && (sharedWasmBuffers.has(b) || b === currentMemory.buffer());
}

/** Views of wasm memory taken again after something that may grow the memory (a reserve, a nested
 *  call): growth detaches every view of the old buffer (with threads the shared memory gets a new
 *  buffer object instead). Call it before: it notes where each view of the memory is, through any of
 *  its buffer objects (sameMemory), since a detached view's byteOffset and length read 0. The
 *  function it returns gives each entry as it was when it is over the memory's buffer as it is then
 *  (or not in wasm memory at all: ordinary arrays, null), else a new view of the same elements over
 *  that buffer. One mechanism for every such view: the stream's lanes, LossStream's fixed values,
 *  crossEntropy's arguments around its nested call, linearCrossEntropy's gradients and weight. */
export function viewsAgain<T extends readonly (object | null)[]>(memory: { buffer: ArrayBufferLike }, views: readonly [...T]): () => T {
  type ViewCtor = new (b: ArrayBufferLike, offset: number, length: number) => ArrayBufferView;
  const where = views.map((v) => (v !== null && ArrayBuffer.isView(v) && sameMemory(v.buffer, memory.buffer)
    ? { Ctor: v.constructor as ViewCtor, offset: v.byteOffset, length: (v as unknown as ArrayLike<number>).length }
    : null));
  // none in wasm memory (the usual case): each entry comes back as it was
  if (where.every((w) => w === null)) return () => views.slice() as unknown as T;
  return () => {
    const buffer = memory.buffer;
    return views.map((v, k) => {
      const w = where[k];
      return w && (v as ArrayBufferView).buffer !== buffer ? new w.Ctor(buffer, w.offset, w.length) : v;
    }) as unknown as T;
  };
}

/** Throws if `view` (a caller's array, or a view readArg made of one) belongs to a wasmArray that
 *  was freed: its memory may already hold a newer wasmArray. Checked when an argument is read, and
 *  again by the stream, since a getter of a later option can free it in between. */
export function checkNotFreed(fn: string, name: string, view: object): void {
  if (freedViews.has(callerArray(view))) fail(fn, `${name} is the view of a wasmArray that was freed (use after free); allocate a new wasmArray`, Error);
}

/** The caller's own array behind a view made by readArg (so `out` comes back as the object given). */
export function callerArray<A extends object>(view: A): A {
  return (callers.get(view) as A | undefined) ?? view;
}

/** Reads an argument once into plain values: a typed array -> plainView; an array -> a copy read
 *  element by element; a tensor-like object -> a record of its data, shape and dtype read once. */
export function readArg(fn: string, name: string, x: unknown): unknown {
  if (x === null || typeof x !== 'object') return x;
  if (Array.isArray(x)) {
    const length = x.length;
    const copy = new Array<unknown>(length);
    for (let i = 0; i < length; i++) copy[i] = x[i];
    return copy;
  }
  if (typedArrayKind(x) !== undefined) return plainView(fn, name, x);
  if (!has(x, 'data')) return x;
  if (has(x, 'dims') && has(x, 'type') && !has(x, 'shape')) return ortTensor(fn, name, x);
  const t = x as { data?: unknown; shape?: unknown; dtype?: unknown };
  // (no prototype: a field it lacks is absent, not Object.prototype's)
  const record: { data: unknown; shape?: unknown; dtype?: unknown } = Object.create(null);
  record.data = readArg(fn, name, t.data);
  const shape = has(x, 'shape') ? t.shape : undefined;
  if (Array.isArray(shape)) {
    const ndim = shape.length;
    record.shape = ndim > MAX_NDIM ? new TooManyDims(ndim) : readArg(fn, `${name}.shape`, shape);
  } else if (shape !== undefined) {
    record.shape = shape;
  }
  if (has(x, 'dtype')) record.dtype = t.dtype;
  return Object.freeze(record);
}

// Half-precision input (issue 12): 16-bit floats as a Uint16Array of raw bits with a `dtype`, or
// a Float16Array where the engine has one. readArg turns a Float16Array into a Uint16Array view of
// its bits (remembered in float16Views), so every op downstream sees one form: bits plus a format.

/** The 16-bit float formats an input's raw bits may hold. */
export type HalfDtype = 'float16' | 'bfloat16';

/** Uint16Array views that readArg made of a Float16Array's bits. */
const float16Views = new WeakSet<object>();

/** A Float16Array: the engine's own (by its tag), or one whose class the global Float16Array names
 *  (a polyfill built on a 16-bit typed array, which is what tests/half.test.ts stubs on Node 20). */
function isFloat16Array(x: object, kind: string): boolean {
  if (kind === 'Float16Array') return true;
  const F16 = (globalThis as { Float16Array?: unknown }).Float16Array;
  return typeof F16 === 'function' && x instanceof F16 && (kind === 'Uint16Array' || kind === 'Int16Array');
}

/** The bits of a Float16Array as a Uint16Array view of the same memory (never a copy). */
function float16Bits(fn: string, name: string, x: object): Uint16Array {
  const buffer = usableHalfBuffer(fn, name, x);
  const view = new Uint16Array(buffer, byteOffsetOf.call(x) as number, lengthOf.call(x) as number);
  float16Views.add(view);
  callers.set(view, x);
  return view;
}

/** float16Bits's checks (no view is made): the buffer, neither shared nor detached. */
function usableHalfBuffer(fn: string, name: string, x: object): ArrayBufferLike {
  const buffer = bufferOf.call(x) as ArrayBufferLike;
  if (typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer) {
    fail(fn, `${name} is backed by a SharedArrayBuffer; copy it into an ordinary array first`, TypeError);
  }
  if (isDetached(buffer)) fail(fn, `${name} is backed by a detached ArrayBuffer (it was transferred); pass an array that still owns its memory`, TypeError);
  return buffer;
}

/**
 * The 16-bit float format of tensor data read by readArg, or null for float32/float64 data: a
 * Uint16Array with `dtype` 'float16' or 'bfloat16' (raw bits), or a Float16Array ('float16').
 * Throws for a Uint16Array without a dtype, an unknown dtype, and a dtype on any other array.
 * (onnxruntime's { data: Uint16Array, type: 'float16' } is the same thing: pass its type here.)
 */
export function halfDtype(fn: string, name: string, data: unknown, dtype: unknown): HalfDtype | null {
  const fromFloat16 = typeof data === 'object' && data !== null && float16Views.has(data);
  if (dtype === undefined) {
    if (fromFloat16) return 'float16';
    if (typedArrayKind(data) === 'Uint16Array') {
      fail(fn, `${name}.data is a Uint16Array: to pass half-precision floats as raw bits, set ${name}.dtype to 'float16' or 'bfloat16'`, TypeError);
    }
    return null;
  }
  if (dtype !== 'float16' && dtype !== 'bfloat16') fail(fn, `${name}.dtype must be 'float16' or 'bfloat16', got ${show(dtype)}`, TypeError);
  if (fromFloat16 && dtype !== 'float16') fail(fn, `${name}.data is a Float16Array, which holds float16, not ${dtype}`, TypeError);
  if (!fromFloat16 && typedArrayKind(data) !== 'Uint16Array') {
    fail(fn, `${name}.dtype '${dtype}' needs ${name}.data to be a Uint16Array of raw ${dtype} bits (or a Float16Array), got ${typeName(data)}`, TypeError);
  }
  return dtype;
}

/** An input that may be half precision: `half` names the format of a Uint16Array's bits, or is
 *  null for a Float32Array / Float64Array input. Ops that accept half-precision input read their
 *  input with this instead of floatTensor, compute in float32 (precisionOf gives 'f32' for the
 *  bits) and hand `half` to the input's stream lane (src/stream.ts decodes each chunk in wasm). */
export interface InputTensor extends Tensor<FloatArray | Uint16Array> {
  half: HalfDtype | null;
}

export function inputTensor(fn: string, name: string, t: unknown): InputTensor {
  if (t !== null && typeof t === 'object' && has(t, 'data') && has(t, 'shape')) {
    const { data, shape } = t as { data: unknown; shape: unknown };
    const dtype = has(t, 'dtype') ? (t as { dtype?: unknown }).dtype : undefined;
    const half = halfDtype(fn, name, data, dtype);
    if (half) {
      const bits = data as Uint16Array;
      checkBuffer(fn, name, bits);
      return { data: bits, shape: checkShape(fn, name, shape, bits.length), half };
    }
  }
  const { data, shape } = floatTensor(fn, name, t);
  return { data, shape, half: null };
}

// onnxruntime-web Tensors ({ data, dims, type }, and a location). Their type names the data's
// array; the ones wasm-xent reads are below. 'float16' (a Uint16Array of raw bits) is read as
// half-precision logits ({ data, shape, dtype: 'float16' }) by the ops that take them.
const ORT_TYPES: Record<string, string> = {
  float32: 'Float32Array', float64: 'Float64Array', float16: 'Uint16Array', int64: 'BigInt64Array', int32: 'Int32Array',
  int16: 'Int16Array', int8: 'Int8Array', uint32: 'Uint32Array', uint16: 'Uint16Array', uint8: 'Uint8Array',
};

/** An onnxruntime-web Tensor read as { data, shape: dims }, its type checked against its data. */
function ortTensor(fn: string, name: string, x: object): unknown {
  const t = x as { type?: unknown; dims?: unknown; location?: unknown; data?: unknown };
  const type = t.type;
  const location = has(x, 'location') ? t.location : undefined;
  const what = `${name} is an onnxruntime Tensor`;
  // Its data getter throws for GPU data; say what to do instead.
  if (location !== undefined && location !== 'cpu' && location !== 'cpu-pinned') {
    fail(fn, `${what} whose data is on '${String(location)}', not the CPU; download it first (await tensor.getData())`, TypeError);
  }
  const kind = typeof type === 'string' ? ORT_TYPES[type] : undefined;
  if (kind === undefined) fail(fn, `${what} of type ${show(type)}, which wasm-xent does not read (${Object.keys(ORT_TYPES).join(', ')})`, TypeError);
  const dims = t.dims;
  if (!Array.isArray(dims)) fail(fn, `${name}.dims must be an array of non-negative integers, got ${typeName(dims)}`, TypeError);
  const data = readArg(fn, name, t.data);
  if (typedArrayKind(data) !== kind) fail(fn, `${what} of type '${type}' whose data is a ${typeName(data)}, not a ${kind}`, TypeError);
  const shape = dims.length > MAX_NDIM ? new TooManyDims(dims.length) : readArg(fn, `${name}.dims`, dims);
  return Object.freeze(type === 'float16' ? { data, shape, dtype: 'float16' } : { data, shape });
}

/** Checks that an array is usable as tensor data: not shared (another thread may change it while
 *  we read), not detached (its length would read as 0). Arguments read by readArg already are. */
export function checkBuffer(fn: string, name: string, data: unknown): void {
  // plainView's checks without the view it would make (and drop): a view and a WeakMap entry per
  // check were a fifth of a small call's cost.
  if (data === null || typeof data !== 'object') return;
  const kind = typedArrayKind(data);
  if (kind === undefined) return;
  if (isFloat16Array(data, kind)) usableHalfBuffer(fn, name, data);
  else usableBuffer(fn, name, data);
}

/** A float input tensor: { data: Float32Array | Float64Array, shape }. */
export function floatTensor(fn: string, name: string, t: unknown): Tensor<FloatArray> {
  if (t === null || typeof t !== 'object' || !has(t, 'data') || !has(t, 'shape')) {
    fail(fn, `${name} must be a tensor { data, shape }, got ${typeName(t)}`, TypeError);
  }
  const { data, shape } = t as { data: unknown; shape: unknown };
  if (!isFloatArray(data)) fail(fn, `${name}.data must be a Float32Array or Float64Array, got ${typeName(data)}`, TypeError);
  // A dtype beside float32/float64 data contradicts it (or is not a dtype at all): the caller has
  // the wrong array in hand. halfDtype throws for every dtype on such data, in the words the
  // half-taking ops use (red team 4: klDiv and the rest had run dtype 'float16' / 'bogus' as float32).
  const dtype = has(t, 'dtype') ? (t as { dtype?: unknown }).dtype : undefined;
  if (dtype !== undefined) halfDtype(fn, name, data, dtype);
  checkBuffer(fn, name, data);
  return { data, shape: checkShape(fn, name, shape, data.length) };
}

/** A tensor-or-bare-array argument: returns its data and shape (`bareShape` when given bare). */
export function tensorLike(fn: string, name: string, t: unknown, bareShape: (length: number) => number[]): { data: unknown; shape: number[] } {
  if (t !== null && typeof t === 'object' && !Array.isArray(t) && !ArrayBuffer.isView(t)) {
    if (!has(t, 'data')) fail(fn, `${name} must be an array or a tensor { data, shape }, got ${typeName(t)}`, TypeError);
    const data = (t as { data: unknown }).data;
    const shape = has(t, 'shape') ? (t as { shape?: unknown }).shape : undefined;
    checkArrayLike(fn, name, data);
    checkBuffer(fn, name, data);
    if (shape === undefined) return tensorLike(fn, name, data, bareShape);
    return { data, shape: checkShape(fn, name, shape, (data as ArrayLike<unknown>).length) };
  }
  checkArrayLike(fn, name, t);
  checkBuffer(fn, name, t);
  const length = (t as ArrayLike<unknown>).length;
  const shape = bareShape(length);
  if (product(shape) !== length) {
    fail(fn, `${name} has ${length} elements but the expected shape ${showShape(shape)} holds ${product(shape)}`, RangeError);
  }
  return { data: t, shape };
}

function checkArrayLike(fn: string, name: string, data: unknown): void {
  if (!Array.isArray(data) && !isFloatArray(data) && !isIntArray(data)) {
    const kind = typedArrayKind(data);
    // a typed array of a kind wasm-xent does not read: say so, and what it reads (not a view to
    // make: a view of the same bytes would not do for a weight or a probability target)
    if (kind === 'Uint8ClampedArray' || kind === 'BigUint64Array') {
      const similar = kind === 'Uint8ClampedArray' ? 'Uint8Array' : 'BigInt64Array';
      fail(fn, `${name} is a ${kind}, which is not supported: values go in a Float32Array or Float64Array, class indices in an integer typed array such as ${similar} or Int32Array`, TypeError);
    }
    fail(fn, `${name} must be a typed array or an array of numbers, got ${typeName(data)}`, TypeError);
  }
  if (Array.isArray(data)) checkArrayEntries(fn, name, data);
}

/** Every entry of a plain array must be a number (holes of a sparse array read as undefined). */
function checkArrayEntries(fn: string, name: string, data: readonly unknown[]): void {
  for (let i = 0; i < data.length; i++) {
    if (typeof data[i] !== 'number') fail(fn, `${name}[${i}] must be a number, got ${show(data[i])}`, TypeError);
  }
}

/** A float vector (weight, posWeight, gradOutput...) read as plain numbers: typed float arrays or
 *  number[] whose entries are numbers. */
export function checkNumbers(fn: string, name: string, data: unknown): ArrayLike<number> {
  if (isFloatArray(data)) return data;
  if (Array.isArray(data)) {
    checkArrayEntries(fn, name, data);
    return data as number[];
  }
  return fail(fn, `${name} must be a Float32Array, Float64Array or an array of numbers, got ${typeName(data)}`, TypeError);
}

/** Normalises a dim (negative counts from the end) against `ndim`, PyTorch's way. */
export function normaliseDim(fn: string, dim: unknown, ndim: number): number {
  if (typeof dim !== 'number' || !Number.isInteger(dim)) fail(fn, `dim must be an integer, got ${show(dim)}`, TypeError);
  const lo = -Math.max(ndim, 1);
  const hi = Math.max(ndim, 1) - 1;
  if (dim < lo || dim > hi) fail(fn, `Dimension out of range (expected to be in range of [${lo}, ${hi}], but got ${dim})`, RangeError);
  return dim < 0 ? dim + Math.max(ndim, 1) : dim;
}

/** Views a shape as (outer, C, inner) around `dim`. */
export function splitAt(shape: readonly number[], dim: number): { outer: number; classes: number; inner: number } {
  return {
    outer: product(shape.slice(0, dim)),
    classes: shape.length === 0 ? 1 : shape[dim],
    inner: product(shape.slice(dim + 1)),
  };
}

/** PyTorch arguments that have no counterpart here, and what to use instead. */
const REPLACED_OPTIONS: Record<string, string> = {
  size_average: "PyTorch's deprecated size_average is not supported; use 'reduction'",
  reduce: "PyTorch's deprecated reduce is not supported; use 'reduction'",
};

/** Edit distance (insertions, deletions, substitutions) between two short strings. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

/** Options must be an object, not null and not an array (src/tfjs.ts checks its options so too). */
export function checkOptionsObject(fn: string, options: unknown): asserts options is object {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    fail(fn, `options must be an object, got ${typeName(options)}`, TypeError);
  }
}

/** Rejects option names the function does not know, naming a likely intended one: the same name
 *  up to case, '_' and '-' (PyTorch's snake_case), or one within two typos of it. */
export function checkOptions(fn: string, options: unknown, known: readonly string[]): Record<string, unknown> {
  if (options === undefined) return Object.create(null); // (not {}: a polluted Object.prototype would be read)
  checkOptionsObject(fn, options);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const squash = (s: string) => s.replace(/[_-]/g, '').toLowerCase();
      let hint = known.find((k) => squash(k) === squash(key));
      if (!hint) {
        const close = known
          .map((k) => ({ k, d: editDistance(squash(k), squash(key)) }))
          .filter(({ k, d }) => d <= Math.min(2, Math.floor(k.length / 3)))
          .sort((a, b) => a.d - b.d);
        hint = close[0]?.k;
      }
      const why = hint ? ` (did you mean '${hint}'?)` : REPLACED_OPTIONS[key] ? ` (${REPLACED_OPTIONS[key]})` : '';
      fail(fn, `unknown option '${key}'${why}; known options: ${known.join(', ')}`, TypeError);
    }
  }
  // Each known option read once (a getter runs once), its value read as readArg does. Options are
  // own properties: one found only on the prototype chain (Object.create(defaults), a class's
  // getter, a polluted Object.prototype) is refused, not silently applied (red team 50).
  const read: Record<string, unknown> = Object.create(null);
  for (const key of known) {
    if (!own(options, key)) {
      if (key in options) fail(fn, `option '${key}' is inherited from the options object's prototype; options must be its own properties`, TypeError);
      continue;
    }
    const value = (options as Record<string, unknown>)[key];
    if (value !== undefined) read[key] = readArg(fn, key, value);
  }
  return read;
}

/** PyTorch's reduction names; klDiv's also 'batchmean'. A String object or other non-string is
 *  named as such (red team 45: new String('sum') was "sum is not a valid value"). */
export function checkReduction(fn: string, reduction: unknown, batchmean = false): Reduction {
  if (reduction === undefined) return 'mean';
  if (typeof reduction !== 'string') fail(fn, `reduction must be a string, got ${show(reduction)}`, TypeError);
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none' && !(batchmean && reduction === 'batchmean')) {
    fail(fn, `${reduction} is not a valid value for reduction (expected 'mean', ${batchmean ? "'batchmean', " : ''}'sum' or 'none')`, RangeError);
  }
  return reduction as Reduction;
}

export function checkBoolean(fn: string, name: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') fail(fn, `${name} must be a boolean, got ${typeName(value)}`, TypeError);
  return value;
}

/** The new array a result is copied into; returned arrays belong to the caller. */
export function newFloatArray(precision: Precision, length: number): FloatArray {
  return precision === 'f32' ? new Float32Array(length) : new Float64Array(length);
}
