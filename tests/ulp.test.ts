// Accuracy of the element-wise maths the kernels inline, in ulps, as XNNPACK measures its own:
// exp (vector f32x4 / f64x2 and the scalar Mathf.exp / Math.exp of the scalar build, Math.exp rounded in the SIMD builds' vector
// tails), log1pV (softplus's log(1 + e), e in [0, 1]), log32V (BCE's and klDiv's float32 log),
// log64V (the NCHW path's f64 log) and logSumsV (its float32 form, from f64 sums), through
// the test-only module assembly/testing.ts.
//
// float32: EVERY float32 input of each function's domain (every negative float32 for exp, 2.14e9
//   patterns from -0 to -inf; every pattern in [0, 1] for log1p, 1.07e9), scanned inside the test
//   module against float64 NativeMath rounded to float32 (itself checked against V8's Math below),
//   plus every edge pattern below (NaNs included) from JS against V8's Math.exp / Math.log1p
//   rounded to float32. `npm test` scans every 7th pattern (ULP_STRIDE, default 7: 3e8 exp inputs,
//   half a minute); `npm run ulp` sets ULP_STRIDE=1, every input (about 3 minutes of one core).
//   The error is the distance between the two results' bit patterns in float order.
// float64: ULP_SAMPLES (default 2e5; `npm run ulp`: 2e6) seeded random inputs per function plus
//   the edges, against a double-double reference (tests/helpers/dd.ts), as a fraction of an ulp
//   of the exact value.
import { DD, expDD, log1pDD, logDD, ulpError64 } from './helpers/dd';
import { rng } from './helpers/random';
import { loadTesting, MapName, ScanName, TestingModule } from './helpers/testing-wasm';

const STRIDE = Number(process.env.ULP_STRIDE ?? 7);
const SAMPLES = Number(process.env.ULP_SAMPLES ?? 2e5);
const TIMEOUT = 900_000;

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

/** Every `stride`-th bit pattern in [lo, hi] (unsigned, inclusive, either order), scanned inside
 *  the module against float64 NativeMath rounded to float32 (fast enough for every input), and
 *  `edges`, through `name` from JS against `ref` (V8's Math) rounded to float32. */
