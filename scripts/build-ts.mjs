// Compiles src/ to dist/cjs (CommonJS, Node), dist/esm (ES modules, Node), dist/browser (ES modules
// for browsers, Web Workers, workerd and Vercel edge: no Node built-ins, only relative imports) and
// dist/types (declarations), and copies the wasm builds into dist/ where all of them find them.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';

const tsc = (args) => execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', ...args], { stdio: 'inherit' });
const common = ['--rootDir', 'src', '--target', 'ES2020', '--strict', '--skipLibCheck', '--lib', 'ES2020,DOM', '--types', 'node'];
const sources = readdirSync('src', { recursive: true }).filter((f) => f.endsWith('.ts')).map((f) => `src/${f}`);
// The workerd / edge-light entries import the .wasm as a module: they exist only in dist/browser.
const edgeEntries = ['src/workerd.ts', 'src/edge-light.ts'];
const nodeSources = sources.filter((f) => !edgeEntries.includes(f));

rmSync('dist', { recursive: true, force: true });
tsc([...common, '--module', 'commonjs', '--outDir', 'dist/cjs', ...nodeSources]);
tsc([...common, '--module', 'es2020', '--moduleResolution', 'node10', '--outDir', 'dist/esm', ...nodeSources]);
tsc([...common, '--module', 'es2020', '--moduleResolution', 'node10', '--outDir', 'dist/browser', ...sources]);
tsc([...common, '--module', 'commonjs', '--declaration', '--emitDeclarationOnly', '--outDir', 'dist/types', ...sources]);
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n');
writeFileSync('dist/esm/package.json', '{ "type": "module" }\n');
writeFileSync('dist/browser/package.json', '{ "type": "module" }\n');

// ES modules have no __dirname: locate the bundled wasm from import.meta.url instead.
writeFileSync('dist/esm/wasm-location.js', `// Where the bundled .wasm lives, for init() with no argument (ES module build).
import { bundledWasmName } from './simd-detect.js';
export async function bundledWasm() {
  return new URL('../' + bundledWasmName(), import.meta.url);
}
export async function readWasmFile(url) {
  const { readFile } = await import('node:fs/promises');
  return readFile(new URL(url));
}
`);

// Browsers: fetch the .wasm next to the package. The two literal `new URL(..., import.meta.url)`
// forms are what bundlers (Vite, webpack, Rollup) recognise and copy as assets.
writeFileSync('dist/browser/wasm-location.js', `// Where the bundled .wasm lives, for init() with no argument (browser build).
import { simdSupported } from './simd-detect.js';
export async function bundledWasm() {
  return simdSupported() ? new URL('../xent.wasm', import.meta.url) : new URL('../xent-scalar.wasm', import.meta.url);
}
// A file: URL outside Node: Deno's fetch reads it (with --allow-read); browsers refuse.
export async function readWasmFile(url) {
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error('init: cannot read ' + url + ' in this runtime (' + e + '); pass the bytes, a WebAssembly.Module or an http(s) URL');
  }
  if (!response.ok) throw new Error('init: reading ' + url + ' failed: ' + response.status);
  return new Uint8Array(await response.arrayBuffer());
}
`);
// The browser build imports only relative files: give it its own copy of @assemblyscript/loader's
// ES module (no imports of its own) and point the one import of it there.
copyFileSync('node_modules/@assemblyscript/loader/index.js', 'dist/browser/as-loader.js');
const instantiateJs = 'dist/browser/instantiate.js';
writeFileSync(instantiateJs, readFileSync(instantiateJs, 'utf8').replace(/from '@assemblyscript\/loader'/, "from './as-loader.js'"));
if (!readFileSync(instantiateJs, 'utf8').includes("'./as-loader.js'")) throw new Error('build-ts: could not point dist/browser at its loader copy');

mkdirSync('dist', { recursive: true });
for (const f of readdirSync('build').filter((f) => f.endsWith('.wasm'))) copyFileSync(`build/${f}`, `dist/${f}`);
