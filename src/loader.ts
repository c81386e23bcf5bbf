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
import { Workspace, KernelExports } from './workspace.js';
import type { BytesSource, ResponseLike, UrlLike, WasmModule } from './types.js';

/** Checked against package.json by scripts/build-ts.mjs. */
const VERSION = '0.1.0';

/** What `init` accepts: bytes, a compiled module, a URL, or a (promised) fetch Response. */
export type InitSource = BytesSource | WasmModule | UrlLike | string | ResponseLike | PromiseLike<ResponseLike>;

interface State {
  workspace: Workspace | null;
  pending: Promise<void> | null;
}
const KEY = Symbol.for(`wasm-xent@${VERSION}`);
const shared = globalThis as unknown as Record<symbol, State | undefined>;
const state: State = (shared[KEY] ??= { workspace: null, pending: null });

// Classified by their internal tag, not instanceof: in Jest's jsdom environment, and between
// frames or vm contexts, a URL, Response or Module may come from another realm than this code.
const tagOf = (x: unknown) => Object.prototype.toString.call(x).slice(8, -1);
const isBytes = (x: unknown): x is BytesSource => ArrayBuffer.isView(x) || tagOf(x) === 'ArrayBuffer';
const isModule = (x: unknown): x is WebAssembly.Module => tagOf(x) === 'WebAssembly.Module';
const isUrl = (x: unknown): x is UrlLike => tagOf(x) === 'URL';
const isResponse = (x: unknown): x is Response =>
  tagOf(x) === 'Response' || (typeof x === 'object' && x !== null && typeof (x as Response).arrayBuffer === 'function' && typeof (x as Response).ok === 'boolean');

const FIX = 'call init() with no argument to use the module embedded in the package, or pass its bytes or a WebAssembly.Module';

function install(exports: RawExports): void {
  // The first module installed stays: an init() still pending when initSync() (or another copy's
  // init) has installed one must not replace it, which would orphan every live wasmArray.
  if (state.workspace) return;
  const k = exports as unknown as KernelExports;
  if (typeof k.heapBase !== 'function' || typeof k.simdBuild !== 'function' || !(k.memory instanceof WebAssembly.Memory)) {
    throw new TypeError('init: this WebAssembly module is not wasm-xent\'s (it lacks the heapBase, simdBuild and memory exports)');
  }
  state.workspace = new Workspace(k);
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
  install(await instantiate(await response.arrayBuffer()));
}

async function load(source: InitSource | undefined): Promise<void> {
  if (source === undefined) return install(await instantiate(bundledWasm()));
  if (typeof source === 'string' || isUrl(source)) {
    const url = String(source);
    if (url.startsWith('file:')) return install(await instantiate(await readWasmFile(url)));
    let response: Response;
    try {
      response = await fetch(url);
    } catch (e) {
      throw new Error(`init: fetching ${url} failed (${String(e)}); ${FIX}`);
    }
    return instantiateResponse(response, url);
  }
  if (isBytes(source) || isModule(source)) return install(await instantiate(source as BufferSource | WebAssembly.Module));
  const resolved: unknown = await source;
  if (isResponse(resolved)) return instantiateResponse(resolved, 'the wasm module');
  throw new TypeError(`init: expected bytes, a WebAssembly.Module, a URL, a Response or a Promise<Response>, got ${tagOf(resolved)}`);
}

/**
 * Loads the wasm module. Idempotent: later calls return at once, in this and every other copy of
 * the package in the process. With no argument it compiles the module embedded in the package
 * (the SIMD build, or the scalar one on engines without SIMD): no file, URL or bundler setting is
 * involved. Otherwise pass bytes, a `WebAssembly.Module`, a URL (or URL string; `file:` URLs are
 * read from disk in Node and Deno), a `Response` or a `Promise<Response>` (streaming compilation,
 * with a fallback for servers that send the wrong MIME type).
 */
export function init(source?: InitSource): Promise<void> {
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
 *  need), or with no argument from the module embedded in the package. Browsers may refuse to
 *  compile large modules synchronously on the main thread: use `await init()` there. */
export function initSync(source?: BytesSource | WasmModule): void {
  if (state.workspace) return;
  if (source === undefined) return install(instantiateSync(bundledWasm()));
  if (!isBytes(source) && !isModule(source)) throw new TypeError(`initSync: expected bytes or a WebAssembly.Module, got ${tagOf(source)}`);
  install(instantiateSync(source as BufferSource | WebAssembly.Module));
}

/** Which build of the module init() loaded: 'simd' (SIMD128 kernels) or 'scalar' (engines
 *  without SIMD), or null before init. */
export function wasmBuild(): 'simd' | 'scalar' | null {
  return state.workspace ? (state.workspace.exports.simdBuild() ? 'simd' : 'scalar') : null;
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
