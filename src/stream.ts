// Streams big tensors through wasm memory in chunks: copy a chunk of every input in, run the kernel
// on it, copy its results out. One chunk of every array stays in the L2 cache from copy-in to
// copy-out, so memory traffic is one read of each input and one write of each result, and the
// workspace stays small (about CHUNK_BYTES per array) whatever the input size.
//
// Arrays are laid out as (outer, rows, inner): a class-dim tensor has rows = C, a per-position
// array (targets, 'none' losses) rows = 1, both over the same (outer, inner) positions. A chunk is
// a range of outer indices with all of inner or, when one outer slice is too big (NCHW images),
// one outer index and a range of inner; either way the kernel sees a compact (count, rows, width)
// block, so it needs no knowledge of the chunking.
//
// Zero-copy: an array that already lives in the module's memory (a `wasmArray`) is used in place
// when chunks are whole outer slices, and copied like any other array otherwise.
//
// Half precision: a lane with `half` set holds raw 16-bit floats (a Uint16Array). Each chunk's
// bits are copied as they are into a staging block, and a wasm kernel (assembly/half.ts) decodes
// them into the lane's float32 block, where the kernel reads them: no float32 copy is made in JS.

import { fail } from './errors.js';
import { Workspace } from './workspace.js';
import type { HalfDtype } from './tensor.js';

export type StreamArray = Float32Array | Float64Array | Int32Array | Uint16Array;

type StreamArrayConstructor = { new (b: ArrayBuffer, offset: number, length: number): StreamArray; BYTES_PER_ELEMENT: number };

/** One streamed array: `data` is read from (inputs) or written to (outputs); `rows` per position.
 *  `type` is the element type the kernel reads (default: data's own), so a Float64Array target
 *  feeds a float32 kernel converted, never reinterpreted. */
export interface Lane {
  data: StreamArray;
  rows: number;
  type?: StreamArrayConstructor;
  /** The argument's name, for errors ('input', 'target', 'out'). */
  name?: string;
  /** Inputs only: `data` holds the raw bits of 16-bit floats in this format, decoded per chunk
   *  into float32 (the element type the kernel reads). */
  half?: HalfDtype | null;
}

const typeOf = (l: Lane) => (l.half ? Float32Array : l.type ?? (l.data.constructor as StreamArrayConstructor));

/** The wasm export that decodes a chunk of each half format into float32 (assembly/half.ts). */
const DECODERS: Record<HalfDtype, string> = { float16: 'decodeFloat16_f32', bfloat16: 'decodeBfloat16_f32' };

/** Where the kernel finds the current chunk, and which positions it covers. */
export interface Chunk {
  /** Compact (count, rows, width) blocks in wasm memory, in the order the lanes were given. */
  inputs: number[];
  outputs: number[];
  outer0: number;
  count: number;
  inner0: number;
  width: number;
}

/** How the kernel wants a chunk's class-dim arrays (lanes with rows > 1) regrouped, or none (see
 *  assembly/layout.ts): 'columns' turns (count, C, width) into (C, count*width), one long run of
 *  positions per class, for short rows and short columns; 'rows' turns it into (count*width, C). The
 *  kernel then sees a chunk of count 1 and width count*width, or of count count*width and width 1.
 *  Per-position lanes (rows 1) are in position order either way and are not touched. */
export type Relayout = 'columns' | 'rows';

/** Bytes of one chunk of the widest array. */
export const CHUNK_BYTES = 1 << 19;

/** The fewest inner positions a chunk takes when it slices the inner dim (a multiple of 4). */
const MIN_WIDTH = 32;

export class Stream {
  /** Pointers of the caller's fixed regions (weights and the like), to fill before `run`; 0 when
   *  the stream is idle. */
  readonly fixed: number[];
  /** Nothing to compute: no positions, or an input with no rows (an empty class dim). The kernel is
   *  never called and nothing is reserved, so an empty call costs nothing whatever its other dims. */
  readonly idle: boolean;
  /** The lanes as given, except that arrays in wasm memory are fresh views (a call may grow
   *  memory, which detaches older views): read results from here. */
  readonly inputs: Lane[];
  readonly outputs: Lane[];
  private readonly pointers: number[];
  /** Per lane (inputs then outputs): its byte offset in wasm memory when used in place, else -1. */
  private readonly inPlace: number[];
  private readonly count: number;
  private readonly width: number;
  /** Where relayouted lanes pass through on their way in and out (0 without a relayout). */
  private readonly scratch: number = 0;
  /** Per input: the staging block of a half lane's bits (0 for other lanes). */
  private readonly staging: number[];

