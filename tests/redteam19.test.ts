// Red team 19 (a helper that did not write the code, on 54bd3c2): crossEntropy's softmax-exactly-1
// rule with labelSmoothing / zLoss (exactOneGrad, exactOneClass, softmaxOnes), binaryCrossEntropy
// (WithLogits) 'mean' now multiplying by 1 / n last, and the bundled dist/browser. Oracle: PyTorch
// 1.13 (f32 results against torch f32, f64 against torch f64; every value below was computed with
// it). Builds: simd, scalar, relaxed (scripts/jest-relaxed.mjs).
//
// FINDINGS (each test in describe('FINDINGS') failed on 54bd3c2 on the builds named; fixed in the
// commit that added this file: the exps' factor a stays where S = 1, only the class whose exp is 1
// is overwritten, and a is set to 0 only where it overflows T (overflowToZero,
// assembly/cross_entropy.ts), which keeps red team 18's F1 fixes):
//  F1 crossEntropy with labelSmoothing or zLoss: where a row's sum of exps S rounds to exactly 1,
//     every class other than the one whose exp is 1 gets the factor 0 times its exp ("the exps'
//     factor is then 0, as every other exp is"), but those exps are not 0: S = 1 only says they sum
//     below half an ulp of 1. PyTorch's g_c - p_c sum(g) keeps p_c sum(g) there, and where g_c is 0
//     (z-loss without smoothing, a class weight of 0) that is the whole gradient, which PyTorch
//     (and the library's own path one logit closer) gives to full relative precision. S is exactly
//     1 from gaps x_c - m below ~-36.7 where the sum is formed in float64 (every build: float64, and
//     float32 rows the row loop sums in f64), and from ~-16.6 where float32 sums in T first (SIMD /
//     relaxed: float32 columns, i.e. NCHW / (N, C, L) and rows of <= 16 classes regrouped, N >= 8).
//     Rows x = [0, -gap], target 0, 'sum', gradOutput 1, class 1's gradient:
//       zLoss 1e-4:              f32 gap 17  torch 4.139937459513021e-08, got 0 ([8, 2], SIMD/relaxed)
//                                f32 gap 20  torch 2.06115369216775e-09,  got 0 ([8, 2], SIMD/relaxed)
//                                f32 gap 40  torch 4.24835413113866e-18,  got 0 ([1, 2] and [8, 2], every build)
//                                f64 gap 40  torch 4.248354255291589e-18, got 0 (every build, [1, 2] and [8, 2])
//                                f64 gap 700 torch 9.85967654375977e-305, got 0 (every build)
//       labelSmoothing 1e-9:     f32 gap 17  torch 4.0899376330116866e-08, got -4.999999858590343e-10 (sign
//                                flipped, [8, 2] SIMD/relaxed); f64 gap 40 torch -4.999999957516458e-10,
//                                got -5e-10 (3.8e7 ulps, every build)
//       labelSmoothing 0.1, weight [1, 0]: f32 gap 40 torch 4.0359362177865736e-18, got 0 (every build);
//                                f64 gap 40 torch 4.03593654252701e-18, got 0 (every build)
//       labelSmoothing 0.1:      f32 gap 17 [8, 2] torch -0.04999995976686478, got -0.05000000074505806
//                                (11 f32 ulps; the [1, 2] row gives torch's bits), SIMD/relaxed.
//     On random rows (zLoss 1e-4, float32 [10, 4], x = [-15.9, -38.4, 3.0, -83.9], target 2) class 0
//     gets 0 for torch's 6.114560413550407e-09 (SIMD). The lost entries are below half an ulp of the
//     row's k ((1 - eps) w_t + eps W / C + 2 z lse) (so red team 18's scale-relative metric passes
//     them), but they are the class's whole gradient, computed exactly one logit closer, and with a
//     small eps the sign is wrong. Severity: low (magnitudes <= 6e-8 of the row's scale in float32
//     columns, <= 1.1e-16 in float64), a regression of the exactly-1 rule (539b189 / 236ad07); the
//     README's Numerics ("every other logit -inf or far below") overstates it.
//
//     Results on 54bd3c2: SIMD and relaxed 19 FINDINGS tests fail, 6 held pass; scalar 10 fail (the
//     float32 gap >= 40 and float64 cases), 9 pass (its float32 rows sum in f64), 6 held pass.
//
// OBSERVATIONS (no test unless held):
//  - crossEntropy f32 with zLoss, no softmax exactly 1: the target's gradient is e_t a - k w_t with
//    the cross-entropy and z factors summed into a (the open case of red team 18 F1): the z part
//    2 k z lse s_t (small) loses to cancellation, where PyTorch f32 forms the CE part
//    -k w_t (1 - p_t) separately (exactly 0 when p_t rounds to 1). [1, 9] row [-46.7, -132.5, -inf,
//    -76.5, -13.9, -46.3, -56.9, -30.3, 10], weight [1, 2, 0, 0.5, -1, 3, 2, 0, 2], target 8, zLoss
//    1e-4, 'sum', gradOutput 1e30: torch 1.999999829394357e27, exact 1.9999999190e27, got
//    2.0000166528249521e27 (every build; 0.1 ulp of k w_t = 2e30). f32 [3, 33, 33] z 1e-4 at gradOutput
//    1: 38 ulps of the entry (-0.024714112 vs exact -0.0247140412, torch 1 ulp), 0.6 ulp of k. Within
//    red team 18's scale metric, so not listed as a finding.
//  - binaryCrossEntropy(WithLogits) 'mean', float32, gradOutput +-3e38: the SIMD / relaxed vector
//    lanes overflow (d g) w to +-Infinity as PyTorch f32 does; the scalar build and the SIMD tail
//    (element 8 of 9) give the finite float64 value. n = 9, x = -5, y = 1, weight 2: lanes 0-7
//    -Infinity, element 8 -6.622047518676882e37 (scalar build: all -6.62e37); torch -inf everywhere.
//    Bits depend on the build and on the position within one call. (Also torch f32 overflowing
//    g (x - y) / den at gradOutput 3e38 where the library does not: 29 of 700 random cases.)
//  - binaryCrossEntropy (probabilities) at a subnormal float64 gradOutput (1e-310): the library is
//    exact where torch's g (x - y) underflows first (n = 2, weight 1e30: torch 2.835157949700421e-282,
//    exact 2.8351579497026282e-282, got the exact value). 700 random BCE 'mean' cases (n 1-70, 97,
//    1000, 16385, 20000; weight / posWeight none, scalar, [C], full; gradOutput tiny, subnormal, huge,
//    inf, NaN, +-0): no library error beyond 4 ulps of |k w| max(1, |pw|) on any build; 1 and 2 threads
//    identical; 1e6 elements with full weight and posWeight (streamed) match torch.
//  - crossEntropy, 600 random rows near S = 1 (ties, gaps -17..-104 / -37..-745, -inf, NaN / +inf
//    logits, ignored positions, weights 0 / negative, gradOutput inf / NaN / +-0, returnLse, out =
//    input, rows / NCL / NCHW, 1 and 2 threads): out = input gives the same bits; 1 and 2 threads
//    agree; lse within 4 ulps; besides F1, differences are torch's own cancellation at the class whose
//    softmax is 1 (library exact, torch f32 up to 12 ulps off, f64 13 ulps off at ties with z-loss)
//    and the known +-Infinity vs NaN at an infinite gradOutput with negative weights (red team 18).
//    An ignored position with a NaN / +inf logit: the library's z-loss skips it; torch's masked
//    z * lse^2 * 0 would be NaN (a reference artifact, not a finding).
//  - Packaging (npm pack, installed into /tmp/rt19-consumer): 'wasm-xent' and 'wasm-xent/tfjs' under
//    --conditions=browser (import) resolve to dist/browser and share one initialised module (init
//    once, tfjs loss and tf.grad correct; before init the tfjs op throws "not initialised");
//    require under the browser condition loads dist/browser-cjs (one state for both entries; ESM and
//    CJS are two states, the usual dual-package split). No Deno needed. Chromium
//    (/usr/bin/chromium, headless, playwright-core) page with an import map to dist/browser/index.js:
//    crossEntropy correct (labelSmoothing 0.1 on [[1, 2, 3], [0.5, -1, 2]]: loss 1.1244586349348886,
//    torch f32 1.1244585514068604; gradients within 2 f32 ulps), 4 requests (index + 3 chunks; the wasm is embedded), setThreads(2) works
//    under COOP/COEP. Relative imports of every dist/browser file resolve (edge-light/workerd import
//    '../xent.wasm' = dist/xent.wasm, which is in the tarball).
import { spawnSync } from 'child_process';
import { existsSync, readdirSync, readFileSync } from 'fs';
import { join, resolve } from 'path';

