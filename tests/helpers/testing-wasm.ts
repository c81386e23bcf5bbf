// Loads the test-only module build/testing/ulp{,-scalar,-relaxed}.wasm (assembly/testing.ts, built by
// `npm run build:testing`; never shipped) and applies its element-wise functions to JS arrays.
import { readFileSync } from 'fs';
import { join } from 'path';

export type MapName = 'expV_f32' | 'expV_f64' | 'expFastV_f32' | 'expFastV_f64' | 'log1pV_f32' | 'log1pV_f64' | 'exp_f32' | 'exp_f64' | 'log64V_f64' | 'logSumsV_f32' | 'logRestV_f32' | 'log32V_f32';

interface TestingExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  simdBuild(): number;
  relaxedBuild(): number;
  [name: string]: unknown;
}

/** The functions the module can scan over float32 bit patterns (assembly/testing.ts scan_f32). */
export const SCAN_KIND = { expV_f32: 0, expFastV_f32: 1, exp_f32: 2, log1pV_f32: 3, log32V_f32: 4 } as const;
export type ScanName = keyof typeof SCAN_KIND;

export interface TestingModule {
  simd: boolean;
  /** Largest ulp error of `name` over the float32 patterns lo, lo + stride, .. <= hi, measured
   *  inside the module against float64 NativeMath rounded to float32. */
  scan(name: ScanName, lo: number, hi: number, stride: number): { max: number; at: number; count: number };
  /** out[i] := the scan's reference for `name` at x[i]. */
  reference(name: ScanName, x: Float32Array, out: Float32Array): void;
  relaxed: boolean;
  /** out[i] := f(x[i]) for the named function (x and out of the function's element type). */
  map(name: MapName, x: Float32Array | Float64Array, out: Float32Array | Float64Array): void;
  /** The shipped float32 crossEntropyIndex kernel on (outer, C, inner) logits x and targets t (-1:
   *  ignored), with the lean column kernel allowed or not (assembly/testing.ts). */
  crossEntropyIndexF32(c: IndexCall, lean: boolean): { total: number; loss: Float32Array | null; grad: Float32Array | null };
}

export interface IndexCall {
  x: Float32Array; t: Int32Array; weight: Float32Array | null; outer: number; C: number; inner: number;
  eps: number; loss: boolean; grad: boolean; scale: number; gradPerPosition: Float32Array | null;
}

const FILES = { simd: 'ulp.wasm', scalar: 'ulp-scalar.wasm', relaxed: 'ulp-relaxed.wasm' };

/** The relaxed build validates only where the engine has relaxed SIMD (Node 20: run with
 *  --experimental-wasm-relaxed-simd, as the WASM_XENT_BUILD=relaxed pass of `npm test` does). */
export function loadTesting(build: 'simd' | 'scalar' | 'relaxed'): TestingModule {
  const file = join(__dirname, '..', '..', 'build', 'testing', FILES[build]);
  const instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(file)), {});
  const ex = instance.exports as unknown as TestingExports;
  const base = (ex.heapBase() + 15) & ~15;
  const grow = (need: number) => {
    const have = ex.memory.buffer.byteLength;
    if (need > have) ex.memory.grow(Math.ceil((need - have) / 65536));
  };
  return {
    simd: ex.simdBuild() !== 0,
    scan(name, lo, hi, stride) {
      grow(base + 24);
      (ex.scan_f32 as (k: number, lo: number, hi: number, s: number, out: number) => void)(SCAN_KIND[name], lo | 0, hi | 0, stride, base);
      const [max, at, count] = new Float64Array(ex.memory.buffer, base, 3);
      return { max, at, count };
    },
    reference(name, x, out) {
      grow(base + 8 * x.length);
      new Float32Array(ex.memory.buffer, base, x.length).set(x);
      (ex.reference_f32 as (k: number, x: number, y: number, n: number) => void)(SCAN_KIND[name], base, base + 4 * x.length, x.length);
      out.set(new Float32Array(ex.memory.buffer, base + 4 * x.length, x.length));
    },
    relaxed: ex.relaxedBuild() !== 0,
    map(name, x, out) {
      const bytes = x.byteLength;
      // input at base, output right after it; the vector functions need whole vectors, so pad
      // the input with its last value to a multiple of 16 bytes
      const padded = (bytes + 15) & ~15;
      const need = base + 2 * padded;
      const have = ex.memory.buffer.byteLength;
      if (need > have) ex.memory.grow(Math.ceil((need - have) / 65536));
      const Ctor = x.constructor as Float32ArrayConstructor | Float64ArrayConstructor;
      const input = new Ctor(ex.memory.buffer, base, padded / x.BYTES_PER_ELEMENT);
      input.set(x);
      input.fill(x[x.length - 1], x.length);
      (ex[name] as (x: number, y: number, n: number) => void)(base, base + padded, input.length);
      out.set(new Ctor(ex.memory.buffer, base + padded, x.length));
    },
    crossEntropyIndexF32(c, lean) {
      const positions = c.outer * c.inner;
      const sizes = [c.x.length, positions, c.C, positions, c.x.length, positions].map((n) => (4 * n + 15) & ~15);
      grow(base + sizes.reduce((a, b) => a + b, 0));
      const [px, pt, pw, pl, pg, pk] = sizes.map((_, i) => base + sizes.slice(0, i).reduce((a, b) => a + b, 0));
      const f32 = (p: number, n: number) => new Float32Array(ex.memory.buffer, p, n);
      f32(px, c.x.length).set(c.x);
      new Int32Array(ex.memory.buffer, pt, positions).set(c.t);
      if (c.weight) f32(pw, c.C).set(c.weight);
      if (c.gradPerPosition) f32(pk, positions).set(c.gradPerPosition);
      f32(pl, positions).fill(NaN);
      f32(pg, c.x.length).fill(NaN);
      const total = (ex.crossEntropyIndex_f32 as (...a: number[]) => number)(px, pt, c.weight ? pw : 0, c.outer, c.C, c.inner, c.eps,
        c.loss ? pl : 0, c.grad ? pg : 0, c.scale, c.gradPerPosition ? pk : 0, lean ? 1 : 0);
      return { total, loss: c.loss ? f32(pl, positions).slice() : null, grad: c.grad ? f32(pg, c.x.length).slice() : null };
    },
  };
}
