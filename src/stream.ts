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

import { Precision, Workspace } from './workspace.js';

export type StreamArray = Float32Array | Float64Array | Int32Array;

/** One streamed array: `data` is read from (inputs) or written to (outputs); `rows` per position. */
export interface Lane {
  data: StreamArray;
  rows: number;
}

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

/** Bytes of one chunk of the widest array. */
export const CHUNK_BYTES = 1 << 17;

export class Stream {
  /** Pointers of the caller's fixed regions (weights and the like), to fill before `run`. */
  readonly fixed: number[];
  private readonly pointers: number[];
  private readonly count: number;
  private readonly width: number;

  constructor(
    private readonly ws: Workspace, fn: string,
    private readonly outer: number, private readonly inner: number,
    private readonly inputs: Lane[], private readonly outputs: Lane[], fixed: number[],
  ) {
    const lanes = [...inputs, ...outputs];
    const widest = Math.max(1, ...lanes.map((l) => l.rows * l.data.BYTES_PER_ELEMENT));
    const slice = widest * inner; // bytes of one outer index of the widest array
    if (slice <= CHUNK_BYTES || inner <= 4) {
      this.count = Math.max(1, Math.min(outer, Math.floor(CHUNK_BYTES / Math.max(1, slice))));
      this.width = inner;
    } else {
      this.count = 1;
      this.width = Math.min(inner, Math.max(4, Math.floor(CHUNK_BYTES / widest / 4) * 4));
    }
    const sizes = lanes.map((l) => this.count * l.rows * this.width * l.data.BYTES_PER_ELEMENT);
    const pointers = ws.reserve(fn, [...fixed, ...sizes]);
    this.fixed = pointers.slice(0, fixed.length);
    this.pointers = pointers.slice(fixed.length);
  }

  /** Runs `kernel` on every chunk and returns the sum of what it returns. */
  run(kernel: (chunk: Chunk) => number): number {
    const { inputs, outputs, outer, inner } = this;
    const inPtrs = this.pointers.slice(0, inputs.length);
    const outPtrs = this.pointers.slice(inputs.length);
    let total = 0;
    for (let o0 = 0; o0 < outer; o0 += this.count) {
      const count = Math.min(this.count, outer - o0);
      for (let i0 = 0; i0 < inner; i0 += this.width) {
        const width = Math.min(this.width, inner - i0);
        inputs.forEach((lane, k) => this.copy(lane, inPtrs[k], o0, count, i0, width, true));
        total += kernel({ inputs: inPtrs, outputs: outPtrs, outer0: o0, count, inner0: i0, width });
        outputs.forEach((lane, k) => this.copy(lane, outPtrs[k], o0, count, i0, width, false));
      }
    }
    return total;
  }

  /** Copies one chunk of a lane between the caller's array and its compact block in wasm memory. */
  private copy(lane: Lane, pointer: number, o0: number, count: number, i0: number, width: number, into: boolean): void {
    const { data, rows } = lane;
    const buffer = this.ws.exports.memory.buffer;
    const Ctor = data.constructor as { new (b: ArrayBuffer, offset: number, length: number): StreamArray };
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

export function bytesOf(precision: Precision): number {
  return precision === 'f32' ? 4 : 8;
}
