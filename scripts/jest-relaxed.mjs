// Runs jest on the relaxed-SIMD build (`npm test`'s third pass): WASM_XENT_BUILD=relaxed, and on
// engines that validate relaxed SIMD only behind a flag (Node 20) the flag, given to the node that
// runs jest (its workers inherit it; NODE_OPTIONS does not accept V8 flags). Arguments go to jest.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const FLAG = '--experimental-wasm-relaxed-simd';
const relaxed = readFileSync('build/xent-relaxed.wasm');
const flags = WebAssembly.validate(relaxed) ? [] : [FLAG];
const jest = ['node_modules/jest/bin/jest.js', ...process.argv.slice(2)];
const run = spawnSync(process.execPath, [...flags, ...jest], { stdio: 'inherit', env: { ...process.env, WASM_XENT_BUILD: 'relaxed' } });
process.exit(run.status ?? 1);
