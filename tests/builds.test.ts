// The three builds of one source: xent.wasm (SIMD128), xent-scalar.wasm (no SIMD, for engines
// without it) and xent-relaxed.wasm (SIMD128 + relaxed SIMD's fused multiply-add), and init()'s
// choice between them: the build option, WASM_XENT_BUILD, then the best the engine runs.
import { execFileSync } from 'child_process';
import { existsSync, readFileSync } from 'fs';
import { join } from 'path';
import * as X from '../src';
import { expectedBuild, relaxedValidates } from './helpers/builds';

const root = join(__dirname, '..');
const simd = readFileSync('build/xent.wasm');
const scalar = readFileSync('build/xent-scalar.wasm');
const relaxed = readFileSync('build/xent-relaxed.wasm');

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
  relaxedWithRelaxed: check('build/xent-relaxed.wasm', WITHOUT_SIMD | F.SIMD128 | F.RelaxedSIMD),
  relaxedWithSimdOnly: check('build/xent-relaxed.wasm', WITHOUT_SIMD | F.SIMD128),
}));
`;

test('the scalar build uses no SIMD instruction; the SIMD build needs SIMD; the relaxed build needs relaxed SIMD', () => {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', VALIDATE], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  expect(JSON.parse(out)).toEqual({ scalarWithoutSimd: true, simdWithSimd: true, simdWithoutSimd: false, relaxedWithRelaxed: true, relaxedWithSimdOnly: false });
});

test('the three builds export the same kernels', () => {
  const names = (bytes: Buffer) => WebAssembly.Module.exports(new WebAssembly.Module(new Uint8Array(bytes))).map((e) => e.name).sort();
  expect(names(scalar)).toEqual(names(simd));
  expect(names(simd)).toContain('crossEntropyIndex_f32');
  // compiling needs an engine with relaxed SIMD; the export section can be read without one
  const exportCount = (bytes: Buffer) => names(bytes).length;
  if (relaxedValidates()) expect(names(relaxed)).toEqual(names(simd));
  else expect(() => exportCount(relaxed)).toThrow(WebAssembly.CompileError);
});

test(`init() loads the build WASM_XENT_BUILD names, else the best this engine runs (here: ${expectedBuild()})`, async () => {
  expect(X.wasmBuild()).toBeNull();
  await X.init();
  expect(X.wasmBuild()).toBe(expectedBuild());
});

type Lib = typeof import('../src');
/** A fresh copy of the library, uninitialised (see tests/init.test.ts), with WASM_XENT_BUILD set
 *  to `env` while `body` runs. */
async function withFresh(env: string | undefined, body: (lib: Lib) => Promise<void> | void): Promise<void> {
  const saved = process.env.WASM_XENT_BUILD;
  const key = Symbol.for('wasm-xent@0.1.0');
  const savedState = (globalThis as Record<symbol, unknown>)[key];
  delete (globalThis as Record<symbol, unknown>)[key];
  if (env === undefined) delete process.env.WASM_XENT_BUILD;
  else process.env.WASM_XENT_BUILD = env;
  try {
    let lib: Lib | undefined;
    jest.isolateModules(() => {
      lib = require('../src');
    });
    await body(lib!);
  } finally {
    if (saved === undefined) delete process.env.WASM_XENT_BUILD;
    else process.env.WASM_XENT_BUILD = saved;
    (globalThis as Record<symbol, unknown>)[key] = savedState;
  }
}

const x = { data: new Float32Array([1, 2, 3]), shape: [1, 3] };
const SEED = 0.4076059644443804; // F.cross_entropy(torch.tensor([[1., 2., 3.]], dtype=torch.float64), torch.tensor([2]))

test.each([
  ['no WASM_XENT_BUILD', undefined],
  ['WASM_XENT_BUILD=simd', 'simd'],
  ['WASM_XENT_BUILD=scalar', 'scalar'],
])('%s: init() and initSync() load the build expected, and it computes', async (_name, env) => {
  await withFresh(env, async (lib) => {
    await lib.init();
    expect(lib.wasmBuild()).toBe(expectedBuild(env));
    expect(lib.crossEntropy(x, [2]).loss).toBeCloseTo(SEED, 6);
  });
  await withFresh(env, (lib) => {
    lib.initSync();
    expect(lib.wasmBuild()).toBe(expectedBuild(env));
  });
});

test.each(['simd', 'scalar'] as const)("init({ build: '%s' }) loads that build, whatever WASM_XENT_BUILD says", async (build) => {
  for (const env of [undefined, 'relaxed', 'scalar', 'simd']) {
    await withFresh(env, async (lib) => {
      await lib.init({ build });
      expect([env, lib.wasmBuild()]).toEqual([env, build]);
      expect(lib.crossEntropy(x, [2]).loss).toBeCloseTo(SEED, 6);
    });
    await withFresh(env, (lib) => {
      lib.initSync({ build });
      expect([env, lib.wasmBuild()]).toEqual([env, build]);
    });
  }
});

test("the relaxed build where the engine has relaxed SIMD; a clear error where it does not", async () => {
  for (const request of [{ build: 'relaxed-simd' as const }, 'env'] as const) {
    await withFresh(request === 'env' ? 'relaxed' : 'simd', async (lib) => {
      const load = () => lib.init(request === 'env' ? undefined : request);
      if (relaxedValidates()) {
        await load();
        expect(lib.wasmBuild()).toBe('relaxed-simd');
        expect(lib.crossEntropy(x, [2]).loss).toBeCloseTo(SEED, 6);
      } else {
        const asked = request === 'env' ? 'WASM_XENT_BUILD=relaxed' : "{ build: 'relaxed-simd' }";
        await expect(load()).rejects.toThrow(`init: ${asked} asks for the relaxed-simd build, which this engine cannot run (relaxed SIMD: Chrome/Edge 114+, Firefox 146+, Node 22+, Node 20 with --experimental-wasm-relaxed-simd; not Safari)`);
        expect(lib.wasmBuild()).toBeNull();
      }
    });
  }
});

test('a build option or WASM_XENT_BUILD value that names no build is a RangeError', async () => {
  await withFresh(undefined, async (lib) => {
    await expect(lib.init({ build: 'fast' } as never)).rejects.toThrow(new RangeError(`init: build must be 'relaxed-simd', 'simd' or 'scalar', got "fast"`));
    expect(() => lib.initSync({ build: 'relaxed' } as never)).toThrow(new RangeError(`initSync: build must be 'relaxed-simd', 'simd' or 'scalar', got "relaxed"`));
  });
  await withFresh('avx', async (lib) => {
    await expect(lib.init()).rejects.toThrow(new RangeError("init: WASM_XENT_BUILD must be 'relaxed', 'simd' or 'scalar', got 'avx'"));
    expect(lib.wasmBuild()).toBeNull();
  });
});

test('relaxedSimdSupported() agrees with the engine on the relaxed build itself', () => {
  expect(X.relaxedSimdSupported()).toBe(relaxedValidates());
});

// The packaged builds (dist/, built by `npm run build`) in fresh Node processes, with and without
// the relaxed-SIMD flag: the Node entries read xent-relaxed.wasm from dist/, the browser entries
// (which embed only the SIMD build) stay on SIMD and name the fix when asked for another.
describe('dist: the build each entry loads in Node', () => {
  const FLAG = '--experimental-wasm-relaxed-simd';
  const env = { ...process.env, WASM_XENT_BUILD: '' };
  const node = (args: string[]) => JSON.parse(execFileSync(process.execPath, args, { cwd: root, env, encoding: 'utf8' }));
  const run = (imp: string, call: string) => `${imp}
