// Instantiates the wasm module in any runtime. Knows nothing about the ops: it hands the raw
// exports to the workspace and nothing else.
//
// The loaded module lives in one state object per process (per JS realm), kept on globalThis
// under a Symbol.for key that names the package version. Node can load both the ES module and the
// CommonJS build of this package in one process (an ES module that imports it plus a CommonJS
// helper that requires it), and a bundle may contain both: all copies of one version share the
// state, so one init() serves every one of them. Two different versions keep apart, since their
// kernels may differ.

import { instantiate, instantiateStreaming, instantiateSync, RawExports } from './instantiate.js';
import { bundledWasm, readWasmFile } from './wasm-location.js';
import { buildSupported, envBuild, relaxedSimdSupported, simdSupported, WasmBuild } from './simd-detect.js';
import { Workspace, KernelExports, MAX_THREADS } from './workspace.js';
import type { BytesSource, ResponseLike, UrlLike, WasmModule } from './types.js';
import { fail } from './errors.js';
import { checkOptions } from './tensor.js';
import type { PoolModule } from './threads.js';

/** Checked against package.json by scripts/build-ts.mjs. */
const VERSION = '0.1.0';

/** What `init` accepts: bytes, a compiled module, a URL, or a (promised) fetch Response. */
export type InitSource = BytesSource | WasmModule | UrlLike | string | ResponseLike | PromiseLike<ResponseLike>;

/** Instead of a source, `init({ build })` picks one of the builds the package ships (see
 *  wasmBuild()): `'simd'` for results that are bit-identical on every machine (the relaxed-SIMD
 *  build's fused multiply-add may or may not fuse, which can change the last bit), `'scalar'` for
 *  no SIMD at all, `'relaxed-simd'` to insist on the fastest (an error where it cannot load). */
export interface InitOptions {
  build?: WasmBuild;
}

interface State {
  workspace: Workspace | null;
  pending: Promise<void> | null;
  /** The bytes the module was instantiated from (threads re-instantiate them over shared memory),
   *  or null when init was given a compiled module or a streamed response. */
  bytes: Uint8Array | null;
  /** The module over shared memory, once threads asked for it (the workspace then runs on it). */
  sharedModule: PoolModule | null;
  /** setThreads calls run one after another. */
  threads: Promise<number>;
  /** Reasons already warned about (each once). */
  warned: Set<string>;
}
const KEY = Symbol.for(`wasm-xent@${VERSION}`);
const shared = globalThis as unknown as Record<symbol, State | undefined>;
const state: State = (shared[KEY] ??= { workspace: null, pending: null, bytes: null, sharedModule: null, threads: Promise.resolve(1), warned: new Set() });

// Classified by their internal tag, not instanceof: in Jest's jsdom environment, and between
// frames or vm contexts, a URL, Response or Module may come from another realm than this code.
const tagOf = (x: unknown) => Object.prototype.toString.call(x).slice(8, -1);
const isBytes = (x: unknown): x is BytesSource => ArrayBuffer.isView(x) || tagOf(x) === 'ArrayBuffer';
const isModule = (x: unknown): x is WebAssembly.Module => tagOf(x) === 'WebAssembly.Module';
const isUrl = (x: unknown): x is UrlLike => tagOf(x) === 'URL';
/** init's options as read (a plain object that is not a Response look-alike, its keys checked as
 *  every function's options are: red team 51 had `init({ build: 'simd', threads: 2 })` pass
 *  silently and `init({})` refused as "expected bytes"), {} for none, or null for a source. */
function initOptions(fn: string, x: unknown): { build?: WasmBuild } | null {
  if (x === undefined) return {};
  if (tagOf(x) !== 'Object' || isResponse(x)) return null;
  return checkOptions(fn, x, ['build']) as { build?: WasmBuild };
}
const isResponse = (x: unknown): x is Response =>
  tagOf(x) === 'Response' || (typeof x === 'object' && x !== null && typeof (x as Response).arrayBuffer === 'function' && typeof (x as Response).ok === 'boolean');

const FIX = 'call init() with no argument to use the module embedded in the package, or pass its bytes or a WebAssembly.Module';

