// Instantiates the wasm module in any runtime. Knows nothing about the ops: it hands the raw
// exports to the workspace and nothing else.

import { instantiate, instantiateStreaming, instantiateSync } from './instantiate.js';
import { bundledWasm, readWasmFile } from './wasm-location.js';
import { Workspace, KernelExports } from './workspace.js';

/** What `init` accepts: bytes, a compiled module, a URL, or a (promised) fetch Response. */
export type InitSource =
  | BufferSource
  | WebAssembly.Module
  | URL
  | string
  | Response
  | PromiseLike<Response>;

let workspace: Workspace | null = null;
let pending: Promise<void> | null = null;

function isResponse(x: unknown): x is Response {
  return typeof Response !== 'undefined' && x instanceof Response;
}

function install(exports: unknown): void {
  workspace = new Workspace(exports as KernelExports);
}

async function instantiateResponse(response: Response): Promise<void> {
  if (!response.ok) throw new Error(`init: fetching the wasm module failed: HTTP ${response.status} ${response.statusText}`);
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
  if (source === undefined) source = await bundledWasm();
  if (typeof source === 'string' || source instanceof URL) {
    const url = String(source);
    if (url.startsWith('file:')) return install(await instantiate(await readWasmFile(url)));
    return instantiateResponse(await fetch(url));
  }
  const resolved = await source;
  if (isResponse(resolved)) return instantiateResponse(resolved);
  install(await instantiate(resolved as BufferSource | WebAssembly.Module));
}

/**
 * Loads the wasm module. Idempotent: later calls return at once. With no argument, Node reads the
 * `.wasm` bundled with the package and a browser fetches the one next to the module (streaming,
 * with a fallback for servers that send the wrong MIME type); otherwise pass bytes, a `WebAssembly.Module`, a URL (or URL
 * string), a `Response` or a `Promise<Response>`.
 */
export function init(source?: InitSource): Promise<void> {
  if (workspace) return Promise.resolve();
  if (!pending) {
    pending = load(source).catch((e) => {
      pending = null;
      throw e;
    });
  }
  return pending;
}

/** Synchronous init from bytes or a compiled `WebAssembly.Module` (what workerd and Vercel edge need). */
export function initSync(source: BufferSource | WebAssembly.Module): void {
  if (workspace) return;
  install(instantiateSync(source));
}

/** Which build of the module init() loaded: 'simd' (SIMD128 kernels) or 'scalar' (engines
 *  without SIMD), or null before init. */
export function wasmBuild(): 'simd' | 'scalar' | null {
  return workspace ? (workspace.exports.simdBuild() ? 'simd' : 'scalar') : null;
}

/** Bytes of wasm linear memory in use (0 before init). It grows only when a larger call arrives. */
export function wasmMemoryBytes(): number {
  return workspace ? workspace.memoryBytes : 0;
}

/** The workspace of the loaded module, or an error naming the op that was called too early. */
export function getWorkspace(fn: string): Workspace {
  if (!workspace) throw new Error(`${fn}: wasm-xent is not initialised; call await init() (or initSync()) first`);
  return workspace;
}
