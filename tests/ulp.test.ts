// Accuracy of the element-wise maths the kernels inline, in ulps, as XNNPACK measures its own:
// exp (vector f32x4 / f64x2 and the scalar Mathf.exp / Math.exp of the scalar build and of vector
// tails), log1pV (softplus's log(1 + e), e in [0, 1]) and log64V (the NCHW path's f64 log), through
// the test-only module assembly/testing.ts.
//
// float32: every ULP_STRIDE-th float32 bit pattern of each function's domain (default 97, a dense
//   deterministic subset: 11.6 million exp inputs from -0 down to -104.7, where the vector exp's
//   floor makes every result 0, and 11 million log1p inputs), plus every edge pattern below,
//   against the correctly rounded result (float64 Math.exp / Math.log1p rounded to float32).
//   `npm run ulp` sets ULP_STRIDE=1: every input, every negative float32 for exp (2.1e9 each).
//   The error is the distance between the two results' bit patterns in float order.
// float64: ULP_SAMPLES (default 2e5; `npm run ulp`: 2e6) seeded random inputs per function plus
//   the edges, against a double-double reference (tests/helpers/dd.ts), as a fraction of an ulp
//   of the exact value.
import { DD, expDD, log1pDD, logDD, ulpError64 } from './helpers/dd';
import { rng } from './helpers/random';
import { loadTesting, MapName, TestingModule } from './helpers/testing-wasm';

const STRIDE = Number(process.env.ULP_STRIDE ?? 97);
const SAMPLES = Number(process.env.ULP_SAMPLES ?? 2e5);
const TIMEOUT = STRIDE === 1 ? 3_600_000 : 120_000;

// The WASM_XENT_BUILD=relaxed pass of `npm test` measures the vector maths of the relaxed-SIMD
// build (fused multiply-add where the engine fuses relaxed_madd) against the same bounds.
const RELAXED = process.env.WASM_XENT_BUILD === 'relaxed';
const simd = loadTesting(RELAXED ? 'relaxed' : 'simd');
const scalar = loadTesting('scalar');
const report: string[] = [];
afterAll(() => console.log(`ulp errors (${RELAXED ? 'relaxed-SIMD build, ' : ''}ULP_STRIDE=${STRIDE}, ULP_SAMPLES=${SAMPLES}):\n  ${report.join('\n  ')}`));

// ------------------------------------------------------------------ float32, bit pattern scans

const f32 = new Float32Array(1);
const f32Bits = new Uint32Array(f32.buffer);
const bitsOf = (x: number): number => ((f32[0] = x), f32Bits[0]);
const fromBits = (b: number): number => ((f32Bits[0] = b), f32[0]);

/** Position of a float32 bit pattern in float order (-0 and +0 both 0). */
const ordered = (b: number): number => (b < 0x80000000 ? b : 0x80000000 - b);

interface Scan {
  max: number;
  at: number;
  count: number;
}

/** Every `stride`-th bit pattern in [lo, hi] (unsigned, inclusive, either order) and `edges`,
 *  through `name` of module `m`, against `ref` rounded to float32. */
function scan32(m: TestingModule, name: MapName, ref: (x: number) => number, from: number, to: number, stride: number, edges: number[]): Scan {
  const CHUNK = 1 << 20;
  const lo = Math.min(from, to);
  const hi = Math.max(from, to);
  const xBits = new Uint32Array(CHUNK);
  const x = new Float32Array(xBits.buffer);
  const y = new Float32Array(CHUNK);
  const yBits = new Uint32Array(y.buffer);
  const r = new Float32Array(CHUNK);
  const rBits = new Uint32Array(r.buffer);
  const result: Scan = { max: 0, at: NaN, count: 0 };
  const run = (n: number) => {
    const xs = x.subarray(0, n);
    m.map(name, xs, y.subarray(0, n));
    for (let i = 0; i < n; i++) r[i] = ref(x[i]);
    for (let i = 0; i < n; i++) {
      let d: number;
      if (y[i] !== y[i] || r[i] !== r[i]) d = y[i] !== y[i] && r[i] !== r[i] ? 0 : Infinity;
      else d = Math.abs(ordered(yBits[i]) - ordered(rBits[i]));
      if (d > result.max) {
        result.max = d;
        result.at = x[i];
      }
    }
    result.count += n;
  };
  let b = lo;
  while (b <= hi) {
    let n = 0;
    for (; n < CHUNK && b <= hi; n++, b += stride) xBits[n] = b;
    run(n);
  }
  for (let i = 0; i < edges.length; i += CHUNK) {
    const part = edges.slice(i, i + CHUNK);
    x.set(part);
    run(part.length);
  }
  return result;
}