function install(exports: RawExports, bytes: BufferSource | WebAssembly.Module | null = null): void {
  // The first module installed stays: an init() still pending when initSync() (or another copy's
  // init) has installed one must not replace it, which would orphan every live wasmArray.
  if (state.workspace) return;
  state.bytes = ownBytes(bytes);
  const k = exports as unknown as KernelExports;
  if (typeof k.heapBase !== 'function' || typeof k.simdBuild !== 'function' || !(k.memory instanceof WebAssembly.Memory)) {
    throw new TypeError('init: this WebAssembly module is not wasm-xent\'s (it lacks the heapBase, simdBuild and memory exports)');
  }
  state.workspace = new Workspace(k);
}

/** A copy of the module's bytes (the caller may reuse its buffer), or null for a compiled module. */
function ownBytes(source: unknown): Uint8Array | null {
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength).slice();
  return tagOf(source) === 'ArrayBuffer' ? new Uint8Array(source as ArrayBuffer).slice() : null;
}

async function instantiateResponse(response: Response, url: string): Promise<void> {
  if (!response.ok) throw new Error(`init: fetching ${response.url || url} failed: HTTP ${response.status} ${response.statusText}; ${FIX}`);
  if (typeof WebAssembly.instantiateStreaming === 'function') {
    try {
      return install(await instantiateStreaming(response.clone()));
    } catch {
      // A server that sends the wrong MIME type makes streaming compilation fail; fall back to
      // bytes (which rethrows if the module itself is bad).
    }
  }
  const bytes = await response.arrayBuffer();
  install(await instantiate(bytes), bytes);
}

const BUILDS: readonly WasmBuild[] = ['relaxed-simd', 'simd', 'scalar'];
const RELAXED_WHERE = 'Chrome/Edge 114+, Firefox 146+, Node 22+, Node 20 with --experimental-wasm-relaxed-simd; not Safari';

/** The bytes of the build the package should load: the one `requested` (the build option) or
 *  WASM_XENT_BUILD names, else the best this engine runs: relaxed SIMD where the engine has it and
 *  this copy of the package can supply it (Node reads it from dist/; it is not embedded), else
 *  SIMD, else scalar. */
function packagedWasm(fn: string, requested: WasmBuild | undefined): Uint8Array {
  if (requested !== undefined && !BUILDS.includes(requested)) {
    fail(fn, `build must be 'relaxed-simd', 'simd' or 'scalar', got ${JSON.stringify(requested)}`, RangeError);
  }
  const forced = requested ?? envBuild(fn);
  if (forced === undefined) {
    const relaxed = relaxedSimdSupported() ? bundledWasm('relaxed-simd') : null;
    if (relaxed) return relaxed;
    const best = simdSupported() ? 'simd' : 'scalar';
    const bytes = bundledWasm(best);
    if (bytes === null) {
      fail(fn, `this engine has no WebAssembly SIMD, and this copy of wasm-xent embeds only the SIMD module (bundle size); serve wasm-xent/xent-scalar.wasm and pass its URL or bytes to init()`);
    }
    return bytes;
  }
  const asked = requested !== undefined ? `{ build: '${forced}' }` : `WASM_XENT_BUILD=${forced === 'relaxed-simd' ? 'relaxed' : forced}`;
  if (!buildSupported(forced)) {
    fail(fn, `${asked} asks for the ${forced} build, which this engine cannot run${forced === 'relaxed-simd' ? ` (relaxed SIMD: ${RELAXED_WHERE})` : ''}; ${requested !== undefined ? 'drop the build option' : 'unset WASM_XENT_BUILD'} to get the best build this engine runs`);
  }
  const bytes = bundledWasm(forced);
  if (bytes === null) {
    const file = forced === 'relaxed-simd' ? 'xent-relaxed.wasm' : 'xent-scalar.wasm';
    const why = forced === 'relaxed-simd' ? "the relaxed-SIMD build (only Node reads it from the package's dist/)" : "the scalar build (only Node reads it from the package's dist/; the package embeds the SIMD build alone, for bundle size)";
    fail(fn, `${asked}: this copy of wasm-xent does not embed ${why}; serve wasm-xent/${file} and pass its URL or bytes to init()`);
  }
  return bytes;
}

