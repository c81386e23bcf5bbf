// Compiles src/ into four builds, each with its own package.json "type":
//   dist/cjs          CommonJS for Node (require), with declarations (.d.ts, read as CommonJS)
//   dist/esm          ES modules for Node and Deno (import), with declarations (.d.ts, read as ESM)
//   dist/browser      ES modules for browsers, Web Workers, bundlers, workerd and Vercel edge: no
//                     Node built-ins, only relative imports
//   dist/browser-cjs  the browser build as CommonJS: `require` under the browser condition (Jest's
//                     jsdom environment, a require() in a browser bundle)
// and embeds the SIMD and scalar wasm builds into every one of them (wasm-location.js), so init()
// with no argument needs no file, no URL and no bundler configuration. The .wasm files are copied
// into dist/ too: the workerd / edge-light entries import them as modules, users who want
// streaming compilation can serve them (`wasm-xent/xent.wasm`), and the Node builds read the
// relaxed-SIMD build from there (embedding a third build would cost ~23 KB gzip per bundle and
// break the 64 KB budget; browsers get it by URL, `init(url)`).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const loaderVersion = readFileSync('src/loader.ts', 'utf8').match(/const VERSION = '([^']+)'/)?.[1];
if (loaderVersion !== pkg.version) throw new Error(`build-ts: src/loader.ts VERSION is ${loaderVersion}, package.json says ${pkg.version}`);

const tsc = (args) => execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', ...args], { stdio: 'inherit' });
const common = ['--rootDir', 'src', '--target', 'ES2020', '--strict', '--skipLibCheck', '--lib', 'ES2020,DOM', '--types', 'node', '--stripInternal'];
const sources = readdirSync('src', { recursive: true }).filter((f) => f.endsWith('.ts')).map((f) => `src/${f}`);
// The workerd / edge-light entries import the .wasm as a module: they exist only in dist/browser.
const edgeEntries = ['src/workerd.ts', 'src/edge-light.ts'];
const nodeSources = sources.filter((f) => !edgeEntries.includes(f));
const esm = ['--module', 'es2020', '--moduleResolution', 'node10'];

rmSync('dist', { recursive: true, force: true });
// The Node builds' JavaScript drops comments too, and their declarations keep them (a second pass
// that emits only those): Rollup with node-resolve bundles the Node ES entry as it is, and with the
// comments of this release's non-finite paths its bundle came to 69,631 B gzip, over the 64 KB
// budget (tests/consumers).
for (const [dir, module] of [['dist/cjs', ['--module', 'commonjs']], ['dist/esm', esm]]) {
  tsc([...common, ...module, '--removeComments', '--outDir', dir, ...nodeSources]);
  tsc([...common, ...module, '--declaration', '--emitDeclarationOnly', '--outDir', dir, ...nodeSources]);
}
// The browser build drops comments: with no bundler, browsers download these files as they are
// (measured before the CTC kernel, gzip -9 of every file: 58.7 KB with comments, 49.3 KB without;
// 58.8 KB without since CTC); the declarations keep
// the documentation.
tsc([...common, ...esm, '--removeComments', '--outDir', 'dist/browser', ...sources]);
tsc([...common, '--module', 'commonjs', '--outDir', 'dist/browser-cjs', ...nodeSources]);
for (const [dir, type] of [['cjs', 'commonjs'], ['esm', 'module'], ['browser', 'module'], ['browser-cjs', 'commonjs']]) {
  writeFileSync(`dist/${dir}/package.json`, `{ "type": "${type}" }\n`);
}

