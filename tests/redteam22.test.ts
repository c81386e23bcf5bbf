// Red team 22 (a helper that did not write the code, on 9612e7d): the changes since 73ec5a5
// attacked from outside: crossEntropy's exact-one positions after overflowToZero's removal (S
// rounding to 1 with the other logits -inf or far below, exactOneGrad, e_c * a with a possibly
// inf, zHalving), probability targets' exact-one class with zLoss (crossEntropy and
// linearCrossEntropy), tokenScores' exact exp and log1p(R) entropy near the exp underflow
// threshold, and checkIntTargets' one-compare fast path.
//
// Oracle: PyTorch 1.13 (/usr/bin/python3) and mpmath. tests/redteam22/generate.py (adapted from
// red team 21's; numpy seed 22) writes tests/redteam22/cases.json: crossEntropy as torch autograd
// of F.cross_entropy(reduction='none') + zLoss * lse.pow(2) (masked at ignored positions; pow's
// backward forms the README's (g zLoss)(2 lse); no z term at zLoss 0), float64 on the call's
// inputs and, for float32 calls, also float32; linearCrossEntropy the same way; tokenScores
// entropies from 60-digit mpmath, lse / logProb from torch float64. tests/redteam22/run.ts runs a
// case and measures ulps (crossEntropy in units of the position's largest torch gradient,
// linearCrossEntropy of the output's largest entry, tokenScores of the value). Builds:
// WASM_XENT_BUILD=simd / scalar npx jest tests/redteam22.test.ts; node scripts/jest-relaxed.mjs
// tests/redteam22.test.ts.
//
// FINDINGS (describe 'FINDINGS'; expected values: mpmath's log1p((C-1) e^-37), asked within 50%,
// torch float64 being within 25%). Both fixed in the commit after the one that added this file:
// the scalar sums of exps (math.ts rowExpSum, which crossEntropy and the softmax family use, and
// crossEntropyProbs' probsRowSums) are compensated (Neumaier), and tokenScores' sums (its scalar
// loop and its column path) add the exps of 1 last (S = R + ones); all 1180 tests pass on simd,
// scalar and relaxed. (tests/redteam10.test.ts's float64 reference sums sequentially: its bound
// gained that sum's C eps.) Left: linearCrossEntropy's per-token sums (both builds) still start
// from whichever class comes first.
//  F1 scalar build, float64, rows: a confident row whose other exps are each below half an ulp
//     of 1 loses them all from S (one sequential sum starting at the max's 1), so S = 1 exactly
//     however many there are: row [2, -35 x (C-1)], target 0, C = 1000:
//       crossEntropy loss got 0, exact 8.5245e-14, torch float64 6.3949e-14 (SIMD build 8.3711e-14);
//       logSoftmax[0] got 0 (torch -6.39e-14); tokenScores logProb got 0, lse got 2 (torch
//       logsumexp 2.0000000000000835); the target's gradient 0 for exact -8.52e-14 (torch
//       -6.39e-14), and with labelSmoothing 0.1 0.0999 for 0.09989999999991478 (torch
//       0.09989999999993304, SIMD 0.09989999999991628): 6100 ulps of the position's largest
//       gradient. C = 100 / 4000 alike. Scalar build only (SIMD and relaxed fine on rows).
//  F2 tokenScores with the class dim not last ([1, C, 2], dim 1), float64, every build: the same
//     rows give lse exactly 2 (C = 1000: torch.logsumexp(x, 1) 2.0000000000000835, exact
//     2 + 8.52e-14). (crossEntropy and logSoftmax on those columns give 0 as torch's
//     cross_entropy / log_softmax do there: not asked.)
//
// OBSERVATIONS (no failing test):
//  O1 a zero class weight times an infinite gradOutput (per position, 'none'), with label
//     smoothing: float64 [6, -40.37, -40.74] (or [6, 5, 4]: not exact-one specific, both paths the
//     same), target 0, weight [0, 1, -0.75], labelSmoothing 0.1, gradOutput [inf]: got
//     [NaN, NaN, inf], torch [NaN, NaN, NaN] (inf * w_t = NaN in its nll gradient, then summed
//     everywhere). Also probability targets with a zero weight. Left out of 'held' (torch NaN
//     against library +-inf in weighted cases).
//  O2 where torch float64's own intermediate overflows at an exact-one position (g (1 - eps) w_t +
//     g eps w_t / C beyond the max, then -inf - (-inf)), torch gives NaN at j, the library inf (the
//     exact value, the z term 2 lse g overflowing): [13, 3] weights zl 1 eps 0.1 'sum' go 1.79e308.
//     Also left out of 'held' by the same rule.
//  O3 at exact-one positions torch float64 carries a rounding residue the README's exact-one
//     gradient does not: f64 [1, 33] [6, -40.37, ...], eps 0.1, 'sum', gradOutput 1e308: got
//     9.696969696969697e306 (= 1e308 * 0.1 * 32/33), torch 9.696969696969765e306 (55 ulps). The
//     'ce exact-one' / 'ce gap sweep' rows are held at 64 ulps for that.
//  O4 linearCrossEntropy float64, 300 tokens x 600 classes, probability targets, bias -inf but
//     class 3 (every token exact-one), zLoss 1e-2, eps 0.1, 'mean': gradWeight 110 ulps (of the
//     largest entry) from torch; torch itself is 58 ulps from a float80 reference
//     (gradBias[3]: got 0.548655325914361, float80 0.5486553259143717, torch 0.5486553259143685).
//     Held at 128 ulps (the chunked one: 45).
//  O5 tokenScores entropies that are themselves subnormal differ by less than the smallest normal
//     number (float32 [5, -100 x 9]: 0 for 2.4e-43; float64 4.1180e-316 for 4.1179e-316), as the
//     README allows.
//
// HELD (describe 'held', all three builds): cases.json within 8 ulps (crossEntropy; 64 at O3's
// rows), 32 (linearCrossEntropy), 16 (tokenScores): crossEntropy exact-one positions (other logits
// -inf or 20 (f32) / 40 (f64) below; a gap sweep 15..20 / 35..40 across the S = 1 threshold), C =
// 2, 3, 8, 16, 17, 33, [1, C] and [13, C] (short rows regrouped into SIMD columns), [1, C, N]
// columns, gradOutput 1, 1e20 / 1e150, near the type's max, negative, and per position with inf /
// -inf / NaN / 0 / -0, zLoss and / or labelSmoothing, weights with 0 and negative entries, w_t = 0
// and < 0 at the exact-one class, ignore_index, 'sum' / 'mean' / 'none'; probability targets at C
// = 1 (p 1 / 0.5 / 0, weights none / 2 / 0 / -0.5, eps 0 / 0.1, 'sum' / 'mean' / 'none' with inf /
// NaN / +-0 gradOutput) and at exact-one rows of C = 3, 17 (rows and columns); linearCrossEntropy
// probability targets at C = 1 and with -inf biases (weights, softcap, 'none' with specials),
// several chunks; tokenScores rows in the float32 / float64 exp underflow band (ties, -inf, C = 3,
// 10, 26, dim 1 of [1, C, N]). Class-index target validation for Int8 / Uint8 / Int16 / Uint16 /
// Int32 / Uint32 / BigInt64 / number[], crossEntropy and nllLoss: -100 and -1 ignored or named in
// a RangeError with value and position, C and C + 1, 2^31 - 1, -2^31, 2^32 - 100 (Uint32: not
// -100), Uint8 255 at C = 300, ignoreIndex a valid class and >= C ('none' zeros, 'mean' over the
// rest), empty and all-ignored targets, weighted means; setThreads(2) bit-identical to 1 thread
// (exact-one rows at specials, probability targets, linearCrossEntropy probs with a -inf bias and
// softcap); wasm memory flat over 1800 calls of these paths including target errors.
import * as fs from 'fs';
import * as path from 'path';
import * as X from '../src';
import { runCase, compare, Case } from './redteam22/run';
import { jsonNumber, expectSame } from './helpers/same';