/** The patterns next to x (x itself and `k` steps either side in float order). */
function around(x: number, k = 3): number[] {
  const b = bitsOf(x);
  const out: number[] = [];
  for (let d = -k; d <= k; d++) {
    const nb = b + d;
    if (nb >= 0 && nb <= 0xffffffff) out.push(fromBits(nb));
  }
  return out;
}

const NAN_PATTERNS = [0x7fc00000, 0xffc00000, 0x7f800001, 0xffbfffff].map(fromBits);
// exp: -0 down to -inf (every negative float32; the results below x = -103.97 round to 0)
const EXP_EDGES = [
  0, -0, fromBits(0x80000001), -(2 ** -24), -(2 ** -12), -Math.LN2 / 2, -Math.LN2, -1, -10,
  ...around(-87.33654), ...around(-87.33655), ...around(-88.72284), ...around(-103.27893), ...around(-103.97208), ...around(-104),
  -150, -1e4, -3.4e38, -Infinity, ...NAN_PATTERNS,
  ...Array.from({ length: 130 }, (_, i) => -i * Math.LN2), // every power of two of the result
].flatMap((v) => around(v, 1));
const LOG1P_EDGES = [0, fromBits(1), 2 ** -126, 2 ** -24, Math.SQRT2 - 1, 0.5, 1].flatMap((v) => around(v)).filter((v) => v >= 0 && v <= 1);
const LOG_EDGES = [1, Math.SQRT2, Math.SQRT1_2 * 2, 2, 3, 1e6, 3.4e38, ...Array.from({ length: 128 }, (_, i) => 2 ** i)]
  .flatMap((v) => around(v))
  .filter((v) => v >= 1)
  .concat([Infinity, ...NAN_PATTERNS]);

const NEG_ZERO = 0x80000000;
const NEG_INF = 0xff800000;
// Below the vector exp's floor (-151 ln 2) every result is 0: the subset stops there and checks
// 10,000 patterns spread over the rest; ULP_STRIDE=1 scans all of it.
const EXP_END = STRIDE === 1 ? NEG_INF : bitsOf(-104.7);
const BELOW_FLOOR = STRIDE === 1 ? [] : Array.from({ length: 10000 }, (_, i) => fromBits(EXP_END + Math.floor((i * (NEG_INF - EXP_END)) / 9999)));
const ONE = 0x3f800000;
const POS_INF = 0x7f800000;

const cases32: { name: string; m: TestingModule; fn: MapName; ref: (x: number) => number; from: number; to: number; edges: number[]; bound: number }[] = [
  { name: 'exp f32, vector (expV)', m: simd, fn: 'expV_f32', ref: Math.exp, from: NEG_ZERO, to: EXP_END, edges: [...EXP_EDGES, ...BELOW_FLOOR], bound: 2 },
  // the fast variant (kernels where no subnormal exp can matter): normal results, 0 below the cutoff
  { name: 'exp f32, fast vector (subnormal results flushed)', m: simd, fn: 'expFastV_f32', ref: (x) => (x < -87.33654022216797 ? 0 : Math.exp(x)), from: NEG_ZERO, to: EXP_END, edges: [...EXP_EDGES, ...BELOW_FLOOR], bound: 2 },
  { name: 'exp f32, scalar (Mathf.exp)', m: scalar, fn: 'exp_f32', ref: Math.exp, from: NEG_ZERO, to: EXP_END, edges: [...EXP_EDGES, ...BELOW_FLOOR], bound: 1 },
  { name: 'log1p f32, vector (log1pV, e in [0, 1])', m: simd, fn: 'log1pV_f32', ref: Math.log1p, from: 0, to: ONE, edges: LOG1P_EDGES, bound: 2 },
];

