// Instantiates the kernel module through @assemblyscript/loader (the module needs no imports of
// its own; the loader supplies what AssemblyScript may ask for: env.abort, env.trace, env.seed).
// The browser build (dist/browser) carries its own copy of the loader as ./as-loader.js, written by
// scripts/build-ts.mjs, so it imports only relative files: browsers load it with no bundler or
// import map, module Web Workers too, and workerd resolves it as listed.

import * as asLoader from '@assemblyscript/loader';

/** The raw exports, handed to the workspace. */
export type RawExports = WebAssembly.Exports;

/** From bytes or a compiled module (compiling bytes is forbidden in workerd: pass a module there). */
export async function instantiate(source: BufferSource | WebAssembly.Module): Promise<RawExports> {
  return (await asLoader.instantiate(source, {})).exports as unknown as RawExports;
}

/** Streaming compilation from a Response; throws if the MIME type is not application/wasm. */
export async function instantiateStreaming(response: Response): Promise<RawExports> {
  return (await asLoader.instantiateStreaming(response, {})).exports as unknown as RawExports;
}

/** Synchronous: `new WebAssembly.Instance` (the only way workerd and Vercel edge allow). */
export function instantiateSync(source: BufferSource | WebAssembly.Module): RawExports {
  return asLoader.instantiateSync(source, {}).exports as unknown as RawExports;
}
