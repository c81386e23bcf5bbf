// Half-precision logits (issue 12): the wasm decode of all 65,536 bit patterns of float16 and
// bfloat16 against an independent decode written here from the formats' definitions; every case of
// tests/fixtures/half.json (torch 1.13 on the same 16-bit values, gradients by autograd); the
// whole pipeline (chunks, sliced NCHW chunks) bit-identical to the float32 path on the decoded
// values; Float16Array detection through a stubbed global class (Node 20 has none); result types.
import * as X from '../src';
import { getWorkspace } from '../src/loader';
import { dec, JNum, JTensor, mismatches } from './helpers/family-fixtures';
import { rng, normals, ints, uniforms } from './helpers/random';
import * as fs from 'fs';
import * as path from 'path';

beforeAll(() => X.init());

// ------------------------------------------------------------------ an independent decode

/** The value of a 16-bit float with `e` exponent bits (bias 2^(e-1) - 1) and `m` mantissa bits:
 *  sign * 2^(exp - bias) * (1 + frac / 2^m), subnormals 2^(1 - bias) * frac / 2^m, exponent all
 *  ones inf (frac 0) or NaN. */
function decodeBits(h: number, e: number, m: number): number {
  const pow = Math.pow;
  const sign = h >> 15 ? -1 : 1;
  const exp = (h >> m) & ((1 << e) - 1);
  const frac = h & ((1 << m) - 1);
  const bias = (1 << (e - 1)) - 1;
  if (exp === (1 << e) - 1) return frac ? NaN : sign * Infinity;
  if (exp === 0) return sign * pow(2, 1 - bias) * (frac / pow(2, m));
  return sign * pow(2, exp - bias) * (1 + frac / pow(2, m));
}

/** The float32 bits a 16-bit pattern must decode to: the value's own bits, or for a NaN the
 *  IEEE-754 conversion that keeps sign and payload (the payload's bits moved to the top of the
 *  float32 mantissa), quiet or signalling as it was. */
function expectedBits(h: number, e: number, m: number): number {
  const v = decodeBits(h, e, m);
  if (Number.isNaN(v)) return ((h & 0x8000) << 16 | 0x7f800000 | (h & ((1 << m) - 1)) << (23 - m)) >>> 0;
  const f = new Float32Array([v]);
  // every 16-bit value is a float32 exactly (-0 included)
  if (!Object.is(f[0], v)) throw new Error(`0x${h.toString(16)} decodes to ${v}, not a float32`);
  return new Uint32Array(f.buffer)[0];
}

const FORMATS = { float16: { e: 5, m: 10, kernel: 'decodeFloat16_f32' }, bfloat16: { e: 8, m: 7, kernel: 'decodeBfloat16_f32' } } as const;

describe('decode: all 65,536 bit patterns', () => {
  for (const [fmt, { e, m, kernel }] of Object.entries(FORMATS)) {
    test(`${fmt} (${process.env.WASM_XENT_BUILD ?? 'simd'} build)`, () => {
      const ws = getWorkspace('test');
      // n = 65536 + 5: the vector loop and a scalar tail; src at an odd multiple of 2 bytes
      const n = 65541;
      const [src, dst] = ws.reserve('test', [2 * n + 2, 4 * n]);
      const bits = new Uint16Array(ws.exports.memory.buffer, src + 2, n);
      for (let i = 0; i < n; i++) bits[i] = i & 0xffff;
      (ws.exports[kernel] as (s: number, d: number, k: number) => void)(src + 2, dst, n);
      const out = new Uint32Array(ws.exports.memory.buffer, dst, n);
      const bad: string[] = [];
      for (let i = 0; i < n; i++) {
        const want = expectedBits(i & 0xffff, e, m);
        if (out[i] !== want) bad.push(`0x${(i & 0xffff).toString(16)}: got 0x${out[i].toString(16)}, want 0x${want.toString(16)}`);
      }
      expect(bad.slice(0, 10)).toEqual([]);
    });
  }
});

