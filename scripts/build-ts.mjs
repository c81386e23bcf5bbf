// Compiles src/ to dist/cjs (CommonJS), dist/esm (ES modules) and dist/types (declarations), and
// copies the wasm builds into dist/ where both find them.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync, readdirSync } from 'node:fs';

const tsc = (args) => execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', ...args], { stdio: 'inherit' });
const common = ['--rootDir', 'src', '--target', 'ES2020', '--strict', '--skipLibCheck', '--lib', 'ES2020,DOM', '--types', 'node'];
const sources = readdirSync('src', { recursive: true }).filter((f) => f.endsWith('.ts')).map((f) => `src/${f}`);

rmSync('dist', { recursive: true, force: true });
tsc([...common, '--module', 'commonjs', '--outDir', 'dist/cjs', ...sources]);
tsc([...common, '--module', 'es2020', '--moduleResolution', 'node10', '--outDir', 'dist/esm', ...sources]);
tsc([...common, '--module', 'commonjs', '--declaration', '--emitDeclarationOnly', '--outDir', 'dist/types', ...sources]);
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n');
writeFileSync('dist/esm/package.json', '{ "type": "module" }\n');

// ES modules have no __dirname: locate the bundled wasm from import.meta.url instead.
writeFileSync('dist/esm/wasm-location.js', `// Where the bundled .wasm lives, for init() with no argument (ES module build).
import { bundledWasmName } from './simd-detect.js';
export async function bundledWasm() {
  return new URL('../' + bundledWasmName(), import.meta.url);
}
`);
mkdirSync('dist', { recursive: true });
for (const f of readdirSync('build').filter((f) => f.endsWith('.wasm'))) copyFileSync(`build/${f}`, `dist/${f}`);
