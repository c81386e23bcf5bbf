// The module init() loads when given no source. In dist/, scripts/build-ts.mjs replaces this file
// with one that embeds the SIMD build (a string of one character per byte), so no build of the package ever needs
// a file or a URL by default; the relaxed-SIMD build is not embedded (it would push bundles past
// the size budget) and is read from dist/ in Node only. This form serves the sources (the tests),
// which read build/ directly.

import { readFileSync } from 'fs';
import { join } from 'path';
import { fileURLToPath } from 'url';
import { wasmFileName, WasmBuild } from './simd-detect.js';

declare const __dirname: string;

/** The bytes of `build`, or null where this copy of the package cannot supply it. */
export function bundledWasm(build: WasmBuild): Uint8Array | null {
  try {
    return readFileSync(join(__dirname, '..', 'build', wasmFileName(build)));
  } catch (e) {
    if (build === 'relaxed-simd') return null;
    throw e;
  }
}

/** Reads a `file:` URL (Node and Deno; browsers have no file access). */
export async function readWasmFile(url: string): Promise<Uint8Array> {
  return readFileSync(fileURLToPath(url));
}
