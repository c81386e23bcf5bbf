// Arrays that live in the module's own memory: the zero-copy path. An op whose input, target or
// `out` is a wasmArray's `.array` reads or writes it in place instead of copying it through the
// workspace (when a chunk covers whole outer slices; otherwise it is copied like any array).
//
// Memory growth detaches every view of wasm memory (see WASM-FACTS: a detached view has length 0
// and drops writes silently). So never keep `.array` across calls: read the getter again after any
// op, init or wasmArray call. It returns the same view while it is valid and a fresh one after
// growth; an op given a detached view throws instead of reading nothing.

import { fail } from './errors.js';
import { freedViews, sharedWasmBuffers } from './tensor.js';
import { getWorkspace } from './loader.js';
import { Workspace } from './workspace.js';

type FloatConstructor = Float32ArrayConstructor | Float64ArrayConstructor;

/** A float array pinned in wasm memory until `free()`. */
export class WasmArray<A extends Float32Array | Float64Array = Float32Array | Float64Array> {
  private view: A | null = null;
  private live = true;

  /** @internal */
  constructor(private readonly ws: Workspace, private readonly type: FloatConstructor, readonly pointer: number, readonly length: number) {}

  /** A view of the array, valid until the next call that may grow memory (read it again then). */
  get array(): A {
    if (!this.live) fail('wasmArray', 'this array was freed', Error);
    const buffer = this.ws.exports.memory.buffer;
    if (!this.view || this.view.buffer !== buffer) this.view = new this.type(buffer, this.pointer, this.length) as A;
    // With threads V8 may hand out a new buffer object for the same memory: each one a view was
    // made on is ours, whatever object is current when the view comes back (red team 13).
    if (typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer) sharedWasmBuffers.add(buffer);
    return this.view;
  }

  /** Returns the memory (the arena shrinks when the top-most arrays are freed). Idempotent. */
  free(): void {
    if (!this.live) return;
    this.live = false;
    // Its last view still covers the block, which a later wasmArray may reuse: ops refuse it.
    if (this.view) freedViews.add(this.view);
    this.view = null;
    this.ws.unpin(this.pointer);
  }
}

/**
 * Allocates a zero-filled Float32Array or Float64Array of `length` elements inside wasm-xent's memory, for
 * callers who fill inputs or read gradients every step and want no copies:
 *
 *   const logits = wasmArray(Float32Array, N * C);
 *   const grad = wasmArray(Float32Array, N * C);
 *   model.writeLogits(logits.array);
 *   crossEntropy({ data: logits.array, shape: [N, C] }, target, { out: grad.array });
 *   optimizer.step(grad.array);   // read .array again after every call
 */
export function wasmArray<T extends FloatConstructor>(type: T, length: number): WasmArray<InstanceType<T>> {
  const fn = 'wasmArray';
  if (type !== Float32Array && type !== Float64Array) fail(fn, 'type must be Float32Array or Float64Array', TypeError);
  if (!Number.isSafeInteger(length) || length < 0) fail(fn, `length must be a non-negative integer, got ${String(length)}`, RangeError);
  const ws = getWorkspace(fn);
  const bytes = length * type.BYTES_PER_ELEMENT;
  const pointer = ws.pin(fn, bytes);
  // The block may hold an earlier array's values or a call's scratch: start from zeros, as
  // `new Float32Array(n)` does (an op told to accumulate into it would otherwise add garbage).
  new Uint8Array(ws.exports.memory.buffer, pointer, bytes).fill(0);
  return new WasmArray(ws, type, pointer, length) as WasmArray<InstanceType<T>>;
}
