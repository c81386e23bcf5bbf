// Which build init() with no argument must load in this test process, worked out from the
// environment and the engine directly (not from the package's own detection).
import { readFileSync } from 'fs';
import { join } from 'path';

export const relaxedValidates = (): boolean => WebAssembly.validate(readFileSync(join(__dirname, '..', '..', 'build', 'xent-relaxed.wasm')));

/** 'scalar' / 'simd' / 'relaxed-simd' as WASM_XENT_BUILD forces, else relaxed SIMD where this
 *  engine validates the relaxed build (Node 22+, Node 20 with the flag), else SIMD. */
export function expectedBuild(env = process.env.WASM_XENT_BUILD): string {
  if (env === 'scalar' || env === 'simd') return env;
  if (env === 'relaxed') return 'relaxed-simd';
  return relaxedValidates() ? 'relaxed-simd' : 'simd';
}
