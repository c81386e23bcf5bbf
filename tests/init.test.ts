// init() and initSync(): every accepted source, idempotence, and the error before init.
// Each test loads a fresh copy of the library and drops the state every copy shares (kept on
// globalThis, see src/loader.ts), so it starts uninitialised as in a new process.
import { readFileSync } from 'fs';
import { createServer } from 'http';
import { AddressInfo } from 'net';
import { runInNewContext } from 'vm';
import { JSDOM } from 'jsdom';
import { join } from 'path';
import { pathToFileURL } from 'url';
import { expectedBuild } from './helpers/builds';

type Lib = typeof import('../src');
const wasmPath = join(__dirname, '..', 'build', 'xent.wasm');
const bytes = () => readFileSync(wasmPath);
const x = { data: new Float64Array([1, 2, 3]), shape: [1, 3] };
const SEED = 0.4076059644443804; // F.cross_entropy(torch.tensor([[1., 2., 3.]], dtype=torch.float64), torch.tensor([2]))

function fresh(): Lib {
  delete (globalThis as Record<symbol, unknown>)[Symbol.for('wasm-xent@0.1.0')];
  let lib: Lib | undefined;
  jest.isolateModules(() => {
    lib = require('../src');
  });
  return lib!;
}

test('calling an op before init throws an Error that says to call init() first', () => {
  const X = fresh();
  expect(() => X.crossEntropy(x, [2])).toThrow('crossEntropy: wasm-xent is not initialised; call await init() (or initSync()) first');
  expect(() => X.softmax(x)).toThrow(/softmax: .*call await init\(\)/);
});

const sources: [string, () => unknown][] = [
  ['no argument (the bundled .wasm)', () => undefined],
  ['a Buffer', () => bytes()],
  ['an ArrayBuffer', () => new Uint8Array(bytes()).buffer],
  ['a WebAssembly.Module', () => new WebAssembly.Module(bytes())],
  ['a file: URL', () => pathToFileURL(wasmPath)],
  ['a file: URL string', () => pathToFileURL(wasmPath).href],
  ['a Response', () => new Response(bytes(), { headers: { 'content-type': 'application/wasm' } })],
  ['a Response with the wrong MIME type', () => new Response(bytes(), { headers: { 'content-type': 'text/plain' } })],
  // jsdom's URL class is not Node's: `instanceof URL` is false for it, as in Jest's jsdom environment.
  ['a URL of another class (jsdom\'s)', () => new (new JSDOM('').window.URL)(pathToFileURL(wasmPath).href)],
  ['a Uint8Array from another realm', () => runInNewContext('new Uint8Array(b)', { b: [...bytes()] })],
  ['a Promise<Response>', () => Promise.resolve(new Response(bytes(), { headers: { 'content-type': 'application/wasm' } }))],
];

test.each(sources)('init(%s) loads a working module', async (_name, source) => {
  const X = fresh();
  await X.init(source() as never);
  expect(X.crossEntropy(x, [2]).loss).toBeCloseTo(SEED, 14);
});

test('init is idempotent, also when called concurrently', async () => {
  const X = fresh();
  await Promise.all([X.init(), X.init()]);
  await X.init();
  expect(X.crossEntropy(x, [2]).loss).toBeCloseTo(SEED, 14);
});

test('initSync accepts bytes and a WebAssembly.Module', () => {
  const A = fresh();
  A.initSync(bytes());
  expect(A.crossEntropy(x, [2]).loss).toBeCloseTo(SEED, 14);
  const B = fresh();
  B.initSync(new WebAssembly.Module(bytes()));
  B.initSync(bytes()); // a second call is fine
  expect(B.crossEntropy(x, [2]).loss).toBeCloseTo(SEED, 14);
});

test('a failed init can be retried', async () => {
  const X = fresh();
  await expect(X.init(new Uint8Array([0, 1, 2, 3]))).rejects.toThrow();
  await X.init();
  expect(X.crossEntropy(x, [2]).loss).toBeCloseTo(SEED, 14);
});

test('initSync() with no argument loads the bundled module', () => {
  const X = fresh();
  X.initSync();
  expect(X.crossEntropy(x, [2]).loss).toBeCloseTo(SEED, 14);
  expect(X.wasmBuild()).toBe(expectedBuild());
});

test('two copies of the package in one process share one initialised module', async () => {
  const A = fresh();
  let B: Lib | undefined;
  jest.isolateModules(() => {
    B = require('../src');
  });
  expect(B).not.toBe(A);
  await A.init();
  expect(B!.wasmBuild()).toBe(A.wasmBuild());
  expect(B!.crossEntropy(x, [2]).loss).toBeCloseTo(SEED, 14);
});

test('init(source) rejects what it cannot load, naming it', async () => {
  const X = fresh();
  await expect(X.init(new Map() as never)).rejects.toThrow('init: expected bytes, a WebAssembly.Module, a URL, a Response or a Promise<Response>, got Map');
  // a plain object is init's options, checked as every function's options are (red team 51)
  await expect(X.init({ build: 'simd', threads: 2 } as never)).rejects.toThrow("init: unknown option 'threads'; known options: build");
  expect(() => X.initSync(Object.create({ build: 'scalar' }))).toThrow("initSync: option 'build' is inherited from the options object's prototype; options must be its own properties");
  const Y = fresh();
  await Y.init({}); // no options: as init()
  expect(Y.wasmBuild()).toBe(expectedBuild());
  // A valid module that is not wasm-xent's.
  await expect(X.init(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))).rejects.toThrow("init: this WebAssembly module is not wasm-xent's");
  expect(() => X.initSync('xent.wasm' as never)).toThrow('initSync: expected bytes or a WebAssembly.Module, got String');
});

test('a URL that answers 404 or cannot be fetched: the error names the URL and the fix', async () => {
  const server = createServer((_req, res) => res.writeHead(404).end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/assets/xent.wasm`;
  try {
    const X = fresh();
    await expect(X.init(url)).rejects.toThrow(`init: fetching ${url} failed: HTTP 404 Not Found; call init() with no argument to use the module embedded in the package`);
  } finally {
    server.close();
  }
  const X = fresh();
  await expect(X.init('http://127.0.0.1:1/xent.wasm')).rejects.toThrow(/^init: fetching http:\/\/127\.0\.0\.1:1\/xent\.wasm failed \(TypeError: fetch failed\); call init\(\) with no argument/);
});
