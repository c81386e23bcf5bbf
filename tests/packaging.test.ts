// Packaging: the files every export condition points at, the Node ESM and CommonJS entries loaded
// by their package name (self-reference), the browser build's import graph (relative imports
// only, no Node built-ins, nothing fetched at import), and the size of the .wasm.
import { execFileSync } from 'child_process';
import { existsSync, readFileSync, readdirSync } from 'fs';
import { join } from 'path';
import { brotliCompressSync, gzipSync } from 'zlib';
import { crossEntropyRef, maxAbsDiff } from './runtimes/reference';
import { expectedBuild } from './helpers/builds';

const root = join(__dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const node = (args: string[], input?: string) => execFileSync(process.execPath, args, { cwd: root, input, encoding: 'utf8' });

const x = [0.5, -1.25, 2, 0.75, 1.5, -0.5];
const y = [2, 0];
const ref = crossEntropyRef(x, [2, 3], y, { labelSmoothing: 0.1 });
const program = (imp: string) => `${imp}
(async () => {
  await X.init();
  const r = X.crossEntropy({ data: new Float64Array(${JSON.stringify(x)}), shape: [2, 3] }, ${JSON.stringify(y)}, { grad: true, labelSmoothing: 0.1 });
  console.log(JSON.stringify({ loss: r.loss, grad: Array.from(r.grad) }));
})();`;

// Every path the exports map names, at any depth.
const targetsOf = (e: unknown): string[] => (typeof e === 'string' ? [e] : Object.values(e as object).flatMap(targetsOf));

test('package.json exports name the conditions of the issue, in an order that resolves them', () => {
  const main = pkg.exports['.'];
  expect(Object.keys(main)).toEqual(['workerd', 'worker', 'edge-light', 'browser', 'import', 'require']);
  // Types beside each file, so ESM consumers get ESM declarations and CommonJS ones CommonJS.
  expect(main.import).toEqual({ types: './dist/esm/index.d.ts', default: './dist/esm/index.js' });
  expect(main.require).toEqual({ types: './dist/cjs/index.d.ts', default: './dist/cjs/index.js' });
  expect(main.browser.require.default).toBe('./dist/browser-cjs/index.js');
  expect(pkg.exports['./xent.wasm']).toBe('./dist/xent.wasm');
  expect(pkg.exports['./xent-scalar.wasm']).toBe('./dist/xent-scalar.wasm');
});

test('every file the exports point at exists after the build', () => {
  const targets = targetsOf(pkg.exports);
  expect(targets.length).toBeGreaterThan(15);
  for (const t of targets) expect([t, existsSync(join(root, t))]).toEqual([t, true]);
});

test.each([
  ['ES module (import)', ['--input-type=module', '-e'], "import * as X from 'wasm-xent';"],
  ['CommonJS (require)', ['-e'], "const X = require('wasm-xent');"],
  ['browser build under Node (--conditions=browser)', ['--conditions=browser', '--input-type=module', '-e'], "import * as X from 'wasm-xent';"],
  ['browser build as CommonJS (--conditions=browser, require)', ['--conditions=browser', '-e'], "const X = require('wasm-xent');"],
])('%s: init() and crossEntropy match the float64 reference', (_name, flags, imp) => {
  const out = JSON.parse(node([...flags, program(imp)]));
  expect(Math.abs(out.loss - ref.loss)).toBeLessThan(1e-12);
  expect(maxAbsDiff(out.grad, ref.grad)).toBeLessThan(1e-12);
});

const tfjsProgram = (imp: string) => `${imp}
(async () => {
  await XT.init();
  const x = tf.tensor2d(${JSON.stringify(x)}, [2, 3]);
  const f = (t) => XT.crossEntropy(t, ${JSON.stringify(y)}, { labelSmoothing: 0.1 });
  const [g] = tf.grads(f)([x]);
  console.log(JSON.stringify({ loss: f(x).dataSync()[0], grad: Array.from(g.dataSync()) }));
})();`;
test.each([
  ['ES module (import)', ['--input-type=module', '-e'], "import * as XT from 'wasm-xent/tfjs'; import * as tf from '@tensorflow/tfjs';"],
  ['CommonJS (require)', ['-e'], "const XT = require('wasm-xent/tfjs'); const tf = require('@tensorflow/tfjs');"],
  ['browser build under Node', ['--conditions=browser', '--input-type=module', '-e'], "import * as XT from 'wasm-xent/tfjs'; import * as tf from '@tensorflow/tfjs';"],
  ['browser build as CommonJS', ['--conditions=browser', '-e'], "const XT = require('wasm-xent/tfjs'); const tf = require('@tensorflow/tfjs');"],
])('wasm-xent/tfjs, %s: the loss and tf.grads match the float64 reference (float32)', (_name, flags, imp) => {
  const out = JSON.parse(node([...flags, tfjsProgram(imp)]).trim().split('\n').pop()!);
  expect(Math.abs(out.loss - ref.loss)).toBeLessThan(1e-6);
  expect(maxAbsDiff(out.grad, ref.grad)).toBeLessThan(1e-6);
});

test('one process, one module: an ES module that ran init() and a CommonJS require() of the package share it', () => {
  const out = node(['--input-type=module', '-e', `import { init } from 'wasm-xent';
import { createRequire } from 'node:module';
await init();
const cjs = createRequire(process.cwd() + '/')('wasm-xent');
const { loss } = cjs.crossEntropy({ data: new Float64Array([1, 2, 3]), shape: [1, 3] }, [2]);
console.log(JSON.stringify({ loss, build: cjs.wasmBuild() }));`]);
  const { loss, build } = JSON.parse(out);
  expect(Math.abs(loss - crossEntropyRef([1, 2, 3], [1, 3], [2]).loss)).toBeLessThan(1e-12);
  expect(build).toBe(expectedBuild());
});

test.each(['browser', 'browser-cjs'])('dist/%s imports only relative files, never a Node built-in', (build) => {
  const dir = join(root, 'dist', build);
  const files = readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.js'));
  // (dist/browser is bundled into its entries and shared chunks: index, workerd, edge-light, tfjs,
  // wasm-location and chunk-*.js; browser-cjs keeps one file per module)
  expect(files.length).toBeGreaterThan(build === 'browser' ? 5 : 8);
  for (const f of files) {
    const src = readFileSync(join(dir, f), 'utf8');
    // (minified: import{a as b}from"./x", import"./x", export*from"./x")
    const specifiers = [...src.matchAll(/\b(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|\bimport\s*['"]([^'"]+)['"]|\b(?:import|require)\(\s*['"]([^'"]+)['"]/g)].map((m) => m[1] ?? m[2] ?? m[3]);
    if (f === 'index.js') expect(specifiers.length).toBeGreaterThan(0);
    // wasm-xent/tfjs alone imports its optional peer, tfjs-core.
    for (const s of specifiers) expect([f, s]).toEqual([f, f === 'tfjs.js' && s === '@tensorflow/tfjs-core' ? s : expect.stringMatching(/^\.\.?\//)]);
    // Node built-ins: never imported or required (a bundler would try to resolve them); threads
    // reach worker_threads and os through process.getBuiltinModule at run time, in Node only.
    expect([f, /\b(process\.binding|from 'fs|require\('fs|from ['"]node:|require\(['"]node:|import\(['"]node:)/.test(src)]).toEqual([f, false]);
  }
});

test('wasm-xent/tfjs: its own subpath in every condition; nothing but tfjs.js imports tfjs, so the root entry never loads it', () => {
  const sub = pkg.exports['./tfjs'];
  expect(sub.import).toEqual({ types: './dist/esm/tfjs.d.ts', default: './dist/esm/tfjs.js' });
  expect(sub.require).toEqual({ types: './dist/cjs/tfjs.d.ts', default: './dist/cjs/tfjs.js' });
  expect(sub.browser.import.default).toBe('./dist/browser/tfjs.js');
  expect(sub.browser.require.default).toBe('./dist/browser-cjs/tfjs.js');
  expect(pkg.peerDependenciesMeta['@tensorflow/tfjs-core']).toEqual({ optional: true });
  expect(pkg.dependencies).toBeUndefined();
  for (const build of ['cjs', 'esm', 'browser', 'browser-cjs']) {
    const dir = join(root, 'dist', build);
    const importers = readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.js') && readFileSync(join(dir, f), 'utf8').includes('@tensorflow'));
    expect([build, importers]).toEqual([build, ['tfjs.js']]);
  }
});

test('importing the browser entry fetches nothing and uses no top-level await', () => {
  const out = node(['--conditions=browser', '--input-type=module', '-e',
    "globalThis.fetch = () => { throw new Error('fetch at import time'); }; const X = await import('wasm-xent'); console.log(typeof X.init, X.wasmMemoryBytes());"]);
  expect(out.trim()).toBe('function 0');
  const browserFiles = readdirSync(join(root, 'dist', 'browser')).filter((f) => f.endsWith('.js'));
  expect(browserFiles).toEqual(expect.arrayContaining(['index.js', 'wasm-location.js', 'workerd.js', 'edge-light.js']));
  for (const f of browserFiles) {
    const src = readFileSync(join(root, 'dist', 'browser', f), 'utf8');
    // Top-level statements start at column 0; an await there would be top-level await.
    expect([f, /^(?:const .*=\s*)?await\b/m.test(src)]).toEqual([f, false]);
  }
});

test('every dist build embeds the SIMD module byte for byte (the rank encoding of scripts/build-ts.mjs decodes to build/xent.wasm)', () => {
  const wasm = readFileSync(join(root, 'build', 'xent.wasm')).toString('hex');
  for (const build of ['cjs', 'esm', 'browser', 'browser-cjs']) {
    const file = join(root, 'dist', build, 'wasm-location.js');
    const load = build.includes('cjs') ? `require(${JSON.stringify(file)})` : `await import(${JSON.stringify('file://' + file)})`;
    const out = node(['--input-type=module', '-e', `import { createRequire } from 'module'; const require = createRequire(${JSON.stringify(file)}); const m = ${load}; process.stdout.write(Buffer.from(m.bundledWasm('simd')).toString('hex'));`]);
    expect([build, out.length, out === wasm]).toEqual([build, wasm.length, true]);
  }
});

const GZIP_LIMIT = 32 * 1024;
test.each(['xent.wasm', 'xent-scalar.wasm'])('%s stays under 32 KB gzip', (name) => {
  const bytes = readFileSync(join(root, 'dist', name));
  const gz = gzipSync(bytes, { level: 9 }).length;
  console.log(`${name}: ${bytes.length} bytes raw, ${gz} bytes gzip -9`);
  expect(WebAssembly.validate(bytes)).toBe(true);
  expect(gz).toBeLessThan(GZIP_LIMIT);
});

test('xent-relaxed.wasm (relaxed SIMD: validated in tests/builds.test.ts) stays under 32 KB gzip', () => {
  const bytes = readFileSync(join(root, 'dist', 'xent-relaxed.wasm'));
  const gz = gzipSync(bytes, { level: 9 }).length;
  console.log(`xent-relaxed.wasm: ${bytes.length} bytes raw, ${gz} bytes gzip -9`);
  expect(gz).toBeLessThan(GZIP_LIMIT);
});

// README drift: the figures the README states are the ones the build and node_modules give.
describe('README agrees with the code', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const n = (x: number) => x.toLocaleString('en-US');
  const version = (p: string) => JSON.parse(readFileSync(join(root, 'node_modules', p, 'package.json'), 'utf8')).version;

  const SUFFIX: Record<string, string> = { 'xent.wasm': ' (SIMD128)', 'xent-scalar.wasm': ' (not embedded)', 'xent-relaxed.wasm': ' (relaxed SIMD, not embedded)' };
  test.each(['xent.wasm', 'xent-scalar.wasm', 'xent-relaxed.wasm'])('the Size table row of %s', (name) => {
    const bytes = readFileSync(join(root, 'dist', name));
    // The SIMD build as browsers download it embedded: the dist/browser chunk that holds it (the one
    // wasm-location.js re-exports), minified.
    const chunk = readFileSync(join(root, 'dist', 'browser', 'wasm-location.js'), 'utf8').match(/from\s*"\.\/(chunk-[^"]+)"/)![1];
    const embedded = name === 'xent.wasm' ? `${n(gzipSync(readFileSync(join(root, 'dist', 'browser', chunk)), { level: 9 }).length)} B` : '-';
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${name}\``));
    expect(row).toBe(`| \`${name}\`${SUFFIX[name] ?? ''} | ${n(bytes.length)} B | ${n(gzipSync(bytes, { level: 9 }).length)} B | ${n(brotliCompressSync(bytes).length)} B | ${embedded} |`);
  });

  test('the versions in the bundler and runtime tables are the installed ones', () => {
    for (const p of ['esbuild', 'rollup', '@rollup/plugin-node-resolve', 'webpack', 'vite', 'parcel', 'jest', 'jest-environment-jsdom', 'vitest', 'jsdom', 'typescript', '@arethetypeswrong/cli', 'publint', 'playwright-core', 'deno']) {
      expect([p, readme.includes(version(p))]).toEqual([p, true]);
    }
    expect(readme).toContain(`| Node | ${process.versions.node} |`);
    const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
    // The Chromium row names the build the README's runs used; CI installs the Chromium Debian has
    // that day, whose security updates move the build number (156.0.8078.114 to .129 between two CI
    // runs) and the major version every few weeks: the installed one must not be older.
    const installed = execFileSync(chromium, ['--version'], { encoding: 'utf8' }).match(/(\d+)\.\d+\.\d+\.\d+/)![1];
    const documented = readme.match(/\| Chromium, headless [^\n]*?\| (\d+)\.\d+\.\d+\.\d+ \|/);
    expect(documented).not.toBeNull();
    expect(Number(installed)).toBeGreaterThanOrEqual(Number(documented![1]));
  });
});