jest.setTimeout(300000);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const CASES: Case[] = JSON.parse(fs.readFileSync(path.join(__dirname, 'redteam22', 'cases.json'), 'utf8'));

beforeAll(() => X.init());

/** Cross-entropy per position in float64 from the definition (an independent reference for the
 *  target-validation tests): -log softmax(x)[t]. */
function ceRef(x: number[], C: number, t: number): number {
  const m = Math.max(...x.slice(0, C));
  let s = 0;
  for (let c = 0; c < C; c++) s += Math.exp(x[c] - m);
  return m + Math.log(s) - x[t];
}

// ---------------------------------------------------------------- target validation
const KINDS: [string, Any, boolean][] = [
  ['Int8Array', Int8Array, true], ['Uint8Array', Uint8Array, false], ['Int16Array', Int16Array, true], ['Uint16Array', Uint16Array, false],
  ['Int32Array', Int32Array, true], ['Uint32Array', Uint32Array, false], ['BigInt64Array', BigInt64Array, true], ['number[]', null, true],
];
const mk = (K: Any, v: number[]) => (K === null ? v.slice() : K === BigInt64Array ? BigInt64Array.from(v.map((a) => BigInt(a))) : K.from(v));
const LOGITS = [0.5, -1, 2, 0.25, 1.5, -0.5, 3, 0, -2, 1, 1, 1, -0.75, 0.5, 2.5]; // [5, 3]
const C3 = 3;
const rowRef = (p: number, t: number) => ceRef(LOGITS.slice(3 * p, 3 * p + 3), C3, t);
/** 'mean' of the rows whose target is not ignored, and their count */
function meanRef(tg: number[], ignore: number): number {
  let s = 0;
  let n = 0;
  tg.forEach((t, p) => { if (t !== ignore) { s += rowRef(p, t); n++; } });
  return s / n;
}
type Call = 'crossEntropy' | 'nllLoss';
function lossOf(fn: Call, target: Any, ignoreIndex: number | undefined, reduction: 'mean' | 'sum' | 'none', N = 5): Any {
  const input = { data: Float64Array.from(LOGITS.slice(0, 3 * N)), shape: [N, 3] };
  const o: Any = { reduction };
  if (ignoreIndex !== undefined) o.ignoreIndex = ignoreIndex;
  if (fn === 'crossEntropy') return X.crossEntropy(input, { data: target, shape: [N] }, o).loss;
  // nllLoss on log-probabilities computed here
  const lp = new Float64Array(3 * N);
  for (let p = 0; p < N; p++) for (let c = 0; c < 3; c++) lp[3 * p + c] = -rowRef(p, c);
  return X.nllLoss({ data: lp, shape: [N, 3] }, { data: target, shape: [N] }, o).loss;
}
const errOf = (f: () => unknown): string => { try { f(); return 'no error'; } catch (e) { return `${(e as Error).constructor.name}: ${(e as Error).message}`; } };

