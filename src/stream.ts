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
// when chunks are whole outer slices. When they slice the inner dim (an NCHW image over the chunk
// size), its rows are copied to and from the chunk's compact block by a wasm call in the chunk's
// job (copyRows), so the copies run on whichever thread computes the chunk, not all on this one.
// (Kernels reading such an image in place, class rows 64 KB apart for 128 x 128, ran 2x slower:
// rows a multiple of 4 KB apart share one set of the L1 and L2 caches; the compact block's rows
// are `width` apart, which is not.)
//
// Threads (src/threads.ts): with a worker pool, chunks are computed on several threads at once, each
// in a set of blocks of its own; this thread still does every copy of an ordinary array (the
// caller's arrays are not shared) and adds the chunk totals in chunk order, so the result is the same bits (see run).
//
// Half precision: a lane with `half` set holds raw 16-bit floats (a Uint16Array). Each chunk's
// bits are copied as they are into a staging block, and a wasm kernel (assembly/half.ts) decodes
// them into the lane's float32 block, where the kernel reads them: no float32 copy is made in JS.

import { fail } from './errors.js';
import { checkNotFreed, own, sameArray, sameMemory, viewsAgain } from './tensor.js';
import { DEPTH, getWorkspaceLimit, Workspace } from './workspace.js';
import type { HalfDtype } from './tensor.js';
import type { JobCall, JobResult } from './threads.js';

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

/** The lanes as records of their own fields: the ops build them as object literals, and a field
 *  one leaves out (type, half, name) would otherwise be read from a polluted Object.prototype
 *  (red team 51: Object.prototype.half = 'float16' read float32 inputs as 16-bit bits). */
function ownFields(lanes: Lane[]): Lane[] {
  const field = (l: Lane, key: keyof Lane) => (own(l, key) ? l[key] : undefined);
  const out: Lane[] = [];
  for (let i = 0; i < lanes.length; i++) {
    const l = lanes[i];
    out.push({ data: l.data, rows: l.rows, type: field(l, 'type') as Lane['type'], name: field(l, 'name') as string | undefined, half: field(l, 'half') as Lane['half'] });
  }
  return out;
}

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

/** How a stream cuts and lays out its chunks for the kernel it feeds. */
export interface ChunkLayout {
  /** Regroup class-dim lanes for the kernel (see Relayout). */
  relayout?: Relayout;
  /** The kernel walks a chunk's class rows a vector of positions at a time (the CE and tokenScores
   *  column kernels, focal's strided walk): keep those rows off strides that alias in L1 (see the
   *  constructor). */
  walksClassRows?: boolean;
}

/** Class rows this many bytes apart (or a multiple) share a few of L1's sets. The same rule as
 *  assembly/softmax.ts's `(stride & 511) == 0`, where softmax walks such rows in tiles instead. */
const ALIASING_BYTES = 512;

/** SharedArrayBuffer where the runtime has one (a stand-in class elsewhere: nothing is one). */
const SharedArrayBufferType: abstract new (...a: never[]) => unknown = typeof SharedArrayBuffer === 'function' ? SharedArrayBuffer : class {};

/** A chunk posted to a worker and not yet collected. */
interface Queued {
  chunk: number;
  seq: number;
  set: number;
  calls: JobCall[];
}

/** One chunk's positions: outer indices o0 .. o0 + count, inner i0 .. i0 + width. */
interface Span {
  o0: number;
  count: number;
  i0: number;
  width: number;
}

/** Bytes of one chunk of the widest array. */
export const CHUNK_BYTES = 1 << 19;

/** The fewest inner positions a chunk takes when it slices the inner dim (a multiple of 4). */
const MIN_WIDTH = 32;

/** The fewest inner positions whose slices a stream for a kernel that walks class rows splits to
 *  keep its rows off strides that alias (see the constructor): below it the per-row copies cost
 *  more than the aliasing. */
