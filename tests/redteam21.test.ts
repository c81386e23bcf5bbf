// Red team 21 (a helper that did not write the code, on be5215b): the session's changes attacked
// from outside: crossEntropy's z-loss at a gradOutput near the type's max (zHalving / rowDouble /
// halvedLanes: row loop, column kernels, [N, C <= 16] regrouped, probability targets), klDiv's
// float32 lanes in f64, linearCrossEntropy's exact-one gradients and +-inf lse, tokenScores'
// log1p(R) entropy; float32 and float64; 'none' / 'sum' / 'mean' (/ 'batchmean'); weights (0,
// negative), ignore_index, label smoothing, softcap, probability targets, -inf / NaN / +inf logits,
// subnormal exps, setThreads(2) against 1 thread.
//
// Oracle: PyTorch 1.13 (/usr/bin/python3) and mpmath. tests/redteam21/generate.py writes
// tests/redteam21/cases.json (numpy seed 21): crossEntropy as torch autograd of
// F.cross_entropy(reduction='none') + zLoss * logsumexp^2 (masked at ignored positions, 'mean' by
// count, as the README defines it), in float64 on the call's inputs and, for float32 calls, also in
// float32; klDiv / linearCrossEntropy the same way; tokenScores entropies from 60-digit mpmath with
// log S = log1p(R) (60 digits cannot hold 1 + 1e-300), lse / logProb from torch float64.
// tests/redteam21/run.ts runs a case and measures ulps in the call's type, in units of the
// position's largest torch gradient (crossEntropy), of the cancelling terms |t log t|, |t x|
// (klDiv), of the output's largest value (linearCrossEntropy), or of the value (tokenScores; lse in
// units of 1, the size of log S's terms). Builds: WASM_XENT_BUILD=simd / scalar npx jest
// tests/redteam21.test.ts; node scripts/jest-relaxed.mjs tests/redteam21.test.ts.
//
// FINDINGS (describe 'FINDINGS', each test fails on be5215b on the builds named; all three fixed in
// the commit after the one that added this file, and pass on simd, scalar and relaxed):
//  - F1: overflowToZero is gone (assembly/cross_entropy.ts): zHalving already keeps finite what
//    PyTorch keeps finite, so where a overflows T even halved, e_c a is PyTorch's inf (NaN at e_c 0,
//    the observation below included);
//  - F2: crossEntropyProbs and linearCrossEntropy (exactOneClasses / exactOneGrads) give a class
//    whose softmax is exactly 1 k (P - w_j p'_j) + the z term; two tests were loosened with reasons
//    (the float32 one now asks torch float32 within 1 ulp and torch float64 rounded once exactly;
//    the linearCrossEntropy ones 32 ulps, the held rows' bound, for 4);
//  - F3: tokenScores sums its exps with the exact exp (gradual underflow) in both paths.
//  F1 crossEntropy zLoss at a position whose softmax is exactly 1 (S = 1: other logits -inf or far
//     below) where the z factor (g zLoss)(2 lse) itself overflows the type: overflowToZero makes the
//     whole exps' factor 0, so every other class's gradient loses its z share p_c (g zLoss)(2 lse)
//     and comes back 0 (or the smoothing term alone), where PyTorch gives +-inf (its z gradient is
//     inf * p_c) and the exact value is a large finite number. README (Numerics): "z-loss's
//     (g zLoss)(2 lse)" in PyTorch's order; "the other classes keep their share p_c sum(g)".
//     Every build, rows and class-dim-not-last columns, 'none' and 'sum':
//       float64 [1, 3] [5, -40, -40], target [0], zLoss 1, 'sum', gradOutput 1.79e308:
//         got [inf, 0, 0], torch float64 [inf, inf, inf] (exact: [inf, 5.2e289, 5.2e289]);
//         labelSmoothing 0.1: got [inf, -5.97e306, -5.97e306], torch [inf, inf, inf];
//       float32 [1, 3] [5, -40, -40], gradOutput 3.4e38: got [inf, 0, 0], torch float32
//         [inf, inf, inf], torch float64 on the float32 inputs [inf, 1.0706e20, 1.0706e20];
//       float32 [60, 1, 2]: got [inf, 0, 0], torch float64 [inf, 9.79e14, 2.66e15] (float32: inf).
//     (Where S != 1 the same overflowing factor gives inf, torch float32's answer: [5, -13, -13]
//     float64 gives [inf, inf, inf].)
//  F2 crossEntropy with probability targets where the softmax is exactly 1 (C = 1), with zLoss: the
//     gradient carries the rounding residue of (k mass + z factor) - k p, not PyTorch's exact z
//     gradient (README Numerics: "its gradient with label smoothing or z-loss is PyTorch's
//     -sum_{c != j} g_c (exactly 0 where those terms are), not a rounding residue"; class-index
//     targets get it). Every build:
//       float64 input [[1.1875], [0.5], [1.5]], probabilities [[1], [1], [1]], zLoss 1e-3, 'sum':
//         got [0.002375000000000016, 0.0009999999999998899, 0.0029999999999998916],
//         torch [0.002375, 0.001, 0.003] (the same with probabilities 0.5; class indices [0, 0, 0]
//         give torch's bits). float32: got 0.0023749999 for torch's 0.0023750002 (2 ulps).
//     linearCrossEntropy with probability targets at C = 1 (it forwards to the same kernel shape):
//       'lce C=1 zl 1e-3 probs sum' float64: gradBias got 0.0043470931894710185, torch
//       0.0043470931894709205 (113 ulps); gradInput 110 ulps of the largest.
//  F3 tokenScores entropy drops exps in the subnormal band on the SIMD and relaxed builds (their
//     flushing exp), where those terms carry a normal entropy. README Numerics: "Gradual
//     underflow, as in PyTorch. exp results below the smallest normal number are subnormal, not 0,
//     in both builds ... Only final outputs that are themselves below the smallest normal number
//     ... come back as 0"; tokenScores: a confident prediction keeps its relative accuracy. The
//     scalar build is right. Rows and the class-dim-not-last column path:
//       float32 [1, 9] [0, -88, -89, ..., -95]: got 5.300271311462188e-40, exact
//         8.577240533531542e-37 (torch float32 entr sum 8.48e-37, scalar build 8.5772407e-37);
//       float32 [1, 4] [0, -88, -89, -90]: got 0, exact 8.138878041306361e-37;
//       float64 [1, 9] [0, -709, ..., -716]: got 7.955548229522967e-309, exact 1.3673485934338547e-305;
//       float64 [1, 4] [0, -700, -710, -720]: got 6.911633257175599e-302, exact
//         6.911951535778629e-302 (4.6e-5 relative: 710 e^-710 is subnormal).
//
// OBSERVATIONS (no failing test):
//  - tokenScores lse near 0 (rows [0, -25 x 3]): 4.166378353345016e-11 against torch float64
//    4.166400557805508e-11, one ulp of S = 1 + 4e-11 (the order of the sum; torch's vectorised sum
//    happens to round less). The README promises PyTorch's formula, not its bits.
//  - tokenScores float64 entropy of tie rows with many small exps ([0, 0, -30, -30, -35 x 13]):
//    10 ulps (0.6931471805629926 for 0.6931471805629937): S = 2 + 6e-12 summed naively in f64.
//  - klDiv float32 'sum' of targets near 3e38 returns 1.26e41 (float64 accumulation, as the README
//    says) where torch float32 (and float64 rounded to float32) give inf.
//  - crossEntropy float64 at an exact-one row with a -inf logit (or one whose exp is exactly 0,
//    [1e300, 0, 0]) and an overflowing z factor: torch gives NaN (inf * 0) at that class, the
//    library 0 (README: a -inf logit gets an exact 0).
//  - linearCrossEntropy accumulate: true adds the GEMMs' k-block sums onto the given arrays: twice
//    into zeros is within 15 ulps (of the largest entry) of twice a fresh call in float64, not its
//    bits; once into zeros is the fresh call's bits.
//
// HELD (describe 'held'): every other row of cases.json within TOL ulps on all three builds:
// zLoss at gradOutput 1e38..3.4e38 (float32) and 1e307..1.79e308 (float64), both signs, [11, C]
// for C = 3, 5, 16, 17, 40, [2, C, H] column layouts, 'sum' / 'mean' / 'none' with per-position
// gradOutput mixing huge and ordinary values, weights with 0 and negative entries, ignored
// positions, label smoothing, probability targets, ties, +inf / NaN / all -inf rows, true
// gradients that overflow (inf as torch); klDiv targets 0 / subnormal / 1e30..3.4e38 / +inf / NaN
// / negative, x = +-inf / NaN, logTarget, every reduction, lengths 5 / 7 / 13 / 33, near-converged
// inputs; linearCrossEntropy exact-one tokens (C = 1, -inf and far-below biases, zero and negative
// class weights at j and the target, ignored tokens, softcap, 'mean' with weights summing to 0,
// gradOutput inf / NaN per token), 1500 tokens x 3000 classes over several chunks, +-inf lse;
// tokenScores confident rows (ties, a non-max exp rounding to 1, -inf / +inf / NaN, C = 1, dim 1 of
// [1, C, N]); setThreads(2) bit-identical to 1 thread; accumulate: true; out* overlaps RangeError.
import * as fs from 'fs';
import * as path from 'path';
import * as X from '../src';
import { runCase, compare, Case } from './redteam21/run';
import { ulps, jsonNumber, expectSame } from './helpers/same';