describe('held', () => {
  // ---------------------------------------------------------------- cases.json (torch / mpmath)
  const TOL: Record<string, number> = { ce: 8, kl: 4, lce: 32, ts: 16 };
  const rows = CASES.filter((c) => !OBSERVED(c)).map((c) => [`${c.op} ${c.dtype} ${c.name}`, c] as [string, Case]);
  test.each(rows)('%s', (_n, c) => {
    const got = runCase(X, c);
    const isF32 = c.dtype === 'f32';
    const minNormal = isF32 ? 2 ** -126 : 2 ** -1022;
    const skip = skipped(c);
    for (const key of Object.keys(c.t64)) {
      const w = Array.isArray(c.t64[key]) ? (c.t64[key] as unknown[]) : [c.t64[key]];
      if (!got[key]) continue;
      for (let i = 0; i < got[key].length; i++) {
        const want = jsonNumber(w[i]);
        // README: final outputs below the smallest normal number may differ by less than it
        if (skip(key, i) || (Number.isFinite(want) && Math.abs(want) < minNormal && Math.abs(got[key][i] - want) < minNormal)) {
          got[key][i] = want;
          if (Array.isArray(c.t32?.[key])) (c.t32![key] as unknown[])[i] = want;
        }
      }
    }
    const worst = compare(c, got, c.op === 'lce' ? 'global' : 'elem').filter((x) => x.ulps > TOLERANCE(c, TOL));
    expect(worst).toEqual([]);
  });
});

