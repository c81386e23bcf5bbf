// Red team 25 (a helper that did not write the code, on c1ae0f8).
//
// Oracle: tests/redteam25/generate.py writes tests/redteam25/cases.json: ctcLoss by enumerating every
// alignment in mpmath (60 digits) on the exact inputs (float32 cases: the float32-rounded values),
// plus PyTorch 1.13 float64 autograd (torchGrad, shown but not asserted: it is wrong on two of them).
// Builds: WASM_XENT_BUILD=simd / scalar npx jest tests/redteam25.test.ts.
//
// FINDINGS (describe 'FINDINGS'), fail on simd and scalar:
//  F1 ctcLoss (float64 and float32): the scaled rerun of the gradient's forward pass (emissionFloor)
//     does not help where every alignment must take masked emissions: repeated labels force a blank
//     between them, so with T = 2 S - 1 (or a masked frame with no other way through) the only
//     alignment carries the -1e20 / -3.4e38 log-probabilities, and frameMax cannot scale them away
//     (the frame's max is another class). The posterior exponent k_a + k_b - k_y - k_p is then a
//     sum of integers of size |lp| log2 e, rounded in f64 (ulp 8 at 4e16, 16384 at 1e20): the
//     posterior 1 comes out 2^-8, 2^-1022 or 0. The loss is right. T = 3, C = 2 (blank 0),
//     target [1, 1], lengths [3] / [2], 'sum'; the only alignment is (1, blank, 1), so the exact
//     gradient (exp(lp) - posterior) is [1, -1, -1, 1, 1, -1]:
//       float64 [[0, -1e20], [-1e20, 0], [0, -3e20]]:        got [1, -1, -2.2250738585072014e-308, 1, 1, -1]
//                                                            (mpmath and torch float64 [1, -1, -1, 1, 1, -1])
//       float64 [[0, -1e16-16], [-3e16, 0], [0, -7e15-8]]:   got [1, -0.00390625, -0.00390625, 1, 1, -1.0000000000000002]
//                                                            (mpmath [1, -1, -1, 1, 1, -1]; torch is off too, -3.4e-4)
//       float32 [[0, -1e20], [-3.4e38, 0], [0, -3.4e38]]:    got [1, -1, 0, 1, 1, 0] (mpmath [1, -1, -1, 1, 1, -1])
//       float32 [[0, -1e20], [-1e20, 0], [0, -1.2345e25]]:   got [1, -0, -1, 1, 1, -0] (mpmath and torch [1, -1, -1, 1, 1, -1])
//     Not only forced alignments: random float32 T = 5, C = 3 frames with 35% of entries masked
//     (-k 1e20, k = 1..7, or -3.4e38) and 1-3 label targets: 20 of 150 off by up to 0.9. Two:
//       target [2, 1] (no repeat; every alignment takes one -1e20..-7e20 emission, loss 1.00000002e20):
//         got grad[0] 0.14801, mpmath 0.38172 (other entries right); torch float64 is off too (-1.009)
//       target [1, 2] (loss 3.4e38): got [-0.43121, -1.24853, 0.386, -0.65448, 0, -0.51586, ...],
//         mpmath [0, -0.88217, 0.386, -0.37276, 0, 0, ...] (torch float64 -inf there)
//     (lp rows in tests/redteam25/generate.py). Realistic: T = 40, C = 5, float32 log_softmax of
//     logits with 15% set to -1e20 (masked vocabulary), target [3, 3, 4, 4, 4, 1, 4, 4] (lp in
//     tests/redteam25/t40.json; mpmath forward-backward at 80 digits): loss 1.00000002e20 (right),
//     grad[40] (t = 8, blank) got -27333.47, mpmath -0.25955 (every true entry lies in [-1, 1]);
//     torch float64 is wrong too (-11.1; its worst entry off by 50). 5 of 30 such seeded draws off
//     (those whose every alignment takes one masked emission). Error up to 1 in entries of magnitude 1. A scan of
//     3 x 3 x 3 forced-alignment masks gave 166 / 729 (float32) and 530 / 1728 (float64) triples off.
//     The scaled rerun removes only each frame's max; it would need the exponents of the
//     alignments that matter (not of the frame's best class) kept small, e.g. dividing by the
//     posterior-weighted path (a Viterbi-like pass) or carrying the exponent sums exactly (two f64s).
//     Asked: within 1e-6 of mpmath.
//
// Fixed the only way float64 exponents allow, in the commit after the one that added this file:
// not exact, but never a finite wrong number. Where the scaled pass ran, backward checks each
// posterior's exponent (ctc.ts exponentInexact: terms beyond 2^52 and a result not far enough below
// the underflow for their rounding to leave it 0); if any may be wrong, the element's gradient is
// NaN (the loss stays exact). The FINDINGS tests therefore accept an all-NaN element or the exact
// gradient, and fail on any finite number off mpmath by more than 1e-6; the two T3 triples of
// 'held' that were exact by luck (their rounding cancelled) are now NaN too.
//
// HELD (describe 'held'): the same triples where the exponents happen to cancel ([[0, -1e20],
// [-3e20, 0], [0, -7e19]] float64 and float32); a T = 8, C = 3, target [1, 1, 2, 2] float32 case
// with -1e20 / -3.4e38 masks on four frames (several alignments; within 1e-6 of mpmath); a masked
// float32 batch (T = 6, B = 4, 'mean') bit-identical under setThreads(2). Explored, not in tests:
// focalLoss gamma 0.25 / 0.5 / 0.999 / 1.5 / 3 on confident rows, near-ties at the max, every target
// (float64 within 4 ulps of mpmath, float32 within rounding); linearCrossEntropy confident tokens
// with zLoss / labelSmoothing / softcap and gradOutput 1 / 1e3 / 1e30 (no further from mpmath
// than torch float64); crossEntropy [N, 2, L] float32, L in 1..33, gradOutput up to 3e38 (the
// differences from torch float64 are float32's own 1 - p rounding, as torch float32 has).
import * as fs from 'fs';
import * as path from 'path';
import * as X from '../src';
import { jsonNumber } from './helpers/same';