async function load(source: InitSource | InitOptions | undefined): Promise<void> {
  const options = initOptions('init', source);
  if (options) {
    const bytes = packagedWasm('init', options.build);
    return install(await instantiate(bytes), bytes);
  }
  if (typeof source === 'string' || isUrl(source)) {
    const url = String(source);
    if (url.startsWith('file:')) {
      const bytes = await readWasmFile(url);
      return install(await instantiate(bytes), bytes);
    }
    let response: Response;
    try {
      response = await fetch(url);
    } catch (e) {
      throw new Error(`init: fetching ${url} failed (${String(e)}); ${FIX}`);
    }
    return instantiateResponse(response, url);
  }
  if (isBytes(source) || isModule(source)) return install(await instantiate(source as BufferSource | WebAssembly.Module), source as BufferSource);
  const resolved: unknown = await source;
  if (isResponse(resolved)) return instantiateResponse(resolved, 'the wasm module');
  throw new TypeError(`init: expected bytes, a WebAssembly.Module, a URL, a Response or a Promise<Response>, got ${tagOf(resolved)}`);
}

/**
 * Loads the wasm module. Idempotent: later calls return at once, in this and every other copy of
 * the package in the process. With no argument it loads the best build the package ships for
 * this engine: in Node, the relaxed-SIMD build (read from the package's dist/) where the engine
 * has relaxed SIMD; elsewhere the SIMD build embedded in the package, or the scalar one on engines
 * without SIMD: no URL or bundler setting is involved. `init({ build: 'simd' })` (or the
 * environment variable WASM_XENT_BUILD=simd) forces a build: see InitOptions. Otherwise pass bytes, a `WebAssembly.Module`, a URL (or URL string; `file:` URLs are
 * read from disk in Node and Deno), a `Response` or a `Promise<Response>` (streaming compilation,
 * with a fallback for servers that send the wrong MIME type).
 */
export function init(source?: InitSource | InitOptions): Promise<void> {
  if (state.workspace) return Promise.resolve();
  if (!state.pending) {
    state.pending = load(source).catch((e) => {
      state.pending = null;
      throw e;
    });
  }
  return state.pending;
}

/** Synchronous init from bytes or a compiled `WebAssembly.Module` (what workerd and Vercel edge
 *  need), or with no argument (or `{ build }`) from the builds in the package, as init() picks. Browsers may refuse to
 *  compile large modules synchronously on the main thread: use `await init()` there. */
export function initSync(source?: BytesSource | WasmModule | InitOptions): void {
  if (state.workspace) return;
  const options = initOptions('initSync', source);
  if (options) {
    const bytes = packagedWasm('initSync', options.build);
    return install(instantiateSync(bytes), bytes);
  }
  if (!isBytes(source) && !isModule(source)) throw new TypeError(`initSync: expected bytes or a WebAssembly.Module, got ${tagOf(source)}`);
  install(instantiateSync(source as BufferSource | WebAssembly.Module), source as BufferSource);
}

/** Which build of the module init() loaded, or null before init: 'relaxed-simd' (SIMD128 with
 *  relaxed SIMD's fused multiply-add, where the engine has it), 'simd' (SIMD128 kernels) or
 *  'scalar' (engines without SIMD). */
export function wasmBuild(): WasmBuild | null {
  if (!state.workspace) return null;
  const k = state.workspace.exports as KernelExports & { relaxedBuild?: () => number };
  if (k.relaxedBuild?.()) return 'relaxed-simd';
  return k.simdBuild() ? 'simd' : 'scalar';
}

/** Bytes of wasm linear memory in use (0 before init). It grows only when a larger call arrives. */
export function wasmMemoryBytes(): number {
  return state.workspace ? state.workspace.memoryBytes : 0;
}

/** The workspace of the loaded module, or an error naming the op that was called too early. */
export function getWorkspace(fn: string): Workspace {
  if (!state.workspace) throw new Error(`${fn}: wasm-xent is not initialised; call await init() (or initSync()) first`);
  return state.workspace;
}