// ------------------------------------------------------------------ torch fixtures

interface HalfCase {
  name: string;
  fn: 'crossEntropy' | 'logSoftmax' | 'softmax';
  dtype: 'float16' | 'bfloat16';
  input: { bits: number[]; shape: number[]; dtype: 'float16' | 'bfloat16' };
  target?: JTensor;
  gradOutput?: JTensor;
  options: Record<string, unknown>;
  expected: { loss?: JNum | JTensor; grad?: JTensor; lse?: JTensor; output?: JTensor };
}

const cases = (JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'half.json'), 'utf8')) as { cases: HalfCase[] }).cases;
const worst = { err: 0, where: '' };
afterAll(() => {
  // eslint-disable-next-line no-console
  console.log(`half fixtures: ${cases.length} cases; largest |actual - expected| / (1 + |expected|) = ${worst.err.toExponential(3)} (${worst.where})`);
});

/** float32 results against float64 torch on the same 16-bit values: the float32 tolerance. */
function compare(name: string, actual: unknown, expected: JNum[]): void {
  expect(actual).toBeInstanceOf(Float32Array);
  const a = actual as Float32Array;
  expect(a.length).toBe(expected.length);
  expect(mismatches(name, a, expected, 1e-5, worst).slice(0, 8)).toEqual([]);
}

describe('half.json (PyTorch 1.13 on the same 16-bit values)', () => {
  test.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const input = { data: Uint16Array.from(c.input.bits), shape: c.input.shape, dtype: c.input.dtype };
    if (c.fn !== 'crossEntropy') {
      compare(`${c.name} output`, X[c.fn](input, c.options as X.SoftmaxOptions<Float32Array>), c.expected.output!.data);
      return;
    }
    const t = c.target!;
    const target = t.type === 'float' ? { data: Float32Array.from(t.data.map(dec)), shape: t.shape }
      : t.type === 'scalar' ? dec(t.data[0]) : { data: Int32Array.from(t.data.map(dec)), shape: t.shape };
    const options: Record<string, unknown> = { ...c.options, grad: true };
    if (Array.isArray(options.weight)) options.weight = (options.weight as JNum[]).map(dec);
    if (typeof options.gradOutput === 'string') options.gradOutput = dec(options.gradOutput);
    if (c.gradOutput) options.gradOutput = Float32Array.from(c.gradOutput.data.map(dec));
    const res = X.crossEntropy(input, target as never, options as X.CrossEntropyOptions<Float32Array>);
    const loss = c.expected.loss!;
    if (typeof loss === 'object') compare(`${c.name} loss`, res.loss, loss.data);
    else compare(`${c.name} loss`, Float32Array.of(res.loss as number), [loss]);
    compare(`${c.name} grad`, res.grad, c.expected.grad!.data);
    if (c.expected.lse) compare(`${c.name} lse`, res.lse, c.expected.lse.data);
  });
});

// ------------------------------------------------------------------ the pipeline equals the float32 path

/** float32 values rounded to bfloat16 bits (round to nearest even), and float16 bits by search:
 *  ways to make test inputs; the expectations come from decodeBits, not from these. */
function toBfloat16(v: Float32Array): Uint16Array {
  const u = new Uint32Array(v.buffer, v.byteOffset, v.length);
  return Uint16Array.from(u, (b) => (b + 0x7fff + ((b >> 16) & 1)) >>> 16);
}
const F16_TABLE = (() => {
  const finite: { v: number; h: number }[] = [];
  for (let h = 0; h < 0x10000; h++) if ((h & 0x7c00) !== 0x7c00) finite.push({ v: decodeBits(h, 5, 10), h });
  return finite.sort((a, b) => a.v - b.v);
})();
function toFloat16(v: ArrayLike<number>): Uint16Array {
  return Uint16Array.from(v as number[], (x) => {
    let lo = 0;
    let hi = F16_TABLE.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (F16_TABLE[mid].v <= x) lo = mid;
      else hi = mid;
    }
    return x - F16_TABLE[lo].v <= F16_TABLE[hi].v - x ? F16_TABLE[lo].h : F16_TABLE[hi].h;
  });
}
const decoded = (bits: Uint16Array, fmt: 'float16' | 'bfloat16') => Float32Array.from(bits, (h) => decodeBits(h, FORMATS[fmt].e, FORMATS[fmt].m));