describe('float32: every input of a dense bit-pattern subset (every input with ULP_STRIDE=1)', () => {
  test.each(cases32.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const s = scan32(c.m, c.fn, c.ref, c.from, c.to, STRIDE, c.edges);
    report.push(`${c.name}: max ${s.max} ulp at x = ${s.at} over ${s.count} inputs (bound ${c.bound})`);
    expect(s.max).toBeLessThanOrEqual(c.bound);
    expect(s.count).toBeGreaterThan(1e7 / STRIDE);
  }, TIMEOUT);
});

// ------------------------------------------------------------------ float64, sampled

interface Sampled {
  max: number;
  at: number;
  count: number;
}

function sample64(m: TestingModule, name: MapName, xs: Float64Array, ref: (x: number) => { v: DD; k: number } | null): Sampled {
  const y = new Float64Array(xs.length);
  m.map(name, xs, y);
  const result: Sampled = { max: 0, at: NaN, count: xs.length };
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    const r = ref(x);
    let e: number;
    if (r === null) e = Number.isNaN(y[i]) ? 0 : Infinity; // NaN expected
    else e = ulpError64(y[i], r.v, r.k);
    if (!(e <= result.max)) {
      result.max = e;
      result.at = x;
    }
  }
  return result;
}

const next64 = (x: number, k: number): number => {
  const a = new Float64Array([x]);
  const b = new BigInt64Array(a.buffer);
  b[0] += BigInt(k);
  return a[0];
};
const around64 = (x: number, k = 2) => Array.from({ length: 2 * k + 1 }, (_, i) => next64(x, i - k));

function inputs(r: () => number, draw: (u: number) => number, edges: number[]): Float64Array {
  const xs = new Float64Array(SAMPLES + edges.length);
  for (let i = 0; i < SAMPLES; i++) xs[i] = draw(r());
  xs.set(edges, SAMPLES);
  return xs;
}

const expRef = (x: number) => {
  if (Number.isNaN(x)) return null;
  if (x === -Infinity || x < -746) return { v: { hi: 0, lo: 0 }, k: 0 };
  const { m, k } = expDD(x);
  return { v: m, k };
};
const logRef = (x: number) => (Number.isNaN(x) ? null : x === Infinity ? { v: { hi: Infinity, lo: 0 }, k: 0 } : { v: logDD(x), k: 0 });
const log1pRef = (x: number) => ({ v: log1pDD(x), k: 0 });