  constructor(
    private readonly ws: Workspace, fn: string,
    private readonly outer: number, private readonly inner: number,
    inputs: Lane[], outputs: Lane[], fixed: number[],
    private readonly relayout?: Relayout,
  ) {
    const lanes = [...inputs, ...outputs];
    checkOverlaps(fn, inputs, outputs);
    this.idle = outer * inner === 0 || inputs.some((l) => l.rows === 0);
    const memory = ws.exports.memory;
    // Arrays in wasm memory (wasmArrays): their offsets, and which can be used in place (only when
    // the kernel's element type is the array's own).
    const inWasm = lanes.map((l) => (l.data.buffer === memory.buffer ? l.data.byteOffset : -1));
    const resident = lanes.map((l, k) => (typeOf(l) === l.data.constructor ? inWasm[k] : -1));
    const lengths = lanes.map((l) => l.data.length); // read now: growth below zeroes a detached view's length
    lanes.forEach((l) => {
      if (l.data.buffer === memory.buffer && !ws.isPinned(l.data.byteOffset, l.data.byteLength)) {
        fail(fn, 'an array views wasm-xent\'s memory outside any live wasmArray; pass a wasmArray\'s .array or an ordinary typed array', TypeError);
      }
    });
    const widest = Math.max(1, ...lanes.map((l) => l.rows * typeOf(l).BYTES_PER_ELEMENT));
    const slice = widest * inner; // bytes of one outer index of the widest array
    // A chunk slices the inner dim only when one outer slice is over the chunk size, and then never
    // below MIN_WIDTH positions: each row of a sliced chunk is copied on its own, and copies of a
    // few bytes each cost far more than the kernel ([1, 50000, 8] ran 90x slower per element than
    // [400, 1000] with 4-wide slices). Memory then grows with C, as it must for a whole class row.
    if (slice <= CHUNK_BYTES || inner <= MIN_WIDTH) {
      this.count = Math.max(1, Math.min(outer, Math.floor(CHUNK_BYTES / Math.max(1, slice))));
      this.width = inner;
    } else {
      this.count = 1;
      this.width = Math.min(inner, Math.max(MIN_WIDTH, Math.floor(CHUNK_BYTES / widest / 4) * 4));
    }
    // A relayouted lane is regrouped between its copy and the kernel, so never used in place.
    this.inPlace = resident.map((offset, k) => (this.width === inner && !(relayout && lanes[k].rows > 1) ? offset : -1));
    // An output written in place over an input read in place would corrupt the input mid-kernel:
    // such an output goes through the workspace instead.
    for (let k = inputs.length; k < lanes.length; k++) {
      const end = this.inPlace[k] + lanes[k].data.byteLength;
      const overlaps = (j: number) => this.inPlace[j] >= 0 && this.inPlace[j] < end && this.inPlace[k] < this.inPlace[j] + lanes[j].data.byteLength;
      // (byteLength is still valid here: nothing has grown memory yet in this call)
      if (this.inPlace[k] >= 0 && inputs.some((_, j) => overlaps(j))) this.inPlace[k] = -1;
    }
    const sizes = lanes.map((l, k) => (this.inPlace[k] >= 0 || this.idle ? 0 : this.count * l.rows * this.width * typeOf(l).BYTES_PER_ELEMENT));
    const stagingSizes = inputs.map((l, k) => (l.half ? sizes[k] / 2 : 0)); // 2 bytes per value, not 4
    const scratch = relayout ? Math.max(0, ...lanes.map((l, k) => (l.rows > 1 ? sizes[k] : 0))) : 0;
    const pointers = this.idle ? [...lanes, ...inputs].map(() => 0) : ws.reserve(fn, [...fixed, ...sizes, ...stagingSizes, scratch]);
    this.fixed = this.idle ? fixed.map(() => 0) : pointers.slice(0, fixed.length);
    this.pointers = this.idle ? pointers.slice(0, lanes.length) : pointers.slice(fixed.length, fixed.length + lanes.length);
    this.staging = this.idle ? inputs.map(() => 0) : pointers.slice(fixed.length + lanes.length, fixed.length + lanes.length + inputs.length);
    if (scratch > 0 && !this.idle) this.scratch = pointers[fixed.length + lanes.length + inputs.length];
    // reserve may have grown memory: views of it made before are detached now.
    const fresh = lanes.map((l, k) => {
      if (inWasm[k] < 0 || l.data.buffer === memory.buffer) return l;
      const Ctor = l.data.constructor as StreamArrayConstructor;
      return { data: new Ctor(memory.buffer, inWasm[k], lengths[k]), rows: l.rows, type: l.type, half: l.half };
    });
    this.inputs = fresh.slice(0, inputs.length);
    this.outputs = fresh.slice(inputs.length);
  }

  /** The wasm address of lane k's current chunk: in place, or its compact block. */
  private pointer(k: number, o0: number): number {
    const lane = k < this.inputs.length ? this.inputs[k] : this.outputs[k - this.inputs.length];
    const offset = this.inPlace[k];
    return offset >= 0 ? offset + o0 * lane.rows * this.inner * lane.data.BYTES_PER_ELEMENT : this.pointers[k];
  }

