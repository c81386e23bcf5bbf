// Owns the wasm module's linear memory above its static data. Each op call lays out the regions it
// needs (inputs, targets, outputs) from the same base, growing memory once when a larger call
// arrives; nothing is allocated per call, so repeating a call of the same size never grows memory.
//
// Growth detaches every view of the old `memory.buffer`, so views are made only after `reserve`
// returns and are never kept across calls.

import { fail } from './errors.js';
import { currentMemory, grownMemoryBuffers, sharedWasmBuffers } from './tensor.js';
import type { JobCall, Pool } from './threads.js';

export type FloatArray = Float32Array | Float64Array;
export type Precision = 'f32' | 'f64';

/** The raw exports of the module (assembly/index.ts): kernels named `<op>_f32` / `<op>_f64`. */
export interface KernelExports {
  /** WebAssembly.Memory, named so that the declarations compile without the DOM lib (see types.ts). */
  memory: import('./types.js').WasmMemory;
  heapBase(): number;
  simdBuild(): number;
  [kernel: string]: unknown;
}

const PAGE = 65536;
const ALIGN = 16;
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** The page whose offsets 4 KiB aliasing compares, and the stagger of regions within it: 17
 *  cache lines, so that no two of the first 64 regions share an offset, and neighbours differ by
 *  no large power of two (which row strides of NCHW chunks often are). */
const PAGE_BYTES = 4096;
const STAGGER_BYTES = 1088;

/** The thread pool's cap (assembly/threads.ts has as many scratch slots), and the jobs queued per
 *  worker (src/threads.ts mailboxes; src/stream.ts keeps as many block sets per worker). Here, not
 *  in threads.ts, which is loaded only when setThreads first runs: a page that never asks for
 *  threads does not download the pool (3 KB gzip of the no-bundler page's 64 KB budget). */
export const MAX_THREADS = 8;
export const DEPTH = 2;

let limitBytes = 1 << 30;

/** Caps the wasm memory one call may use (default 1 GiB); larger calls throw a RangeError before allocating. */
export function setWorkspaceLimit(bytes: number): void {
  if (typeof bytes !== 'number') throw new TypeError(`setWorkspaceLimit: expected a positive integer byte count, got ${typeof bytes}`);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new RangeError(`setWorkspaceLimit: expected a positive integer byte count, got ${bytes}`);
  limitBytes = bytes;
}

export function getWorkspaceLimit(): number {
  return limitBytes;
}

export class Workspace {
  readonly exports: KernelExports;
  /** Whether the module has SIMD kernels (its column paths, which regrouped chunks are for). */
  readonly simd: boolean;
  /** Start of the pinned arena (arrays handed out by `pin`), which ends where the per-call
   *  regions begin: the arena grows up, pushing the call regions (which hold nothing between
   *  calls) ahead of it. */
  private readonly arenaStart: number;
  private base: number;
  /** Live pinned blocks by start address, with their byte sizes (freed blocks are removed). */
  private readonly pinned = new Map<number, number>();

  constructor(exports: KernelExports) {
    this.exports = exports;
    this.simd = exports.simdBuild() !== 0;
    this.arenaStart = Math.max(ALIGN, align(exports.heapBase()));
    this.base = this.arenaStart;
    this.noteShared();
    currentMemory.buffer = () => this.exports.memory.buffer;
  }

  /** A shared memory's buffer (threads) is one of ours: views of it are accepted as arguments. */
  private noteShared(): void {
    const buffer = this.exports.memory.buffer;
    if (typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer) sharedWasmBuffers.add(buffer);
  }

  /** Reserves `bytes` that stay put until `unpin`: the zero-copy path's arrays. First fit: the
   *  lowest gap between live blocks that is large enough (freed space below the top is reused, so
   *  allocating the next array and freeing the previous one every step stays flat), else the top.
   *  A block of a page or more is padded to STAGGER_BYTES past a multiple of 4 KiB, where memory
   *  has room (it never grows for that): arrays allocated one after another then start at
   *  different offsets within a page, as the call regions do (reserve). An input and an `out`
   *  pinned a multiple of 4 KiB apart stalled the kernel on 4 KiB aliasing (crossEntropy NCHW [49,
   *  21, 1024] from wasmArrays: 3.04 -> 2.0 ns/elem). */
  pin(fn: string, bytes: number): number {
    let size = align(Math.max(bytes, 1));
    let pointer = this.arenaStart;
    for (const [start, length] of [...this.pinned].sort((a, b) => a[0] - b[0])) {
      if (start - pointer >= size) break;
      pointer = Math.max(pointer, start + length);
    }
    const padded = size >= PAGE_BYTES ? size + ((STAGGER_BYTES - (size % PAGE_BYTES) + PAGE_BYTES) % PAGE_BYTES) : size;
    const fits = (n: number) => pointer + n - this.arenaStart <= limitBytes;
    const grows = pointer + size > this.memoryBytes;
    if (fits(padded) && (grows ? this.tryGrow(pointer + padded) : pointer + padded <= this.memoryBytes)) size = padded;
    const top = pointer + size;
    if (!fits(size)) {
      fail(fn, `${mib(top - this.arenaStart)} of pinned arrays would exceed the workspace limit of ${mib(limitBytes)} (see setWorkspaceLimit)`, RangeError);
    }
    this.grow(fn, top);
    this.pinned.set(pointer, size);
    this.base = Math.max(this.base, top);
    return pointer;
  }

  /** Releases a pinned block; the arena shrinks back over every free block at its top. */
  unpin(pointer: number): void {
    if (!this.pinned.delete(pointer)) return;
    let top = this.arenaStart;
    for (const [start, size] of this.pinned) top = Math.max(top, start + size);
    this.base = top;
  }