import * as X from '../src';

import { jsonNumber as num, ulps } from './helpers/same';

beforeAll(() => X.init());
afterEach(() => X.setThreads(1));

type F = typeof Float32Array | typeof Float64Array;

/** Whether got is torch's entry: 4 float32 ulps of the entry, or 1e-13 relative in float64 (torch f64's
 *  own exp / log rounding: at gap 17 with zLoss 1e-4 it gives 4.139937547428601e-08 where the exact
 *  value is 4.139937547428609e-08, 12 ulps, and the library 4.139937547428608e-8). */
const near = (got: number, want: number, f32: boolean): boolean => (f32 ? ulps(got, want, true) <= 4 : Math.abs(got - want) <= 1e-13 * Math.abs(want));

/** Class 1's gradient (and class 0's) of N copies of the row [0, -gap], target 0, 'sum'. */
function ce2(T: F, N: number, gap: number, options: Record<string, unknown>): number[][] {
  const r = X.crossEntropy({ data: T.from(Array(N).fill([0, -gap]).flat()), shape: [N, 2] }, Int32Array.from(Array(N).fill(0)), { reduction: 'sum', grad: true, ...options } as never);
  return Array.from({ length: N }, (_, i) => [r.grad![2 * i], r.grad![2 * i + 1]]);
}

