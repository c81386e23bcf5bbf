// Instantiates the kernel module with the plain WebAssembly API. The module imports nothing (it
// is built with AssemblyScript's stub runtime and --noAssert, so it has no env.abort), which is
// why no loader library is needed: one fewer dependency, and nothing that needs TextDecoder or
// other globals at import time (Jest's jsdom environment lacks it).

/** The raw exports, handed to the workspace. */
export type RawExports = WebAssembly.Exports;

const NO_IMPORTS = {};

/** From bytes or a compiled module (compiling bytes is forbidden in workerd: pass a module there). */
export async function instantiate(source: BufferSource | WebAssembly.Module): Promise<RawExports> {
  // With bytes, instantiate() resolves to { module, instance }; with a Module, to the Instance.
  const result: WebAssembly.WebAssemblyInstantiatedSource | WebAssembly.Instance = await WebAssembly.instantiate(source as BufferSource, NO_IMPORTS);
  return ('instance' in result ? result.instance : result).exports;
}

/** Streaming compilation from a Response; rejects if the MIME type is not application/wasm. */
export async function instantiateStreaming(response: Response): Promise<RawExports> {
  return (await WebAssembly.instantiateStreaming(response, NO_IMPORTS)).instance.exports;
}

/** Synchronous: `new WebAssembly.Instance` (the only way workerd and Vercel edge allow). */
export function instantiateSync(source: BufferSource | WebAssembly.Module): RawExports {
  const module = ArrayBuffer.isView(source) || Object.prototype.toString.call(source) === '[object ArrayBuffer]'
    ? new WebAssembly.Module(source as BufferSource)
    : (source as WebAssembly.Module);
  return new WebAssembly.Instance(module, NO_IMPORTS).exports;
}
