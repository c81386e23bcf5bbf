// The two builds of one source: xent.wasm (SIMD128) and xent-scalar.wasm (no SIMD, for engines
// without it), and init()'s choice between them.
import { execFileSync } from 'child_process';
import { readFileSync } from 'fs';
import * as X from '../src';

const simd = readFileSync('build/xent.wasm');
const scalar = readFileSync('build/xent-scalar.wasm');

// binaryen (the compiler asc uses, an ES module) reads each build back and validates it against a
// feature set, in a child process (jest runs CommonJS).
const VALIDATE = `
import binaryen from 'binaryen';
import { readFileSync } from 'node:fs';
const F = binaryen.Features;
const WITHOUT_SIMD = F.MVP | F.MutableGlobals | F.SignExt | F.NontrappingFPToInt | F.BulkMemory | F.BulkMemoryOpt;
const check = (file, features) => {
  const module = binaryen.readBinary(readFileSync(file));
  module.setFeatures(features);
  const ok = Boolean(module.validate());
  module.dispose();
  return ok;
};
console.log = () => {}; // binaryen prints why a validation failed
process.stdout.write(JSON.stringify({
  scalarWithoutSimd: check('build/xent-scalar.wasm', WITHOUT_SIMD),
  simdWithSimd: check('build/xent.wasm', WITHOUT_SIMD | F.SIMD128),
  simdWithoutSimd: check('build/xent.wasm', WITHOUT_SIMD),
}));
`;

test('the scalar build uses no SIMD instruction; the SIMD build needs SIMD', () => {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', VALIDATE], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  expect(JSON.parse(out)).toEqual({ scalarWithoutSimd: true, simdWithSimd: true, simdWithoutSimd: false });
});

test('both builds export the same kernels', () => {
  const names = (bytes: Buffer) => WebAssembly.Module.exports(new WebAssembly.Module(new Uint8Array(bytes))).map((e) => e.name).sort();
  expect(names(scalar)).toEqual(names(simd));
  expect(names(simd)).toContain('crossEntropyIndex_f32');
});

test('init() loads the SIMD build where the engine has SIMD, the scalar one when asked (WASM_XENT_BUILD=scalar)', async () => {
  expect(X.wasmBuild()).toBeNull();
  await X.init();
  expect(X.wasmBuild()).toBe(process.env.WASM_XENT_BUILD === 'scalar' ? 'scalar' : 'simd');
});