// [dtype, gap, options, torch 1.13's gradient of class 1 (class 0 is checked only where noted)]
const exactOneRows: [string, number, Record<string, unknown>, number][] = [
  ['float32', 17, { zLoss: 1e-4 }, 4.139937459513021e-08],
  ['float32', 20, { zLoss: 1e-4 }, 2.06115369216775e-09],
  ['float32', 30, { zLoss: 1e-4 }, 9.357622912219837e-14],
  ['float32', 40, { zLoss: 1e-4 }, 4.24835413113866e-18],
  ['float32', 50, { zLoss: 1e-4 }, 1.9287498933537385e-22],
  ['float32', 17, { labelSmoothing: 1e-9 }, 4.0899376330116866e-08],
  ['float32', 20, { labelSmoothing: 1e-9 }, 1.5611536507975643e-09],
  ['float32', 17, { labelSmoothing: 0.1, weight: [1, 0] }, 3.9329403733745494e-08],
  ['float32', 20, { labelSmoothing: 0.1, weight: [1, 0] }, 1.95809590763929e-09],
  ['float32', 40, { labelSmoothing: 0.1, weight: [1, 0] }, 4.0359362177865736e-18],
  ['float32', 17, { labelSmoothing: 0.1 }, -0.04999995976686478],
  ['float64', 40, { zLoss: 1e-4 }, 4.248354255291589e-18],
  ['float64', 50, { zLoss: 1e-4 }, 1.9287498479639178e-22],
  ['float64', 100, { zLoss: 1e-4 }, 3.720075976020836e-44],
  ['float64', 700, { zLoss: 1e-4 }, 9.85967654375977e-305],
  ['float64', 40, { labelSmoothing: 1e-9 }, -4.999999957516458e-10],
  ['float64', 40, { labelSmoothing: 0.1, weight: [1, 0] }, 4.03593654252701e-18],
  ['float64', 100, { labelSmoothing: 0.1, weight: [1, 0] }, 3.5340721772197943e-44],
];

