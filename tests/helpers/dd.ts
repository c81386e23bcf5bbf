// Double-double arithmetic (a value is hi + lo with |lo| <= ulp(hi) / 2, ~106 bits), enough for a
// reference exp, log and log1p accurate to ~1e-30 relative, to measure float64 kernels in ulps.
// Error-free transformations: Knuth's two-sum, Dekker's split and two-product (JS has no fma).

export interface DD {
  hi: number;
  lo: number;
}

function quickTwoSum(a: number, b: number): DD {
  const s = a + b;
  return { hi: s, lo: b - (s - a) };
}

function twoSum(a: number, b: number): DD {
  const s = a + b;
  const bb = s - a;
  return { hi: s, lo: a - (s - bb) + (b - bb) };
}

const SPLITTER = 134217729; // 2^27 + 1

function twoProd(a: number, b: number): DD {
  const p = a * b;
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return { hi: p, lo: ah * bh - p + ah * bl + al * bh + al * bl };
}

function add(a: DD, b: DD): DD {
  const s = twoSum(a.hi, b.hi);
  const t = twoSum(a.lo, b.lo);
  const u = quickTwoSum(s.hi, s.lo + t.hi);
  return quickTwoSum(u.hi, u.lo + t.lo);
}

function mul(a: DD, b: DD): DD {
  const p = twoProd(a.hi, b.hi);
  return quickTwoSum(p.hi, p.lo + (a.hi * b.lo + a.lo * b.hi));
}

function divNumber(a: DD, b: number): DD {
  const q1 = a.hi / b;
  const p = twoProd(q1, b);
  const r = a.hi - p.hi - p.lo + a.lo;
  return quickTwoSum(q1, r / b);
}

const LN2: DD = { hi: 0.6931471805599453, lo: 2.3190468138462996e-17 };
const SQUARINGS = 10;

/** exp(x) for finite x in about [-745, 709], as hi + lo; `scale` is the power of two k with the
 *  value = (hi + lo) * 2^k kept apart, so subnormal results keep their full precision. */
export function expDD(x: number): { m: DD; k: number } {
  // |x| < 2^-60: exp(x) = 1 + x to ~2^-120 (dividing a tiny x by 2^SQUARINGS below would lose bits)
  if (Math.abs(x) < 2 ** -60) return { m: { hi: 1, lo: x }, k: 0 };
  const k = Math.round(x / LN2.hi);
  // r = x - k ln2, exact enough: k ln2 as a double-double product
  const kl = add(twoProd(k, LN2.hi), twoProd(k, LN2.lo));
  const r = add({ hi: x, lo: 0 }, { hi: -kl.hi, lo: -kl.lo });
  // exp(r) - 1 for r / 2^SQUARINGS by Taylor, then (1 + u)^2 - 1 = 2u + u^2, SQUARINGS times
  const s = { hi: r.hi / 2 ** SQUARINGS, lo: r.lo / 2 ** SQUARINGS };
  let term: DD = s;
  let u: DD = s;
  for (let n = 2; n <= 10; n++) {
    term = divNumber(mul(term, s), n);
    u = add(u, term);
  }
  for (let i = 0; i < SQUARINGS; i++) u = add({ hi: 2 * u.hi, lo: 2 * u.lo }, mul(u, u));
  return { m: add({ hi: 1, lo: 0 }, u), k };
}

/** log(x) for positive finite x: V8's Math.log (within 1 ulp) and one Newton step with expDD. */
export function logDD(x: number): DD {
  const y = Math.log(x);
  const { m, k } = expDD(y);
  // log(x) = y + log(x / exp(y)) ~ y + (x 2^-k - m) / m, with x 2^-k exact and close to m (Sterbenz)
  const half = Math.trunc(k / 2);
  const xs = x * 2 ** -half * 2 ** (half - k);
  return quickTwoSum(y, (xs - m.hi - m.lo) / m.hi);
}

/** log(1 + x) for x > -1 (same Newton step on 1 + x as a double-double). */
export function log1pDD(x: number): DD {
  const y = Math.log1p(x);
  const { m, k } = expDD(y);
  const onePlus = twoSum(2 ** -k, x * 2 ** -k);
  return quickTwoSum(y, (onePlus.hi - m.hi + (onePlus.lo - m.lo)) / m.hi);
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** The spacing of doubles at |v| (2^-1074 for subnormals). */
export function ulp64(v: number): number {
  f64[0] = Math.abs(v);
  const e = u32[1] >>> 20;
  return e === 0 ? 2 ** -1074 : 2 ** (e - 1075);
}

/** |y - (ref.hi + ref.lo) 2^k| in ulps of the exact value (subnormal spacing below 2^-1022). */
export function ulpError64(y: number, ref: DD, k = 0): number {
  if (!Number.isFinite(y) || !Number.isFinite(ref.hi)) return y === ref.hi ? 0 : Infinity;
  // compare at scale 2^-k (exact: y * 2^-k is normal), in two steps so 2^-k itself cannot overflow
  const half = Math.trunc(k / 2);
  const scaled = y * 2 ** -half * 2 ** (half - k);
  const unit = Math.max(ulp64(ref.hi), 2 ** (-1074 - k));
  return Math.abs(scaled - ref.hi - ref.lo) / unit;
}