jest.setTimeout(300000);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
type Case = { name: string; op: string; dtype: 'f32' | 'f64'; spec: Any; want: Record<string, Any> };
const FILE = JSON.parse(fs.readFileSync(path.join(__dirname, 'redteam25', 'cases.json'), 'utf8'));
const CASES: Case[] = FILE.cases;
const nums = (a: Any[]): number[] => a.map(jsonNumber);
const byName = (n: string) => CASES.find((c) => c.name === n) as Case;

beforeAll(() => X.init());

function runCtc(c: Case): { loss: number; grad: number[] } {
  const T = c.dtype === 'f32' ? Float32Array : Float64Array;
  const [Tn, , C] = c.spec.shape;
  const r = X.ctcLoss({ data: T.from(nums(c.spec.lp)), shape: [Tn, 1, C] }, c.spec.target, [Tn], [c.spec.target.length], { grad: true, reduction: 'sum' });
  return { loss: r.loss as number, grad: Array.from(r.grad as ArrayLike<number>) };
}

/** The loss within 1e-12 (float32 1e-6) of mpmath, and the gradient within 1e-6 of it, or, where
 *  `nanAllowed`, NaN for the whole element: since the fix commit, alignments that all take emissions
 *  far below their frames' largest get NaN where their posteriors' exponents cannot be exact in
 *  float64 (ctc.ts exponentInexact; README), never a finite wrong number. */
function expectCtcMp(c: Case, nanAllowed = false) {
  const r = runCtc(c);
  const want = nums(c.want.mpGrad);
  const wantLoss = jsonNumber(c.want.mpLoss);
  expect(Math.abs(r.loss - wantLoss) / Math.abs(wantLoss)).toBeLessThan(c.dtype === 'f32' ? 1e-6 : 1e-12);
  if (nanAllowed && r.grad.every((g) => Number.isNaN(g))) return;
  const err = Math.max(...r.grad.map((g, i) => Math.abs(g - want[i])));
  if (!(err < 1e-6)) throw new Error(`${c.name}: grad ${JSON.stringify(r.grad)} vs mpmath ${JSON.stringify(want)} (max error ${err})`);
}

const F1 = ['f64 T3 [1,1] -1e20 -1e20 -3e20', 'f64 T3 [1,1] -1e16-16 -3e16 -7e15-8', 'f32 T3 [1,1] -1e20 -3.4e38 -3.4e38', 'f32 T3 [1,1] -1e20 -1e20 -1.2345e25',
  'f32 T5 random masks target [1, 2]', 'f32 T5 random masks target [2, 1]', 'f32 T40 C5 log_softmax masks'];
const HELD = ['f64 T3 [1,1] -1e20 -3e20 -7e19', 'f32 T3 [1,1] -1e20 -3e20 -7e19', 'f32 T8 [1,1,2,2] masked frames'];

describe('FINDINGS', () => {
  for (const n of F1) test(`F1 ctcLoss forced alignment through masks: ${n} (exact, or NaN: never a finite wrong number)`, () => expectCtcMp(byName(n), true));
});

describe('held', () => {
  // (the two T3 triples were exact by luck, their rounding cancelling: NaN now, as F1)
  for (const n of HELD) test(`ctcLoss ${n}`, () => expectCtcMp(byName(n), n.startsWith('f64 T3') || n.startsWith('f32 T3')));
  test('ctcLoss masked float32 batch (scaled rerun): setThreads(2) bit-identical to 1 thread', async () => {
    let s = 7;
    const rnd = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
    const T = 6, B = 4, C = 3;
    const lp = new Float32Array(T * B * C);
    for (let i = 0; i < lp.length; i++) { const r = rnd(); lp[i] = r < 0.2 ? -1e20 : r < 0.3 ? -3.4e38 : Math.log(r); }
    const tg = { data: Int32Array.from([1, 1, 2, 2, 2, 1, 1, 2, 2, 2, 1, 1]), shape: [B, 3] };
    const run = () => X.ctcLoss({ data: lp, shape: [T, B, C] }, tg, [6, 5, 6, 6], [3, 3, 2, 3], { grad: true, reduction: 'mean' });
    const a = run();
    try {
      await X.setThreads(2);
      const b = run();
      expect(Object.is(a.loss, b.loss)).toBe(true);
      const ga = a.grad as Float32Array, gb = b.grad as Float32Array;
      for (let i = 0; i < ga.length; i++) if (!Object.is(ga[i], gb[i])) throw new Error(`grad[${i}] ${ga[i]} vs ${gb[i]}`);
    } finally { await X.setThreads(1); }
  });
});
