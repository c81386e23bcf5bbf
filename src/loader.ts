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
import { Workspace, KernelExports } from './workspace.js';
import type { BytesSource, ResponseLike, UrlLike, WasmModule } from './types.js';
import { fail } from './errors.js';

/** Checked against package.json by scripts/build-ts.mjs. */
const VERSION = '0.1.0';

/** What `init` accepts: bytes, a compiled module, a URL, or a (promised) fetch Response. */
export type InitSource = BytesSource | WasmModule | UrlLike | string | ResponseLike | PromiseLike<ResponseLike>;

/** Instead of a source, `init({ build })` picks one of the builds the package ships (see
 *  wasmBuild()): `'simd'` for results that are bit-identical on every machine (the relaxed-SIMD
 *  build's fused multiply-add may or may not fuse, which can change the last bit), `'scalar'` for
 *  no SIMD at all, `'relaxed-simd'` to insist on the fastest (an error where it cannot load). */
export interface InitOptions {
  build: WasmBuild;
}

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
const isOptions = (x: unknown): x is InitOptions => tagOf(x) === 'Object' && Object.prototype.hasOwnProperty.call(x, 'build');
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
  if (source === undefined || isOptions(source)) return install(await instantiate(packagedWasm('init', source?.build)));
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
  if (source === undefined || isOptions(source)) return install(instantiateSync(packagedWasm('initSync', source?.build)));
  if (!isBytes(source) && !isModule(source)) throw new TypeError(`initSync: expected bytes or a WebAssembly.Module, got ${tagOf(source)}`);
  install(instantiateSync(source as BufferSource | WebAssembly.Module));
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