function scan32(m: TestingModule, name: ScanName, ref: (x: number) => number, from: number, to: number, stride: number, edges: number[]): Scan {
  const lo = Math.min(from, to);
  const hi = Math.max(from, to);
  const result: Scan = { max: 0, at: NaN, count: 0 };
  const keep = (max: number, at: number, count: number) => {
    if (max > result.max) {
      result.max = max;
      result.at = at;
    }
    result.count += count;
  };
  // Calls of a few million inputs each: V8 optimises a wasm function between calls, not during one.
  const STEP = stride * (1 << 22);
  for (let b = lo; b <= hi; b += STEP) {
    const s = m.scan(name, b, Math.min(hi, b + STEP - 1), stride);
    keep(s.max, s.at, s.count);
  }
  const x = new Float32Array(edges);
  const y = new Float32Array(x.length);
  const yBits = new Uint32Array(y.buffer);
  const r = new Float32Array(x.map(ref));
  const rBits = new Uint32Array(r.buffer);
  m.map(name, x, y);
  const abs = Math.abs;
  for (let i = 0; i < x.length; i++) {
    let d: number;
    if (y[i] !== y[i] || r[i] !== r[i]) d = y[i] !== y[i] && r[i] !== r[i] ? 0 : Infinity;
    else d = abs(ordered(yBits[i]) - ordered(rBits[i]));
    keep(d, x[i], 1);
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

const LOG32_EDGES = [fromBits(1), 2 ** -149 * 3, 1e-40, 2 ** -126, 0.5, 1, Math.SQRT2, 2, 3.4e38].flatMap((v) => around(v)).filter((v) => v > 0 && v < Infinity);
const NEG_ZERO = 0x80000000;
const NEG_INF = 0xff800000;
const EXP_END = NEG_INF;
const ONE = 0x3f800000;
const POS_INF = 0x7f800000;

const cases32: { name: string; m: TestingModule; fn: ScanName; ref: (x: number) => number; from: number; to: number; edges: number[]; bound: number }[] = [
  { name: 'exp f32, vector (expV)', m: simd, fn: 'expV_f32', ref: Math.exp, from: NEG_ZERO, to: EXP_END, edges: [...EXP_EDGES], bound: 2 },
  // the fast variant (kernels where no subnormal exp can matter): normal results, 0 below the cutoff
  { name: 'exp f32, fast vector (subnormal results flushed)', m: simd, fn: 'expFastV_f32', ref: (x) => (x < -87.33654022216797 ? 0 : Math.exp(x)), from: NEG_ZERO, to: EXP_END, edges: [...EXP_EDGES], bound: 2 },
  { name: 'exp f32, scalar (Mathf.exp)', m: scalar, fn: 'exp_f32', ref: Math.exp, from: NEG_ZERO, to: EXP_END, edges: [...EXP_EDGES], bound: 1 },
  // the SIMD builds' scalar exp, which ends rows the vector exp does not: Math.exp rounded to f32
  { name: 'exp f32, scalar in the SIMD builds (Math.exp rounded)', m: simd, fn: 'exp_f32', ref: Math.exp, from: NEG_ZERO, to: EXP_END, edges: [...EXP_EDGES], bound: 1 },
  { name: 'log1p f32, vector (log1pV, e in [0, 1])', m: simd, fn: 'log1pV_f32', ref: Math.log1p, from: 0, to: ONE, edges: LOG1P_EDGES, bound: 2 },
  // BCE's log(x) and log(1 - x) and klDiv's t log t: every finite positive float32, subnormals included
  { name: 'log f32, vector (log32V, finite x > 0)', m: simd, fn: 'log32V_f32', ref: Math.log, from: 1, to: POS_INF - 1, edges: LOG32_EDGES, bound: 2 },
];

test('the float32 scans\' reference (float64 NativeMath rounded) agrees with V8\'s Math', () => {
  // 2 million patterns spread over each domain: the two float64 libraries may round differently
  // only next to a float32 rounding boundary, so at most 1 ulp, and rarely.
  const exp = Math.exp;
  const log1p = Math.log1p;
  for (const [name, lo, hi, f] of [['expV_f32', NEG_ZERO, NEG_INF, exp], ['log1pV_f32', 0, ONE, log1p]] as const) {
    const n = 2_000_000;
    const x = new Float32Array(new Uint32Array(n).map((_, i) => lo + Math.floor((i * (hi - lo)) / (n - 1))).buffer);
    const r = new Float32Array(n);
    simd.reference(name, x, r);
    const rBits = new Uint32Array(r.buffer);
    const v = new Float32Array(x.map(f));
    const vBits = new Uint32Array(v.buffer);
    let worst = 0;
    let differ = 0;
    for (let i = 0; i < n; i++) {
      const d = Math.abs(ordered(rBits[i]) - ordered(vBits[i]));
      if (d > 0) differ++;
      if (d > worst) worst = d;
    }
    report.push(`reference of ${name}: NativeMath vs V8 differ at ${differ} of ${n} patterns, by at most ${worst} ulp`);
    expect(worst).toBeLessThanOrEqual(1);
    expect(differ).toBeLessThan(n / 1e4);
  }
});

describe('float32: every input of the domain (every ULP_STRIDE-th with ULP_STRIDE set)', () => {
  test.each(cases32.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const s = scan32(c.m, c.fn, c.ref, c.from, c.to, STRIDE, c.edges);
    report.push(`${c.name}: max ${s.max} ulp at x = ${s.at} over ${s.count} inputs (bound ${c.bound})`);
    expect(s.max).toBeLessThanOrEqual(c.bound);
    expect(s.count).toBeGreaterThan(1e9 / STRIDE);
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
  // 1.45 ulp over the default 2e5 samples, 1.71 over `npm run ulp`'s 2e6: the vector form rounds 1 + e once more than fdlibm
  { name: 'log1p f64, vector (log1pV, e in [0, 1])', m: simd, fn: 'log1pV_f64', xs: LOG1P64, ref: log1pRef, bound: 2 },
  { name: 'log f64, vector (log64V, positive normal numbers)', m: simd, fn: 'log64V_f64', xs: LOG64, ref: logRef, bound: 1.5 },
];

describe('float64: seeded random samples and edges against a double-double reference', () => {
  test.each(cases64.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const s = sample64(c.m, c.fn, c.xs, c.ref);
    report.push(`${c.name}: max ${s.max.toFixed(3)} ulp at x = ${s.at} over ${s.count} inputs (bound ${c.bound})`);
    expect(s.max).toBeLessThanOrEqual(c.bound);
  }, TIMEOUT);
});

// logSumsV<f32>: the float32 column kernels' log of per-position sums of exps, which are
// accumulated in float64 and lie in [1, C] (or are NaN). Measured in float32 ulps of the exact
// log: a third of the samples just above 1 (near-converged positions, where the loss is log S),
// a third in [1, 2], a third log-uniform up to 2^31.
const r32s = rng(20261201);
const SUMS = (() => {
  const edges = [1, next64(1, 1), 1 + 2 ** -30, 1 + 2 ** -24, ...around64(Math.SQRT2, 3), 2, 3, 2 ** 31, NaN];
  const n = (SAMPLES + edges.length + 3) & ~3;
  const xs = new Float64Array(n).fill(1);
  for (let i = 0; i < SAMPLES; i++) {
    const u = r32s(), third = i % 3;
    xs[i] = third === 0 ? 1 + 2 ** (-60 * u) : third === 1 ? 1 + u : 2 ** (31 * u);
  }
  xs.set(edges, SAMPLES);
  return xs;
})();

test('log of float64 sums of exps as float32 (logSumsV, the float32 column kernels)', () => {
  const y = new Float64Array(SUMS.length);
  simd.map('logSumsV_f32', SUMS, y);
  let max = 0, at = NaN;
  for (let i = 0; i < SUMS.length; i++) {
    const x = SUMS[i];
    if (Number.isNaN(x)) {
      expect(y[i]).toBeNaN();
      continue;
    }
    expect(Math.fround(y[i])).toBe(y[i]); // a float32 value
    const exact = logDD(x).hi;
    const e = exact === 0 ? (y[i] === 0 ? 0 : Infinity) : Math.abs(y[i] - exact) / 2 ** (Math.floor(Math.log2(exact)) - 23);
    if (!(e <= max)) [max, at] = [e, x];
  }
  report.push(`log of f64 sums as f32 (logSumsV): max ${max.toFixed(3)} f32 ulp at x = ${at} over ${SUMS.length} inputs (bound 2)`);
  expect(max).toBeLessThanOrEqual(2);
});

// logRestV: focalColumns' log of S = k + R as float32, k the count of exps equal to 1 (the max's,
// and ties) and R the other exps, summed apart in float64; below sqrt(2) it takes log1p of R's own
// bits, which S = 1 + R rounded in float64 no longer holds below 2^-53 (a near-converged position's
// loss is about R). Measured in float32 ulps of log(k) + log1p(R / k) (float64; subnormal results
// in units of the smallest subnormal), over counts 1-64 and R log-uniform from 2^-149 to 60, plus R
// stepped through the sqrt(2) - 1 boundary where the form changes.
const r32r = rng(20261204);
const RESTS = (() => {
  const counts = [1, 1, 1, 2, 3, 5, 20, 64];
  const n = (SAMPLES + 7) & ~7;
  const xs = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    const k = counts[i % counts.length];
    const u = r32r();
    const R = i % 5 === 4 ? (Math.SQRT2 - 1) * (1 + (u - 0.5) * 2 ** -18) : 2 ** (-149 + u * (149 + Math.log2(60)));
    xs[2 * i] = k + R;
    xs[2 * i + 1] = R;
  }
  return xs;
})();

test('log of S = k + R from its parts as float32 (logRestV, focalLoss\'s float32 column kernel)', () => {
  const y = new Float64Array(RESTS.length);
  simd.map('logRestV_f32', RESTS, y);
  let max = 0, at = '', wide = 0;
  for (let i = 0; i < RESTS.length; i += 2) {
    const S = RESTS[i], R = RESTS[i + 1], k = Math.round(S - R);
    if (Math.fround(y[i]) !== y[i]) wide++; // (each a float32 value)
    const exact = Math.log(k) + Math.log1p(R / k);
    const e = Math.abs(y[i] - exact) / 2 ** (Math.max(Math.floor(Math.log2(exact)), -126) - 23);
    if (!(e <= max)) [max, at] = [e, `k = ${k}, R = ${R}`];
  }
  report.push(`log of k + R as f32 (logRestV): max ${max.toFixed(3)} f32 ulp at ${at} over ${RESTS.length / 2} inputs (bound 2)`);
  expect(wide).toBe(0);
  expect(max).toBeLessThanOrEqual(2);
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
