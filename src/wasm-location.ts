// Where the bundled .wasm lives, for init() with no argument. This CommonJS form serves the
// sources (tests) and dist/cjs; scripts/build-ts.mjs writes an import.meta.url form for dist/esm.
// Two builds ship: xent.wasm (SIMD128) and xent-scalar.wasm (same source, no SIMD) for engines
// without SIMD; `simdSupported()` picks one.

import { bundledWasmName } from './simd-detect.js';

declare const __dirname: string;

export async function bundledWasm(): Promise<URL> {
  const { existsSync } = await import('fs');
  const { join } = await import('path');
  const { pathToFileURL } = await import('url');
  const name = bundledWasmName();
  // dist/cjs -> dist/<name> (copied there by the build); src -> build/<name>.
  for (const candidate of [join(__dirname, '..', name), join(__dirname, '..', 'build', name)]) {
    if (existsSync(candidate)) return pathToFileURL(candidate);
  }
  throw new Error(`init: the bundled ${name} was not found next to the package; pass its bytes or URL to init()`);
}

/** Reads a `file:` URL (Node only; the browser build has no file access). */
export async function readWasmFile(url: string): Promise<Uint8Array> {
  const { readFile } = await import('fs/promises');
  const { fileURLToPath } = await import('url');
  return readFile(fileURLToPath(url));
}
