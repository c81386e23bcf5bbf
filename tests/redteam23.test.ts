// Red team 23 (a helper that did not write the code, on 9c98a15): the less attacked ops from
// outside: ctcLoss (repeated labels, blank last, target length 0 and > input length, zeroInfinity,
// 'mean' / 'sum' / 'none' with gradOutput 16 / 1e3, -inf log-probabilities, T = 1500 with S = 300,
// log-probabilities near -700 and below), focalLoss (gamma 0 / 0.5 / 1 / 2 / 3.7, weights with 0,
// ignore_index, confident rows), sigmoidFocalLoss (alpha 0.25 / 0 / 1 / -1 / -0.5, gamma 0 / 0.5 /
// 2, soft targets), binaryCrossEntropy at p = 0 / 1 / subnormal / 1 - 2^-53 with [N, 1] and [C]
// weights, binaryCrossEntropyWithLogits at +-100 / +-800 / +-1e3 with [C] and [N, 1] posWeight,
// nllLoss on [N, C, H, W] with weights (0, negative) and ignore_index (-100 and a valid class),
// linearCrossEntropy (weights with 0 and negative, ignore_index -100 and a valid class, label
// smoothing, 'none' with gradOutput per token, no bias, all ignored, zero total weight, C = 70000
// across token chunks), softmaxBackward / logSoftmaxBackward with inf / NaN / 1e308, setThreads(2)
// against 1 thread on ten ops; float32 and float64.
//
// Oracle: PyTorch 1.13 (/usr/bin/python3) and mpmath. tests/redteam23/generate.py (numpy seed 23)
// writes tests/redteam23/cases.json: torch float64 autograd on the call's inputs (float32 calls:
// the float32-rounded inputs in float64), ctcLoss also a 40-digit mpmath forward-backward on the
// probabilities (mpLoss / mpGrad), focalLoss's confident rows 50-digit mpmath, the chunked
// linearCrossEntropy also a float80 (numpy longdouble) gradInput. tests/redteam23/run.ts runs a
// case and measures ulps in the call's type in units of the output's largest |value| (a gradient
// against its largest entry). Builds: WASM_XENT_BUILD=simd / scalar npx jest tests/redteam23.test.ts.
//
// FINDINGS (describe 'FINDINGS'; every build. F1 and F2 are precision, where PyTorch float64 is as
// far or further from the exact value; F3 is NaN / inf where PyTorch is finite):
//  F1 ctcLoss float64: the gradient loses about |loss| ulps, because the posteriors are divided by
//     p = exp(-nll) rebuilt from the rounded nll (ctc.ts backward: n = floor(nll / ln 2), er =
//     exp(nll - n ln 2)): nll's rounding error, ulp(nll) / 2, becomes a relative error of every
//     posterior. The m 2^k format keeps all the digits of alpha and beta (ctc.ts's header promises
//     "a state a thousand nats below its neighbours keeps all its digits"); p from the final alphas'
//     (m, k) would keep them in the gradient too. Exact case: T = 2, C = 2, target [1], every
//     log-probability v ('sum'): the posteriors are exactly 1/3 (blank) and 2/3 (label) at both
//     frames for any v, so grad = [e^v - 1/3, e^v - 2/3] per frame:
//       v = -700:   got [-0.33333333333331516, -0.6666666666666303]  (327 ulps)
//       v = -5000:  got [-0.33333333333339094, -0.6666666666667819]  (1038 ulps)
//       v = -1e5:   got [-0.33333333332854037, -0.6666666666570807]  (86342 ulps, 1.4e-11 relative)
//     (torch float64: -0.33333333333331516 / -0.6666666666667452, ..., -0.3333333333382416: its
//     log space has the same error.) cases.json 'ctc f64 tiny label probs' (T = 60, blank log-prob
//     0, labels -700, target [1, 2, 1, 2]): grad[24] got 0.06666666666662835, mpmath
//     0.06666666666666667 (2761 ulps; torch 64737 ulps); 'ctc f64 long T 1500 S 300' (nll 2220.8)
//     3636 ulps from mpmath (torch 62160). Asked: the T = 2 rows within 16 ulps, 'tiny label probs'
//     within 256 ulps of mpmath.
//     Visible in float32 once nll reaches ~1e9 (the README's reason for f64 maths: "float32's ulp
//     at 1000 would show directly"): T = 3, C = 3, target [1], frames 0 and 2 log(1/3) each, frame 1
//     [-1e10, -1e10, 0] (log_softmax of itself: certain of class 2); every alignment takes one e^v at
//     frame 1, so the exact gradient is [-1/6, -1/6, 1/3, -1/3, -2/3, 1, -1/6, -1/6, 1/3] for any v.
//     Float32 got [-0.16666618, -0.16666618, 0.33333331, -0.33333302, -0.66666603, 1, ...] (49 ulps
//     at grad[0]); asked within 4 float32 ulps.
//  F3 ctcLoss, the same input with v <= about -6e15 (|k| beyond 2^53: the exponents k, integers
//     held in f64, round, and k_a + k_b - k_y + n in backward is off by thousands, so pow2 gives
//     +inf or 0): finite inputs, a possible transcript, a finite loss, yet
//       v = -1e20 (float64 and float32): grad [NaN, -inf, 0.3333, -inf, -inf, 1, NaN, -inf, 0.3333]
//       (loss 1e20), where torch float64 gives finite values ([-2.67, -2.67, 0.33, -1, -1, 1, ...],
//       itself far from exact) and the exact gradient is the one above;
//       v = -1e17: grad [0.33299, 0.33299, 0.3333, -0.000228, -0.000456, 1, ...] (the posteriors
//       lost: exact -1/6, -1/3, -2/3);
//       v = -1e300: grad [0.3333, 0.3333, 0.3333, 0, 0, 1, ...] (posteriors 0).
//     Also the uniform T = 2 case of F1 at v = -1e20: [NaN, -inf, NaN, -inf]. A frame where the
//     network is certain of a class outside the transcript with logits 1e20 apart is a
//     log_softmax output (masking with -1e20 gives it). Asked: finite, within 1e-3 of exact.
//  F2 focalLoss float64 rows whose p_t is close to 1: u = 1 - exp(lp_t) with lp_t = (x_t - m) -
//     log(S) (assembly/focal.ts) cancels, so the loss and the whole gradient row carry a relative
//     error of about eps / u: [30, 0, 0], target 0, gamma 2, 'none': loss got 6.55848304727481e-39,
//     mpmath 6.5552100991893453e-39 (5.0e-4 relative; torch float64 6.535170925598218e-39, 3.1e-3);
//     grad[0] got -1.9675755051849617e-38, mpmath -1.9665630297564969e-38 (5.1e-4). [12, 0, -1]:
//     loss got 5.936534461915112e-16, mpmath 5.9365344618781383e-16 (6.2e-12 relative; torch the
//     same as the library). lp_t = -log1p(R) (R the sum of the other exps over the max's) and u =
//     -expm1(lp_t) keep every digit; README's "the gradient follows autograd's chain" would still
//     hold (the same chain, better-rounded values). Same class as the known sigmoidFocalLoss
//     confident-row error, on the other focal op. Asked: within 1e-9 relative of mpmath per element.
//
// All three fixed in the commit after the one that added this file (every FINDINGS test passes on
// simd and scalar): F1 and F3 in assembly/ctc.ts (p taken from the final alphas' m 2^k, not from
// exp(nll); the gradient's forward pass run again with finite log-probabilities below
// emissionFloor(Tb) = -2^50 ln 2 / Tb taken as that floor, so every exponent sum stays exact, the
// loss keeping the unclamped pass), F2 in assembly/focal.ts (log S = log1p(R) where 1 < S < 2,
// u = 0 - expm1(lp_t), and the max target's gradient G u; where S rounds to 1, PyTorch's p_t = 1).
//
// OBSERVATIONS (no failing test):
//  O1 logSoftmaxBackward float64 row gradOutput [1e308, 1e308, 0, 0, -1e308], output log_softmax
//     of [800, 0, 0, 0, 0]: sum(g) overflows to inf in the library's order (exact 1e308), grad[0] =
//     -inf where torch (whose vector order happens to stay finite) gives 0 (the exact value).
//     Order-dependent overflow of a sum of finite numbers near the type's max; left out of 'held'.
//  O2 linearCrossEntropy float32 with C = 70000 (two token chunks): gradInput 790 ulps of its
//     largest entry from a float80 reference (-0.04201803728938103 for -0.042015093217369875);
//     torch float32 is 331 ulps away. Within README's 1e-4 (abs + rel) promise; float64 329 ulps
//     (8e-16 absolute, within its 1e-10).
//  O3 ctcLoss float64 gradients in general: 9-90 ulps from mpmath on short random cases, always
//     closer than torch float64 (14-396 ulps); 'held' asks exactly that (never further than torch).
//
// HELD (describe 'held', simd and scalar): every other case of cases.json within 8 ulps (float64)
// / 2 ulps (float32; linearCrossEntropy 4: its float32 GEMMs) of torch float64 (ctc: loss within 16 ulps of mpmath, float32 gradient within
// 2 ulps of torch float64, float64 gradient no further from mpmath than torch float64 is);
// bce's p = 0 / 1 clamp (loss 100, gradient -1000000003995.8029 as torch's float EPSILON gives);
// focalLoss p_t = 1 NaN rows for 0 < gamma < 1 and 0 for gamma 1; ctcLoss S > T (inf / NaN, zero
// with zeroInfinity), inputLength 0 with S = 0, blank / inputLength range errors; setThreads(2)
// bit-identical to 1 thread for ctcLoss, focalLoss, sigmoidFocalLoss, binaryCrossEntropy(WithLogits),
// nllLoss, klDiv, logSoftmax, softmaxBackward, tokenScores.
import * as fs from 'fs';
import * as path from 'path';
import * as X from '../src';
import { runCase, compare, Case, nums } from './redteam23/run';
import { ulps } from './helpers/same';