describe('FINDINGS', () => {
  test.each(exactOneRows)('F1 crossEntropy %s [0, -%d] (S rounds to 1) %j: the other class keeps p_c sum(g), as torch', (type, gap, options, want) => {
    const T = type === 'float32' ? Float32Array : Float64Array;
    const bad: string[] = [];
    for (const N of [1, 8, 9]) {
      ce2(T, N, gap, options).forEach(([, g1], i) => {
        // the entry itself: torch forms it without cancellation except for eps 0.1 (its scale 0.05)
        if (!near(g1, want, T === Float32Array)) bad.push(`[${N}, 2] row ${i}: ${g1}`);
      });
    }
    expect(bad).toEqual([]); // now: 0 (zLoss, weight 0), -5e-10 for 4.1e-8 (eps 1e-9), -0.05000000074505806 (eps 0.1)
  });

  test('F1 crossEntropy float32 [10, 4] rows, zLoss 1e-4, target 2, x = [-15.91.., -38.42.., 3, -83.90..]: class 0 6.11456e-9 as torch, not 0', () => {
    const row = [-15.913193702697754, -38.41909408569336, 3.0, -83.89998626708984];
    const r = X.crossEntropy({ data: Float32Array.from(Array(10).fill(row).flat()), shape: [10, 4] }, Int32Array.from(Array(10).fill(2)), { zLoss: 1e-4, reduction: 'sum', grad: true });
    // torch 1.13 f32: [6.114560413550407e-09, 1.0284340691774856e-18, 0.0005999999702908099, 1.8200191972810978e-38] per row
    const bad = Array.from({ length: 10 }, (_, i) => r.grad![4 * i]).filter((g) => ulps(g, 6.114560413550407e-09, true) > 4);
    expect(bad).toEqual([]); // now: 0 at every row on SIMD / relaxed (columns); the scalar build's f64 sum is not 1
  });
});

