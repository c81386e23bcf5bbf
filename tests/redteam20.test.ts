// Red team 20 (a helper that did not write the code, on 47ed182): the ops earlier red teams covered
// least, attacked from outside: klDiv, focalLoss, sigmoidFocalLoss, ctcLoss, tokenScores,
// linearCrossEntropy, nllLoss with K-dim inputs and weights, softmax / logSoftmax and their backward
// ops over every dim; float32 and float64; reductions none / sum / mean (/ batchmean); weights,
// ignore_index, empty dims; gradOutput 16, 1e3, 1e30, 3e38, 1e300, 1.7e308, -1e30, 1e-40, 5e-324;
// -inf / NaN / +inf / subnormal inputs; `out` (exact alias, partial overlap), wasmArray inputs,
// setThreads(2) against 1 thread, option getters.
//
// Oracle: PyTorch 1.13 (Debian /usr/bin/python3). tests/redteam20/generate.py writes
// tests/redteam20/cases.json (numpy seed 20): for each float32 case torch float32 AND torch float64 on
// the same float32 inputs (the README promises float64 maths or accumulation in these ops, so
// either is a PyTorch answer), for each float64 case torch float64. Where torch's own formula loses
// digits (torchvision's sigmoid_focal_loss at |x| >~ 10, torch.special.entr sums on confident rows)
// the file also holds an independent 60-digit mpmath reference (`ref`). tests/redteam20/cases.ts
// runs a case and measures ulps in the call's type, in units of max(|torch|, the error scale of
// that output: the size of the terms that cancel in it, computed in generate.py).
// Builds: WASM_XENT_BUILD=simd / scalar npx jest tests/redteam20.test.ts; node scripts/jest-relaxed.mjs.
//
// FINDINGS (describe 'FINDINGS', each test fails on 47ed182 on the builds named; all four fixed in
// the commit after the one that added this file, and pass on simd, scalar and relaxed):
//  - F1: assembly/kl_div.ts forms the float32 vector lanes' t log t in f64 pairs (log64V);
//  - F2: assembly/linear_cross_entropy.ts exactOneClasses / exactOneGrads (crossEntropy's
//    exactOneGrad for the fused head: z-loss's share of alpha is now its own coefficient, C_Z);
//  - F3: src/ops/linear_cross_entropy.ts infiniteMax (the kernels keep each token's max in MAX);
//  - F4: assembly/token_scores.ts keeps R, the sum of the exps other than the max's 1, and the
//    entropy's log S is log1p(R) where S < 2 (lse and the log-probabilities keep log S, PyTorch's).
// Observations acted on: linearCrossEntropy's out* sharing memory is now a RangeError (the error
// table's type for overlaps) and has its own README row; README's nllLoss options sentence names
// zLoss and returnLse. Left as they are: the others below.
//  F1 klDiv float32 on the SIMD and relaxed builds: README (KL divergence) promises "Each element's
//     loss is computed in float64 even for float32 input, because the two terms nearly cancel where
//     the distributions agree"; the vector path forms t log t in float32 (assembly/kl_div.ts:85,
//     log32V), so where t log t and t x nearly cancel the loss is off by up to 2x, and a sum of such
//     elements by 8%. Only the 8 vector lanes: the 9th element (tail) and the scalar build are right.
//       x = f32(log(t) + 1e-7), t = f32([0.1, 0.2, 0.3, 0.4, 0.15, 0.25, 0.35, 0.45, 0.3]), shape [9],
//       klDiv(x, t, { reduction: 'none' }).loss[2]: got -4.5252171787524276e-8, torch float64
//       -2.01994541648709e-8 (element 8, the same values in the tail: -2.019945455344896e-8);
//       'sum': got -2.9166950060721675e-7, torch float64 -2.7072970240626937e-7 (torch float32
//       -3.427267074584961e-7, but the README promises float64). Scalar build: -2.7072970235e-7.
//  F2 linearCrossEntropy with zLoss where a softmax is exactly 1 (C = 1, or every other logit -inf
//     through a -inf bias): the gradient carries the rounding residue of the fused factor
//     k (1 + 2 zLoss lse) / S - k (README's Numerics section promises, for crossEntropy, "its gradient
//     with label smoothing or z-loss is PyTorch's -sum_{c != j} g_c ... not a rounding residue", and
//     for linearCrossEntropy "Every option of crossEntropy is there with PyTorch's meaning";
//     crossEntropy on the same logits gives PyTorch's exact value). PyTorch: the cross-entropy
//     gradient is exactly 0 and the z gradient 2 zLoss lse g.
//       input [[0.5, -1.25], [2, 0.75], [-0.5, 1.5]], linearWeight [[1.5, -0.25]], linearBias [0.125],
//       target [0, 0, 0], zLoss 1e-3, 'sum': gradBias float64 got 0.006250000000000089 (every build),
//       torch 0.00625; gradInput[3] got -0.0014687500000000187, torch -0.00146875; float32 (SIMD,
//       relaxed) gradWeight[1] got -0.0015624761581420898, torch -0.0015625001396983862 (f32) /
//       -0.0015625 (f64): 205 float32 ulps; scalar float32 is right. The same with linearBias
//       [0.125, -inf] on two classes.
//  F3 linearCrossEntropy returnLse: a row with a +inf logit gives lse NaN (torch.logsumexp: +inf), a row
//     of -inf logits gives NaN (torch: -inf). crossEntropy returns +inf / -inf for the same logits
//     (red teams 5 and 13 fixed that there). Every build, float32 and float64.
//       input [[0.5, -1.25], [2, 0.75]], linearWeight [[1.5, -0.25], [1, 2], [0.5, -1]], target [0, 2],
//       linearBias [0, Infinity, 0]: lse got [NaN, NaN], torch [Infinity, Infinity];
//       linearBias [-inf, -inf, -inf]: got [NaN, NaN], torch [-Infinity, -Infinity];
//       input [[0.5, Infinity], [2, 0.75]] (no bias): lse[0] got NaN, torch Infinity.
//  F4 tokenScores entropy of a confident row is not relatively accurate. README (tokenScores):
//     "the entropy is log S - D / S, two non-negative terms, so a confident prediction keeps its
//     relative accuracy (an entropy of 1e-13 is exact to float rounding)"; but log S is
//     Math.log(S) of a rounded S just above 1 (assembly/token_scores.ts:100), which carries an
//     absolute error of ~1e-16, a relative error of 1e-5..1e-3 for entropies of 1e-12..1e-13.
//     Expected values: 60-digit mpmath (torch's entr sum is no better: float64 2.9007676693252355e-12
//     for [0, -30]). Every build:
//       float64 [0, -30]: got 2.9007676693252238e-12, exact 2.900863120340187e-12 (3.3e-5 relative);
//       float64 [0, -33] (the README's 1e-13): exact 1.5840212893351478e-13;
//       float32 [0, -30]: got 2.9007677e-12 (552 f32 ulps);
//       float32 [0, -25 x 20] on SIMD / relaxed: got 7.1661792e-9, exact 7.2217308e-9 (0.8%: the
//       float32 lanes add 1 + 1.4e-11 in float32 before widening).
//
// OBSERVATIONS (no failing test; judgement calls):
//  - sigmoidFocalLoss on confident rows (|x| >~ 10 with hard targets, 1 - p_t < 1e-4): torchvision's
//    formula forms 1 - p_t by subtraction and torch's BCE-with-logits log(1 + e^-|x|) through
//    log-sum-exp; the library uses log1p but keeps 1 - p_t, so it matches neither torch float64
//    (1e-3 relative at x = 30) nor the exact value (mpmath); the README promises agreement with
//    torch float64. Absolute errors are below 1e-16 of the loss scale; those elements are skipped.
//  - focalLoss float32 with gradOutput 3e38: the target's gradient is -Infinity where torch float64
//    gives -1.97e38 (finite in float32) and torch float32 NaN: G is rounded to float32 before the
//    target's term is added (assembly/focal.ts:61), as crossEntropy's subtractTarget does.
//  - linearCrossEntropy softcap with logits ~50 x softcap: both torch and the library form 1 - tanh^2
//    by subtraction; the library's float64 gradient is 2.9e-8 relative off the exact value
//    (torch 6e-9). Within the README's 1e-10 abs + rel.
//  - linearCrossEntropy refuses an out* array sharing memory with an input with a TypeError; the
//    README's error table has RangeError for an `out` that partly overlaps a streamed array.
//  - focalLoss gradient entries that are exactly zero at classes with p_c = 0 come back -0 where
//    PyTorch has +0 (red team 16's observation, still so).
//  - focalLoss forms u = 1 - p_t by subtraction, as the torch formula does: for confident rows
//    (p_t = 1 - 2e-10) loss and gradient carry a relative error of eps / u in both (7e-8 here); and
//    for a 2-class row with p_t = 1 - 1e-15 and gamma 0.5 at gradOutput 1e30 the two gradient entries
//    are pure rounding in torch and in the library alike (torch's do not even sum to 0). A random
//    differential run (600 cases per seed, 4 seeds, not kept) found only such conditioning
//    differences and the float32 overflow class above.
//  - README (nllLoss) says "nllLoss accepts the same options as crossEntropy except labelSmoothing",
//    but zLoss and returnLse are "unknown option" TypeErrors (rightly: the function reference table
//    lists nllLoss's options without them); the sentence could say so.
//  - sigmoidFocalLoss float32 'mean' with NaN inputs on 2 threads: NaN gradient bits (sign/payload)
//    differ from 1 thread, as the README (Threads) allows.
//
// HELD (describe 'held'): every row of cases.json that is not a finding or an observation above,
// within a few ulps (see TOL), on all three builds; `out` === input (and === target for klDiv /
// sigmoidFocalLoss, === gradOutput / output for the backward ops) bit-identical to a fresh gradient;
// gradOutput === output === out for the backward ops; partial overlaps refused; wasmArray inputs and
// wasmArray out = input bit-identical; linearCrossEntropy out* aliasing refused (outBias === linearBias
// right); option getters read exactly once; focalLoss's errors are nllLoss's (10 bad calls); gamma /
// alpha NaN or infinite refused; setThreads(2) bit-identical to 1 thread (NaNs compared as NaN) on
// multi-chunk calls of 13 ops, float32 and float64.
import * as fs from 'fs';
import * as path from 'path';
import * as X from '../src';
import { runCase, compare, Case } from './redteam20/cases';
import { ulps } from './helpers/same';

