// Packaging: the files every export condition points at, the Node ESM and CommonJS entries loaded
// by their package name (self-reference), the browser build's import graph (relative imports
// only, no Node built-ins, nothing fetched at import), and the size of the .wasm.
import { execFileSync } from 'child_process';
import { existsSync, readFileSync, readdirSync } from 'fs';
import { join } from 'path';
import { gzipSync } from 'zlib';
import { crossEntropyRef, maxAbsDiff } from './runtimes/reference';

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

test('package.json exports name the conditions of the issue, in an order that resolves them', () => {
  const main = pkg.exports['.'];
  expect(Object.keys(main)).toEqual(['types', 'workerd', 'worker', 'edge-light', 'browser', 'import', 'require']);
  expect(pkg.exports['./xent.wasm']).toBe('./dist/xent.wasm');
  expect(pkg.exports['./xent-scalar.wasm']).toBe('./dist/xent-scalar.wasm');
});

test('every file the exports point at exists after the build', () => {
  const targets = [...Object.values(pkg.exports['.']), pkg.exports['./xent.wasm'], pkg.exports['./xent-scalar.wasm']] as string[];
  for (const t of targets) expect([t, existsSync(join(root, t))]).toEqual([t, true]);
});

test.each([
  ['ES module (import)', ['--input-type=module', '-e'], "import * as X from 'wasm-xent';"],
  ['CommonJS (require)', ['-e'], "const X = require('wasm-xent');"],
  ['browser build under Node (--conditions=browser, bytes through init)', ['--conditions=browser', '--input-type=module', '-e'],
    "import * as X0 from 'wasm-xent'; import { readFileSync } from 'node:fs'; const X = { ...X0, init: () => X0.init(readFileSync('dist/xent.wasm')) };"],
])('%s: init() and crossEntropy match the float64 reference', (_name, flags, imp) => {
  const out = JSON.parse(node([...flags, program(imp)]));
  expect(Math.abs(out.loss - ref.loss)).toBeLessThan(1e-12);
  expect(maxAbsDiff(out.grad, ref.grad)).toBeLessThan(1e-12);
});

test('the browser build imports only relative files, never a Node built-in', () => {
  const dir = join(root, 'dist', 'browser');
  const files = readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.js'));
  expect(files.length).toBeGreaterThan(8);
  for (const f of files) {
    const src = readFileSync(join(dir, f), 'utf8');
    const specifiers = [...src.matchAll(/(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]/g)].map((m) => m[1] ?? m[2]);
    for (const s of specifiers) expect([f, s]).toEqual([f, expect.stringMatching(/^\.\.?\//)]);
    expect([f, /\b(require\(|process\.binding|from 'fs|node:)/.test(src)]).toEqual([f, false]);
  }
});

test('importing the browser entry fetches nothing and uses no top-level await', () => {
  const out = node(['--conditions=browser', '--input-type=module', '-e',
    "globalThis.fetch = () => { throw new Error('fetch at import time'); }; const X = await import('wasm-xent'); console.log(typeof X.init, X.wasmMemoryBytes());"]);
  expect(out.trim()).toBe('function 0');
  for (const f of ['index.js', 'loader.js', 'wasm-location.js', 'workerd.js', 'edge-light.js']) {
    const src = readFileSync(join(root, 'dist', 'browser', f), 'utf8');
    // Top-level statements start at column 0; an await there would be top-level await.
    expect([f, /^(?:const .*=\s*)?await\b/m.test(src)]).toEqual([f, false]);
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
