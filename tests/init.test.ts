// init() and initSync(): every accepted source, idempotence, and the error before init.
// Each test loads a fresh copy of the library so its module state starts uninitialised.
import { readFileSync } from 'fs';
import { join } from 'path';
import { pathToFileURL } from 'url';

type Lib = typeof import('../src');
const wasmPath = join(__dirname, '..', 'build', 'xent.wasm');
const bytes = () => readFileSync(wasmPath);
const x = { data: new Float64Array([1, 2, 3]), shape: [1, 3] };
const SEED = 0.4076059644443804; // F.cross_entropy(torch.tensor([[1., 2., 3.]], dtype=torch.float64), torch.tensor([2]))

function fresh(): Lib {
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