const r64 = rng(20261130);
// exp: half uniform on [-745.2, 0], half log-uniform in |x| from 2^-60 to 745 (small arguments)
const EXP64 = inputs(r64, (u) => (u < 0.5 ? -745.2 * 2 * u : -(2 ** (-60 + (2 * u - 1) * 69.5))), [
  0, -0, -Number.MIN_VALUE, -1e-300, -(2 ** -53), -Math.LN2 / 2, -Math.LN2, -1, ...around64(-708.3964185322641), ...around64(-708.39641853226408),
  ...around64(-745.1332191019411), ...around64(-745.1332191019412), -746, -1e300, -Infinity, NaN,
  ...Array.from({ length: 1075 }, (_, i) => -i * Math.LN2),
]);
// log1p: e in [0, 1], half uniform, half log-uniform down to the smallest subnormal
const LOG1P64 = inputs(r64, (u) => (u < 0.5 ? 2 * u : 2 ** (-1074 * (2 * u - 1))), [0, Number.MIN_VALUE, 2 ** -1022, 2 ** -53, ...around64(Math.SQRT2 - 1, 3), 0.5, next64(1, -1), 1]);
// log: positive normal numbers, log-uniform over the whole range, plus the sums of exps' [1, 2^31]
const LOG64 = inputs(r64, (u) => (u < 0.5 ? 2 ** (-1022 + 2 * u * 2046) : 1 + (2 ** 31 - 1) * (2 * u - 1)), [
  2 ** -1022, 1, next64(1, 1), next64(1, -1), ...around64(Math.SQRT2), 2, Number.MAX_VALUE, Infinity, NaN,
  ...Array.from({ length: 2046 }, (_, i) => 2 ** (i - 1022)),
]);

const cases64: { name: string; m: TestingModule; fn: MapName; xs: Float64Array; ref: (x: number) => { v: DD; k: number } | null; bound: number }[] = [
  { name: 'exp f64, vector (expV)', m: simd, fn: 'expV_f64', xs: EXP64, ref: expRef, bound: 1 },
  { name: 'exp f64, fast vector (subnormal results flushed)', m: simd, fn: 'expFastV_f64', xs: EXP64, ref: (x) => (x < -708.3964185322641 ? { v: { hi: 0, lo: 0 }, k: 0 } : expRef(x)), bound: 1 },
  { name: 'exp f64, scalar (Math.exp)', m: scalar, fn: 'exp_f64', xs: EXP64, ref: expRef, bound: 1 },
  { name: 'log1p f64, vector (log1pV, e in [0, 1])', m: simd, fn: 'log1pV_f64', xs: LOG1P64, ref: log1pRef, bound: 1.5 },
  { name: 'log f64, vector (log64V, positive normal numbers)', m: simd, fn: 'log64V_f64', xs: LOG64, ref: logRef, bound: 1.5 },
];

describe('float64: seeded random samples and edges against a double-double reference', () => {
  test.each(cases64.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const s = sample64(c.m, c.fn, c.xs, c.ref);
    report.push(`${c.name}: max ${s.max.toFixed(3)} ulp at x = ${s.at} over ${s.count} inputs (bound ${c.bound})`);
    expect(s.max).toBeLessThanOrEqual(c.bound);
  }, TIMEOUT);
});

test('the double-double reference is itself right (exact values and V8 agreement)', () => {
  const e1 = expDD(1);
  expect(e1.m.hi * 2 ** e1.k).toBe(Math.E);
  const l2 = logDD(2);
  expect(l2.hi).toBe(Math.LN2);
  expect(Math.abs(l2.lo - 2.3190468138462996e-17)).toBeLessThan(1e-32);
  expect(log1pDD(1).hi).toBe(Math.LN2);
  const r = rng(7);
  for (let i = 0; i < 1000; i++) {
    const x = -700 * r();
    const { m, k } = expDD(x);
    expect(ulpError64(Math.exp(x), m, k)).toBeLessThan(1); // V8's exp is within 1 ulp
    const y = 1 + 1e6 * r();
    expect(ulpError64(Math.log(y), logDD(y))).toBeLessThan(1);
  }
  // the reference of log is consistent with that of exp: exp(log(y)) = y to ~1e-30
  const y = 12345.678;
  const l = logDD(y);
  const back = expDD(l.hi);
  expect(Math.abs(back.m.hi * 2 ** back.k * (1 + l.lo) - y) / y).toBeLessThan(1e-15);
});

test('the vector cases measure the build this pass is for (relaxed SIMD only with WASM_XENT_BUILD=relaxed)', () => {
  expect(simd.simd).toBe(true);
  expect(simd.relaxed).toBe(RELAXED);
  expect(scalar.simd).toBe(false);
});