  /** Runs `kernel` on every chunk and returns the sum of what it returns. */
  run(kernel: (chunk: Chunk) => number): number {
    const { inputs, outputs, outer, inner } = this;
    const n = inputs.length;
    let total = 0;
    if (this.idle) return total;
    for (let o0 = 0; o0 < outer; o0 += this.count) {
      const count = Math.min(this.count, outer - o0);
      const inPtrs = inputs.map((_, k) => this.pointer(k, o0));
      const outPtrs = outputs.map((_, k) => this.pointer(n + k, o0));
      for (let i0 = 0; i0 < inner; i0 += this.width) {
        const width = Math.min(this.width, inner - i0);
        inputs.forEach((lane, k) => this.inPlace[k] < 0 && this.copyIn(lane, k, inPtrs[k], o0, count, i0, width));
        const shape = this.relayout === 'columns' ? { count: 1, width: count * width } : this.relayout === 'rows' ? { count: count * width, width: 1 } : { count, width };
        total += kernel({ inputs: inPtrs, outputs: outPtrs, outer0: o0, inner0: i0, ...shape });
        outputs.forEach((lane, k) => this.inPlace[n + k] < 0 && this.copyOut(lane, outPtrs[k], o0, count, i0, width));
      }
    }
    return total;
  }

  /** Brings one chunk of input k into its block: a half lane's bits go to its staging block and
   *  are decoded from there; a lane to regroup passes through the scratch block. */
  private copyIn(lane: Lane, k: number, pointer: number, o0: number, count: number, i0: number, width: number): void {
    const regroup = this.relayout !== undefined && lane.rows > 1;
    const to = regroup ? this.scratch : pointer;
    if (lane.half) {
      this.copy({ data: lane.data, rows: lane.rows, type: Uint16Array }, this.staging[k], o0, count, i0, width, true);
      (this.ws.exports[DECODERS[lane.half]] as (src: number, dst: number, n: number) => void)(this.staging[k], to, count * lane.rows * width);
    } else {
      this.copy(lane, to, o0, count, i0, width, true);
    }
    if (regroup) this.regroup(lane, this.scratch, pointer, count, width, this.relayout === 'columns' ? 0 : 2);
  }

  /** Takes one chunk of an output lane out of wasm memory, back in the caller's layout. */
  private copyOut(lane: Lane, pointer: number, o0: number, count: number, i0: number, width: number): void {
    if (!this.relayout || lane.rows <= 1) return this.copy(lane, pointer, o0, count, i0, width, false);
    this.regroup(lane, pointer, this.scratch, count, width, this.relayout === 'columns' ? 1 : 3);
    this.copy(lane, this.scratch, o0, count, i0, width, false);
  }

  private regroup(lane: Lane, from: number, to: number, count: number, width: number, mode: number): void {
    const precision = lane.half || typeOf(lane).BYTES_PER_ELEMENT !== 8 ? 'f32' : 'f64';
    this.ws.kernel<(s: number, d: number, count: number, C: number, width: number, mode: number) => void>('relayout', precision)(from, to, count, lane.rows, width, mode);
  }

  /** Copies one chunk of a lane between the caller's array and its compact block in wasm memory. */
  private copy(lane: Lane, pointer: number, o0: number, count: number, i0: number, width: number, into: boolean): void {
    const { data, rows } = lane;
    const buffer = this.ws.exports.memory.buffer;
    const Ctor = typeOf(lane);
    const inner = this.inner;
    if (width === inner) { // whole outer slices: one contiguous block
      const a = o0 * rows * inner;
      const length = count * rows * inner;
      const block = new Ctor(buffer, pointer, length);
      if (into) block.set(data.subarray(a, a + length));
      else data.set(block, a);
      return;
    }
    const block = new Ctor(buffer, pointer, count * rows * width);
    for (let r = 0; r < count * rows; r++) {
      const a = (o0 * rows + r) * inner + i0;
      if (into) block.set(data.subarray(a, a + width), r * width);
      else data.set(block.subarray(r * width, (r + 1) * width), a);
    }
  }
}

/** An output that shares memory with an input without being exactly the same array would be
 *  overwritten chunk by chunk while later chunks of the input are still to be read: refused, as
 *  PyTorch refuses such an `out=`. An exact alias (same memory, same length) is safe: each chunk is
 *  read in before its results are written back over it. */
function checkOverlaps(fn: string, inputs: Lane[], outputs: Lane[]): void {
  for (const o of outputs) {
    for (const i of inputs) {
      if (o.data.buffer !== i.data.buffer) continue;
      const [a0, a1] = [o.data.byteOffset, o.data.byteOffset + o.data.byteLength];
      const [b0, b1] = [i.data.byteOffset, i.data.byteOffset + i.data.byteLength];
      const exact = a0 === b0 && a1 === b1 && o.data.constructor === i.data.constructor;
      if (a0 < b1 && b0 < a1 && !exact) {
        fail(fn, `${o.name ?? 'out'} partly overlaps ${i.name ?? 'an input'} (some elements of the input and the written-to array refer to the same memory); pass a separate array, or exactly the same array`, RangeError);
      }
    }
  }
}