jest.setTimeout(300000);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const CASES: Case[] = JSON.parse(fs.readFileSync(path.join(__dirname, 'redteam21', 'cases.json'), 'utf8'));
const byName = (name: string, dtype: 'f32' | 'f64') => {
  const c = CASES.find((k) => k.name === name && k.dtype === dtype);
  if (!c) throw new Error(`no case ${name} ${dtype}`);
  return c;
};
type FT = typeof Float32Array | typeof Float64Array;
const f32 = Math.fround;
/** A T of k values f(i). */
const gen = (T: FT, k: number, f: (i: number) => number) => T.from(Array.from({ length: k }, (_, i) => f(i)));

beforeAll(() => X.init());

describe('FINDINGS', () => {
  describe('F1 crossEntropy zLoss, softmax exactly 1, z factor overflowing the type: other classes lose their z share (0, not inf)', () => {
    // [type, row, eps, gradOutput, layout, accepted values per class (torch float32 / float64)]
    const rows: [string, FT, number[], number, number, 'rows' | 'cols', number[][]][] = [
      ['f64 [5,-40,-40] sum', Float64Array, [5, -40, -40], 0, 1.79e308, 'rows', [[Infinity], [Infinity], [Infinity]]],
      ['f64 [5,-40,-40] eps 0.1', Float64Array, [5, -40, -40], 0.1, 1.79e308, 'rows', [[Infinity], [Infinity], [Infinity]]],
      ['f64 [5,-40,-40] -gradOutput', Float64Array, [5, -40, -40], 0, -1.79e308, 'rows', [[-Infinity], [-Infinity], [-Infinity]]],
      ['f64 [5,-40,-40] columns', Float64Array, [5, -40, -40], 0, 1.79e308, 'cols', [[Infinity], [Infinity], [Infinity]]],
      // float32: torch float32 gives inf, torch float64 on the float32 inputs 1.0706e20 (either is PyTorch's)
      ['f32 [5,-40,-40]', Float32Array, [5, -40, -40], 0, 3.4e38, 'rows', [[Infinity], [Infinity, 1.0705818935524694e20], [Infinity, 1.0705818935524694e20]]],
      ['f32 [60,1,2]', Float32Array, [60, 1, 2], 0, 3.4e38, 'rows', [[Infinity], [Infinity, 979241604743168], [Infinity, 2661854568513536]]],
      ['f32 [5,-40,-40] columns', Float32Array, [5, -40, -40], 0, 3.4e38, 'cols', [[Infinity], [Infinity, 1.0705818935524694e20], [Infinity, 1.0705818935524694e20]]],
    ];
    test.each(rows)('%s', (_n, T, row, eps, go, layout, want) => {
      // 'cols': [1, 3, 8] (class dim not last), the row in every position
      const P = layout === 'rows' ? 1 : 8;
      const data = layout === 'rows' ? T.from(row) : gen(T, 3 * P, (i) => row[Math.floor(i / P)]);
      const r = X.crossEntropy({ data, shape: layout === 'rows' ? [1, 3] : [1, 3, P] }, { data: new Int32Array(P), shape: layout === 'rows' ? [1] : [1, P] },
        { zLoss: 1, labelSmoothing: eps, reduction: 'sum', gradOutput: go, grad: true });
      const g = Array.from(r.grad!);
      const ok = want.map((w, c) => w.some((v) => ulps(g[c * P], T === Float32Array ? f32(v) : v, T === Float32Array) <= 4));
      expect({ got: g.filter((_, i) => i % P === 0), ok }).toEqual({ got: g.filter((_, i) => i % P === 0), ok: [true, true, true] });
    });
  });

  describe('F2 crossEntropy probability targets, softmax exactly 1, zLoss: a rounding residue, not the exact z gradient', () => {
    test('float64 [3, 1] probabilities 1: torch [0.002375, 0.001, 0.003]', () => {
      const T = Float64Array;
      const r = X.crossEntropy({ data: T.from([1.1875, 0.5, 1.5]), shape: [3, 1] }, { data: T.from([1, 1, 1]), shape: [3, 1] }, { zLoss: 1e-3, reduction: 'sum', grad: true });
      expect(Array.from(r.grad!)).toEqual([0.002375, 0.001, 0.003]);
    });
    test('float64 [3, 1] probabilities 0.5: torch [0.002375, 0.001, 0.003]', () => {
      const T = Float64Array;
      const r = X.crossEntropy({ data: T.from([1.1875, 0.5, 1.5]), shape: [3, 1] }, { data: T.from([0.5, 0.5, 0.5]), shape: [3, 1] }, { zLoss: 1e-3, reduction: 'sum', grad: true });
      expect(Array.from(r.grad!)).toEqual([0.002375, 0.001, 0.003]);
    });
    // (the fix's commit: torch float32's bits were asked at first; the library now returns the
    // exact value rounded once, Math.fround of torch float64's [0.002375, 0.001, 0.003], which for
    // element 0 is 1 ulp below torch float32's own rounding of its f32 steps: within 1 ulp of both)
    test('float32 [3, 1] probabilities 1: torch float32 within 1 ulp, torch float64 rounded to float32 exactly', () => {
      const T = Float32Array;
      const r = X.crossEntropy({ data: T.from([1.1875, 0.5, 1.5]), shape: [3, 1] }, { data: T.from([1, 1, 1]), shape: [3, 1] }, { zLoss: 1e-3, reduction: 'sum', grad: true });
      const torch32 = [0.0023750001564621925, 0.0010000000474974513, 0.003000000026077032];
      expect(Array.from(r.grad!).map((g, i) => ulps(g, torch32[i], true) <= 1)).toEqual([true, true, true]);
      expect(Array.from(r.grad!)).toEqual([0.002375, 0.001, 0.003].map(Math.fround));
    });
    // (the fix's commit: 32 ulps, the held linearCrossEntropy rows' bound, for 4: the one entry
    // left over, gradInput[9] of the first at 6 ulps, comes from the logit itself, a GEMM summed in
    // another order than torch's; before the fix these were 113 and 616 ulps)
    test.each(['lce C=1 zl 1e-3 probs sum', 'lce C=1 zl 1e-3 probs 0.5 sum'])('linearCrossEntropy %s float64: within 32 ulps of torch', (name) => {
      const c = byName(name, 'f64');
      const worst = compare(c, runCase(X, c), 'elem').filter((w) => w.key !== 'loss' && w.ulps > 32);
      expect(worst).toEqual([]);
    });
  });

  describe('F3 tokenScores entropy: exps in the subnormal band are flushed (SIMD, relaxed)', () => {
    // [type, row, dim1, exact entropy (mpmath, log S = log1p R)]
    const rows: [string, FT, number[], boolean, number][] = [
      ['f32 [0,-88..-95]', Float32Array, [0, -88, -89, -90, -91, -92, -93, -94, -95], false, 8.577240533531542e-37],
      ['f32 [0,-88,-89,-90]', Float32Array, [0, -88, -89, -90], false, 8.138878041306361e-37],
      ['f32 [0,-88..-95] dim 1', Float32Array, [0, -88, -89, -90, -91, -92, -93, -94, -95], true, 8.577240533531542e-37],
      ['f64 [0,-709..-716]', Float64Array, [0, -709, -710, -711, -712, -713, -714, -715, -716], false, 1.3673485934338547e-305],
      ['f64 [0,-700,-710,-720]', Float64Array, [0, -700, -710, -720], false, 6.911951535778629e-302],
      ['f64 [0,-700,-710,-720] dim 1', Float64Array, [0, -700, -710, -720], true, 6.911951535778629e-302],
    ];
    test.each(rows)('%s', (_n, T, row, dim1, want) => {
      const C = row.length;
      // dim 1: [1, C, 4], the row in each of 4 positions (a vector of lanes)
      const r = dim1
        ? X.tokenScores({ data: gen(T, 4 * C, (i) => row[Math.floor(i / 4)]), shape: [1, C, 4] }, null, { dim: 1 })
        : X.tokenScores({ data: T.from(row), shape: [1, C] });
      const got = r.entropy[0];
      expect({ got, ok: ulps(got, T === Float32Array ? f32(want) : want, T === Float32Array) <= 4 }).toEqual({ got, ok: true });
    });
  });
});