const same = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) expect([i, a[i]]).toEqual([i, b[i]]);
};

describe('half input gives exactly what float32 input of the decoded values gives', () => {
  const r = rng(31);
  const layouts = [
    { shape: [1200, 257] }, // three chunks of whole rows
    { shape: [1, 4, 200, 200] }, // one image over CHUNK_BYTES: chunks slice the spatial dim
    { shape: [5, 7, 13], dim: -1 },
    { shape: [30000, 3] }, // short rows: regrouped into columns per chunk (src/stream.ts Relayout)
    { shape: [3, 21, 7] }, // short position runs: regrouped too
  ];
  for (const fmt of ['float16', 'bfloat16'] as const) {
    for (const { shape, dim } of layouts) {
      test(`${fmt} ${JSON.stringify(shape)}: crossEntropy (loss, grad, lse), logSoftmax, softmax, tokenScores`, () => {
        const n = shape.reduce((a, b) => a * b, 1);
        const d = dim === undefined ? 1 : dim + shape.length;
        const C = shape[d];
        const x = Float32Array.from(normals(r, n, 4));
        const bits = fmt === 'bfloat16' ? toBfloat16(x) : toFloat16(x);
        const xf = decoded(bits, fmt);
        const positionShape = shape.filter((_, i) => i !== d);
        const t = ints(r, n / C, C);
        t[3] = -100;
        const target = { data: t, shape: positionShape };
        const weight = Array.from(uniforms(r, C, 0.5, 1.5));
        const options = { dim, weight, labelSmoothing: 0.1, zLoss: 1e-3, returnLse: true, grad: true, reduction: 'none' } as const;
        const half = X.crossEntropy({ data: bits, shape, dtype: fmt }, target, options);
        const full = X.crossEntropy({ data: xf, shape }, target, options);
        same(half.loss, full.loss);
        same(half.grad, full.grad);
        same(half.lse, full.lse);
        const sdim = dim ?? 1;
        same(X.logSoftmax({ data: bits, shape, dtype: fmt }, { dim: sdim }), X.logSoftmax({ data: xf, shape }, { dim: sdim }));
        same(X.softmax({ data: bits, shape, dtype: fmt }, { dim: sdim }), X.softmax({ data: xf, shape }, { dim: sdim }));
        // tokenScores: every output, with a target and the top 3
        const hs = X.tokenScores({ data: bits, shape, dtype: fmt }, target, { dim: sdim, topK: 3 });
        const fs = X.tokenScores({ data: xf, shape }, target, { dim: sdim, topK: 3 });
        expect(hs.lse).toBeInstanceOf(Float32Array);
        for (const k of ['lse', 'entropy', 'argmax', 'logProb', 'rank', 'topKLogProbs', 'topKIndices'] as const) same(hs[k], fs[k]);
      });
    }
  }

  test('every finite float16 value through logSoftmax (rows of 8)', () => {
    const bits = Uint16Array.from({ length: 0x10000 }, (_, h) => h).filter((h) => (h & 0x7c00) !== 0x7c00);
    const shape = [bits.length / 8, 8];
    same(X.logSoftmax({ data: bits, shape, dtype: 'float16' }), X.logSoftmax({ data: decoded(bits, 'float16'), shape }));
  });

  test('probability targets and an out array', () => {
    const x = Float32Array.from(normals(r, 64 * 10, 2));
    const bits = toBfloat16(x);
    const p = Float32Array.from(uniforms(r, 640));
    const out = new Float32Array(640);
    const a = X.crossEntropy({ data: bits, shape: [64, 10], dtype: 'bfloat16' }, { data: p, shape: [64, 10] }, { out, reduction: 'sum' });
    const b = X.crossEntropy({ data: decoded(bits, 'bfloat16'), shape: [64, 10] }, { data: p, shape: [64, 10] }, { grad: true, reduction: 'sum' });
    expect(a.grad).toBe(out);
    expect(a.loss).toBe(b.loss);
    same(out, b.grad);
  });
});