const go = async () => { try { await ${call}; return X.wasmBuild(); } catch (e) { return e.message; } };
go().then((build) => console.log(JSON.stringify({ build, loss: X.wasmBuild() && X.crossEntropy({ data: new Float64Array([1, 2, 3]), shape: [1, 3] }, [2]).loss })));`;
  const ESM = ['--input-type=module', '-e'];
  const CJS = ['-e'];
  const entries: [string, string[], string][] = [
    ['ES module, init()', ESM, run("import * as X from 'wasm-xent';", 'X.init()')],
    ['ES module, initSync()', ESM, run("import * as X from 'wasm-xent';", 'X.initSync()')],
    ['CommonJS, init()', CJS, run("const X = require('wasm-xent');", 'X.init()')],
    ['CommonJS, initSync()', CJS, run("const X = require('wasm-xent');", 'X.initSync()')],
  ];
  const VALIDATES = 'WebAssembly.validate(require("fs").readFileSync("build/xent-relaxed.wasm"))';
  const childValidates = (flags: string[]) => execFileSync(process.execPath, [...flags, '-p', VALIDATES], { cwd: root, encoding: 'utf8' }).trim() === 'true';
  const withoutFlag = childValidates([]); // Node 22+: true

  test('the package is built, and this Node runs relaxed SIMD with the flag', () => {
    expect(existsSync(join(root, 'dist', 'xent-relaxed.wasm'))).toBe(true);
    expect(childValidates([FLAG])).toBe(true);
  });

  test.each(entries)('%s: relaxed SIMD with the flag (or on Node 22+), SIMD without it', (_name, flags, program) => {
    expect(node([FLAG, ...flags, program])).toEqual({ build: 'relaxed-simd', loss: expect.closeTo(SEED, 12) });
    expect(node([...flags, program])).toEqual({ build: withoutFlag ? 'relaxed-simd' : 'simd', loss: expect.closeTo(SEED, 12) });
  });

  test("init({ build: 'simd' }) keeps the SIMD build where relaxed SIMD is available", () => {
    expect(node([FLAG, ...ESM, run("import * as X from 'wasm-xent';", "X.init({ build: 'simd' })")]).build).toBe('simd');
    expect(node([FLAG, ...CJS, run("const X = require('wasm-xent');", "X.initSync({ build: 'simd' })")]).build).toBe('simd');
  });

  test('the browser entries embed no relaxed build: SIMD by default, and the fix when asked for relaxed', () => {
    const browser = ['--conditions=browser', FLAG];
    expect(node([...browser, ...ESM, run("import * as X from 'wasm-xent';", 'X.init()')]).build).toBe('simd');
    expect(node([...browser, ...CJS, run("const X = require('wasm-xent');", 'X.init()')]).build).toBe('simd');
    expect(node([...browser, ...ESM, run("import * as X from 'wasm-xent';", "X.init({ build: 'relaxed-simd' })")]).build).toBe(
      "init: { build: 'relaxed-simd' }: this copy of wasm-xent does not embed the relaxed-SIMD build (only Node reads it from the package's dist/); serve wasm-xent/xent-relaxed.wasm and pass its URL or bytes to init()");
  });

  test('the scalar build is embedded nowhere: Node entries read it from dist/, the browser entries name the file to serve', () => {
    expect(node([...ESM, run("import * as X from 'wasm-xent';", "X.init({ build: 'scalar' })")])).toEqual({ build: 'scalar', loss: expect.closeTo(SEED, 12) });
    expect(node([...CJS, run("const X = require('wasm-xent');", "X.initSync({ build: 'scalar' })")])).toEqual({ build: 'scalar', loss: expect.closeTo(SEED, 12) });
    expect(node(['--conditions=browser', ...ESM, run("import * as X from 'wasm-xent';", "X.init({ build: 'scalar' })")]).build).toBe(
      "init: { build: 'scalar' }: this copy of wasm-xent does not embed the scalar build (only Node reads it from the package's dist/; the package embeds the SIMD build alone, for bundle size); serve wasm-xent/xent-scalar.wasm and pass its URL or bytes to init()");
  });

  test('passing the relaxed .wasm itself loads it (how browsers get it)', () => {
    const program = run("import * as X from 'wasm-xent'; import { readFileSync } from 'node:fs';", "X.init(readFileSync('dist/xent-relaxed.wasm'))");
    expect(node(['--conditions=browser', FLAG, ...ESM, program])).toEqual({ build: 'relaxed-simd', loss: expect.closeTo(SEED, 12) });
  });
});