  /** Whether [pointer, pointer + bytes) lies inside one live pinned block. */
  isPinned(pointer: number, bytes: number): boolean {
    for (const [start, size] of this.pinned) if (pointer >= start && pointer + bytes <= start + size) return true;
    return false;
  }

  private grow(fn: string, top: number): void {
    if (!this.tryGrow(top)) fail(fn, `could not grow wasm memory to ${mib(top)} for this call`, RangeError);
  }

  /** Grows memory so that `bytes` more fit above the workspace's base; false where it cannot. */
  growFor(bytes: number): boolean {
    return this.tryGrow(this.base + bytes);
  }

  /** Grows memory to at least `top` bytes; false where it cannot (wasm32's 4 GiB, the engine). */
  private tryGrow(top: number): boolean {
    const memory = this.exports.memory;
    if (top > memory.buffer.byteLength) {
      const old = memory.buffer;
      try {
        memory.grow(Math.ceil((top - memory.buffer.byteLength) / PAGE));
      } catch {
        return false;
      }
      // Views of the old buffer are detached by the growth: remember it, so a view kept across
      // the growth gets an error that says so (tensor.ts) rather than "transferred".
      grownMemoryBuffers.add(old);
      this.noteShared();
    }
    return true;
  }

  /** The kernel `<name>_<precision>`, typed as the caller says. */
  kernel<F>(name: string, precision: Precision): F {
    if (this.pool) return this.call(`${name}_${precision}`) as F;
    // One thread: the export itself, looked up once per name (a small call's fixed cost)
    const table = precision === 'f32' ? this.f32 : this.f64;
    let f = table.get(name);
    if (f === undefined) table.set(name, (f = this.exports[`${name}_${precision}`] as (...args: number[]) => number));
    return f as F;
  }

  /** The exports `kernel` has handed out on one thread, by name, per precision. */
  private readonly f32 = new Map<string, (...args: number[]) => number>();
  private readonly f64 = new Map<string, (...args: number[]) => number>();

  /** The export `name` as a function that runs it, or, while a parallel stream records a chunk's
   *  job (`recording`), adds the call to the job and returns 0 (src/stream.ts). */
  call(name: string): (...args: number[]) => number {
    const f = this.exports[name] as (...args: number[]) => number;
    if (!this.pool) return f; // one thread: nothing is ever recorded (a pool starts only between calls)
    return (...args) => {
      if (!this.recording) return f(...args);
      this.recording.push({ name, args });
      return 0;
    };
  }

  /** The calls of the chunk job being recorded, or null (see `call`). */
  recording: JobCall[] | null = null;

  /** The worker pool (src/threads.ts), when threads are on; null for one thread. */
  pool: Pool | null = null;

  /** Whether any wasmArray is live. */
  get hasPinned(): boolean {
    return this.pinned.size > 0;
  }

  /** Bytes of wasm memory in use now (it only ever grows). */
  get memoryBytes(): number {
    return this.exports.memory.buffer.byteLength;
  }

  /** Lays out one region per byte size, each 16-byte aligned and non-zero, and returns their
   *  addresses. Grows memory (once) if the call needs more than it has. */
  reserve(fn: string, sizes: readonly number[]): number[] {
    // Staggered where the workspace limit has room for it and memory grows that far, else packed:
    // the stagger is for speed only, so it never fails a call, and "needs" (here and in the
    // threads' estimates that count regions against the limit) is the packed size.
    const [pointers, top] = this.layout(sizes, false);
    const needed = top - this.base;
    if (needed > limitBytes) {
      fail(fn, `this call needs ${mib(needed)} of wasm memory, over the workspace limit of ${mib(limitBytes)} (see setWorkspaceLimit)`, RangeError);
    }
    let large = false; // (no region of a page: the two layouts are one, laid out once)
    for (let i = 0; i < sizes.length && !large; i++) large = sizes[i] >= PAGE_BYTES;
    if (large) {
      const [staggered, staggeredTop] = this.layout(sizes, true);
      if (staggeredTop - this.base <= limitBytes && this.tryGrow(staggeredTop)) return staggered;
    }
    this.grow(fn, top);
    return pointers;
  }

  /** The regions' addresses from `base` on, and the end of the last. Staggered, regions of a page
   *  or more start at different offsets within a 4 KiB page (the i-th at i * STAGGER_BYTES): a
   *  kernel that reads one region and writes another at the same offset would otherwise stall on
   *  the CPU's 4 KiB aliasing of loads behind stores wherever the regions' sizes are multiples of
   *  4 KiB (crossEntropy NCHW [49, 21, 1024] forward+gradient: input 6 * 86016 bytes, 126 pages,
   *  then the gradient; 2.70 -> 2.21 ns/elem, against 1.95 at L = 1000). */
  private layout(sizes: readonly number[], stagger: boolean): [number[], number] {
    const pointers: number[] = [];
    let top = this.base;
    let large = 0;
    for (const size of sizes) {
      if (stagger && size >= PAGE_BYTES) top += (((large++ * STAGGER_BYTES - top) % PAGE_BYTES) + PAGE_BYTES) % PAGE_BYTES;
      pointers.push(top);
      top = align(top + size);
    }
    return [pointers, top];
  }

  /** A fresh view of `length` elements at `pointer`; valid until the next `reserve`. */
  floats(precision: Precision, pointer: number, length: number): FloatArray {
    const buffer = this.exports.memory.buffer;
    return precision === 'f32' ? new Float32Array(buffer, pointer, length) : new Float64Array(buffer, pointer, length);
  }
}

/** A byte count for a message: exact below 1 MiB, in MiB (one decimal) above. */
function mib(bytes: number): string {
  return bytes < 1048576 ? `${bytes} bytes` : `${(bytes / 1048576).toFixed(1)} MiB`;
}
