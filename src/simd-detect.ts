// Feature detection for WebAssembly SIMD128 and relaxed SIMD, and the choice of build init()
// loads by default: relaxed SIMD (fused multiply-add) where the engine has it and the package can
// supply that build, else SIMD, else scalar (older Safari, some embedded runtimes).

/** The three builds of the module: `wasmBuild()`'s answers and the `build` option's values. */
export type WasmBuild = 'relaxed-simd' | 'simd' | 'scalar';

// (module (func (result v128) v128.const i32x4 0 0 0 0)): the smallest module that uses SIMD.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11,
]);

// (module (func (result v128) (f32x4.relaxed_madd (v128.const 0) (v128.const 0) (v128.const 0)))):
// relaxed_madd is opcode 0xfd 0x105 (LEB128 253, 133, 2). An engine that knows SIMD but not
// relaxed SIMD (Safari, Node 20 without --experimental-wasm-relaxed-simd) rejects it.
const ZERO_V128 = [253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 61, 1, 59, 0,
  ...ZERO_V128, ...ZERO_V128, ...ZERO_V128, 253, 133, 2, 11,
]);

const validates = (bytes: BufferSource): boolean => {
  try {
    return WebAssembly.validate(bytes);
  } catch {
    return false;
  }
};

let simd: boolean | undefined;
let relaxed: boolean | undefined;

/** True when this engine validates SIMD128 code. */
export function simdSupported(): boolean {
  return (simd ??= validates(SIMD_PROBE));
}

/** True when this engine validates relaxed-SIMD code (Chrome/Edge 114+, Firefox 146+, Node 22+,
 *  Node 20 with --experimental-wasm-relaxed-simd; not Safari). */
export function relaxedSimdSupported(): boolean {
  return (relaxed ??= simdSupported() && validates(RELAXED_PROBE));
}

/** src/tensor.ts's `own`, copied: this module imports nothing, and src/wasm-location.ts (its own
 *  entry in the browser bundle, the embedded module) imports it. Importing tensor.ts here put
 *  tensor.ts and errors.ts into wasm-location's graph (measured: esbuild split off one more
 *  shared chunk, 11 KB minified, 4 KB gzip, that wasm-location.js then imports). */
const own = (o: object, key: PropertyKey): boolean => Object.prototype.hasOwnProperty.call(o, key);

declare const process: { env?: Record<string, string | undefined> } | undefined;

const ENV_NAMES: Record<string, WasmBuild> = { relaxed: 'relaxed-simd', 'relaxed-simd': 'relaxed-simd', simd: 'simd', scalar: 'scalar' };

/** The build forced by the environment variable WASM_XENT_BUILD (Node and Deno): `relaxed` (or
 *  `relaxed-simd`), `simd` or `scalar`; undefined when unset. The tests run every build this way. */
export function envBuild(fn: string): WasmBuild | undefined {
  let forced: string | undefined;
  try {
    // (own: a polluted Object.prototype is not the environment; red team 51)
    const env = typeof process !== 'undefined' ? process.env : undefined;
    forced = env && own(env, 'WASM_XENT_BUILD') ? env.WASM_XENT_BUILD : undefined;
  } catch {
    // Deno without --allow-env throws on reading the environment: use the default.
  }
  if (forced === undefined || forced === '') return undefined;
  const build = ENV_NAMES[forced];
  if (build === undefined) throw new RangeError(`${fn}: WASM_XENT_BUILD must be 'relaxed', 'simd' or 'scalar', got '${forced}'`);
  return build;
}

/** Whether this engine can run `build`. */
export function buildSupported(build: WasmBuild): boolean {
  return build === 'scalar' || (build === 'simd' ? simdSupported() : relaxedSimdSupported());
}

/** File name of each build, in build/ and dist/. */
export function wasmFileName(build: WasmBuild): string {
  return build === 'relaxed-simd' ? 'xent-relaxed.wasm' : build === 'simd' ? 'xent.wasm' : 'xent-scalar.wasm';
}