/**
 * Uses `n` threads (the calling one included) for every later call, or `'auto'`: the machine's
 * cores, at most 8. Starts or stops a pool of workers that share the module's memory, and resolves
 * to the number of threads in use. Results are bit-identical for every thread count. Where threads
 * cannot run (edge runtimes, browser pages that are not cross-origin isolated) it resolves to 1
 * and warns once, saying why. Call it after init() and before creating wasmArrays: the first call
 * above 1 moves the module to shared memory.
 */
export function setThreads(n: number | 'auto'): Promise<number> {
  const fn = 'setThreads';
  const ws = getWorkspace(fn);
  if (n !== 'auto' && (typeof n !== 'number' || !Number.isInteger(n) || n < 1)) {
    fail(fn, `expected a whole number of threads >= 1 or 'auto', got ${typeof n === 'number' ? n : typeof n === 'string' ? JSON.stringify(n) : typeof n}`, RangeError);
  }
  const wanted = Math.min(MAX_THREADS, n === 'auto' ? cores() : n);
  // (the pool's code is loaded here, the first time: see MAX_THREADS)
  state.threads = state.threads.catch(() => 1).then(async () => {
    const threads = await import('./threads.js');
    // Where threads cannot run, asking for more than one (or for 'auto') says so, once.
    const support = threads.threadSupport();
    if (n !== 1 && support.kind === 'none') return warnOnce(`${fn}: using 1 thread: ${support.why}`);
    return resize(fn, ws, wanted, threads);
  });
  return state.threads;
}

/** Threads in use by calls now (1 until setThreads starts a pool). */
export function getThreads(): number {
  return state.workspace?.pool?.size ?? 1;
}

async function resize(fn: string, ws: Workspace, n: number, { Pool, sharedMemoryBytes }: typeof import('./threads.js')): Promise<number> {
  const current = state.workspace!;
  if (n === 1) {
    current.pool?.close();
    current.pool = null;
    return 1;
  }
  if (!state.sharedModule) {
    if (!state.bytes) return warnOnce(`${fn}: using 1 thread: init() was given a compiled WebAssembly.Module (or a streamed Response), and threads need the module's bytes to instantiate it over shared memory; call init() with no argument, with the bytes or a file: URL`);
    if (ws.hasPinned) fail(fn, 'threads move the module to shared memory, which would orphan the live wasmArrays; call setThreads before creating wasmArrays, or free them first');
    try {
      const { bytes, pages } = sharedMemoryBytes(state.bytes);
      const module = await WebAssembly.compile(bytes as BufferSource);
      const memory = new WebAssembly.Memory({ initial: pages, maximum: 65536, shared: true });
      const exports = (await WebAssembly.instantiate(module, { env: { memory } })).exports;
      state.sharedModule = { module, memory, exports };
    } catch (e) {
      // A 32-bit engine may refuse to reserve a 4 GiB shared memory.
      return warnOnce(`${fn}: using 1 thread: could not instantiate the module over shared memory (${String(e)})`);
    }
    // Again after the awaits: a wasmArray made while the module compiled would be orphaned too.
    if (ws.hasPinned) {
      state.sharedModule = null;
      fail(fn, 'threads move the module to shared memory, which would orphan the live wasmArrays; call setThreads before creating wasmArrays, or free them first');
    }
    state.workspace = new Workspace(state.sharedModule.exports as unknown as KernelExports);
  }
  const w = state.workspace!;
  w.pool ??= new Pool(state.sharedModule);
  try {
    await w.pool.resize(n);
  } catch (e) {
    // A worker that cannot start (a Content-Security-Policy without worker-src blob:, say).
    w.pool.close();
    w.pool = null;
    return warnOnce(`${fn}: using 1 thread: a worker could not start (${e instanceof Error ? e.message : String((e as { message?: unknown })?.message ?? e)})`);
  }
  return w.pool.size;
}

function warnOnce(message: string): 1 {
  if (!state.warned.has(message)) {
    state.warned.add(message);
    console.warn(message);
  }
  return 1;
}

function cores(): number {
  const g = globalThis as unknown as { navigator?: { hardwareConcurrency?: number }; process?: { getBuiltinModule?: (id: string) => { availableParallelism?: () => number } } };
  const n = g.navigator?.hardwareConcurrency ?? g.process?.getBuiltinModule?.('node:os').availableParallelism?.() ?? 1;
  return Math.max(1, n);
}