const ALIASED_MIN = 2048;

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
  /** The sum of what `side` read after each chunk in the last run (see `run`). */
  sideTotal = 0;
  /** Per set of blocks, per lane: its compact block (one set per chunk in flight, see `run`). */
  private readonly pointers: number[][];
  /** Per lane (inputs then outputs): its byte offset in wasm memory when used in place, else -1. */
  private readonly inPlace: number[];
  /** Per lane: its byte offset in wasm memory when it is there but chunks slice the inner dim, so
   *  its rows are copied by wasm (copyRows) within the chunk's job; else -1. */
  private readonly strided: number[];
  private readonly count: number;
  private readonly width: number;
  /** Per set, per lane: where a relayouted lane passes through on its way in or out (0 for other
   *  lanes). One thread shares one block among the lanes; with threads each lane has its own,
   *  since a chunk's copies are done before its recorded regroups run. */
  private readonly scratch: number[][];
  /** Per set, per input: the staging block of a half lane's bits (0 for other lanes). */
  private readonly staging: number[][];
  /** Sets of blocks: DEPTH per worker (its queue, src/threads.ts) and one for this thread. */
  private readonly sets: number;
  private readonly relayout?: Relayout;

  constructor(
    private readonly ws: Workspace, private readonly fn: string,
    private readonly outer: number, private readonly inner: number,
    inputs: Lane[], outputs: Lane[], fixed: number[],
    { relayout, walksClassRows = false }: ChunkLayout = {},
  ) {
    // (Loops, not chains of map/forEach/spread: a small call is mostly this constructor's fixed cost.)
    inputs = ownFields(inputs);
    outputs = ownFields(outputs);
    const lanes: Lane[] = [];
    for (let i = 0; i < inputs.length; i++) lanes.push(inputs[i]);
    for (let i = 0; i < outputs.length; i++) lanes.push(outputs[i]);
    const nIn = inputs.length;
    const nLanes = lanes.length;
    checkOverlaps(fn, inputs, outputs);
    let idle = outer * inner === 0;
    for (let k = 0; k < nIn && !idle; k++) idle = inputs[k].rows === 0;
    this.idle = idle;
    const memory = ws.exports.memory;
    const memoryBuffer = memory.buffer; // (only the regroup's check and the reserve grow memory below)
    // Arrays in wasm memory (wasmArrays): their offsets, and which can be used in place (only when
    // the kernel's element type is the array's own).
    const inWasm: number[] = [];
    const resident: number[] = [];
    const lengths: number[] = []; // read now: growth below zeroes a detached view's length
    const byteLengths: number[] = [];
    let anyInWasm = false;
    let widest = 1;
    for (let k = 0; k < nLanes; k++) {
      const l = lanes[k];
      const data = l.data;
      const offset = sameMemory(data.buffer, memoryBuffer) ? data.byteOffset : -1;
      if (offset >= 0) anyInWasm = true;
      const type = typeOf(l);
      inWasm.push(offset);
      resident.push(type === data.constructor ? offset : -1);
      lengths.push(data.length);
      byteLengths.push(data.byteLength);
      widest = Math.max(widest, l.rows * type.BYTES_PER_ELEMENT);
    }
    // where those in wasm memory are, before reserve (with none there, nothing to take again)
    const again = anyInWasm ? viewsAgain(memory, lanes.map((l) => l.data)) : null;
    for (let k = 0; k < nLanes; k++) {
      const l = lanes[k];
      // Validated lengths can still shrink before this point: a resizable ArrayBuffer resized by a
      // getter of a later argument (the view is then out of bounds, length 0). Never read past it.
      if (lengths[k] < outer * l.rows * inner) {
        fail(fn, `${l.name ?? 'an argument'} has ${lengths[k]} elements but this call needs ${outer * l.rows * inner} (was its resizable ArrayBuffer resized during the call?)`, RangeError);
      }
    }
    for (let k = 0; anyInWasm && k < nLanes; k++) {
      const l = lanes[k];
      if (inWasm[k] >= 0 && !ws.isPinned(l.data.byteOffset, l.data.byteLength)) {
        fail(fn, 'an array views wasm-xent\'s memory outside any live wasmArray; pass a wasmArray\'s .array or an ordinary typed array', TypeError);
      }
      // Freed by a getter of a later argument, after this one was read (and checked): a wasmArray
      // allocated since may be pinned in the same place, and must not be written to.
      if (inWasm[k] >= 0) checkNotFreed(fn, l.name ?? 'an argument', l.data);
    }
    const slice = widest * inner; // bytes of one outer index of the widest array
    // A chunk slices the inner dim only when one outer slice is over the chunk size, and then never
    // below MIN_WIDTH positions: each row of a sliced chunk is copied on its own, and copies of a
    // few bytes each cost far more than the kernel ([1, 50000, 8] ran 90x slower per element than
    // [400, 1000] with 4-wide slices). Memory then grows with C, as it must for a whole class row.
    // Class rows a multiple of 512 bytes apart (NCHW 32x64, 64x64) share a few of L1's sets, and a
    // kernel that walks them a vector at a time finds its lines evicted (crossEntropy
    // [8, 21, 64, 64] 4.96 ns/elem, [8, 21, 64, 63] 3.40; softmax.ts walks such rows its own way).
    const aliases = (width: number) => walksClassRows && (width * typeOf(lanes[0]).BYTES_PER_ELEMENT) % ALIASING_BYTES === 0;
    // Positions per chunk of one outer slice of n inner positions, when chunks slice it:
    // - fitting one chunk but aliasing: two chunks, half the positions and 8 more, then the rest:
    //   rows 32 (float32) or 64 (float64) bytes off a multiple of 512, and every chunk a multiple
    //   of 8 positions, which keeps the kernels' vector groups where an unsplit slice has them (the
    //   same bits: tests/redteam2);
    // - too big: as many as a chunk holds, 8 more where that width aliases (C = 16 or 32 float32
    //   give 8192 or 4096: [4, 32, 128, 128] 5.36 -> 3.87 ns/elem; 8, not 4, as above).
    const sliceWidth = (n: number): number => {
      const fits = widest * n <= CHUNK_BYTES;
      if (fits && n >= ALIASED_MIN && aliases(n)) return Math.ceil(n / 8) * 4 + 8;
      if (fits || n <= MIN_WIDTH) return n;
      const width = Math.min(n, Math.max(MIN_WIDTH, Math.floor(CHUNK_BYTES / widest / 8) * 8));
      return width < n && aliases(width) ? width + 8 : width;
    };
    if (relayout === 'columns' && inner === 1) {
      // Rows regrouped into one column block are the positions of [C, N] with dim 0 (and [1, C, N]):
      // their chunks end where that layout's do, so the layouts give the same bits (red team 57:
      // [65536, 2] was one chunk here, two there, and its 'mean' differed in the last bit). That
      // also keeps chunks a multiple of 8 rows, as red team 15 needed ([200000, 3] in chunks of
      // 43690 rows had 2 tail positions per chunk, which [3, 200000] dim 0 ran in vector lanes).
      this.count = sliceWidth(outer);
      this.width = 1;
    } else if ((slice <= CHUNK_BYTES && !(inner >= ALIASED_MIN && aliases(inner))) || inner <= MIN_WIDTH) {
      const count = Math.max(1, Math.min(outer, Math.floor(CHUNK_BYTES / Math.max(1, slice))));
      // Regrouped into one column, a chunk of a multiple of 8 outer indices keeps the kernel's
      // vector groups of 8 positions where the column layout's own chunks have them.
      this.count = relayout === 'columns' && count < outer && count >= 8 ? count - (count % 8) : count;
      this.width = inner;
    } else {
      this.count = 1;
      this.width = sliceWidth(inner);
    }
    // A regroup is for speed only: where its scratch (a chunk of the widest regrouped lane) would
    // take the call over the workspace limit, the chunks keep their layout (red team 34: focalLoss
    // [4, 1000, 600] with a gradient needed 1.5 MiB regrouped, 1.0 without). Counted as if every
    // lane had a block (lanes used in place have none), so it errs towards not regrouping.
    if (relayout) {
      const positions = this.count * this.width;
      let bytes = 0;
      let scratch = 0;
      for (let k = 0; k < fixed.length; k++) bytes += Math.ceil(fixed[k] / 16) * 16;
      for (let k = 0; k < nLanes; k++) {
        const block = Math.ceil((positions * lanes[k].rows * typeOf(lanes[k]).BYTES_PER_ELEMENT) / 16) * 16;
        bytes += block;
        // and a half input's staging block, of its 16-bit bits (red team 51: a bfloat16 call failed
        // to grow where its unregrouped chunks fit)
        if (k < nIn && lanes[k].half) bytes += Math.ceil(block / 2 / 16) * 16;
        if (lanes[k].rows > 1) scratch = Math.max(scratch, block);
      }
      // (and where memory cannot grow that far, wasm32's 4 GiB or the engine's cap, while the
      // chunks without it would fit: red team 50; growing now is growth the call makes anyway)
      if (bytes + scratch > getWorkspaceLimit() || (!idle && !ws.growFor(bytes + scratch))) {
        relayout = undefined;
        // (the count of whole outer slices, without the regroup's multiple of 8)
        if (this.width === inner && this.count > 1) this.count = Math.max(1, Math.min(outer, Math.floor(CHUNK_BYTES / Math.max(1, slice))));
      }
    }
    this.relayout = relayout;
    // A relayouted lane is regrouped between its copy and the kernel, so never used in place; nor is
    // any lane when chunks slice the inner dim.
    const sliced = this.width < inner;
    const inPlace: number[] = [];
    const strided: number[] = [];
    for (let k = 0; k < nLanes; k++) {
      inPlace.push(sliced || (relayout && lanes[k].rows > 1) ? -1 : resident[k]);
      strided.push(sliced ? resident[k] : -1);
    }
    this.inPlace = inPlace;
    this.strided = strided;
    // An output written in place over an input read in place would corrupt the input mid-kernel:
    // such an output goes through the workspace instead.
    for (let k = nIn; k < nLanes; k++) {
      if (inPlace[k] < 0) continue;
      const end = inPlace[k] + byteLengths[k]; // (read before the regroup's check may grow memory)
      for (let j = 0; j < nIn; j++) {
        if (inPlace[j] >= 0 && inPlace[j] < end && inPlace[k] < inPlace[j] + byteLengths[j]) {
          inPlace[k] = -1;
          break;
        }
      }
    }
    const sizes: number[] = [];
    const scratchSizes: number[] = [];
    let anyScratch = false;
    let scratchMax = 0;
    for (let k = 0; k < nLanes; k++) {
      const l = lanes[k];
      const size = inPlace[k] >= 0 || idle ? 0 : this.count * l.rows * this.width * typeOf(l).BYTES_PER_ELEMENT;
      const scratchSize = relayout && l.rows > 1 ? size : 0;
      sizes.push(size);
      scratchSizes.push(scratchSize);
      if (scratchSize > 0) anyScratch = true;
      scratchMax = Math.max(scratchMax, scratchSize);
    }
    const stagingSizes: number[] = [];
    for (let k = 0; k < nIn; k++) stagingSizes.push(inputs[k].half ? sizes[k] / 2 : 0); // 2 bytes per value, not 4
    const chunks = Math.ceil(outer / this.count) * Math.ceil(inner / this.width);
    // With threads: DEPTH block sets per worker (its queue) and one for this thread, as many
    // workers as the workspace limit leaves room for (a call that fits on one thread still runs).
    let workers = 0;
    if (ws.pool && !idle && chunks > 1) {
      const bytes = (list: number[]) => list.reduce((a, b) => a + Math.ceil(b / 16) * 16, 0);
      const setBytes = bytes(sizes) + bytes(stagingSizes) + bytes(scratchSizes);
      const room = Math.floor((getWorkspaceLimit() - bytes(fixed) - setBytes) / (DEPTH * Math.max(1, setBytes)));
      workers = Math.max(0, Math.min(ws.pool.size - 1, room));
      // none where memory cannot grow to their sets (near wasm32's 4 GiB): the call runs as on one thread
      if (workers > 0 && !ws.growFor(bytes(fixed) + (workers * DEPTH + 1) * setBytes)) workers = 0;
    }
    const nSets = (this.sets = workers * DEPTH + 1);
    // One set of blocks: the lanes', the staging blocks, then the scratch blocks (one thread shares
    // one among the lanes; with threads each lane has its own).
    const set = sizes.slice();
    for (let i = 0; i < stagingSizes.length; i++) set.push(stagingSizes[i]);
    if (nSets > 1) for (let i = 0; i < scratchSizes.length; i++) set.push(scratchSizes[i]);
    else set.push(scratchMax);
    const setLength = set.length;
    let pointers: number[] = [];
    if (!idle) {
      const request = fixed.slice();
      for (let j = 0; j < nSets; j++) for (let i = 0; i < setLength; i++) request.push(set[i]);
      pointers = ws.reserve(fn, request);
    }
    const nFixed = fixed.length;
    this.fixed = idle ? fixed.map(() => 0) : pointers.slice(0, nFixed);
    this.pointers = [];
    this.staging = [];
    this.scratch = [];
    for (let j = 0; j < nSets; j++) {
      const base = nFixed + j * setLength;
      const lanePointers: number[] = [];
      const staging: number[] = [];
      const scratch: number[] = [];
      for (let k = 0; k < nLanes; k++) {
        lanePointers.push(idle ? 0 : pointers[base + k]);
        scratch.push(!idle && anyScratch && scratchSizes[k] > 0 ? pointers[base + nLanes + nIn + (nSets > 1 ? k : 0)] : 0);
      }
      for (let k = 0; k < nIn; k++) staging.push(idle ? 0 : pointers[base + nLanes + k]);
      this.pointers.push(lanePointers);
      this.staging.push(staging);
      this.scratch.push(scratch);
    }
    // reserve may have grown memory: views of it made before are detached now.
    if (again) {
      const views = again();
      const fresh = lanes.map((l, k) => (views[k] === l.data ? l : { ...l, data: views[k] }));
      this.inputs = fresh.slice(0, nIn);
      this.outputs = fresh.slice(nIn);
    } else {
      this.inputs = inputs.slice();
      this.outputs = outputs.slice();
    }
  }

  /** The wasm address of lane k's chunk at o0 in block set j: in place, or its compact block. */
  private pointer(k: number, o0: number, j: number): number {
    const lane = k < this.inputs.length ? this.inputs[k] : this.outputs[k - this.inputs.length];
    const offset = this.inPlace[k];
    return offset >= 0 ? offset + o0 * lane.rows * this.inner * lane.data.BYTES_PER_ELEMENT : this.pointers[j][k];
  }

  /** Runs `kernel` on every chunk and returns the sum of what it returns, in chunk order. `side`
   *  names an export to read after each chunk's kernel (summed into `sideTotal`). With threads
   *  (src/threads.ts), chunks run on several threads at once, `kernel`'s wasm calls recorded as a
   *  job (it must call wasm only through Workspace.kernel/call and use no return value but its
   *  own): the same chunks, the same calls and the same order of sums as on one thread, so the
   *  same bits. */
  run(kernel: (chunk: Chunk) => number, side: string | null = null): number {
    this.sideTotal = 0;
    if (this.idle) return 0;
    const chunks: Span[] = [];
    for (let o0 = 0; o0 < this.outer; o0 += this.count) {
      for (let i0 = 0; i0 < this.inner; i0 += this.width) {
        chunks.push({ o0, count: Math.min(this.count, this.outer - o0), i0, width: Math.min(this.width, this.inner - i0) });
      }
    }
    if (this.sets > 1) return this.runParallel(chunks, kernel, side);
    let total = 0;
    const read = side ? (this.ws.exports[side] as () => number) : null;
    for (const span of chunks) {
      total += this.chunk(span, 0, kernel);
      if (read) this.sideTotal += read();
      this.finishOut(span, 0);
    }
    return total;
  }

  /** Chunks spread over the threads as they free up: this thread copies each chunk in and posts
   *  it to a worker with room in its queue (DEPTH jobs each, so a worker never waits for the
   *  copies), computes one itself when every queue is full, and copies results out as they come.
   *  Which thread computes a chunk changes nothing in it, and the chunk totals are added in chunk
   *  order at the end, as one thread adds them. */
  private runParallel(chunks: Span[], kernel: (chunk: Chunk) => number, side: string | null): number {
    const pool = this.ws.pool!;
    const results: JobResult[] = new Array(chunks.length);
    const workers = Math.floor((this.sets - 1) / DEPTH); // worker w: sets w * DEPTH + seq % DEPTH; this thread: the last set
    const here = this.sets - 1;
    const queues: Queued[][] = Array.from({ length: workers }, () => []);
    const record = (c: number, set: number): JobCall[] => {
      const calls: JobCall[] = (this.ws.recording = []);
      try {
        this.chunk(chunks[c], set, kernel);
      } finally {
        this.ws.recording = null;
      }
      return calls;
    };
    const computeHere = (c: number, set: number, calls = record(c, set)) => {
      results[c] = pool.runHere(calls, side);
      this.finishOut(chunks[c], set);
    };
    const finish = (w: number, r: JobResult) => {
      const job = queues[w].shift()!;
      results[job.chunk] = r;
      this.finishOut(chunks[job.chunk], job.set);
    };
    try {
      for (let next = 0; ;) {
        // Collect what the workers finished (their block sets are free again).
        for (let w = 0; w < workers; w++) {
          for (let r; queues[w].length && (r = pool.poll(this.fn, w, queues[w][0].seq));) finish(w, r);
        }
        if (next < chunks.length) {
          const w = shortestQueue(queues, pool);
          if (w < 0) { // every queue full: compute one chunk here
            computeHere(next++, here);
            continue;
          }
          const seq = pool.nextSeq(w);
          const set = w * DEPTH + (seq % DEPTH);
          const calls = record(next, set);
          if (pool.post(w, calls, side)) queues[w].push({ chunk: next, seq, set, calls });
          else computeHere(next, set, calls);
          next++;
          continue;
        }
        // Nothing left to start: run here a queued job its worker has not taken yet (with DEPTH
        // jobs queued per worker, the last chunks would otherwise wait for the worker while this
        // thread idles: W3 on 2 threads, 24 chunks, finished 1-2 chunks late), else wait for the
        // oldest job of the first busy worker, if any is left.
        if (pool.takeUntaken && this.takeBackOne(queues, results, chunks, side)) continue;
        const w = queues.findIndex((q) => q.length > 0);
        if (w < 0) break;
        const job = queues[w][0];
        finish(w, pool.wait(this.fn, w, job.seq, job.calls, side));
      }
    } catch (e) {
      // Never leave jobs running over the workspace the next call will use: wait for every posted
      // job (its result dropped) before the error goes up.
      queues.forEach((q, w) => q.forEach((job) => {
        try {
          pool.wait(this.fn, w, job.seq, job.calls, side);
        } catch {
          /* the first error is the one to report */
        }
      }));
      throw e;
    }
    let total = 0;
    for (const r of results) {
      total += r.total;
      this.sideTotal += r.side;
    }
    return total;
  }

  /** Runs here the first queued job (of any worker) that its worker has not taken yet, and
   *  copies its results out; returns whether there was one. */
  private takeBackOne(queues: Queued[][], results: JobResult[], chunks: Span[], side: string | null): boolean {
    const pool = this.ws.pool!;
    for (let w = 0; w < queues.length; w++) {
      for (let i = 0; i < queues[w].length; i++) {
        const job = queues[w][i];
        if (!pool.claim(w, job.seq)) continue;
        queues[w].splice(i, 1);
        results[job.chunk] = pool.runHere(job.calls, side);
        this.finishOut(chunks[job.chunk], job.set);
        return true;
      }
    }
    return false;
  }

  /** One chunk in block set j: its inputs copied in, the kernel, its outputs made ready to copy
   *  out (see finishOut); returns what the kernel returns. */
  private chunk(span: Span, j: number, kernel: (chunk: Chunk) => number): number {
    const { inputs, outputs } = this;
    const { o0, count, i0, width } = span;
    const n = inputs.length;
    const m = outputs.length;
    const inPtrs: number[] = [];
    const outPtrs: number[] = [];
    for (let k = 0; k < n; k++) inPtrs.push(this.pointer(k, o0, j));
    for (let k = 0; k < m; k++) outPtrs.push(this.pointer(n + k, o0, j));
    for (let k = 0; k < n; k++) if (this.inPlace[k] < 0) this.copyIn(inputs[k], k, inPtrs[k], span, j);
    const columns = this.relayout === 'columns', rows = this.relayout === 'rows';
    const total = kernel({
      inputs: inPtrs, outputs: outPtrs, outer0: o0, inner0: i0,
      count: columns ? 1 : rows ? count * width : count, width: columns ? count * width : rows ? 1 : width,
    });
    // A regrouped output goes back to the caller's layout in the scratch block first (a wasm call,
    // so part of the chunk's job).
    for (let k = 0; k < m; k++) {
      const lane = outputs[k];
      if (this.inPlace[n + k] < 0 && this.regroups(lane)) this.regroup(lane, outPtrs[k], this.scratch[j][n + k], count, width, columns ? 1 : 3);
    }
    for (let k = 0; k < m; k++) {
      const lane = outputs[k];
      if (this.strided[n + k] >= 0) this.copyRows(lane, n + k, this.regroups(lane) ? this.scratch[j][n + k] : outPtrs[k], span, false);
    }
    return total;
  }

  /** Copies a finished chunk's outputs back to the caller's arrays. */
  private finishOut(span: Span, j: number): void {
    const n = this.inputs.length;
    const outputs = this.outputs;
    for (let k = 0; k < outputs.length; k++) {
      const lane = outputs[k];
      if (this.inPlace[n + k] >= 0 || this.strided[n + k] >= 0) continue;
      this.copy(lane, this.regroups(lane) ? this.scratch[j][n + k] : this.pointer(n + k, span.o0, j), span, false);
    }
  }

  private regroups(lane: Lane): boolean {
    return this.relayout !== undefined && lane.rows > 1;
  }

  /** Brings one chunk of input k into its block: a half lane's bits go to its staging block and
   *  are decoded from there; a lane to regroup passes through the scratch block. */
  private copyIn(lane: Lane, k: number, pointer: number, span: Span, j: number): void {
    const regroup = this.regroups(lane);
    const to = regroup ? this.scratch[j][k] : pointer;
    if (lane.half) {
      this.copy({ data: lane.data, rows: lane.rows, type: Uint16Array, half: null }, this.staging[j][k], span, true);
      this.ws.call(DECODERS[lane.half])(this.staging[j][k], to, span.count * lane.rows * span.width);
    } else if (this.strided[k] >= 0) {
      this.copyRows(lane, k, to, span, true);
    } else {
      this.copy(lane, to, span, true);
    }
    if (regroup) this.regroup(lane, this.scratch[j][k], pointer, span.count, span.width, this.relayout === 'columns' ? 0 : 2);
  }

  private regroup(lane: Lane, from: number, to: number, count: number, width: number, mode: number): true {
    const precision = lane.half || typeOf(lane).BYTES_PER_ELEMENT !== 8 ? 'f32' : 'f64';
    this.ws.kernel<(s: number, d: number, count: number, C: number, width: number, mode: number) => void>('relayout', precision)(from, to, count, lane.rows, width, mode);
    return true;
  }

  /** Copies one chunk of lane k, a wasmArray (`strided`), between the array and a compact block,
   *  by a wasm call: part of the chunk's job when threads record it. */
  private copyRows(lane: Lane, k: number, block: number, span: Span, into: boolean): void {
    const size = lane.data.BYTES_PER_ELEMENT;
    const rowBytes = this.inner * size;
    const at = this.strided[k] + (span.o0 * lane.rows * this.inner + span.i0) * size;
    const [src, dst, srcStride, dstStride] = into ? [at, block, rowBytes, span.width * size] : [block, at, span.width * size, rowBytes];
    this.ws.call('copyRows')(src, dst, span.count * lane.rows, span.width * size, srcStride, dstStride);
  }

  /** Copies one chunk of a lane between the caller's array and its compact block in wasm memory. */
  private copy(lane: Lane, pointer: number, span: Span, into: boolean): void {
    const { o0, count, i0, width } = span;
    const { data, rows } = lane;
    const buffer = this.ws.exports.memory.buffer;
    const Ctor = typeOf(lane);
    const inner = this.inner;
    // Whole outer slices are one contiguous run; a sliced inner dim is one run per row.
    const runs = width === inner ? 1 : count * rows;
    const run = width === inner ? count * rows * inner : width;
    // Into or out of shared memory (threads), a float view copies at half the speed of bytes: copy
    // the bytes (unit = bytes per element) when no conversion is needed, else the elements (unit 1).
    const unit = Ctor === data.constructor && buffer instanceof SharedArrayBufferType ? Ctor.BYTES_PER_ELEMENT : 1;
    type Copyable = ArrayLike<number> & { set(a: ArrayLike<number>, at?: number): void; subarray(a: number, b: number): Copyable };
    const from = (unit > 1 ? new Uint8Array(data.buffer, data.byteOffset, data.length * unit) : data) as Copyable;
    const block = (unit > 1 ? new Uint8Array(buffer, pointer, runs * run * unit) : new Ctor(buffer, pointer, runs * run)) as Copyable;
    const n = run * unit;
    if (runs === 1) {
      // one run (whole outer slices): the block is the run, so no subarray of it is made
      const a = (o0 * rows * inner + i0) * unit;
      if (!into) from.set(block, a);
      else if (a === 0 && n === from.length) block.set(from, 0);
      else block.set(from.subarray(a, a + n), 0);
      return;
    }
    for (let r = 0; r < runs; r++) {
      const a = ((o0 * rows + r) * inner + i0) * unit;
      if (into) block.set(from.subarray(a, a + n), r * n);
      else from.set(block.subarray(r * n, (r + 1) * n), a);
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
      if (!sameMemory(o.data.buffer, i.data.buffer) || sameArray(o.data, i.data)) continue;
      const [a0, a1] = [o.data.byteOffset, o.data.byteOffset + o.data.byteLength];
      const [b0, b1] = [i.data.byteOffset, i.data.byteOffset + i.data.byteLength];
      if (a0 < b1 && b0 < a1) {
        fail(fn, `${o.name ?? 'out'} partly overlaps ${i.name ?? 'an input'} (some elements of the input and the written-to array refer to the same memory); pass a separate array, or exactly the same array`, RangeError);
      }
    }
  }
}

/** The live worker with the fewest unfinished jobs and room for one more, or -1. */
function shortestQueue(queues: { length: number }[], pool: { usable(w: number): boolean }): number {
  let best = -1;
  queues.forEach((q, w) => {
    if (q.length < DEPTH && pool.usable(w) && (best < 0 || q.length < queues[best].length)) best = w;
  });
  return best;
}