jest.setTimeout(300000);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const CASES: Case[] = JSON.parse(fs.readFileSync(path.join(__dirname, 'redteam23', 'cases.json'), 'utf8')).cases;
const byName = (n: string): Case => { const c = CASES.find((k) => k.name === n); if (!c) throw new Error(`no case ${n}`); return c; };

beforeAll(() => X.init());

/** ctcLoss on T = 2, C = 2, target [1], every log-probability v, 'sum': the exact gradient. */
function ctcUniform(v: number): { got: number[]; want: number[] } {
  const r = X.ctcLoss({ data: new Float64Array([v, v, v, v]), shape: [2, 1, 2] }, [1], [2], [1], { grad: true, reduction: 'sum' });
  const e = Math.exp(v);
  return { got: Array.from(r.grad as Float64Array), want: [e - 1 / 3, e - 2 / 3, e - 1 / 3, e - 2 / 3] };
}
const maxUlps = (got: number[], want: number[], scale: number) => Math.max(...got.map((g, i) => ulps(g, want[i], false, scale)));
const relErr = (got: number[], want: number[]) => Math.max(...got.map((g, i) => (g === want[i] ? 0 : Math.abs(g - want[i]) / Math.abs(want[i]))));

describe('FINDINGS', () => {
  test.each([-700, -5000, -1e5])('F1 ctcLoss float64 T = 2 uniform log-probabilities %p: posteriors exactly 1/3, 2/3 (within 16 ulps)', (v) => {
    const { got, want } = ctcUniform(v);
    expect(maxUlps(got, want, 2 / 3)).toBeLessThanOrEqual(16);
  });
  test('F1 ctcLoss float64 tiny label probabilities (T = 60, labels at -700): within 256 ulps of mpmath', () => {
    const c = byName('ctc f64 tiny label probs');
    const got = runCase(X, c).grad;
    const want = nums(c.want.mpGrad);
    const scale = Math.max(...want.map(Math.abs));
    expect(maxUlps(got, want, scale)).toBeLessThanOrEqual(256);
  });
  /** T = 3, C = 3, target [1]: frames 0 and 2 uniform (log 1/3), frame 1 log_softmax([v, v, 0]) =
   *  [v, v, 0] (certain of class 2, outside the transcript). Every alignment takes exactly one e^v
   *  at frame 1, so the posteriors are those of a uniform problem for any v. */
  const FRAME = (v: number) => { const l = Math.log(1 / 3); return [l, l, l, v, v, 0, l, l, l]; };
  const FRAME_GRAD = [-1 / 6, -1 / 6, 1 / 3, -1 / 3, -2 / 3, 1, -1 / 6, -1 / 6, 1 / 3];
  test('F1 ctcLoss float32, a frame of log-probabilities [-1e10, -1e10, 0]: gradient within 4 float32 ulps of the exact one', () => {
    const r = X.ctcLoss({ data: Float32Array.from(FRAME(-1e10)), shape: [3, 1, 3] }, [1], [3], [1], { grad: true, reduction: 'sum' });
    const got = Array.from(r.grad as Float32Array);
    expect(Math.max(...got.map((g, i) => ulps(g, Math.fround(FRAME_GRAD[i]), true, 1)))).toBeLessThanOrEqual(4);
  });
  test.each([['f64', -1e17], ['f64', -1e20], ['f32', -1e20], ['f64', -1e300]])('F3 ctcLoss %s, a frame [%p, v, 0] on every alignment: finite loss, gradient finite and within 1e-3 of the exact one', (dt, v) => {
    const T = dt === 'f32' ? Float32Array : Float64Array;
    const r = X.ctcLoss({ data: T.from(FRAME(v as number)), shape: [3, 1, 3] }, [1], [3], [1], { grad: true, reduction: 'sum' });
    expect(Number.isFinite(r.loss)).toBe(true);
    const got = Array.from(r.grad as Float64Array);
    expect(got.map((g, i) => Math.abs(g - FRAME_GRAD[i]) <= 1e-3)).toEqual(new Array(9).fill(true));
  });
  test('F2 focalLoss float64 confident rows ([30, 0, 0], [12, 0, -1], [20, 3, 1]; gamma 2): loss and gradient within 1e-9 relative of mpmath', () => {
    const c = byName('focal f64 confident mp');
    const got = runCase(X, c);
    expect(relErr(got.loss, nums(c.want.mpLoss))).toBeLessThanOrEqual(1e-9);
    expect(relErr(got.grad, nums(c.want.mpGrad))).toBeLessThanOrEqual(1e-9);
  });
});

