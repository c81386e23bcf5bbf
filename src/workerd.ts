// Entry for Cloudflare Workers / workerd (export conditions `workerd` and `worker`). These runtimes
// forbid compiling wasm from bytes, so the `.wasm` is imported as a module (the runtime compiles it
// at deploy/load time) and instantiated synchronously here, at import: no top-level await, no fetch.
// `init()` then resolves at once; the API is the same as the main entry.

import wasm from '../xent.wasm';
import { initSync } from './loader.js';

initSync(wasm);

export * from './index.js';