describe('held', () => {
  test('crossEntropy one gap short of S = 1 (rows of one position; float64 at every N): torch within 4 ulps of the entry', () => {
    // torch 1.13, x = [0, -gap], target 0, 'sum', class 1
    const cases: [F, number[], number, Record<string, unknown>, number][] = [
      [Float32Array, [1], 17, { zLoss: 1e-4 }, 4.139937459513021e-08],
      [Float32Array, [1], 20, { labelSmoothing: 1e-9 }, 1.5611536507975643e-09],
      [Float32Array, [1], 30, { labelSmoothing: 0.1, weight: [1, 0] }, 8.889741563320938e-14],
      [Float32Array, [1], 17, { labelSmoothing: 0.1 }, -0.04999995976686478],
      [Float64Array, [1, 8, 9], 17, { zLoss: 1e-4 }, 4.139937547428601e-08],
      [Float64Array, [1, 8, 9], 30, { zLoss: 1e-4 }, 9.35762296883931e-14],
      [Float64Array, [1, 8, 9], 30, { labelSmoothing: 1e-9 }, -4.999064237703116e-10],
      [Float64Array, [1, 8, 9], 20, { labelSmoothing: 0.1, weight: [1, 0] }, 1.958095937280695e-09],
    ];
    const bad: string[] = [];
    for (const [T, Ns, gap, options, want] of cases) {
      for (const N of Ns) ce2(T, N, gap, options).forEach(([, g1]) => { if (!near(g1, want, T === Float32Array)) bad.push(`${T.name} N ${N} gap ${gap} ${JSON.stringify(options)}: ${g1} vs ${want}`); });
    }
    expect(bad).toEqual([]);
  });

  test('crossEntropy without smoothing or z-loss at the same rows ([1, 2], [8, 2], [9, 2], float32): torch\'s p_1, the old path', () => {
    // torch 1.13 f32: gap 17 4.139937459513021e-08, 20 2.06115369216775e-09, 30 9.357622912219837e-14, 40 4.24835413113866e-18
    // (class 0 at gap 17: torch f32 0 (its f32 S rounds to 1), the row loop -5.96e-8 (f64 S), exact -4.14e-8: not pinned)
    const bad: string[] = [];
    for (const [gap, want] of [[17, 4.139937459513021e-08], [20, 2.06115369216775e-09], [30, 9.357622912219837e-14], [40, 4.24835413113866e-18]]) {
      for (const N of [1, 8, 9]) ce2(Float32Array, N, gap, {}).forEach(([g0, g1]) => { if (ulps(g1, want, true) > 4 || Math.abs(g0) > 6e-8) bad.push(`gap ${gap} N ${N}: ${g0}, ${g1}`); });
    }
    expect(bad).toEqual([]);
  });

  test('crossEntropy where the class with softmax 1 is found by the scan (target elsewhere, weight 0 at that class), zLoss + returnLse, out = input, 1 and 2 threads: the same bits', () => {
    for (const T of [Float32Array, Float64Array]) {
      const C = 3;
      const N = 40;
      const x = T.from(Array.from({ length: N * C }, (_, i) => (i % C === i % 7 % C ? 5 : i % 2 ? -Infinity : -800)));
      const t = Int32Array.from({ length: N }, (_, i) => (i % 5 === 4 ? -100 : (i * 2) % C));
      const o = { labelSmoothing: 0.2, zLoss: 0.01, returnLse: true, weight: [1, 0, 2], reduction: 'none' as const, gradOutput: T.from(Array.from({ length: N }, (_, i) => [1, -0, 0, 3e30, -2][i % 5])) };
      const ref = X.crossEntropy({ data: x, shape: [N, C] }, t, { ...o, grad: true });
      X.setThreads(2);
      const two = X.crossEntropy({ data: x, shape: [N, C] }, t, { ...o, grad: true });
      X.setThreads(1);
      const xi = T.from(x);
      const inPlace = X.crossEntropy({ data: xi, shape: [N, C] }, t, { ...o, out: xi });
      for (const r of [two, inPlace]) {
        expect(Array.from(r.grad!).every((v, i) => Object.is(v, ref.grad![i]))).toBe(true);
        expect(Array.from(r.lse!).every((v, i) => Object.is(v, ref.lse![i]))).toBe(true);
      }
    }
  });

  test('binaryCrossEntropy(WithLogits) \'mean\', n 1, 7, 9, 33, 70, weight [C], posWeight 3, gradOutput tiny / subnormal / 0.7 / -0 / huge: torch within 4 ulps of |k w| max(1, pw)', () => {
    const cases = JSON.parse(readFileSync(join(__dirname, 'redteam19', 'bce_mean.json'), 'utf8'));
    const bad: string[] = [];
    for (const c of cases) {
      const T = c.dtype === 'float32' ? Float32Array : Float64Array;
      const f32 = T === Float32Array;
      const n = c.x.length;
      const C = c.shape[1];
      const fn = c.logits ? X.binaryCrossEntropyWithLogits : X.binaryCrossEntropy;
      const r = fn({ data: T.from(c.x), shape: c.shape }, { data: T.from(c.y), shape: c.shape },
        { weight: T.from(c.weight), ...(c.logits ? { posWeight: c.posWeight } : {}), reduction: 'mean', grad: true, gradOutput: c.gradOutput } as never);
      Array.from(r.grad!).forEach((g, i) => {
        const want = num(c.grad[i]);
        // torch f32 overflows g (x - y) / den or (d g) w before dividing by n (observation)
        if (!Number.isFinite(want) && Number.isFinite(g)) return;
        const tiny = f32 ? 1.1754943508222875e-38 : 2.2250738585072014e-308;
        if (Math.abs(want) < tiny && Math.abs(g) < tiny) return; // outputs below the smallest normal (README)
        const scale = c.logits ? Math.abs(c.gradOutput / n * c.weight[i % C]) * 3 : Math.abs(want);
        if (ulps(g, want, f32, scale) > 4) bad.push(`${c.dtype} ${c.logits ? 'logits' : 'probs'} n ${n} go ${c.gradOutput} [${i}] ${g} vs ${want}`);
      });
    }
    expect([cases.length, bad.slice(0, 5)]).toEqual([120, []]);
  });

  test('binaryCrossEntropyWithLogits \'mean\' over 1e6 elements, full-shape weight and posWeight (streamed), 1 and 2 threads: the same bits, torch within 4 ulps', () => {
    const n = 1000000;
    const idx = [1, 7, 8, 12345, 524287, 524288, 999999];
    // torch 1.13, x_i = ((7919 i mod 2001) - 1000) / 125, y_i = (i mod 17) / 16, w_i = 0.25 + (i mod 5) / 4, pw_i = 0.5 + (i mod 3)
    const want: Record<string, number[]> = {
      'float32 1e-30': [4.684115219920217e-37, 3.8769018358048694e-37, 3.7535368999918155e-37, 1.6506665885956785e-37, 4.210553914861414e-37, 4.969056819110306e-37, -2.8469788536117297e-37],
      'float32 0.7': [3.278880456036859e-07, 2.7138310088048456e-07, 2.6274759079569776e-07, 1.1554666201618602e-07, 2.947387827134662e-07, 3.4783397495630197e-07, -1.9928852168504818e-07],
      'float64 1e-300': [4.684115154781248e-307, 3.876901401199082e-307, 3.7535362982117305e-307, 1.6506666538190476e-307, 4.210554485131859e-307, 4.969055776147397e-307, -2.846978727806536e-307],
      'float64 0.7': [3.278880608346873e-07, 2.713830980839357e-07, 2.627475408748211e-07, 1.1554666576733333e-07, 2.9473881395923007e-07, 3.478339043303178e-07, -1.992885109464575e-07],
    };
    for (const T of [Float32Array, Float64Array]) {
      const x = T.from(Array.from({ length: n }, (_, i) => (((i * 7919) % 2001) - 1000) / 125));
      const y = T.from(Array.from({ length: n }, (_, i) => (i % 17) / 16));
      const w = T.from(Array.from({ length: n }, (_, i) => 0.25 + (i % 5) / 4));
      const pw = T.from(Array.from({ length: n }, (_, i) => 0.5 + (i % 3)));
      for (const go of T === Float32Array ? [1e-30, 0.7] : [1e-300, 0.7]) {
        const call = () => X.binaryCrossEntropyWithLogits({ data: x, shape: [n] }, { data: y, shape: [n] }, { weight: { data: w, shape: [n] }, posWeight: { data: pw, shape: [n] }, reduction: 'mean', grad: true, gradOutput: go });
        const one = call();
        X.setThreads(2);
        const two = call();
        X.setThreads(1);
        expect(one.grad!.every((v, i) => Object.is(v, two.grad![i]))).toBe(true);
        const ref = want[`${T === Float32Array ? 'float32' : 'float64'} ${go}`];
        expect(idx.map((i, k) => ulps(one.grad![i], ref[k], T === Float32Array)).filter((e) => e > 4)).toEqual([]);
      }
    }
  });

  test('dist/browser (bundled): every relative import resolves, one chunk holds the loader state for index and tfjs; browser-condition import and require share one initialised module per format', () => {
    const dir = resolve(__dirname, '..', 'dist', 'browser');
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
      const src = readFileSync(join(dir, f), 'utf8');
      for (const m of src.matchAll(/(?:from|import)\s*"(\.{1,2}\/[^"?]+)(?:\?[^"]*)?"/g)) expect([f, m[1], existsSync(join(dir, m[1]))]).toEqual([f, m[1], true]);
    }
    const root = resolve(__dirname, '..');
    // (the browser build embeds the SIMD build alone: a forced WASM_XENT_BUILD is refused there, by design)
    const env = { ...process.env };
    delete env.WASM_XENT_BUILD;
    const esm = spawnSync(process.execPath, ['--conditions=browser', '--input-type=module', '-e',
      "import * as X from 'wasm-xent'; import * as T from 'wasm-xent/tfjs'; await X.init(); const r = X.crossEntropy({ data: new Float32Array([1, 2, 3, 0.5, -1, 2]), shape: [2, 3] }, [2, 0], { grad: true }); console.log(JSON.stringify([1, X.init === T.init, r.loss]))"], { cwd: root, env, encoding: 'utf8' });
    expect(esm.stderr).toBe('');
    expect(JSON.parse(esm.stdout)).toEqual([1, true, expect.closeTo(1.0744586, 6)]);
    const cjs = spawnSync(process.execPath, ['--conditions=browser', '-e',
      "const X = require('wasm-xent'); const T = require('wasm-xent/tfjs'); X.init().then(() => console.log(JSON.stringify([require.resolve('wasm-xent').endsWith('dist/browser-cjs/index.js'), X.init === T.init, X.crossEntropy({ data: new Float32Array([1, 2, 3, 0.5, -1, 2]), shape: [2, 3] }, [2, 0]).loss])))"], { cwd: root, env, encoding: 'utf8' });
    expect(cjs.stderr).toBe('');
    expect(JSON.parse(cjs.stdout)).toEqual([true, true, expect.closeTo(1.0744586, 6)]);
  });
});