// per op: the tolerance in ulps and the comparison's scale (see run.ts)
const TOL: Record<string, number> = { ce: 8, kl: 4, lce: 32, ts: 16 };
/** Elements of cases.json that are findings or observations above: case name -> [key, index][]. */
function skipped(c: Case): (key: string, i: number) => boolean {
  // F1 (and the observation on classes with p = 0): the exact-one rows of the special-rows cases, 0, 3, 7 and 9
  if (c.name.startsWith('ce special rows')) return (k, i) => k === 'grad' && [0, 1, 2, 9, 10, 11, 21, 22, 23, 27, 28, 29].includes(i);
  if (c.name.startsWith('ce special cols')) return (k, i) => k === 'grad' && [0, 3, 7, 9].includes(i % 10);
  // observation: klDiv float32 'sum' accumulates in float64
  if (c.name === 'kl huge t finite sum' && c.dtype === 'f32') return (k) => k === 'loss';
  // F3: rows with subnormal exps carrying a normal entropy (SIMD); observation: lse near 0
  if (c.op === 'ts') return (k, i) => (k === 'entropy' && ((c.name.startsWith('ts confident rows') && i === 9) || (c.name.startsWith('ts C=9') && i === 2)));
  return () => false;
}

describe('held', () => {
  const rows = CASES.filter((c) => !c.name.startsWith('lce C=1 zl 1e-3 probs')).map((c) => [`${c.op} ${c.dtype} ${c.name}`, c] as [string, Case]);
  test.each(rows)('%s', (_n, c) => {
    const got = runCase(X, c);
    const skip = skipped(c);
    const isF32 = c.dtype === 'f32';
    const minNormal = isF32 ? 2 ** -126 : 2 ** -1022;
    // apply skips and README's subnormal allowance (final outputs below the smallest normal number
    // may differ by less than it), then compare
    for (const key of Object.keys(c.t64)) {
      const w = Array.isArray(c.t64[key]) ? (c.t64[key] as unknown[]) : [c.t64[key]];
      if (!got[key]) continue;
      for (let i = 0; i < got[key].length; i++) {
        const want = jsonNumber(w[i]);
        if (skip(key, i) || (Number.isFinite(want) && Math.abs(want) < minNormal && Math.abs(got[key][i] - want) < minNormal)) {
          got[key][i] = want; // (counts as equal)
          if (Array.isArray(c.t32?.[key])) (c.t32![key] as unknown[])[i] = want;
          else if (c.t32?.[key] !== undefined) c.t32![key] = want;
        }
      }
    }
    if (c.op === 'ts' && got.lse) {
      // lse in units of 1 (m = 0 here): log S's rounding (observation)
      const w = (c.t64.lse as number[]).map((v) => (isF32 ? f32(v) : v));
      const bad = got.lse.filter((v, i) => ulps(v, w[i], isF32, Math.max(1, Math.abs(w[i]))) > 16);
      expect(bad).toEqual([]);
      delete got.lse;
    }
    const res = compare(c, got, c.op === 'lce' ? 'global' : 'elem').filter((r) => (c.op !== 'ts' || r.key !== 'lse') && r.ulps > TOL[c.op]);
    expect(res).toEqual([]);
  });

  describe('setThreads(2): the bits of 1 thread', () => {
    const mk = (T: FT) => {
      let seed = 21;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed / 2147483648);
      const randn = (k: number, s = 1, o = 0) => gen(T, k, () => o + s * (rnd() + rnd() + rnd() - 1.5) * 2);
      const big = T === Float32Array ? [1e38, 3.4e38, -3e38] : [1e307, 1.79e308, -1.5e308];
      const N = 3000;
      const calls: [string, () => Any][] = [];
      for (const C of [5, 17]) {
        const x = randn(N * C, 2, 3);
        for (let n = 0; n < N; n += 7) { x[n * C] = 60; } // softmax 1 in some rows
        x[5] = -Infinity; x[1000] = NaN; x[2000] = Infinity;
        const tg = Int32Array.from({ length: N }, (_, i) => (i % 13 === 0 ? -100 : (i * 31) % C));
        const go = gen(T, N, (i) => (i % 3 === 0 ? big[i % 9 === 0 ? 1 : 0] : i % 3 === 1 ? 1.5 : big[2]));
        const w = gen(T, C, (c) => (c === 0 ? 0 : c === 1 ? -0.5 : 1 + c / 10));
        calls.push([`ce [${N},${C}] zLoss none huge`, () => X.crossEntropy({ data: x, shape: [N, C] }, tg, { zLoss: 1, labelSmoothing: 0.1, weight: w, reduction: 'none', gradOutput: go, grad: true, returnLse: true })]);
        calls.push([`ce [${N},${C}] zLoss sum huge`, () => X.crossEntropy({ data: x, shape: [N, C] }, tg, { zLoss: 1, reduction: 'sum', gradOutput: big[1], grad: true })]);
        const p = gen(T, N * C, () => rnd() / C);
        calls.push([`ce probs [${N},${C}] zLoss none huge`, () => X.crossEntropy({ data: x, shape: [N, C] }, { data: p, shape: [N, C] }, { zLoss: 1, labelSmoothing: 0.1, reduction: 'none', gradOutput: go, grad: true })]);
        calls.push([`ce [10,${C},300] zLoss none huge`, () => X.crossEntropy({ data: x, shape: [10, C, 300] }, { data: tg, shape: [10, 300] }, { zLoss: 1, labelSmoothing: 0.1, reduction: 'none', gradOutput: go, grad: true })]);
        calls.push([`tokenScores [${N},${C}]`, () => X.tokenScores({ data: x, shape: [N, C] }, tg, { topK: 2 })]);
        calls.push([`tokenScores [10,${C},300] dim 1`, () => X.tokenScores({ data: x, shape: [10, C, 300] }, { data: tg, shape: [10, 300] }, { dim: 1 })]);
      }
      const kx = randn(200001), kt = gen(T, 200001, () => rnd());
      kt[3] = 0; kt[7] = 3e38; kt[11] = Infinity; kt[13] = NaN; kt[17] = -1; kx[19] = -Infinity;
      for (const reduction of ['sum', 'batchmean', 'none'] as const) calls.push([`klDiv ${reduction}`, () => X.klDiv({ data: kx, shape: [200001] }, kt, { reduction, grad: true })]);
      const [LN, D, LC] = [1500, 4, 3000];
      const lx = randn(LN * D, 0.5), lw = randn(LC * D, 0.5);
      for (let n = 0; n < LN; n += 3) for (let d = 0; d < D; d++) lx[n * D + d] = 0;
      const lb = gen(T, LC, (c) => (c === 7 ? 60 : -1));
      const ltg = Int32Array.from({ length: LN }, (_, i) => (i % 11 === 0 ? -100 : i % 5 === 0 ? 7 : (i * 37) % LC));
      calls.push(['linearCrossEntropy exact-one tokens', () => X.linearCrossEntropy({ data: lx, shape: [LN, D] }, { data: lw, shape: [LC, D] }, ltg,
        { linearBias: lb, zLoss: 1e-3, labelSmoothing: 0.1, reduction: 'sum', grad: true, returnLse: true })]);
      return calls;
    };
    for (const T of [Float32Array, Float64Array]) {
      test(`${T.name}`, async () => {
        const calls = mk(T);
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

  test('linearCrossEntropy accumulate: true twice is twice a fresh call (exact-one tokens, chunks)', () => {
    const T = Float64Array;
    const c = byName('lce many tokens big C zl eps f64', 'f64');
    const s = c.spec;
    const args = [{ data: T.from(s.input), shape: [s.N, s.D] }, { data: T.from(s.W), shape: [s.C, s.D] }, Int32Array.from(s.target)] as const;
    const base = { linearBias: T.from(s.b), zLoss: 1e-3, labelSmoothing: 0.1, reduction: 'sum' as const };
    const fresh = X.linearCrossEntropy(...args, { ...base, grad: true });
    const gi = new T(s.N * s.D), gw = new T(s.C * s.D), gb = new T(s.C);
    for (let k = 0; k < 2; k++) X.linearCrossEntropy(...args, { ...base, outInput: gi, outWeight: gw, outBias: gb, accumulate: true });
    // (the second call's GEMMs add their k blocks' sums onto the first call's gradients, so within
    // rounding, not bit for bit)
    for (const [name, a, f] of [['gradInput', gi, fresh.gradInput!], ['gradWeight', gw, fresh.gradWeight!], ['gradBias', gb, fresh.gradBias!]] as const) {
      const big = Math.max(...Array.from(f, Math.abs));
      const worst = Math.max(...Array.from(a, (v, i) => ulps(v, 2 * f[i], false, 2 * big)));
      expect({ name, ok: worst <= 64 }).toEqual({ name, ok: true }); // (15 ulps seen: sums over 3000 classes)
    }
  });

  test('linearCrossEntropy out* sharing memory: RangeError', () => {
    const T = Float64Array;
    const buf = new T(64);
    const x = buf.subarray(0, 6), w = new T([1, 2, 3, 4]);
    expect(() => X.linearCrossEntropy({ data: x, shape: [3, 2] }, { data: w, shape: [2, 2] }, [0, 1, 0], { outInput: buf.subarray(4, 10) })).toThrow(RangeError);
    expect(() => X.linearCrossEntropy({ data: new T(6), shape: [3, 2] }, { data: w, shape: [2, 2] }, [0, 1, 0], { outWeight: buf.subarray(0, 4), outInput: buf.subarray(2, 8) })).toThrow(RangeError);
    expect(() => X.linearCrossEntropy({ data: new T(6), shape: [3, 2] }, { data: w, shape: [2, 2] }, [0, 1, 0], { linearBias: new T(2), outBias: w.subarray(0, 2) })).toThrow(RangeError);
  });
});
