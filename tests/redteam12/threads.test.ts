// Red team 12, threads (see tests/redteam12.test.ts): class-index targets in integer typed arrays
// (checked and streamed where they are since 4ab1d30) give the same bits on 2 threads as on 1, on
// NCHW slices over 512 KiB ([2, 21, 128, 128] f32, [1, 3, 50001] f64), short rows [100000, 2] and
// [9, 10, 3000]; targets and input in wasmArrays (shared memory); bfloat16 input. In its own file:
// threads move the module to shared memory for the rest of the process (growth no longer detaches
// views), which would hide redteam12's finding.
import * as X from '../../src';
import { expectSame } from '../helpers/same';
import { normals, rng } from '../helpers/random';

jest.setTimeout(120000);

type Result = { loss: number | ArrayLike<number>; grad?: ArrayLike<number>; lse?: ArrayLike<number> };
type Call = (x: unknown, t: unknown, o?: Record<string, unknown>) => Result;
const CE = X.crossEntropy as unknown as Call;
const FOCAL = X.focalLoss as unknown as Call;

beforeAll(() => X.init());

function targetsFor(seed: number, positions: number, C: number, ignore?: number): number[] {
  const r = rng(seed);
  return Array.from({ length: positions }, (_, p) => (ignore !== undefined && p % 5 === 2 ? ignore : Math.floor(r() * C)));
}

function snap(r: Result): Result {
  const o: Result = { loss: typeof r.loss === 'number' ? r.loss : Float64Array.from(r.loss) };
  if (r.grad) o.grad = Float64Array.from(r.grad);
  if (r.lse) o.lse = Float64Array.from(r.lse);
  return o;
}

const positionShapeOf = (shape: number[]) => shape.filter((_, i) => i !== 1);
const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

describe('threads: 2 threads give the bits of 1 (typed targets, sliced NCHW, wasm-resident targets)', () => {
  const cases: { name: string; x: { data: Float32Array | Float64Array; shape: number[] }; plain: number[]; o: Record<string, unknown>; call: Call }[] = [];
  beforeAll(() => {
    for (const [shape, T] of [[[2, 21, 128, 128], Float32Array], [[1, 3, 50001], Float64Array], [[100000, 2], Float32Array], [[9, 10, 3000], Float32Array]] as [number[], typeof Float32Array][]) {
      const ps = positionShapeOf(shape);
      const positions = prod(ps);
      const n = positions * shape[1];
      const x = { data: T.from(normals(rng(n), n, 2)), shape };
      const plain = targetsFor(positions, positions, shape[1], -100);
      cases.push({ name: `${JSON.stringify(shape)} CE`, x, plain, o: { grad: true, zLoss: 1e-3, labelSmoothing: 0.1, returnLse: true }, call: CE });
      cases.push({ name: `${JSON.stringify(shape)} focal none`, x, plain, o: { grad: true, reduction: 'none', gamma: 2 }, call: FOCAL });
    }
  });
  afterAll(() => X.setThreads(1));

  test('Int8 / Int32 targets and Int32 targets in a wasmArray', async () => {
    const results = new Map<string, Result>();
    for (const threads of [1, 2]) {
      await X.setThreads(threads);
      for (const c of cases) {
        const ps = positionShapeOf(c.x.shape);
        for (const K of [Int8Array, Int32Array]) {
          const got = snap(c.call(c.x, { data: K.from(c.plain), shape: ps }, c.o));
          const key = `${c.name} ${K.name}`;
          if (threads === 1) results.set(key, got);
          else expectSame(`${key} 2 threads`, got, results.get(key)!);
          if (K === Int32Array) expectSame(`${key} = number[] (threads ${threads})`, got, snap(c.call(c.x, { data: c.plain, shape: ps }, c.o)));
        }
        // targets and input in wasm memory (shared memory with threads)
        const wx = X.wasmArray(c.x.data.constructor as typeof Float32Array, c.x.data.length);
        const wt = X.wasmArray(Float32Array, c.plain.length);
        try {
          wx.array.set(c.x.data);
          new Int32Array(wt.array.buffer, wt.array.byteOffset, c.plain.length).set(c.plain);
          const t = new Int32Array(wt.array.buffer, wt.array.byteOffset, c.plain.length);
          // (without zLoss: with it, a call that grows memory on one thread is FINDINGS' case)
          const { zLoss: _z, ...o } = c.o;
          const got = snap(c.call({ data: wx.array, shape: c.x.shape }, { data: t, shape: ps }, o));
          const key = `${c.name} wasm-resident`;
          if (threads === 1) results.set(key, got);
          else expectSame(`${key} 2 threads`, got, results.get(key)!);
          expectSame(`${key} = number[] (threads ${threads})`, got, snap(c.call(c.x, { data: c.plain, shape: ps }, o)));
        } finally {
          wt.free();
          wx.free();
        }
      }
      await X.setThreads(1);
    }
  });

  test('bfloat16 input with typed targets: the bits of its float32 decoding, 1 and 2 threads', async () => {
    const shape = [2, 21, 64, 64];
    const n = prod(shape);
    const f = Float32Array.from(normals(rng(77), n, 2));
    const bits = new Uint16Array(n);
    const u = new Uint32Array(f.buffer);
    for (let i = 0; i < n; i++) bits[i] = u[i] >>> 16;
    const decoded = new Float32Array(n);
    const du = new Uint32Array(decoded.buffer);
    for (let i = 0; i < n; i++) du[i] = bits[i] << 16;
    const plain = targetsFor(5, 2 * 64 * 64, 21, 250);
    const o = { grad: true, ignoreIndex: 250, zLoss: 1e-3 };
    const want = snap(CE({ data: decoded, shape }, plain, o));
    for (const threads of [1, 2]) {
      await X.setThreads(threads);
      expectSame(`bf16 Uint8 threads ${threads}`, snap(CE({ data: bits, shape, dtype: 'bfloat16' }, { data: Uint8Array.from(plain), shape: [2, 64, 64] }, o)), want);
      const o2 = { grad: true, ignoreIndex: -6 };
      const p2 = plain.map((v) => (v === 250 ? -6 : v));
      expectSame(`bf16 Int8 threads ${threads}`, snap(CE({ data: bits, shape, dtype: 'bfloat16' }, { data: Int8Array.from(p2), shape: [2, 64, 64] }, o2)), snap(CE({ data: decoded, shape }, p2, o2)));
    }
    await X.setThreads(1);
  });
});

