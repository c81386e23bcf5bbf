// Where the bundled .wasm lives, for init() with no argument. This CommonJS form serves the
// sources (tests) and dist/cjs; scripts/build-ts.mjs writes an import.meta.url form for dist/esm.

declare const __dirname: string;

export async function bundledWasm(): Promise<URL> {
  const { existsSync } = await import('fs');
  const { join } = await import('path');
  const { pathToFileURL } = await import('url');
  // dist/cjs -> dist/xent.wasm (copied there by the build); src -> build/xent.wasm.
  for (const candidate of [join(__dirname, '..', 'xent.wasm'), join(__dirname, '..', 'build', 'xent.wasm')]) {
    if (existsSync(candidate)) return pathToFileURL(candidate);
  }
  throw new Error('init: the bundled xent.wasm was not found next to the package; pass its bytes or URL to init()');
}
