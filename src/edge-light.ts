// Entry for Vercel edge (export condition `edge-light`): Vercel's bundler wants the `?module` suffix
// to hand over a compiled WebAssembly.Module. Instantiated synchronously at import, like workerd.ts.

import wasm from '../xent.wasm?module';
import { initSync } from './loader.js';

initSync(wasm);

export * from './index.js';