describe('held', () => {
  const FINDING_CASES = new Set(['ctc f64 tiny label probs', 'focal f64 confident mp']);
  const OBSERVED = new Set(['logSoftmaxBackward f64 A', 'lce f64 chunked ignore eps mean', 'lce f32 chunked ignore mean']);
  const rows = CASES.filter((c) => !FINDING_CASES.has(c.name) && !OBSERVED.has(c.name)).map((c) => [c.name, c] as [string, Case]);
  test.each(rows)('%s', (_n, c) => {
    const got = runCase(X, c);
    const w = compare(c, got);
    const f32 = c.dtype === 'f32';
    for (const r of w) {
      if (c.op === 'ctc') {
        if (r.key === 'mpLoss') expect(r.ulps).toBeLessThanOrEqual(16);
        if (r.key === 'grad' && f32) expect(r.ulps).toBeLessThanOrEqual(2);
        if (r.key === 'mpGrad' && f32) expect(r.ulps).toBeLessThanOrEqual(2);
        if (r.key === 'mpGrad' && !f32) {
          // never further from mpmath than torch float64 is
          const torchVsMp = compare({ ...c, want: { mpGrad: c.want.mpGrad } }, { grad: nums(c.want.grad) })[0].ulps;
          expect(r.ulps).toBeLessThanOrEqual(Math.max(torchVsMp, 8));
        }
        continue;
      }
      // (focalLoss float64: 16, not 8. Since F2's fix a row with 1 < S < 2 forms its target's gradient
      // as G u, where torch forms G - G s_t: 'confident gamma 2 none' [5, 4, 0] grad[6] is
      // -0.10924407065610608, torch -0.10924407065610596, mpmath -0.10924407065610604: 3 ulps from
      // the exact value, torch 6, so 9 apart)
      const tol = f32 ? (c.op === 'lce' ? 4 : 2) : c.op === 'focal' ? 16 : 8;
      expect([r.key, r.i, r.got, r.want, r.ulps <= tol]).toEqual([r.key, r.i, r.got, r.want, true]);
    }
  });

  test('chunked linearCrossEntropy (C = 70000): loss, gradWeight rows, gradBias within 8 ulps; gradInput within README bounds of float80', () => {
    for (const name of ['lce f64 chunked ignore eps mean', 'lce f32 chunked ignore mean']) {
      const c = byName(name);
      const got = runCase(X, c);
      const w = compare(c, got);
      for (const r of w) if (r.key !== 'gradInput' && r.key !== 'refGradInput') expect([name, r.key, r.ulps <= 8]).toEqual([name, r.key, true]);
      const ref = nums(c.want.refGradInput);
      const tol = c.dtype === 'f32' ? 1e-4 : 1e-10;
      got.gradInput.forEach((g, i) => expect(Math.abs(g - ref[i]) <= tol * (1 + Math.abs(ref[i]))).toBe(true));
    }
  });

  test('binaryCrossEntropy p = 0 / 1 clamps the log at -100 and the gradient at torch float EPSILON', () => {
    const r = X.binaryCrossEntropy({ data: new Float64Array([0, 1, 0, 1, -0]), shape: [5] }, { data: new Float64Array([1, 0, 0, 1, 1]), shape: [5] },
      { grad: true, reduction: 'none', gradOutput: [1, 1, 1, 1, 1] });
    expect(Array.from(r.loss as Float64Array).map((v) => v + 0)).toEqual([100, 100, 0, 0, 100]);
    expect(Array.from(r.grad as Float64Array)).toEqual([-1000000003995.8029, 1000000003995.8029, 0, 0, -1000000003995.8029]);
  });

  test('focalLoss at p_t = 1: NaN row for gamma 0.5, zero row for gamma 1 (autograd chain)', () => {
    const x = { data: new Float64Array([50, 0, 0, 1, 2, 3]), shape: [2, 3] };
    const a = X.focalLoss(x, [0, 2], { gamma: 0.5, grad: true });
    expect(Array.from(a.grad as Float64Array).slice(0, 3).every(Number.isNaN)).toBe(true);
    const b = X.focalLoss(x, [0, 2], { gamma: 1, grad: true });
    expect(Array.from(b.grad as Float64Array).slice(0, 3).map((v) => v + 0)).toEqual([0, 0, 0]);
  });

  test('ctcLoss impossible transcripts, empty inputs and range errors', () => {
    const lp = { data: new Float64Array(9).fill(Math.log(1 / 3)), shape: [3, 1, 3] };
    const a = X.ctcLoss(lp, [1, 2, 1, 2], [3], [4], { grad: true });
    expect(a.loss).toBe(Infinity);
    expect(Array.from(a.grad as Float64Array).every(Number.isNaN)).toBe(true);
    const b = X.ctcLoss(lp, [1, 1, 1], [3], [3], { grad: true, zeroInfinity: true });
    expect([b.loss, ...Array.from(b.grad as Float64Array)]).toEqual(new Array(10).fill(0));
    const c = X.ctcLoss(lp, [], [0], [0], { grad: true });
    expect([c.loss, ...Array.from(c.grad as Float64Array)]).toEqual(new Array(10).fill(0));
    expect(() => X.ctcLoss(lp, [1], [3], [1], { blank: 3 })).toThrow(RangeError);
    expect(() => X.ctcLoss(lp, [1], [4], [1])).toThrow(RangeError);
    expect(() => X.ctcLoss(lp, [0], [3], [1])).toThrow(RangeError); // the blank as a label
  });

  test('setThreads(2) is bit-identical to 1 thread on ten ops', async () => {
    function rnd(n: number, s = 1): Float64Array {
      const a = new Float64Array(n);
      let x = 12345;
      for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) % 2147483648; a[i] = (x / 2147483648 - 0.5) * 2 * s; }
      return a;
    }
    const runs: Record<string, () => number[]> = {
      ctc: () => {
        const T = 200, N = 16, C = 20, S = 30;
        const lp = X.logSoftmax({ data: rnd(T * N * C, 3), shape: [T, N, C] });
        const tg = new Int32Array(N * S).map((_, i) => 1 + ((i * 7) % 19));
        const r = X.ctcLoss({ data: lp, shape: [T, N, C] }, { data: tg, shape: [N, S] }, Array.from({ length: N }, (_, i) => T - i * 3),
          Array.from({ length: N }, (_, i) => S - i), { grad: true, reduction: 'mean' });
        return [r.loss as number, ...Array.from(r.grad as Float64Array)];
      },
      focal: () => { const N = 4000, C = 37; const r = X.focalLoss({ data: rnd(N * C, 4), shape: [N, C] }, Int32Array.from({ length: N }, (_, i) => i % C), { grad: true, gamma: 1.5 }); return [r.loss as number, ...Array.from(r.grad as Float64Array)]; },
      sfocal: () => { const n = 100000; const r = X.sigmoidFocalLoss({ data: rnd(n, 5), shape: [n] }, { data: new Float64Array(n).map((_, i) => (i % 3 === 0 ? 1 : 0)), shape: [n] }, { grad: true, reduction: 'mean' }); return [r.loss as number, ...Array.from(r.grad as Float64Array)]; },
      bce: () => { const n = 100000; const p = rnd(n, 0.5).map((v) => v + 0.5); const r = X.binaryCrossEntropy({ data: p, shape: [n] }, { data: new Float64Array(n).map((_, i) => (i % 3 === 0 ? 1 : 0)), shape: [n] }, { grad: true }); return [r.loss as number, ...Array.from(r.grad as Float64Array)]; },
      bcel: () => { const n = 100000; const r = X.binaryCrossEntropyWithLogits({ data: rnd(n, 5), shape: [1000, 100] }, { data: new Float64Array(n).map((_, i) => (i % 3 === 0 ? 1 : 0)), shape: [1000, 100] }, { grad: true, posWeight: Array.from({ length: 100 }, (_, i) => i / 10) }); return [r.loss as number, ...Array.from(r.grad as Float64Array)]; },
      nll: () => { const N = 8, C = 5, H = 100; const r = X.nllLoss({ data: rnd(N * C * H, 3), shape: [N, C, H] }, { data: Int32Array.from({ length: N * H }, (_, i) => (i % 7 === 0 ? -100 : i % C)), shape: [N, H] }, { grad: true, weight: [1, 2, 3, 0.5, 0.1] }); return [r.loss as number, ...Array.from(r.grad as Float64Array)]; },
      kl: () => { const n = 100000; const r = X.klDiv({ data: rnd(n, 3), shape: [n] }, { data: rnd(n, 0.5).map((v) => v + 0.5), shape: [n] }, { grad: true, reduction: 'batchmean' }); return [r.loss as number, ...Array.from(r.grad as Float64Array)]; },
      lsm: () => Array.from(X.logSoftmax({ data: rnd(300 * 1000, 10), shape: [300, 1000] })),
      smb: () => { const y = X.softmax({ data: rnd(300 * 1000, 10), shape: [300, 1000] }); return Array.from(X.softmaxBackward({ data: rnd(300000, 1), shape: [300, 1000] }, { data: y, shape: [300, 1000] })); },
      ts: () => { const r = X.tokenScores({ data: rnd(64 * 2000, 10), shape: [64, 2000] }, Int32Array.from({ length: 64 }, (_, i) => i)); return [...Array.from(r.entropy), ...Array.from(r.lse), ...Array.from(r.logProb)]; },
    };
    try {
      for (const [k, f] of Object.entries(runs)) {
        X.setThreads(1);
        const a = f();
        await X.setThreads(2);
        const b = f();
        let d = 0;
        for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) d++;
        expect([k, d]).toEqual([k, 0]);
      }
    } finally {
      await X.setThreads(1);
    }
  });
});
