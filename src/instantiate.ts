// Instantiates the kernel module with the imports an AssemblyScript module may ask for (env.abort,
// env.trace, env.seed); today's build imports nothing. Written here rather than taken from
// @assemblyscript/loader so that the ES module builds import only relative files: browsers load
// them with no bundler or import map, module Web Workers too, and workerd resolves them as listed.

/** The raw exports, handed to the workspace. */
export type RawExports = WebAssembly.Exports;

function imports(memory: () => WebAssembly.Memory | undefined): WebAssembly.Imports {
  // An AssemblyScript string: UTF-16LE code units, byte length stored just before the pointer.
  const text = (ptr: number): string => {
    const mem = memory();
    if (!mem || !ptr) return '';
    const len = new Uint32Array(mem.buffer, ptr - 4, 1)[0] >>> 1;
    return String.fromCharCode(...new Uint16Array(mem.buffer, ptr, len));
  };
  return {
    env: {
      abort(msg: number, file: number, line: number, column: number) {
        throw new Error(`wasm-xent: abort: ${text(msg)} at ${text(file)}:${line}:${column}`);
      },
      trace() {},
      seed: () => Date.now(),
    },
  };
}

function hook(): [WebAssembly.Imports, (instance: WebAssembly.Instance) => RawExports] {
  let exports: RawExports | undefined;
  const imp = imports(() => exports?.memory as WebAssembly.Memory | undefined);
  return [imp, (instance) => (exports = instance.exports)];
}

/** From bytes or a compiled module (compiling bytes is forbidden in workerd: pass a module there). */
export async function instantiate(source: BufferSource | WebAssembly.Module): Promise<RawExports> {
  const [imp, done] = hook();
  if (source instanceof WebAssembly.Module) return done(await WebAssembly.instantiate(source, imp));
  return done((await WebAssembly.instantiate(source, imp)).instance);
}

/** Streaming compilation from a Response; throws if the MIME type is not application/wasm. */
export async function instantiateStreaming(response: Response): Promise<RawExports> {
  const [imp, done] = hook();
  return done((await WebAssembly.instantiateStreaming(response, imp)).instance);
}

/** Synchronous: `new WebAssembly.Instance` (the only way workerd and Vercel edge allow). */
export function instantiateSync(source: BufferSource | WebAssembly.Module): RawExports {
  const [imp, done] = hook();
  const module = source instanceof WebAssembly.Module ? source : new WebAssembly.Module(source);
  return done(new WebAssembly.Instance(module, imp));
}