// A string literal works in every bundler and format (iife included) where a lazily loaded chunk or
// an asset URL does not. Not base64: its 6-bit groups hide the module's repeated byte runs from
// gzip (SIMD build: 37.2 KB gzip as base64), and it needs no atob. ASCII only, so no charset can
// garble it, and no '<', so the text never closes a <script> it is inlined into. 90 characters
// stand for themselves in a string (printable ASCII but for '"', '\\', '<' and the two escape
// characters '~' and '`'); call them the digits. A byte is written by its rank r among the
// module's bytes, most frequent first: as digit r (r < 90), '~' and digit r - 90 (r < 180), or
// '`' and digit r - 180. The ranks, a permutation of 0..255, are a second string (ORDER), each byte
// by its rank in the identity order (the digits' own bytes, then the other 166 in order).
// The module's gzip -9 size, SIMD build of 2026-12-02: 27,889 B as raw bytes; 28,493 B written
// this way with the byte values rotated by the best constant instead of ranked (the encoding
// before); 27,859 B ranked, plus ~300 B for the ranks (the rotation went over the no-bundler
// page's 64 KB budget by 48 B with BCE's -0 fix). bundledWasm's decoder below reads both strings.
const escaped = (b) => b < 0x20 || b > 0x7e || b === 0x22 || b === 0x5c || b === 0x3c || b === 0x60 || b === 0x7e;
const digits = [...Array(127).keys()].filter((b) => b >= 0x20 && !escaped(b)); // 90
const identity = [...digits, ...[...Array(256).keys()].filter(escaped)];
const write = (r) => (r < 90 ? '' : r < 180 ? '~' : '`') + String.fromCharCode(digits[r % 90]);
/** `bytes` written by the ranks of `order` (a permutation of 0..255, the byte of each rank). */
const encode = (bytes, order) => {
  const rank = new Array(256);
  order.forEach((b, r) => (rank[b] = r));
  return Array.from(bytes, (b) => write(rank[b])).join('');
};
const wasmBytes = readFileSync('build/xent.wasm');
const count = new Array(256).fill(0);
for (const b of wasmBytes) count[b]++;
const order = [...Array(256).keys()].sort((a, b) => count[b] - count[a] || a - b);
const byteString = encode(wasmBytes, order);
const orderString = encode(order, identity);
// Every build embeds the SIMD module alone. With every kernel family the SIMD and scalar
// builds' base64 came to 51.5 KB gzip, which took bundles past the 64 KB budget; every engine
// wasm-xent's users run has SIMD (Chrome 91, Firefox 89, Safari 16.4, Node 16.4). The Node entries
// read the scalar and relaxed-SIMD builds from dist/ when asked for them (or, for relaxed, when the
// engine has it); the browser entries name the file to serve and pass to init().
const embedded = (readDist, readFile) => `// Generated by scripts/build-ts.mjs: the SIMD build of the module, embedded (a byte per character) so that
// init() with no argument needs no file, URL or bundler configuration.
import { wasmFileName } from './simd-detect.js';

const SIMD = "${byteString}";
const SIMD_BYTES = ${wasmBytes.length};
const ORDER = "${orderString}";
${readDist}
/** The bytes of \`build\`, or null where this copy of the package cannot supply it. */
export function bundledWasm(build) {
  if (build !== 'simd') return readDist(build);
  // SIMD's encoding (scripts/build-ts.mjs): a byte's rank as a digit, or '~' / '\`' and a digit
  const identity = [];
  const held = [];
  const digit = new Uint8Array(128);
  for (let b = 0; b < 256; b++) {
    if (b < 0x20 || b > 0x7e || b === 0x22 || b === 0x5c || b === 0x3c || b === 0x60 || b === 0x7e) held.push(b);
    else digit[b] = identity.push(b) - 1;
  }
  const read = (text, length, order) => {
    const bytes = new Uint8Array(length);
    for (let i = 0, j = 0; i < text.length; i++, j++) {
      const c = text.charCodeAt(i);
      bytes[j] = order[c === 0x7e ? 90 + digit[text.charCodeAt(++i)] : c === 0x60 ? 180 + digit[text.charCodeAt(++i)] : digit[c]];
    }
    return bytes;
  };
  return read(SIMD, SIMD_BYTES, read(ORDER, 256, identity.concat(held)));
}
${readFile}`;
// A build read from dist/ beside this file's directory; null when it is not there (the package
// bundled into one file, a runtime without fs).
const cjsDist = `
function readDist(build) {
  try {
    return require('fs').readFileSync(require('path').join(__dirname, '..', wasmFileName(build)));
  } catch {
    return null;
  }
}
`;
// process.getBuiltinModule (Node 20.16+, 22.3+) reads synchronously from an ES module (initSync
// needs it) without a static import of node:fs, which bundlers would have to resolve.
const esmDist = `
function readDist(build) {
  try {
    const fs = globalThis.process?.getBuiltinModule?.('fs');
    return fs ? fs.readFileSync(new URL('../' + wasmFileName(build), import.meta.url)) : null;
  } catch {
    return null;
  }
}
`;
const browserDist = `
/** Not embedded (bundle size): pass its URL to init(). */
function readDist() {
  return null;
}
`;
const nodeRead = (load) => `
/** Reads a file: URL (Node and Deno). */
export async function readWasmFile(url) {
  const { readFile } = ${load};
  return readFile(new URL(url));
}
`;
const browserRead = `
/** A file: URL outside Node: Deno's fetch reads it (with --allow-read); browsers refuse. */
export async function readWasmFile(url) {
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error('init: cannot read ' + url + ' in this runtime (' + e + '); call init() with no argument to use the module embedded in the package, or pass its bytes, a WebAssembly.Module or an http(s) URL');
  }
  if (!response.ok) throw new Error('init: reading ' + url + ' failed: ' + response.status);
  return new Uint8Array(await response.arrayBuffer());
}
`;
// The same text as CommonJS: the only import and the two exports are rewritten.
const toCjs = (src) => `"use strict";\n${src
  .replace("import { wasmFileName } from './simd-detect.js';", "const { wasmFileName } = require('./simd-detect.js');")
  .replace(/^export (async )?function (\w+)/gm, (_m, a, name) => `exports.${name} = ${name};\n${a ?? ''}function ${name}`)}`;