jest.setTimeout(120000);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const XA: Any = X;
const CASES: Case[] = JSON.parse(fs.readFileSync(path.join(__dirname, 'redteam20', 'cases.json'), 'utf8'));
const byName = (name: string, dtype: 'f32' | 'f64') => {
  const c = CASES.find((k) => k.name === name && k.dtype === dtype);
  if (!c) throw new Error(`no case ${name} ${dtype}`);
  return c;
};

beforeAll(() => X.init());

type FT = typeof Float32Array | typeof Float64Array;
/** A T of k values f(i). */
const gen = (T: FT, k: number, f: (i: number) => number) => T.from(Array.from({ length: k }, (_, i) => f(i)));

/** f32 values of a float64 reference. */
const f32 = (v: number) => Math.fround(v);

describe('FINDINGS', () => {
  describe('F1 klDiv float32: t log t is formed in float32 in the vector lanes (README: float64)', () => {
    const c = byName('klDiv near-cancelling 9', 'f32');
    test("'none': every element within 4 ulps of torch float64 (element 2 is off by 2.2x on SIMD)", () => {
      const got = runCase(XA, c).loss as Float32Array;
      const want = (c.t64.loss as number[]).map(f32);
      expect(c.t64.loss[2]).toBe(-2.01994541648709e-8); // torch float64 (generate.py 'klDiv near-cancelling 9')
      const worst = Math.max(...Array.from(got, (g, i) => ulps(g, want[i], true)));
      expect(worst).toBeLessThanOrEqual(4);
    });
    test("'sum' within 1e-8 relative of torch float64 -2.7072970240626937e-7 (got -2.9166950060721675e-7 on SIMD)", () => {
      const got = runCase(XA, byName('klDiv near-cancelling 9 sum', 'f32')).loss as number;
      // the loss is a float64 sum of float64 per-element losses (README), so its error is that of
      // float64 terms of ~0.3: ~1e-16 absolute, 4e-10 relative to the 2.7e-7 sum
      expect(Math.abs(got - -2.7072970240626937e-7) / 2.7072970240626937e-7).toBeLessThan(1e-8);
    });
    test("'batchmean' [3, 3] within 1e-8 relative of torch float64 2.4254936822898365e-7 (got 2.3556943549533452e-7)", () => {
      const got = runCase(XA, byName('klDiv near-cancelling [3,3] batchmean', 'f32')).loss as number;
      expect(Math.abs(got - 2.4254936822898365e-7) / 2.4254936822898365e-7).toBeLessThan(1e-8);
    });
  });

  describe('F2 linearCrossEntropy zLoss where a softmax is exactly 1: a rounding residue in the gradient', () => {
    const rows: [string, 'f32' | 'f64'][] = [];
    for (const name of ['lce C=1 zLoss sum', 'lce C=1 zLoss mean', 'lce C=1 zLoss + smoothing none', 'lce -inf bias zLoss sum'])
      for (const d of ['f64', 'f32'] as const) rows.push([name, d]);
    test.each(rows)('%s %s: gradients within 4 ulps of torch', (name, d) => {
      const c = byName(name, d);
      const got = runCase(XA, c);
      for (const key of ['gradInput', 'gradWeight', 'gradBias']) {
        const g = Array.from(got[key] as ArrayLike<number>);
        const w64 = (c.t64[key] as number[]).map(d === 'f32' ? f32 : (v: number) => v);
        const w32 = c.t32?.[key] as number[] | undefined;
        const worst = Math.max(...g.map((v, i) => Math.min(ulps(v, w64[i], d === 'f32'), w32 ? ulps(v, w32[i], true) : Infinity)));
        expect({ key, worst: worst <= 4 ? 'ok' : worst }).toEqual({ key, worst: 'ok' });
      }
    });
    test('the smallest case, float64: gradBias 0.00625 exactly (got 0.006250000000000089)', () => {
      const T = Float64Array;
      const r = X.linearCrossEntropy({ data: T.from([0.5, -1.25, 2, 0.75, -0.5, 1.5]), shape: [3, 2] }, { data: T.from([1.5, -0.25]), shape: [1, 2] },
        [0, 0, 0], { linearBias: T.from([0.125]), zLoss: 1e-3, reduction: 'sum', grad: true });
      // torch: F.cross_entropy(F.linear(x, W, b), t, reduction='sum') + 1e-3 * (torch.logsumexp(z, 1) ** 2).sum()
      expect(Array.from(r.gradBias!)).toEqual([0.00625]);
      expect(Array.from(r.gradInput!)).toEqual([0.0035624999999999997, -0.00059375, 0.008812500000000001, -0.00146875, -0.003, 0.0005]);
      // crossEntropy on the same logits gives PyTorch's bits
      const z = T.from([1.1875, 0.5, 1.5]);
      expect(Array.from(X.crossEntropy({ data: z, shape: [3, 1] }, [0, 0, 0], { zLoss: 1e-3, reduction: 'sum', grad: true }).grad!)).toEqual([0.002375, 0.001, 0.003]);
    });
  });

  describe('F3 linearCrossEntropy returnLse: NaN where torch.logsumexp gives +inf / -inf', () => {
    const x = [0.5, -1.25, 2, 0.75];
    const W = [1.5, -0.25, 1, 2, 0.5, -1];
    const rows: [string, number[], number[], number[]][] = [
      // [what, input, bias, torch.logsumexp(F.linear(x, W, b), 1)]
      ['bias [0, inf, 0]', x, [0, Infinity, 0], [Infinity, Infinity]],
      ['bias [-inf, -inf, -inf]', x, [-Infinity, -Infinity, -Infinity], [-Infinity, -Infinity]],
      ['input [[0.5, inf], [2, 0.75]], bias 0', [0.5, Infinity, 2, 0.75], [0, 0, 0], [Infinity, 3.932824591226352]],
    ];
    for (const T of [Float32Array, Float64Array])
      test.each(rows)(`${T.name} %s`, (_what, xs, b, want) => {
        const r = X.linearCrossEntropy({ data: T.from(xs), shape: [2, 2] }, { data: T.from(W), shape: [3, 2] }, [0, 2],
          { linearBias: T.from(b), returnLse: true, reduction: 'none' });
        const got = Array.from(r.lse!);
        expect(got.map((v, i) => (Number.isFinite(want[i]) ? ulps(v, T === Float32Array ? f32(want[i]) : want[i], T === Float32Array) <= 2 : Object.is(v, want[i])))).toEqual([true, true]);
        // crossEntropy on the same logits: +inf / -inf (checked here so the finding is about linearCrossEntropy)
        const z = T.from([0.75 + 0.3125 + b[0], 0.5 - 2.5 + b[1], 0.25 + 1.25 + b[2], 3 - 0.1875 + b[0], 2 + 1.5 + b[1], 1 - 0.75 + b[2]]);
        if (Number.isFinite(xs[1])) expect(Array.from(X.crossEntropy({ data: z, shape: [2, 3] }, [0, 2], { returnLse: true, reduction: 'none' }).lse!)).toEqual(want);
      });
  });

  describe('F4 tokenScores: the entropy of a confident row is not relatively accurate', () => {
    // [row, dtype, exact entropy (mpmath, 60 digits, of the row's values in that dtype), ulps allowed]
    const rows: [string, 'f32' | 'f64', number[], number][] = [
      ['[0, -30]', 'f64', [0, -30], 2.900863120340187e-12],
      ['[0, -33] (README: "an entropy of 1e-13 is exact to float rounding")', 'f64', [0, -33], 1.5840212893351478e-13],
      ['[0, -30, -40, -50]', 'f64', [0, -30, -40, -50], 2.9010373127012783e-12],
      ['[0, -25 x 20]', 'f64', [0, ...Array(20).fill(-25)], 7.221730807813966e-9],
      ['[0, -30]', 'f32', [0, -30], 2.900863143445731e-12],
      ['[0, -25 x 20]', 'f32', [0, ...Array(20).fill(-25)], 7.2217307689470545e-9],
      ['[0, -12 x 40]', 'f32', [0, ...Array(40).fill(-12)], 0.003194235498085618],
    ];
    test.each(rows)('%s %s: within 8 ulps of the exact entropy', (_what, d, row, exact) => {
      const T = d === 'f32' ? Float32Array : Float64Array;
      for (const [shape, dim] of [[[1, row.length], -1], [[1, row.length, 1], 1]] as [number[], number][]) {
        const e = X.tokenScores({ data: T.from(row), shape }, undefined, { dim }).entropy[0];
        const want = d === 'f32' ? f32(exact) : exact;
        expect({ shape, ulps: ulps(e, want, d === 'f32') <= 8 ? 'ok' : `${e} (${ulps(e, want, d === 'f32').toPrecision(3)} ulps)` }).toEqual({ shape, ulps: 'ok' });
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------
// held: PyTorch rows. Tolerances, in ulps of max(|torch|, error scale) in the call's type:
//  - float32 4: the README's 2-ulp vector exp / log1p plus the roundings of a float32 result;
//  - float64 16: several float64 roundings in a different order than PyTorch's;
//  - focalLoss float64 64: G = -k w (u^g + g u^(g-1) lp_t p_t)-style chains through pow, in autograd's
//    order in torch and fused in the kernel;
//  - ctcLoss float64 2048 (4.5e-13 of the gradient's scale): the library runs the recursion on
//    probabilities, PyTorch in log space, whose own rounding at log-probabilities of -700 is ~700 eps;
//    the README promises 1e-10;
//  - linearCrossEntropy float32 256 / float64 1024: GEMM partial sums in another order, and the
//    scale |dZ| |W| does not see the cancellation inside dZ = k (p - y); the README promises 1e-4 / 1e-10.
const TOL: Record<string, { f32: number; f64: number }> = {
  default: { f32: 4, f64: 16 },
  focalLoss: { f32: 8, f64: 64 },
  ctcLoss: { f32: 4, f64: 2048 },
  linearCrossEntropy: { f32: 256, f64: 1024 },
};

/** Rows that are findings (tested above) or observations (header), with the reason. */
const NOT_HELD: [RegExp, string][] = [
  [/^klDiv near-cancelling/, 'F1 (and float64 sums of near-cancelling terms: error scale of the terms)'],
  [/^lce (C=1|-inf bias zLoss)/, 'F2'],
  [/^lce x with \+inf/, 'F3'],
  [/^klDiv logTarget huge sum$|^nll sum weights 3e38 gradOutput 3e38$/, 'float32 call whose float64 loss exceeds float32 range (red team 15 F2 position)'],
  [/^focal (sum gradOutput 3e\+38|none per-position gradOutput)$/, 'observation: focal float32 gradOutput 3e38'],
  [/^lce big logits softcap$/, 'observation: 1 - tanh^2 by subtraction'],
];
const notHeld = (c: Case) => NOT_HELD.find(([re]) => re.test(c.name) && !(c.dtype === 'f64' && /klDiv logTarget huge|nll sum weights 3e38/.test(c.name)));

describe('held', () => {
  const rows = CASES.filter((c) => !notHeld(c)).map((c) => [`${c.op} ${c.dtype} ${c.name}`, c] as [string, Case]);
  test.each(rows)('%s', (_name, c) => {
    const got = runCase(XA, c);
    const tol = (TOL[c.op] ?? TOL.default)[c.dtype];
    const bad = compare(c, got).filter((w) => w.ulps > tol);
    expect(bad).toEqual([]);
  });

  test('the rows left out are listed with a reason', () => {
    const left = CASES.filter((c) => notHeld(c)).map((c) => `${c.name} ${c.dtype}`);
    expect(left.length).toBeLessThan(40);
  });

  describe('out, wasmArray and overlaps: the bits of a fresh call', () => {
    type Op = (o: Any, x: Float32Array | Float64Array) => Any;
    const shape = [3, 5, 7];
    const n = 105;
    const make = (T: FT) => {
      const x = gen(T, n, (i) => Math.sin(i * 1.7) * 3);
      const p = gen(T, n, (i) => (Math.cos(i * 0.9) + 1) / 2);
      const tgt = { data: Int32Array.from({ length: 21 }, (_, i) => (i === 4 ? -100 : (i * 7) % 5)), shape: [3, 7] };
      const w = T.from([1, 2, 0.5, 3, 1]);
      const ops: [string, Op][] = [
        ['klDiv batchmean', (o, xx) => X.klDiv({ data: xx, shape }, { data: p, shape }, { reduction: 'batchmean', ...o })],
        ['klDiv logTarget sum', (o, xx) => X.klDiv({ data: xx, shape }, { data: gen(T, n, (i) => -Math.abs(x[i])), shape }, { reduction: 'sum', logTarget: true, ...o })],
        ['sigmoidFocalLoss mean', (o, xx) => X.sigmoidFocalLoss({ data: xx, shape }, { data: p, shape }, { reduction: 'mean', gamma: 1.5, ...o })],
        ['focalLoss K-dim weight ignore', (o, xx) => X.focalLoss({ data: xx, shape }, tgt, { gamma: 1.5, weight: w, ...o })],
        ['focalLoss dim 1 sum', (o, xx) => XA.focalLoss({ data: xx, shape: [15, 7] }, Array.from({ length: 15 }, (_, i) => i % 7), { gamma: 2, dim: 1, reduction: 'sum', ...o })],
        ['nllLoss K-dim weight ignore', (o, xx) => X.nllLoss({ data: xx, shape }, tgt, { weight: w, ...o })],
        ['nllLoss dim 2 sum', (o, xx) => X.nllLoss({ data: xx, shape }, { data: Int32Array.from({ length: 15 }, (_, i) => i % 7), shape: [3, 5] }, { dim: 2, reduction: 'sum', ...o })],
        ['ctcLoss', (o, xx) => X.ctcLoss({ data: xx, shape }, [1, 2, 3, 4, 5, 6, 1, 2, 3, 4], [3, 3, 3, 2, 3], [2, 2, 2, 2, 2], o)],
      ];
      return { x, ops };
    };
    const rows: [string, string][] = [];
    for (const T of ['Float32Array', 'Float64Array']) for (const name of ['klDiv batchmean', 'klDiv logTarget sum', 'sigmoidFocalLoss mean', 'focalLoss K-dim weight ignore', 'focalLoss dim 1 sum', 'nllLoss K-dim weight ignore', 'nllLoss dim 2 sum', 'ctcLoss']) rows.push([T, name]);
    test.each(rows)('%s %s: out = input, wasmArray input, wasmArray out = input; partial overlap refused', (Tn, name) => {
      const T = Tn === 'Float32Array' ? Float32Array : Float64Array;
      const { x: x0, ops } = make(T);
      const x = name === 'ctcLoss' ? T.from(X.logSoftmax({ data: x0, shape })) : x0;
      const f = ops.find(([k]) => k === name)![1];
      const base = f({ grad: true }, x);
      const a = T.from(x);
      const r1 = f({ out: a }, a);
      expect(Object.is(r1.loss, base.loss) || Array.from(r1.loss as ArrayLike<number>).every((v, i) => Object.is(v, (base.loss as ArrayLike<number>)[i]))).toBe(true);
      expect(Array.from(a)).toEqual(Array.from(base.grad));
      const wa = X.wasmArray(T, n);
      try {
        wa.array.set(x);
        expect(Array.from(f({ grad: true }, wa.array).grad)).toEqual(Array.from(base.grad));
        f({ out: wa.array }, wa.array);
        expect(Array.from(wa.array)).toEqual(Array.from(base.grad));
      } finally {
        wa.free();
      }
      const buf = new T(n + 1);
      buf.set(x);
      expect(() => f({ out: buf.subarray(1) }, buf.subarray(0, n))).toThrow(RangeError);
    });

    test.each([['Float32Array'], ['Float64Array']])('%s klDiv / sigmoidFocalLoss: out === the target', (Tn) => {
      const T = Tn === 'Float32Array' ? Float32Array : Float64Array;
      const x = { data: T.from([2, -1, 0.5, -3, 1.5, 0]), shape: [2, 3] };
      const t = T.from([0.2, 0.3, 0.5, 0.1, 0.1, 0.8]);
      const b1 = X.klDiv(x, { data: t, shape: [2, 3] }, { grad: true, reduction: 'sum' });
      const t1 = T.from(t);
      expect(X.klDiv(x, { data: t1, shape: [2, 3] }, { out: t1, reduction: 'sum' }).loss).toBe(b1.loss);
      expect(Array.from(t1)).toEqual(Array.from(b1.grad!));
      const b2 = X.sigmoidFocalLoss(x, { data: t, shape: [2, 3] }, { grad: true, reduction: 'sum' });
      const t2 = T.from(t);
      expect(X.sigmoidFocalLoss(x, { data: t2, shape: [2, 3] }, { out: t2, reduction: 'sum' }).loss).toBe(b2.loss);
      expect(Array.from(t2)).toEqual(Array.from(b2.grad!));
    });

    const smRows: [string, number][] = [];
    for (const T of ['Float32Array', 'Float64Array']) for (const dim of [0, 1, 2, -1]) smRows.push([T, dim]);
    test.each(smRows)('%s softmax family dim %d: out = input / gradOutput / output; overlaps refused', (Tn, dim) => {
      const T = Tn === 'Float32Array' ? Float32Array : Float64Array;
      const x = gen(T, n, (i) => Math.sin(i * 1.3) * 4);
      const g = gen(T, n, (i) => Math.cos(i * 0.7));
      const sy = X.softmax({ data: x, shape }, { dim });
      const ly = X.logSoftmax({ data: x, shape }, { dim });
      const a = T.from(x);
      X.softmax({ data: a, shape }, { dim, out: a });
      expect(Array.from(a)).toEqual(Array.from(sy));
      const b = T.from(x);
      X.logSoftmax({ data: b, shape }, { dim, out: b });
      expect(Array.from(b)).toEqual(Array.from(ly));
      const sb = X.softmaxBackward({ data: g, shape }, { data: sy, shape }, { dim });
      const lb = X.logSoftmaxBackward({ data: g, shape }, { data: ly, shape }, { dim });
      for (const [kind, fn, y, want] of [['softmaxBackward', X.softmaxBackward, sy, sb], ['logSoftmaxBackward', X.logSoftmaxBackward, ly, lb]] as const) {
        const g1 = T.from(g);
        fn({ data: g1, shape }, { data: y, shape }, { dim, out: g1 });
        expect([kind, Array.from(g1)]).toEqual([kind, Array.from(want)]);
        const y1 = T.from(y);
        fn({ data: g, shape }, { data: y1, shape }, { dim, out: y1 });
        expect([kind, Array.from(y1)]).toEqual([kind, Array.from(want)]);
        const buf = new T(n + 1);
        buf.set(g);
        expect(() => fn({ data: buf.subarray(0, n), shape }, { data: y, shape }, { dim, out: buf.subarray(1) })).toThrow(RangeError);
        // gradOutput, output and out all one array: the bits of separate copies
        const want2 = fn({ data: T.from(y), shape }, { data: T.from(y), shape }, { dim });
        const a3 = T.from(y);
        fn({ data: a3, shape }, { data: a3, shape }, { dim, out: a3 });
        expect([kind, 'g = y = out', Array.from(a3)]).toEqual([kind, 'g = y = out', Array.from(want2)]);
      }
      const buf = new T(n + 1);
      buf.set(x);
      expect(() => X.softmax({ data: buf.subarray(0, n), shape }, { dim, out: buf.subarray(1) })).toThrow(RangeError);
    });

    test.each([['Float32Array'], ['Float64Array']])('%s linearCrossEntropy: out* sharing memory with an input refused; outBias === linearBias works', (Tn) => {
      const T = Tn === 'Float32Array' ? Float32Array : Float64Array;
      const [N, C, D] = [6, 6, 4];
      const x = gen(T, N * D, (i) => Math.sin(i));
      const W = gen(T, C * D, (i) => Math.cos(i * 1.1));
      const b = gen(T, C, (i) => i / 8);
      const t = [0, 1, 2, 3, 4, 5];
      const call = (xx: Any, WW: Any, o: Any) => X.linearCrossEntropy({ data: xx, shape: [N, D] }, { data: WW, shape: [C, D] }, t, { linearBias: b, labelSmoothing: 0.1, ...o });
      const base = call(x, W, { grad: true });
      const xx = T.from(x);
      expect(() => call(xx, W, { outWeight: xx })).toThrow(/shares memory/);
      const WW = T.from(W);
      expect(() => call(x, WW, { outInput: WW })).toThrow(/shares memory/);
      const o = new T(N * D);
      expect(() => call(x, W, { outInput: o, outWeight: o })).toThrow(/shares memory/);
      const bb = T.from(b);
      const r = X.linearCrossEntropy({ data: x, shape: [N, D] }, { data: W, shape: [C, D] }, t, { linearBias: bb, labelSmoothing: 0.1, outBias: bb });
      expect(Array.from(r.gradBias!)).toEqual(Array.from(base.gradBias!));
    });
  });

  test('option getters are read exactly once (klDiv, sigmoidFocalLoss, focalLoss, nllLoss, softmax, softmaxBackward, ctcLoss, tokenScores)', () => {
    const T = Float32Array;
    const x = T.from([0.5, -1, 2, 0.25, -0.5, 1]);
    const counted = (o: Record<string, unknown>) => {
      const counts: Record<string, number> = {};
      const p = {};
      for (const [k, v] of Object.entries(o)) Object.defineProperty(p, k, { enumerable: true, get() { counts[k] = (counts[k] ?? 0) + 1; return v; } });
      return [p, counts] as const;
    };
    const calls: [string, (o: Any) => unknown, Record<string, unknown>][] = [
      ['klDiv', (o) => X.klDiv({ data: x, shape: [2, 3] }, { data: T.from([0.2, 0.3, 0.5, 0.1, 0.1, 0.8]), shape: [2, 3] }, o), { reduction: 'batchmean', logTarget: false, grad: true, gradOutput: 2 }],
      ['sigmoidFocalLoss', (o) => X.sigmoidFocalLoss({ data: x, shape: [2, 3] }, { data: T.from([1, 0, 0, 0, 1, 1]), shape: [2, 3] }, o), { alpha: 0.3, gamma: 1.5, reduction: 'sum', grad: true, gradOutput: 2 }],
      ['focalLoss', (o) => X.focalLoss({ data: x, shape: [2, 3] }, [0, 2], o), { gamma: 1.5, weight: T.from([1, 2, 3]), ignoreIndex: 1, reduction: 'sum', dim: 1, grad: true, gradOutput: 2 }],
      ['nllLoss', (o) => X.nllLoss({ data: x, shape: [2, 3] }, [0, 2], o), { weight: T.from([1, 2, 3]), ignoreIndex: 1, reduction: 'sum', dim: 1, grad: true, gradOutput: 2 }],
      ['softmax', (o) => X.softmax({ data: x, shape: [2, 3] }, o), { dim: 0, out: new T(6) }],
      ['softmaxBackward', (o) => X.softmaxBackward({ data: x, shape: [2, 3] }, { data: T.from(x), shape: [2, 3] }, o), { dim: 0, out: new T(6) }],
      ['ctcLoss', (o) => X.ctcLoss({ data: x, shape: [2, 1, 3] }, [1], [2], [1], o), { blank: 0, reduction: 'sum', zeroInfinity: true, grad: true, gradOutput: 2 }],
      ['tokenScores', (o) => X.tokenScores({ data: x, shape: [2, 3] }, [0, 2], o), { dim: 1, topK: 2, ignoreIndex: 1 }],
    ];
    for (const [name, f, o] of calls) {
      const [p, counts] = counted(o);
      f(p);
      expect([name, counts]).toEqual([name, Object.fromEntries(Object.keys(o).map((k) => [k, 1]))]);
    }
  });

  test.each([
    [[0, 5], {}], [[0, -1], {}], [[0, 1], { weight: Float32Array.from([1, 2]) }], [[0, 1], { dim: 2 }], [[0, 1, 2], {}],
    [{ data: Int32Array.from([0, 1]), shape: [2, 1] }, {}], [[0.5, 1], {}], [[0, 1], { ignoreIndex: 1.5 }],
    [[0, 1], { reduction: 'batchmean' }], [[0, 1], { gradOutput: 2 }],
  ] as [Any, Any][])('focalLoss throws nllLoss\'s error (README: "the same target types and errors"): target %j options %j', (t, o) => {
    const x = { data: Float32Array.from([1, 2, 3, 4, 5, 6]), shape: [2, 3] };
    const err = (f: () => unknown) => {
      try { f(); } catch (e) { return [(e as Error).constructor.name, (e as Error).message.replace(/^\w+: /, '')]; }
      return ['no error'];
    };
    const want = err(() => X.nllLoss(x, t, o));
    expect(want[0]).not.toBe('no error');
    expect(err(() => X.focalLoss(x, t, o))).toEqual(want);
  });

  test('gamma / alpha outside the finite numbers: RangeError (torch would give NaN rows)', () => {
    const x = { data: Float64Array.from([2, -1, 0.5, -3, 1.5, 0]), shape: [2, 3] };
    const y = { data: Float64Array.from([1, 0, 0, 0, 1, 1]), shape: [2, 3] };
    for (const o of [{ gamma: NaN }, { gamma: Infinity }, { alpha: NaN }, { alpha: Infinity }]) expect(() => X.sigmoidFocalLoss(x, y, o)).toThrow(RangeError);
    for (const o of [{ gamma: NaN }, { gamma: -Infinity }]) expect(() => X.focalLoss(x, [0, 2], o)).toThrow(RangeError);
  });

  // Last: threads move the module to shared memory for the rest of the process.
  describe('setThreads(2): the bits of 1 thread on multi-chunk calls', () => {
    const mk = (T: FT) => {
      let seed = 11;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed / 2147483648);
      const randn = (k: number, s = 1) => gen(T, k, () => s * (rnd() + rnd() + rnd() - 1.5) * 2);
      const [N, C] = [3000, 97];
      const x = randn(N * C, 3);
      x[5] = -Infinity; x[1000] = NaN; x[2000] = Infinity; x[3001] = 1e-45;
      const p = gen(T, N * C, () => rnd());
      const sh = [N, C], shK = [10, C, 300];
      const tg = Int32Array.from({ length: N }, (_, i) => (i % 13 === 0 ? -100 : (i * 31) % C));
      const tgK = { data: Int32Array.from({ length: 3000 }, (_, i) => (i % 17 === 0 ? -100 : (i * 7) % C)), shape: [10, 300] };
      const w = gen(T, C, (i) => 0.5 + (i % 5));
      const g = randn(N * C);
      const y = X.softmax({ data: x, shape: shK }, { dim: 1 });
      const ly = X.logSoftmax({ data: x, shape: shK }, { dim: 1 });
      const lp = T.from(X.logSoftmax({ data: randn(200 * 64 * 20, 2), shape: [200, 64, 20] }));
      const ct = { data: Int32Array.from({ length: 64 * 30 }, (_, i) => 1 + (i % 19)), shape: [64, 30] };
      const lx = randn(300 * 32), lw = randn(500 * 32);
      return {
        klDiv: () => X.klDiv({ data: x, shape: sh }, { data: p, shape: sh }, { reduction: 'batchmean', grad: true }),
        klDivNone: () => X.klDiv({ data: x, shape: sh }, { data: p, shape: sh }, { reduction: 'none', grad: true, gradOutput: g }),
        sigmoidFocalLoss: () => X.sigmoidFocalLoss({ data: x, shape: sh }, { data: p, shape: sh }, { reduction: 'mean', gamma: 1.5, grad: true }),
        focalLoss: () => X.focalLoss({ data: x, shape: sh }, tg, { gamma: 2, weight: w, grad: true }),
        focalLossK: () => X.focalLoss({ data: x, shape: shK }, tgK, { gamma: 0.5, weight: w, reduction: 'sum', grad: true }),
        nllLossK: () => X.nllLoss({ data: x, shape: shK }, tgK, { weight: w, grad: true }),
        softmaxDim1: () => X.softmax({ data: x, shape: shK }, { dim: 1 }),
        logSoftmaxDim0: () => X.logSoftmax({ data: x, shape: shK }, { dim: 0 }),
        softmaxBackward: () => X.softmaxBackward({ data: g, shape: shK }, { data: y, shape: shK }, { dim: 1 }),
        logSoftmaxBackward: () => X.logSoftmaxBackward({ data: g, shape: shK }, { data: ly, shape: shK }, { dim: 1 }),
        ctcLoss: () => X.ctcLoss({ data: lp, shape: [200, 64, 20] }, ct, Array.from({ length: 64 }, (_, i) => 200 - i), Array.from({ length: 64 }, (_, i) => 30 - (i % 5)), { grad: true }),
        tokenScores: () => X.tokenScores({ data: x, shape: shK }, tgK, { dim: 1, topK: 5 }),
        linearCrossEntropy: () => X.linearCrossEntropy({ data: lx, shape: [300, 32] }, { data: lw, shape: [500, 32] }, Int32Array.from({ length: 300 }, (_, i) => (i * 13) % 500), { grad: true, labelSmoothing: 0.1, zLoss: 1e-4, returnLse: true }),
      } as Record<string, () => unknown>;
    };
    // README (Threads): the same bits for every thread count, except a NaN's sign and payload bits
    // (the engine's): NaNs are compared as NaN, everything else (-0 included) bit for bit
    const canon = (v: number) => (Number.isNaN(v) ? NaN : v);
    const snap = (r: unknown): unknown => {
      if (ArrayBuffer.isView(r)) {
        const a = (r as unknown as { constructor: FT } & ArrayLike<number>);
        const c = (a.constructor as FT).from(Array.from(a, canon));
        return Buffer.from(c.buffer, c.byteOffset, c.byteLength).toString('base64');
      }
      if (typeof r === 'number') return Object.is(r, -0) ? '-0' : String(r);
      if (r && typeof r === 'object') return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, snap(v)]));
      return r;
    };
    test('float32 and float64, 13 ops', async () => {
      const one: Record<string, unknown> = {};
      for (const T of [Float32Array, Float64Array]) for (const [k, f] of Object.entries(mk(T))) one[`${T.name} ${k}`] = snap(f());
      await X.setThreads(2);
      try {
        expect(X.getThreads()).toBe(2);
        for (const T of [Float32Array, Float64Array]) for (const [k, f] of Object.entries(mk(T))) {
          const r = f() as Any;
          expect([`${T.name} ${k}`, snap(r)]).toEqual([`${T.name} ${k}`, one[`${T.name} ${k}`]]);
        }
      } finally {
        await X.setThreads(1);
      }
    });
  });
});
