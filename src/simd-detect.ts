// Feature detection for WebAssembly SIMD128, so init() can load the scalar build on engines
// without it (older Safari, some embedded runtimes).

// (module (func (result v128) v128.const i32x4 0 0 0 0)): the smallest module that uses SIMD.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11,
]);

let cached: boolean | undefined;

/** True when this engine validates SIMD128 code. */
export function simdSupported(): boolean {
  if (cached === undefined) {
    try {
      cached = WebAssembly.validate(SIMD_PROBE);
    } catch {
      cached = false;
    }
  }
  return cached;
}

declare const process: { env?: Record<string, string | undefined> } | undefined;

/**
 * File name of the build init() loads by default. `WASM_XENT_BUILD=scalar` (Node only) forces
 * the scalar build, which is how the tests run both builds.
 */
export function bundledWasmName(): string {
  let forced: string | undefined;
  try {
    forced = typeof process !== 'undefined' ? process.env?.WASM_XENT_BUILD : undefined;
  } catch {
    // Deno without --allow-env throws on reading the environment: use the default.
  }
  if (forced === 'scalar') return 'xent-scalar.wasm';
  if (forced === 'simd') return 'xent.wasm';
  return simdSupported() ? 'xent.wasm' : 'xent-scalar.wasm';
}