// ------------------------------------------------------------------ Float16Array

describe('Float16Array (stubbed: Node 20 has none)', () => {
  const g = globalThis as { Float16Array?: unknown };
  const had = 'Float16Array' in g;
  const saved = g.Float16Array;
  // A stand-in with the native class's storage (16-bit elements holding float16 bits); the
  // library recognises it as the global Float16Array, as it will the engine's own.
  class Float16Array extends Uint16Array {}
  beforeAll(() => {
    g.Float16Array = Float16Array;
  });
  afterAll(() => {
    if (had) g.Float16Array = saved;
    else delete g.Float16Array;
  });

  test('is read as float16 bits, without a dtype', () => {
    const bits = toFloat16([1, 2, 3, 0.5, -1, 2]);
    const data = new Float16Array(bits.buffer as ArrayBuffer);
    const a = X.crossEntropy({ data: data as unknown as Uint16Array, shape: [2, 3], dtype: 'float16' }, [2, 0], { grad: true });
    const b = X.crossEntropy({ data, shape: [2, 3] } as never, [2, 0], { grad: true }) as X.LossResult<Float32Array>;
    expect(b.loss).toBe(a.loss);
    same(b.grad!, a.grad);
    same(X.softmax({ data, shape: [2, 3] } as never), X.softmax({ data: bits, shape: [2, 3], dtype: 'float16' }));
  });

  test("dtype 'bfloat16' on it is an error; as a target it is not read as class indices", () => {
    const data = new Float16Array(6);
    expect(() => X.crossEntropy({ data, shape: [2, 3], dtype: 'bfloat16' } as never, [0, 1])).toThrow(
      new TypeError('crossEntropy: input.data is a Float16Array, which holds float16, not bfloat16'));
    expect(() => X.nllLoss({ data: new Float32Array(6), shape: [2, 3] }, new Float16Array(2) as never)).toThrow(
      new TypeError('nllLoss: target must be a typed array or an array of numbers, got Float16Array'));
  });
});

// ------------------------------------------------------------------ types

test('result types: half input gives Float32Array results', () => {
  const input = { data: new Uint16Array(6), shape: [2, 3], dtype: 'bfloat16' as const };
  const { loss, grad, lse } = X.crossEntropy(input, [0, 1], { reduction: 'none', grad: true, returnLse: true });
  const arrays: Float32Array[] = [loss, grad, lse]; // compiles only when all three are Float32Array
  arrays.forEach((a) => expect(a).toBeInstanceOf(Float32Array));
  const y: Float32Array = X.logSoftmax(input);
  expect(y).toBeInstanceOf(Float32Array);
});

test('the torch.nn-style classes take half-precision logits', () => {
  const bits = toBfloat16(Float32Array.from([1, 2, 3, 0.5, -1, 2]));
  const input = { data: bits, shape: [2, 3], dtype: 'bfloat16' as const };
  const xf = { data: decoded(bits, 'bfloat16'), shape: [2, 3] };
  const a = new X.CrossEntropyLoss({ labelSmoothing: 0.1 }).forward(input, [2, 0], { grad: true });
  const b = X.crossEntropy(xf, [2, 0], { labelSmoothing: 0.1, grad: true });
  expect(a.loss).toBe(b.loss);
  same(a.grad!, b.grad);
  const y: Float32Array = new X.LogSoftmax({ dim: 1 }).forward(input);
  same(y, X.logSoftmax(xf, { dim: 1 }));
  same(new X.Softmax().forward(input), X.softmax(xf));
});