writeFileSync('dist/esm/wasm-location.js', embedded(esmDist, nodeRead("await import('node:fs/promises')")));
writeFileSync('dist/cjs/wasm-location.js', toCjs(embedded(cjsDist, nodeRead("require('fs/promises')"))));
writeFileSync('dist/browser/wasm-location.js', embedded(browserDist, browserRead));
writeFileSync('dist/browser-cjs/wasm-location.js', toCjs(embedded(browserDist, browserRead)));
for (const dir of ['cjs', 'esm']) rmSync(`dist/${dir}/wasm-location.d.ts`); // internal, and it named Node's fs

// dist/browser is what browsers download as it is (import maps, no bundler) and what bundlers copy
// without minifying by default: its modules are bundled and minified (esbuild) into the public
// entries (index, workerd, edge-light, tfjs) and wasm-location (the embedded module, its own file
// so it stays one cacheable download) plus shared chunks, so that every entry shares one copy of
// the loader's state. A page then fetches 4 files, not 25: gzip of what the no-bundler page
// requests went from 65,530 B (per-file minified modules, each gzipped alone) to 57,615 B.
const { build } = await import('esbuild');
const bundled = 'dist/.browser-bundle';
await build({
  entryPoints: ['index', 'workerd', 'edge-light', 'tfjs', 'wasm-location'].map((e) => `dist/browser/${e}.js`),
  outdir: bundled, bundle: true, splitting: true, format: 'esm', minify: true, target: 'es2020',
  chunkNames: 'chunk-[hash]', packages: 'external', external: ['*.wasm', '*.wasm?module'], logLevel: 'warning',
});
for (const file of readdirSync('dist/browser', { recursive: true }).filter((f) => f.endsWith('.js'))) rmSync(`dist/browser/${file}`);
rmSync('dist/browser/ops', { recursive: true, force: true });
for (const file of readdirSync(bundled)) copyFileSync(`${bundled}/${file}`, `dist/browser/${file}`);
rmSync(bundled, { recursive: true });

mkdirSync('dist', { recursive: true });
for (const f of readdirSync('build').filter((f) => f.endsWith('.wasm'))) copyFileSync(`build/${f}`, `dist/${f}`);