/** Cases whose comparison is an observation (see the header), not a held row. */
function OBSERVED(_c: Case): boolean { return false; }
/** Elements left out of 'held' (observations in the header). */
function skipped(c: Case): (key: string, i: number) => boolean {
  // O1: inf gradOutput (or torch's own overflowing intermediate) times a zero class weight: torch
  // NaN, the library +-inf at some classes
  if (c.op === 'ce' && /weights|w_j|w \[|w -|w 0|w 2|w none/.test(c.name)) {
    const t = (Array.isArray(c.t64.grad) ? c.t64.grad : []) as unknown[];
    return (k, i) => k === 'grad' && Number.isNaN(jsonNumber(t[i]));
  }
  return () => false;
}
/** Tolerance in ulps: TOL per op; 64 where torch float64 carries the rounding residue that the
 *  README's exact-one gradient does not (O2); 128 for O3. */
function TOLERANCE(c: Case, TOL: Record<string, number>): number {
  if (c.op === 'ce' && (c.name.startsWith('ce exact-one') || c.name.startsWith('ce gap sweep'))) return 64;
  if (c.name.startsWith('lce probs many tokens')) return 128;
  return TOL[c.op];
}

describe('held: class-index target validation (checkIntTargets fast path)', () => {
  const tg = [0, 2, 1, 2, 0];
  for (const fn of ['crossEntropy', 'nllLoss'] as Call[]) {
    describe(fn, () => {
      test.each(KINDS)('%s valid targets: mean, sum = float64 reference', (_k, K) => {
        expect(Math.abs(lossOf(fn, mk(K, tg), undefined, 'mean') - meanRef(tg, -100))).toBeLessThan(1e-15);
        expect(Math.abs(lossOf(fn, mk(K, tg), -1, 'sum') - tg.reduce((s, t, p) => s + rowRef(p, t), 0))).toBeLessThan(1e-14);
      });
      test.each(KINDS.filter((k) => k[2]))('%s -100 ignored by default; mean over the rest', (_k, K) => {
        const t = [0, -100, 1, 2, -100];
        expect(Math.abs(lossOf(fn, mk(K, t), undefined, 'mean') - meanRef(t, -100))).toBeLessThan(1e-15);
      });
      test.each(KINDS.filter((k) => k[2]))('%s ignoreIndex -1, targets -1 ignored; -100 then out of bounds', (_k, K) => {
        const t = [0, -1, 1, 2, -1];
        expect(Math.abs(lossOf(fn, mk(K, t), -1, 'mean') - meanRef(t, -1))).toBeLessThan(1e-15);
        expect(errOf(() => lossOf(fn, mk(K, [0, -1, 1, -100, 2]), -1, 'mean'))).toMatch(/RangeError: \w+: Target -100 is out of bounds\. \(at position \[3\]; classes are 0\.\.2, ignoreIndex -1\)/);
      });
      test.each(KINDS.filter((k) => k[2]))('%s -1 with the default ignoreIndex: RangeError naming -1 and its position', (_k, K) => {
        expect(errOf(() => lossOf(fn, mk(K, [0, 1, -1, 2, 0]), undefined, 'mean'))).toMatch(/RangeError: \w+: Target -1 is out of bounds\. \(at position \[2\]; classes are 0\.\.2, ignoreIndex -100\)/);
      });
      test.each(KINDS)('%s C and C+1: RangeError naming the value and its position', (_k, K) => {
        for (const ii of [undefined, -1, 1, 7]) {
          expect(errOf(() => lossOf(fn, mk(K, [0, 1, 2, 3, 0]), ii, 'mean'))).toMatch(/RangeError: \w+: Target 3 is out of bounds\. \(at position \[3\]/);
          expect(errOf(() => lossOf(fn, mk(K, [4, 1, 2, 1, 0]), ii, 'sum'))).toMatch(/RangeError: \w+: Target 4 is out of bounds\. \(at position \[0\]/);
        }
      });
      test.each(KINDS)('%s ignoreIndex a valid class (1): those positions ignored', (_k, K) => {
        const t = [0, 1, 1, 2, 0];
        expect(Math.abs(lossOf(fn, mk(K, t), 1, 'mean') - meanRef(t, 1))).toBeLessThan(1e-15);
        const none = Array.from(lossOf(fn, mk(K, t), 1, 'none') as Float64Array);
        expect(none.map((v, p) => (t[p] === 1 ? v === 0 : Math.abs(v - rowRef(p, t[p])) < 1e-15))).toEqual([true, true, true, true, true]);
      });
      test.each(KINDS)('%s ignoreIndex >= C (7): targets 7 ignored, 3 out of bounds', (_k, K) => {
        const t = [0, 7, 1, 7, 2];
        expect(Math.abs(lossOf(fn, mk(K, t), 7, 'mean') - meanRef(t, 7))).toBeLessThan(1e-15);
        const none = Array.from(lossOf(fn, mk(K, t), 7, 'none') as Float64Array);
        expect(none.map((v, p) => (t[p] === 7 ? v === 0 : Math.abs(v - rowRef(p, t[p])) < 1e-15))).toEqual([true, true, true, true, true]);
      });
      test.each(KINDS.filter((k) => k[0] === 'Int32Array' || k[0] === 'BigInt64Array' || k[0] === 'number[]'))('%s 2^31-1, -2^31: RangeError naming the value', (_k, K) => {
        expect(errOf(() => lossOf(fn, mk(K, [0, 2147483647, 1, 2, 0]), undefined, 'mean'))).toMatch(/RangeError: \w+: Target 2147483647 is out of bounds\. \(at position \[1\]/);
        expect(errOf(() => lossOf(fn, mk(K, [0, 1, 1, 2, -2147483648]), undefined, 'mean'))).toMatch(/RangeError: \w+: Target -2147483648 is out of bounds\. \(at position \[4\]/);
        expect(errOf(() => lossOf(fn, mk(K, [0, 1, 1, 2, -2147483648]), -1, 'mean'))).toMatch(/RangeError: \w+: Target -2147483648 is out of bounds\. \(at position \[4\]/);
      });
      test('Uint32Array 2^32-100 is not ignore_index -100: RangeError naming 4294967196', () => {
        expect(errOf(() => lossOf(fn, Uint32Array.from([0, 4294967196, 1, 2, 0]), undefined, 'mean'))).toMatch(/RangeError: \w+: Target 4294967196 is out of bounds\. \(at position \[1\]/);
        expect(errOf(() => lossOf(fn, Uint32Array.from([0, 4294967295, 1, 2, 0]), -1, 'mean'))).toMatch(/RangeError: \w+: Target 4294967295 is out of bounds\. \(at position \[1\]/);
      });
      test('Uint8Array 255 is a class at C = 300 (no sign wrap); Int8Array 255 is -1', () => {
        const C = 300;
        const x = Float64Array.from({ length: 2 * C }, (_, i) => Math.sin(i));
        const ref = (ceRef(Array.from(x.slice(0, C)), C, 255) + ceRef(Array.from(x.slice(C)), C, 7)) / 2;
        const input = { data: x, shape: [2, C] };
        expect(Math.abs(X.crossEntropy(input, { data: Uint8Array.from([255, 7]), shape: [2] }).loss - ref)).toBeLessThan(1e-14);
        expect(Math.abs(X.crossEntropy(input, { data: Uint16Array.from([255, 7]), shape: [2] }).loss - ref)).toBeLessThan(1e-14);
        expect(errOf(() => X.crossEntropy(input, { data: Int8Array.from([-1, 7]), shape: [2] }))).toMatch(/Target -1 is out of bounds\. \(at position \[0\]/);
      });
      test.each(KINDS)('%s empty targets [0]: mean NaN, sum 0', (_k, K) => {
        expect(lossOf(fn, mk(K, []), undefined, 'mean', 0)).toBeNaN();
        expect(lossOf(fn, mk(K, []), undefined, 'sum', 0)).toBe(0);
      });
      test.each(KINDS.filter((k) => k[2]))('%s all positions ignored: mean NaN, sum 0', (_k, K) => {
        expect(lossOf(fn, mk(K, [-100, -100, -100, -100, -100]), undefined, 'mean')).toBeNaN();
        expect(lossOf(fn, mk(K, [-1, -1, -1, -1, -1]), -1, 'sum')).toBe(0);
      });
    });
  }
  test('class weights with the fast path\'s ignoreIndex (weighted mean = sum w_t l / sum w_t)', () => {
    const w = [0.5, 2, -0.25];
    const t = [0, -100, 1, 2, 2];
    let s = 0; let d = 0;
    t.forEach((c, p) => { if (c >= 0) { s += w[c] * rowRef(p, c); d += w[c]; } });
    for (const K of [Int8Array, Int16Array, Int32Array]) {
      const r = X.crossEntropy({ data: Float64Array.from(LOGITS), shape: [5, 3] }, { data: (K as Any).from(t), shape: [5] }, { weight: Float64Array.from(w) }).loss;
      expect(Math.abs(r - s / d)).toBeLessThan(1e-14);
    }
  });
  test('a target array reused after an error is read again, not cached (Int32Array)', () => {
    const t = Int32Array.from([0, 5, 1, 2, 0]);
    expect(errOf(() => lossOf('crossEntropy', t, undefined, 'mean'))).toMatch(/Target 5/);
    t[1] = 1;
    expect(Math.abs(lossOf('crossEntropy', t, undefined, 'mean') - meanRef([0, 1, 1, 2, 0], -100))).toBeLessThan(1e-15);
  });
});

describe('FINDINGS', () => {
  // row [2, -35 x (C-1)]: each exp(-37) = 8.5e-17 is below half an ulp of 1, so 1 + e + e + ...
  // in one float64 accumulator stays 1; the exact S is 1 + (C-1) e^-37 and the exact loss / -logProb
  // / lse - 2 is log1p((C-1) e^-37) (mpmath). Asked: within half of the exact value (torch float64's
  // vectorised sums are within 25%; the SIMD build's row path within 2%).
  const EXACT: [number, number][] = [[100, 8.44771714948659e-15], [1000, 8.524514578117958e-14], [4000, 3.41236574553447e-13]];
  const close = (got: number, want: number) => Math.abs(got - want) <= 0.5 * Math.abs(want);
  const far = (C: number) => [2, ...Array(C - 1).fill(2 - 37)];
  describe('F1 scalar build, float64 rows: far-below exps vanish from S (one sequential sum from 1): loss, logSoftmax, tokenScores logProb / lse exactly 0 / m', () => {
    // torch float64 (C = 1000): cross_entropy 6.39e-14, log_softmax[t] -6.39e-14, logsumexp - 2
    // 8.35e-14; SIMD / relaxed builds 8.37e-14, 8.30e-14; scalar build 0 for all (and 0 for the
    // target's gradient, -8.4e-14 exactly).
    test.each(EXACT)('C = %d', (C, exact) => {
      const x = { data: Float64Array.from(far(C)), shape: [1, C] };
      const ce = X.crossEntropy(x, { data: Int32Array.from([0]), shape: [1] }, { reduction: 'sum' }).loss as number;
      const ls = (X.logSoftmax(x, { dim: 1 }) as Any) as Float64Array;
      const ts = X.tokenScores(x, { data: Int32Array.from([0]), shape: [1] });
      const got = { ce, logSoftmax: -(ls as Any)[0], tsLogProb: -ts.logProb[0], tsLse: ts.lse[0] - 2 };
      const ok = Object.fromEntries(Object.entries(got).map(([k, v]) => [k, close(v, exact)]));
      expect({ got, ok }).toEqual({ got, ok: Object.fromEntries(Object.keys(got).map((k) => [k, true])) });
    });
  });
  describe('F2 tokenScores with the class dim not last ([1, C, 2], dim 1), float64: lse - m exactly 0 on every build', () => {
    // the column path sums each position's exps sequentially; torch.logsumexp(x, 1) - 2 gives
    // 7.1e-15 / 8.35e-14 / 3.39e-13 (C = 100 / 1000 / 4000). (crossEntropy and logSoftmax on the
    // same columns give 0, as torch's cross_entropy and log_softmax do there: an observation.)
    test.each(EXACT)('C = %d', (C, exact) => {
      const cols = { data: Float64Array.from(far(C).flatMap((v) => [v, v])), shape: [1, C, 2] };
      const ts = X.tokenScores(cols, { data: Int32Array.from([0, 0]), shape: [1, 2] }, { dim: 1 });
      const got = { lse0: ts.lse[0] - 2, lse1: ts.lse[1] - 2 };
      expect({ got, ok: [close(got.lse0, exact), close(got.lse1, exact)] }).toEqual({ got, ok: [true, true] });
    });
  });
});

describe('held: setThreads(2) gives the bits of 1 thread (exact-one rows, probability targets, linearCrossEntropy probs)', () => {
  type FT = typeof Float32Array | typeof Float64Array;
  const gen = (T: FT, k: number, f: (i: number) => number) => T.from(Array.from({ length: k }, (_, i) => f(i)));
  const mkCalls = (T: FT) => {
    let seed = 22;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed / 2147483648);
    const far = T === Float32Array ? -20 : -40;
    const big = T === Float32Array ? [3.4e38, -3e38] : [1.79e308, -1.5e308];
    const calls: [string, () => Any][] = [];
    const N = 2500;
    for (const C of [3, 16, 17]) {
      const x = gen(T, N * C, (i) => (i % C === (Math.floor(i / C) % C) ? 6 : (Math.floor(i / C) % 4 === 3 ? -Infinity : far - rnd())));
      const tg = Int32Array.from({ length: N }, (_, i) => (i % 13 === 0 ? -100 : (i * 7) % C));
      const go = gen(T, N, (i) => [1, big[0], big[1], Infinity, 0, -0, NaN][i % 7]);
      const w = gen(T, C, (c) => (c === 0 ? 0 : c === 2 ? -0.75 : 1 + c / 10));
      const p = gen(T, N * C, () => rnd() / C);
      calls.push([`ce exact-one [${N},${C}] none`, () => X.crossEntropy({ data: x, shape: [N, C] }, tg, { zLoss: 1, labelSmoothing: 0.1, weight: w, reduction: 'none', gradOutput: go, grad: true, returnLse: true })]);
      calls.push([`ce exact-one [${N},${C}] sum big`, () => X.crossEntropy({ data: x, shape: [N, C] }, tg, { zLoss: 1, labelSmoothing: 0.1, reduction: 'sum', gradOutput: big[0], grad: true })]);
      calls.push([`ce exact-one [10,${C},250] none`, () => X.crossEntropy({ data: x, shape: [10, C, 250] }, { data: tg, shape: [10, 250] }, { zLoss: 1, labelSmoothing: 0.1, reduction: 'none', gradOutput: go, grad: true })]);
      calls.push([`ce probs exact-one [${N},${C}] none`, () => X.crossEntropy({ data: x, shape: [N, C] }, { data: p, shape: [N, C] }, { zLoss: 1e-3, labelSmoothing: 0.1, weight: w, reduction: 'none', gradOutput: go, grad: true })]);
      calls.push([`tokenScores [${N},${C}]`, () => X.tokenScores({ data: x, shape: [N, C] }, tg, { topK: 2 })]);
    }
    const [LN, D, LC] = [1200, 4, 2500];
    const lx = gen(T, LN * D, () => rnd() - 0.5), lw = gen(T, LC * D, () => rnd() - 0.5);
    const lb = gen(T, LC, (c) => (c === 3 ? 0 : -Infinity));
    const lp = gen(T, LN * LC, (i) => (i % LC === 3 ? 0.5 : i % LC === (Math.floor(i / LC) * 17) % LC ? 0.5 : 0));
    calls.push(['linearCrossEntropy probs, bias -inf but one', () => X.linearCrossEntropy({ data: lx, shape: [LN, D] }, { data: lw, shape: [LC, D] }, { data: lp, shape: [LN, LC] },
      { linearBias: lb, zLoss: 1e-3, labelSmoothing: 0.1, reduction: 'mean', grad: true, returnLse: true, softcap: 5 })]);
    return calls;
  };
  for (const T of [Float32Array, Float64Array]) {
    test(`${T.name}`, async () => {
      const calls = mkCalls(T);
      await X.setThreads(1);
      const one = calls.map(([, f]) => f());
      try {
        await X.setThreads(2);
        calls.forEach(([name, f], i) => expectSame(name, f(), one[i]));
      } finally {
        await X.setThreads(1);
      }
    });
  }
});

describe('held: wasm memory flat over repeated calls of these paths', () => {
  test('crossEntropy exact-one (rows, columns, probs), tokenScores, linearCrossEntropy probs, target errors: no growth after warm-up', () => {
    const T = Float64Array;
    const x = T.from({ length: 40 * 17 }, (_, i) => (i % 17 === 0 ? 6 : -40));
    const calls = [
      () => X.crossEntropy({ data: x, shape: [40, 17] }, Int32Array.from({ length: 40 }, (_, i) => i % 17), { zLoss: 1, labelSmoothing: 0.1, gradOutput: 1.79e308, reduction: 'sum', grad: true }),
      () => X.crossEntropy({ data: x, shape: [2, 17, 20] }, { data: new Int32Array(40), shape: [2, 20] }, { zLoss: 1, reduction: 'none', grad: true }),
      () => X.crossEntropy({ data: x, shape: [40, 17] }, { data: T.from({ length: 680 }, () => 1 / 17), shape: [40, 17] }, { zLoss: 1e-3, grad: true }),
      () => X.tokenScores({ data: x, shape: [40, 17] }, Int32Array.from({ length: 40 }, (_, i) => i % 17), { topK: 3 }),
      () => X.linearCrossEntropy({ data: T.from([1, 2, 3, 4]), shape: [2, 2] }, { data: T.from([1, 0, 0, 1, 1, 1]), shape: [3, 2] }, { data: T.from([1, 0, 0, 0.5, 0.5, 0]), shape: [2, 3] },
        { linearBias: T.from([0, -Infinity, -Infinity]), zLoss: 1e-3, grad: true, returnLse: true }),
      () => { try { X.crossEntropy({ data: x, shape: [40, 17] }, Int8Array.from({ length: 40 }, (_, i) => (i === 39 ? 17 : 0))); } catch { /* RangeError */ } },
    ];
    for (let r = 0; r < 20; r++) calls.forEach((f) => f());
    const before = X.wasmMemoryBytes();
    for (let r = 0; r < 300; r++) calls.forEach((f) => f());
    expect(X.wasmMemoryBytes()).toBe(before);
  });
});
