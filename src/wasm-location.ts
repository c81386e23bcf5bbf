// The module init() loads when given no source. In dist/, scripts/build-ts.mjs replaces this file
// with one that embeds both builds (base64), so no build of the package ever reads a file or a
// URL by default. This form serves the sources (the tests), which read build/ directly.
// Two builds ship: xent.wasm (SIMD128) and xent-scalar.wasm (same source, no SIMD) for engines
// without SIMD; `bundledWasmName()` picks one.

import { readFileSync } from 'fs';
import { join } from 'path';
import { fileURLToPath } from 'url';
import { bundledWasmName } from './simd-detect.js';

declare const __dirname: string;

/** The bytes of the build this engine should run. */
export function bundledWasm(): Uint8Array {
  return readFileSync(join(__dirname, '..', 'build', bundledWasmName()));
}

/** Reads a `file:` URL (Node and Deno; browsers have no file access). */
export async function readWasmFile(url: string): Promise<Uint8Array> {
  return readFileSync(fileURLToPath(url));
}
