// Red team 7 (a session that did not write the code): threaded linearCrossEntropy (each vocabulary
// block's GEMMs split over the pool), threaded ctcLoss (batch ranges, a scratch each) and the pool's
// forkJoin, attacked from outside. Every result on 2, 3, 4 and 8 threads must have the bits of the
// 1-thread result, and the 1-thread result must match the float64 reference (tests/reference.ts).
// Probes that held are compact table rows; the ones that found a problem are the tests named
// "FINDING ...": each failed before its fix (src/threads.ts stalled workers, src/ops/ctc.ts
// threadsFor's aligned sizes) and guards it now.
import { readdirSync } from 'fs';
import { spawn, ChildProcess } from 'child_process';
import * as X from '../src';
import * as R from './reference';
import { ints, normals, rng, uniforms } from './helpers/random';
import { expectSame } from './helpers/same';

jest.setTimeout(120000);

const THREADS = [2, 3, 4, 8];

type PoolInside = {
  jobsRun: number[];
  forkJoin: (...a: unknown[]) => void;
  threads: ({ worker: { terminate(): Promise<number> } } | undefined)[];
};
function poolOf(): PoolInside {
  const state = (globalThis as Record<symbol, { workspace: { pool: PoolInside } }>)[Symbol.for('wasm-xent@0.1.0')];
  return state.workspace.pool;
}
const tasks = () => readdirSync('/proc/self/task').length;
async function until(done: () => boolean): Promise<void> {
  for (let t = 0; t < 200 && !done(); t++) await new Promise((r) => setTimeout(r, 50));
}
/** The smallest workspace limit under which `run` succeeds, by bisection (up to 64 MiB); `failed`
 *  sees each error below it. Leaves the limit set to the last one tried. */
function smallestLimit(run: () => unknown, failed: (e: unknown) => void = () => undefined): number {
  let lo = 1, hi = 64 << 20;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    X.setWorkspaceLimit(mid);
    try {
      run();
      hi = mid;
    } catch (e) {
      failed(e);
      lo = mid;
    }
  }
  return hi;
}

/** Counts the pool's forkJoin calls while `f` runs (a probe that never split would prove nothing). */
function joinsDuring<T>(f: () => T): { value: T; joins: number } {
  const pool = poolOf();
  if (!pool) return { value: f(), joins: 0 };
  const spy = jest.spyOn(pool, 'forkJoin');
  try {
    const value = f();
    return { value, joins: spy.mock.calls.length };
  } finally {
    spy.mockRestore();
  }
}
/** Deep copy of a result (typed arrays sliced: wasmArray outputs are overwritten by the next call). */
function snapshot(v: unknown): unknown {
  if (ArrayBuffer.isView(v)) return (v as Float32Array).slice();
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, snapshot(x)]));
  return v;
}
/** |a - e| <= tol (1 + |e|) elementwise; NaN where the reference has NaN, same infinities. */
function close(what: string, a: ArrayLike<number> | number, e: ArrayLike<number> | number, tol: number): void {
  const xs = typeof a === 'number' ? [a] : a;
  const es = typeof e === 'number' ? [e] : e;
  expect(xs.length).toBe(es.length);
  const abs = Math.abs;
  for (let i = 0; i < es.length; i++) {
    const x = xs[i], y = es[i];
    if (Number.isNaN(y) || !Number.isFinite(y)) {
      if (!Object.is(x, y)) throw new Error(`${what}[${i}]: ${x}, reference ${y}`);
    } else if (!(abs(x - y) <= tol * (1 + abs(y)))) throw new Error(`${what}[${i}]: ${x}, reference ${y}`);
  }
}

beforeAll(async () => {
  await X.init();
  expect(await X.setThreads(2)).toBe(2); // shared memory before any wasmArray
});
afterAll(async () => {
  X.setWorkspaceLimit(1 << 30);
  await X.setThreads(1);
});

test('wasm memory grows during a threaded call (the workers see the grown shared memory): the same bits as 1 thread', async () => {
  // Larger than any call before it (linearCrossEntropy, then a larger ctcLoss), so that reserve
  // grows memory while the pool is up.
  await X.setThreads(4);
  const c: LceCase = { N: 100, D: 24, C: 30001, p: 'f32', smoothing: 0.1 };
  const s = lceSetup('grow', c);
  const before = X.wasmMemoryBytes();
  const four = lceRun(c, s);
  expect(X.wasmMemoryBytes()).toBeGreaterThan(before);
  expect(four.joins).toBeGreaterThan(0);
  const cc: CtcCase = { T: 300, C: 60, il: Array.from({ length: 24 }, (_, b) => 300 - b), tl: Array.from({ length: 24 }, (_, b) => 5 + 5 * b), p: 'f64', o: {} };
  const cs = ctcSetup('grow', cc);
  const grown = X.wasmMemoryBytes();
  const ctcFour = ctcRun(cc, cs);
  expect(X.wasmMemoryBytes()).toBeGreaterThan(grown);
  expect(ctcFour.joins).toBe(1);
  await X.setThreads(1);
  expectSame('lce', four.value, lceRun(c, s).value);
  expectSame('ctc', ctcFour.value, ctcRun(cc, cs).value);
});

test('setThreads not awaited before a call (workers still starting or stopping): the same bits', async () => {
  const c: LceCase = { N: 37, D: 64, C: 2500, p: 'f32', bias: true };
  const s = lceSetup('unawaited', c);
  await X.setThreads(1);
  const one = lceRun(c, s).value;
  void X.setThreads(8);
  expectSame('8 starting', lceRun(c, s).value, one);
  await X.setThreads(4);
  void X.setThreads(2);
  expectSame('4 -> 2 stopping', lceRun(c, s).value, one);
  void X.setThreads(1);
  expectSame('2 -> 1 stopping', lceRun(c, s).value, one);
  await X.setThreads(1);
});

// ------------------------------------------------------------------ linearCrossEntropy

type Prec = 'f32' | 'f64';
interface LceCase {
  N: number; D: number; C: number; p: Prec;
  bias?: boolean; weight?: boolean; ignore?: boolean; smoothing?: number; probs?: boolean; softcap?: number;
  zLoss?: number; lse?: boolean; reduction?: 'mean' | 'sum' | 'none'; gradOutput?: number | 'array'; hostile?: boolean;
  outs?: boolean; accumulate?: boolean; wasm?: boolean; ref?: boolean; allIgnored?: boolean; zeroWeights?: boolean;
}
// Shapes: C < 4, D = 1, N = 1, many token chunks (large C, small D), many blocks, nothing a
// multiple of 4 or 8; every option; each row's blocks are big enough (>= 2^19 multiply-adds) to split.
const LCE: [string, LceCase][] = [
  ['C = 3 (< 4), D = 30000', { N: 8, D: 30000, C: 3, p: 'f32', bias: true }],
  ['D = 1, C = 70001, f64, sum', { N: 41, D: 1, C: 70001, p: 'f64', reduction: 'sum' }],
  ['N = 1, D = 512 (logits split; grads too small to)', { N: 1, D: 512, C: 1031, p: 'f32', weight: true, ignore: false }],
  ['many token chunks (C = 50001, D = 7), bias, class weight, ignoreIndex, smoothing', { N: 203, D: 7, C: 50001, p: 'f32', bias: true, weight: true, ignore: true, smoothing: 0.1 }],
  ['probability targets, softcap, zLoss, returnLse, f64 (reference)', { N: 37, D: 65, C: 2501, p: 'f64', probs: true, softcap: 5, zLoss: 1e-3, lse: true, ref: true }],
  ['none with a gradOutput array, f64, class weight, ignoreIndex (reference)', { N: 29, D: 67, C: 1999, p: 'f64', reduction: 'none', gradOutput: 'array', weight: true, ignore: true, bias: true, ref: true }],
  ['hostile values (Inf, NaN, 1e4) in input and weight, smoothing', { N: 45, D: 33, C: 4097, p: 'f32', hostile: true, smoothing: 0.2 }],
  ['gradOutput 3e38 (f32, sum)', { N: 30, D: 61, C: 3003, p: 'f32', reduction: 'sum', gradOutput: 3e38, bias: true }],
  ['gradOutput 1e308 (f64, mean), zLoss', { N: 30, D: 61, C: 3003, p: 'f64', gradOutput: 1e308, zLoss: 1e-4 }],
  ['outInput, outWeight, outBias, accumulate', { N: 37, D: 63, C: 2503, p: 'f32', bias: true, outs: true, accumulate: true }],
  ['outInput, outWeight, outBias overwritten, f64, smoothing, probability targets', { N: 19, D: 70, C: 2001, p: 'f64', bias: true, outs: true, probs: true, smoothing: 0.3 }],
  ['wasmArray input, weight, outInput, outWeight, outBias (in place), accumulate', { N: 203, D: 9, C: 40001, p: 'f32', bias: true, wasm: true, accumulate: true }],
  ['every target ignored, mean (0 / 0: NaN loss, zero gradients)', { N: 24, D: 64, C: 2500, p: 'f32', allIgnored: true, bias: true }],
  ['class weights of the kept targets sum to 0, smoothing, mean (NaN gradients)', { N: 24, D: 64, C: 2500, p: 'f64', zeroWeights: true, smoothing: 0.1 }],
  ['wasmArray everything, f64, none with gradOutput array, softcap', { N: 33, D: 65, C: 2049, p: 'f64', bias: true, wasm: true, reduction: 'none', gradOutput: 'array', softcap: 20 }],
];

function lceSetup(name: string, c: LceCase) {
  const r = rng(name.length * 7919 + c.N * 31 + c.C);
  const T = c.p === 'f32' ? Float32Array : Float64Array;
  const make = (n: number, s: number) => T.from(normals(r, n, s));
  const x = make(c.N * c.D, 1);
  const w = make(c.C * c.D, 0.3);
  if (c.hostile) {
    [x, w].forEach((a) => {
      for (let i = 5; i < a.length; i += 611) a[i] = [Infinity, -Infinity, NaN, 1e4, -1e4][i % 5];
    });
  }
  const t = ints(r, c.N, c.C);
  if (c.ignore) for (let n = 2; n < c.N; n += 7) t[n] = -100;
  if (c.allIgnored) t.fill(-100);
  const bias = c.bias ? make(c.C, 1) : undefined;
  const weight = c.weight ? T.from(uniforms(r, c.C, 0.2, 2)) : c.zeroWeights ? T.from(Array.from({ length: c.C }, (_, k) => (k % 2 ? 1 : 0))) : undefined;
  if (c.zeroWeights) for (let n = 0; n < c.N; n++) t[n] = 2 * Math.floor(t[n] / 2); // even classes: weight 0
  const probs = c.probs ? X.softmax({ data: make(c.N * c.C, 2), shape: [c.N, c.C] }) : undefined;
  const gradOutput = c.gradOutput === 'array' ? make(c.N, 1) : c.gradOutput;
  const start = { gi: make(c.N * c.D, 1), gw: make(c.C * c.D, 1), gb: make(c.C, 1) };
  return { T, x, w, t, bias, weight, probs, gradOutput, start };
}

function lceRun(c: LceCase, s: ReturnType<typeof lceSetup>) {
  const wasm = c.wasm ? [s.x, s.w, s.start.gi, s.start.gw, s.start.gb].map((a) => {
    const wa = X.wasmArray(s.T as Float32ArrayConstructor, a.length);
    wa.array.set(a);
    return wa;
  }) : [];
  try {
    const outs = c.wasm
      ? { outInput: wasm[2].array, outWeight: wasm[3].array, outBias: wasm[4].array }
      : c.outs ? { outInput: s.start.gi.slice(), outWeight: s.start.gw.slice(), outBias: s.start.gb.slice() } : {};
    const options = {
      linearBias: s.bias, weight: s.weight, labelSmoothing: c.smoothing, softcap: c.softcap, zLoss: c.zLoss,
      returnLse: c.lse, reduction: c.reduction, gradOutput: s.gradOutput, grad: true, accumulate: c.accumulate, ...outs,
    };
    const input = { data: c.wasm ? wasm[0].array : s.x, shape: [c.N, c.D] };
    const weight = { data: c.wasm ? wasm[1].array : s.w, shape: [c.C, c.D] };
    const target = s.probs ? { data: s.probs, shape: [c.N, c.C] } : s.t;
    return joinsDuring(() => snapshot(X.linearCrossEntropy(input as never, weight as never, target as never, options as never)));
  } finally {
    wasm.forEach((a) => a.free());
  }
}

describe('linearCrossEntropy: the same bits on 1, 2, 3, 4 and 8 threads', () => {
  test.each(LCE)('%s', async (name, c) => {
    const s = lceSetup(name, c);
    expect(await X.setThreads(1)).toBe(1);
    const one = lceRun(c, s).value as Record<string, ArrayLike<number> | number>;
    for (const n of THREADS) {
      expect(await X.setThreads(n)).toBe(n);
      const many = lceRun(c, s);
      expect(many.joins).toBeGreaterThan(0); // the blocks really were split
      expectSame(`${n} threads`, many.value, one);
    }
    if (c.ref) {
      const ref = R.linearCrossEntropy({ data: s.x, shape: [c.N, c.D] }, { data: s.w, shape: [c.C, c.D] }, s.probs ?? s.t, !!s.probs, {
        linearBias: s.bias, weight: s.weight, ignoreIndex: -100, reduction: c.reduction, labelSmoothing: c.smoothing,
        gradOutput: s.gradOutput as never, softcap: c.softcap, zLoss: c.zLoss,
      });
      const tol = 1e-10;
      close('loss', one.loss, ref.loss as never, tol);
      close('gradInput', one.gradInput as ArrayLike<number>, ref.gradInput, tol);
      close('gradWeight', one.gradWeight as ArrayLike<number>, ref.gradWeight, tol);
      if (s.bias) close('gradBias', one.gradBias as ArrayLike<number>, ref.gradBias, tol);
      if (c.lse) close('lse', one.lse as ArrayLike<number>, ref.lse, tol);
    }
  });

  test('outputs aliasing inputs are refused (plain arrays and wasmArray views), on 4 threads', async () => {
    await X.setThreads(4);
    const N = 8, D = 16, C = 12;
    const buf = new Float32Array(N * D + C * D + 64);
    const x = buf.subarray(0, N * D);
    const w = buf.subarray(N * D, N * D + C * D);
    const t = ints(rng(3), N, C);
    const call = (o: Record<string, unknown>, xi = x, wi = w) => () => X.linearCrossEntropy({ data: xi, shape: [N, D] }, { data: wi, shape: [C, D] }, t, o as never);
    expect(call({ outInput: buf.subarray(4, 4 + N * D) })).toThrow(/^linearCrossEntropy: outInput shares memory with input; pass a separate array$/);
    expect(call({ outWeight: buf.subarray(N * D - 8, N * D - 8 + C * D) })).toThrow(/^linearCrossEntropy: outWeight shares memory with (input|linearWeight)/);
    const big = X.wasmArray(Float32Array, 2 * C * D + N * D);
    try {
      const wx = big.array.subarray(0, N * D);
      const ww = big.array.subarray(N * D, N * D + C * D);
      expect(call({ outWeight: big.array.subarray(N * D + 4, N * D + 4 + C * D) }, wx, ww)).toThrow(/^linearCrossEntropy: outWeight shares memory with linearWeight/);
      expect(call({ outInput: big.array.subarray(0, N * D), outWeight: big.array.subarray(N * D + C * D) }, x, w)).not.toThrow();
      expect(call({ outInput: wx, outWeight: big.array.subarray(N * D - 4, N * D - 4 + C * D) }, x, w)).toThrow(/^linearCrossEntropy: outInput shares memory with outWeight/);
    } finally {
      big.free();
    }
  });

  test('setWorkspaceLimit: a limit too small fails with a RangeError; one that barely fits runs with the same bits on every thread count', async () => {
    const name = 'limit';
    const c: LceCase = { N: 64, D: 64, C: 3001, p: 'f32', bias: true };
    const s = lceSetup(name, c);
    await X.setThreads(1);
    const one = lceRun(c, s).value;
    try {
      // The smallest limit that works (the need does not depend on the thread count).
      const hi = smallestLimit(() => lceRun(c, s), (e) => {
        expect((e as Error).message).toMatch(/^linearCrossEntropy: this call needs [\d.]+ (bytes|MiB) of wasm memory, over the workspace limit of [\d.]+ (bytes|MiB) \(see setWorkspaceLimit\)$/);
        expect(e).toBeInstanceOf(RangeError);
      });
      for (const n of THREADS) {
        await X.setThreads(n);
        X.setWorkspaceLimit(hi);
        expectSame(`${n} threads at the limit`, lceRun(c, s).value, one);
        X.setWorkspaceLimit(hi - 1);
        expect(() => lceRun(c, s)).toThrow(RangeError);
      }
    } finally {
      X.setWorkspaceLimit(1 << 30);
    }
  });
});

// ------------------------------------------------------------------ ctcLoss

interface CtcCase { T: number; C: number; il: number[]; tl: number[]; p: Prec; o: Record<string, unknown>; wasm?: boolean; oneRange?: boolean; padded?: boolean }
// Batch sizes 1, 2, 3 (< threads), one huge element beside tiny ones, empty inputs and targets,
// impossible alignments with and without zeroInfinity, gradOutput arrays, wasmArrays in place.
const CTC: [string, CtcCase][] = [
  ['N = 1 (one thread whatever the pool)', { T: 300, C: 300, il: [300], tl: [40], p: 'f32', o: {} }],
  ['N = 2', { T: 150, C: 250, il: [150, 149], tl: [30, 3], p: 'f64', o: { reduction: 'sum' } }],
  ['N = 3 < threads', { T: 120, C: 200, il: [120, 60, 1], tl: [20, 50, 1], p: 'f32', o: { reduction: 'none', gradOutput: [1, -2, 3] } }],
  ['one huge element, the rest tiny, empty inputs and targets, impossible ones', {
    T: 500, C: 60, il: [1, 500, 0, 2, 0, 1, 3, 1, 2], tl: [0, 200, 0, 1, 1, 2, 1, 0, 1], p: 'f64', o: { reduction: 'none', gradOutput: [1, 2, 3, 4, 5, 6, 7, 8, 9] },
  }],
  // (The last element is over half the work: balanced ranges leave it one range, so no split.)
  ['the huge element last, zeroInfinity, mean', { T: 400, C: 50, il: [1, 1, 2, 0, 5, 400], tl: [1, 2, 1, 0, 9, 150], p: 'f32', o: { zeroInfinity: true }, oneRange: true }],
  ['every element impossible, no zeroInfinity, f64', { T: 100, C: 220, il: [3, 2, 1, 4, 5], tl: [9, 8, 7, 6, 5], p: 'f64', o: { reduction: 'sum' } }],
  ['every input length 0, empty targets, f32', { T: 100, C: 200, il: [0, 0, 0, 0], tl: [0, 0, 0, 0], p: 'f32', o: { reduction: 'none', gradOutput: [1, 1, 1, 1] } }],
  ['blank = C - 1, padded (N, S) targets, f64', { T: 150, C: 90, il: [150, 140, 30, 150, 90, 2], tl: [40, 60, 10, 0, 45, 2], p: 'f64', o: { blank: 89, reduction: 'none', gradOutput: [1, -1, 2, -2, 3, -3] }, padded: true }],
  ['wasmArray logProbs and out (in place), f32', { T: 200, C: 40, il: Array.from({ length: 17 }, (_, b) => 200 - 9 * b), tl: Array.from({ length: 17 }, (_, b) => (b * 7) % 23), p: 'f32', o: {}, wasm: true }],
  ['wasmArray logProbs and out, f64, gradOutput array, zeroInfinity', { T: 120, C: 80, il: [120, 2, 45, 90, 0, 7, 60], tl: [40, 3, 10, 0, 0, 7, 20], p: 'f64', o: { zeroInfinity: true, reduction: 'none', gradOutput: [0.5, 1, -1, 2, 3, 4, 5] }, wasm: true }],
];

function ctcSetup(name: string, c: CtcCase) {
  const N = c.il.length;
  const r = rng(name.length * 131 + c.T);
  const T = c.p === 'f32' ? Float32Array : Float64Array;
  const lp = X.logSoftmax({ data: T.from(normals(r, c.T * N * c.C, 2)), shape: [c.T, N, c.C] }, { dim: 2 }) as Float32Array | Float64Array;
  const blank = (c.o.blank as number | undefined) ?? 0;
  const perElement = c.tl.map((l) => Array.from({ length: l }, () => (blank + 1 + Math.floor(r() * (c.C - 1))) % c.C));
  const S = Math.max(...c.tl);
  // Padded targets: each row's tail is junk labels past its length (never read).
  const targets = c.padded
    ? { data: Int32Array.from({ length: N * S }, (_, k) => perElement[Math.floor(k / S)][k % S] ?? (k * 7) % c.C), shape: [N, S] }
    : Int32Array.from(perElement.flat());
  return { T, N, lp, perElement, targets };
}

function ctcRun(c: CtcCase, s: ReturnType<typeof ctcSetup>) {
  const wasm = c.wasm ? [X.wasmArray(s.T as Float32ArrayConstructor, s.lp.length), X.wasmArray(s.T as Float32ArrayConstructor, s.lp.length)] : [];
  try {
    if (c.wasm) wasm[0].array.set(s.lp);
    const options = { grad: true, ...c.o, ...(c.wasm ? { out: wasm[1].array } : {}) };
    return joinsDuring(() => snapshot(X.ctcLoss({ data: c.wasm ? wasm[0].array : s.lp, shape: [c.T, s.N, c.C] } as never, s.targets, c.il, c.tl, options as never)));
  } finally {
    wasm.forEach((a) => a.free());
  }
}

describe('ctcLoss: the same bits on 1, 2, 3, 4 and 8 threads, and the float64 reference', () => {
  test.each(CTC)('%s', async (name, c) => {
    const s = ctcSetup(name, c);
    await X.setThreads(1);
    const one = ctcRun(c, s).value as { loss: number | ArrayLike<number>; grad: ArrayLike<number> };
    for (const n of THREADS) {
      await X.setThreads(n);
      const many = ctcRun(c, s);
      expect(many.joins).toBe(s.N > 1 && !c.oneRange ? 1 : 0); // split over the threads when there are elements to split
      expectSame(`${n} threads`, many.value, one);
    }
    const ref = R.ctcLoss({ data: s.lp, shape: [c.T, s.N, c.C] }, s.perElement, c.il, c.o as never);
    const tol = c.p === 'f32' ? 2e-4 : 1e-9;
    close('loss', one.loss as never, ref.loss as never, tol);
    close('grad', one.grad, ref.grad, tol);
  });

  test('FINDING: a workspace limit that fits the call on fewer threads makes it throw instead (threadsFor undercounts the alignment padding)', async () => {
    // (T, N, C) = (77, 5, 173), every target one label: ranges and sizes as in src/ops/ctc.ts.
    const c: CtcCase = { T: 77, C: 173, il: [77, 76, 75, 74, 73], tl: [1, 1, 1, 1, 1], p: 'f32', o: {} };
    const s = ctcSetup('limit', c);
    await X.setThreads(1);
    const one = ctcRun(c, s).value;
    const failures: string[] = [];
    try {
      const hi = smallestLimit(() => ctcRun(c, s)); // the smallest limit one thread needs
      // Every limit from that one on must run, on as many threads as fit: probed just around the
      // limits where a 2nd, 3rd and 4th scratch start to fit.
      await X.setThreads(4);
      const scratch = ((4 * 77 + 6) * 6 + 2 * Math.ceil(173 / 2)) * 8 + 4 * 8; // scratchBytes(77, 1, 173)
      for (let k = 0; k < 4; k++) {
        for (let limit = hi + k * scratch - 64; limit < hi + k * scratch + 64; limit += 4) {
          if (limit < hi) continue;
          X.setWorkspaceLimit(limit);
          try {
            expectSame(`limit ${limit}`, ctcRun(c, s).value, one);
          } catch (e) {
            failures.push(`limit ${limit} (${limit - hi} over the 1-thread need): ${(e as Error).message}`);
          }
        }
      }
    } finally {
      X.setWorkspaceLimit(1 << 30);
    }
    expect(failures.slice(0, 3)).toEqual([]);
  });
  test('FINDING (minor): with wasmArray logProbs and out (used in place, nothing copied), a limit with room for 4 scratches still runs on 1 thread', async () => {
    // threadsFor counts logProbs and the gradient (2 n bytes) against the limit even when they are
    // wasmArrays that Stream never copies into the call's regions.
    const T = 200, N = 8, C = 400;
    const c: CtcCase = { T, C, il: new Array(N).fill(T), tl: new Array(N).fill(10), p: 'f32', o: {} };
    const s = ctcSetup('room', c);
    await X.setThreads(4);
    const W = 2 * 10 + 4;
    const scratch = ((4 * T + 6) * W + 2 * Math.ceil(C / 2)) * 8 + 4 * Math.ceil(11 / 4) * 8; // scratchBytes(T, 10, C)
    const lp = X.wasmArray(Float32Array, s.lp.length);
    const out = X.wasmArray(Float32Array, s.lp.length);
    lp.array.set(s.lp);
    const spy = jest.spyOn(poolOf(), 'forkJoin');
    let calls: unknown[][] = [];
    try {
      // 4 scratches, the targets, lengths and scales, and 1 KiB to spare for alignment.
      X.setWorkspaceLimit(4 * (scratch + 16) + 10 * N * 4 + N * 32 + 1024);
      X.ctcLoss({ data: lp.array, shape: [T, N, C] }, s.targets as Int32Array, c.il, c.tl, { out: out.array });
      calls = spy.mock.calls.slice(); // (mockRestore below clears them)
    } finally {
      X.setWorkspaceLimit(1 << 30);
      spy.mockRestore();
      lp.free();
      out.free();
    }
    expect(calls.map((call) => (call[1] as unknown[]).length)).toEqual([4]);
  });
});

// ------------------------------------------------------------------ the pool

describe('the pool: dead workers, churn, flat resources, a loaded machine', () => {
  // A call of many block joins: N 128, D 64, C 8000 (f32) is 16 forkJoins (8 blocks, logits and grads).
  const lceShape = { N: 128, D: 64, C: 8000, p: 'f32' as const };
  let lceS: ReturnType<typeof lceSetup>;
  let lceOne: unknown;
  const ctcC: CtcCase = { T: 200, C: 30, il: Array.from({ length: 32 }, (_, b) => 200 - 3 * b), tl: Array.from({ length: 32 }, (_, b) => 5 + (b % 20)), p: 'f32', o: {} };
  let ctcS: ReturnType<typeof ctcSetup>;
  let ctcOne: unknown;
  beforeAll(async () => {
    lceS = lceSetup('pool', lceShape);
    ctcS = ctcSetup('pool', ctcC);
    await X.setThreads(1);
    lceOne = lceRun(lceShape, lceS).value;
    ctcOne = ctcRun(ctcC, ctcS).value;
  });

  test('a worker terminated (and its exit seen) between calls: the same bits, the slot refilled', async () => {
    await X.setThreads(3);
    const victim = poolOf().threads[1]!;
    await victim.worker.terminate();
    expectSame('lce', lceRun(lceShape, lceS).value, lceOne);
    expectSame('ctc', ctcRun(ctcC, ctcS).value, ctcOne);
    await until(() => poolOf().threads[1] !== victim && poolOf().threads[1] !== undefined);
    expect(poolOf().threads[1]).not.toBe(victim);
    expectSame('lce after', lceRun(lceShape, lceS).value, lceOne);
  });

  test('FINDING: a worker terminated just before a call (exit not yet seen) costs every block join of linearCrossEntropy 250 ms', async () => {
    await X.setThreads(2);
    let t0 = performance.now();
    lceRun(lceShape, lceS);
    const normal = performance.now() - t0;
    void poolOf().threads[0]!.worker.terminate(); // no await: the call starts before the exit event
    t0 = performance.now();
    const hit = lceRun(lceShape, lceS);
    const took = performance.now() - t0;
    expectSame('same bits', hit.value, lceOne);
    // One steal (STEAL_MS = 250) is fair; one per block join (16 of them here: ~4 s) is not.
    if (!(took < normal * 3 + 1000)) throw new Error(`took ${Math.round(took)} ms over ${hit.joins} block joins; the same call took ${Math.round(normal)} ms with a live worker`);
  });

  test('FINDING: a worker terminated by a hostile getter during the call: the same bits, but 250 ms per block join', async () => {
    await X.setThreads(1);
    await X.setThreads(2);
    lceRun(lceShape, lceS);
    const c = lceShape;
    const options = {
      grad: true,
      get labelSmoothing() {
        void poolOf().threads[0]!.worker.terminate();
        return undefined;
      },
    };
    const t0 = performance.now();
    const res = snapshot(X.linearCrossEntropy({ data: lceS.x, shape: [c.N, c.D] }, { data: lceS.w, shape: [c.C, c.D] }, lceS.t, options as never));
    const took = performance.now() - t0;
    expectSame('same bits', res, lceOne);
    expect(took).toBeLessThan(1500);
  });

  test('ctcLoss with a worker terminated by a hostile getter during the call: the same bits, one steal at most', async () => {
    await X.setThreads(1);
    await X.setThreads(4);
    const options = {
      grad: true,
      get zeroInfinity() {
        void poolOf().threads[2]!.worker.terminate();
        return undefined;
      },
    };
    const t0 = performance.now();
    const res = snapshot(X.ctcLoss({ data: ctcS.lp, shape: [ctcC.T, ctcS.N, ctcC.C] } as never, ctcS.targets, ctcC.il, ctcC.tl, options as never));
    expect(performance.now() - t0).toBeLessThan(2000);
    expectSame('same bits', res, ctcOne);
  });

  test('setThreads churn (1..8) with linearCrossEntropy and ctcLoss calls between: the same bits; threads, wasm memory and RSS flat', async () => {
    await X.setThreads(1);
    const churn = [2, 8, 1, 3, 4, 1, 5, 7, 6, 2];
    // Warm up every size once so memory has grown to what these calls need.
    for (const n of churn) {
      await X.setThreads(n);
      lceRun(lceShape, lceS);
    }
    await X.setThreads(1);
    await new Promise((r) => setTimeout(r, 1000)); // the warm-up's terminated workers' threads exit
    const base = { tasks: tasks(), wasm: X.wasmMemoryBytes(), rss: process.memoryUsage().rss };
    for (let round = 0; round < 1; round++) {
      for (const n of churn) {
        expect(await X.setThreads(n)).toBe(n);
        expectSame(`lce on ${n}`, lceRun(lceShape, lceS).value, lceOne);
        expectSame(`ctc on ${n}`, ctcRun(ctcC, ctcS).value, ctcOne);
      }
    }
    await X.setThreads(1);
    await until(() => tasks() <= base.tasks);
    expect(tasks()).toBeLessThanOrEqual(base.tasks);
    expect(X.wasmMemoryBytes()).toBe(base.wasm);
    expect(process.memoryUsage().rss - base.rss).toBeLessThan(64 << 20);
  });

  test('126 calls on 4 threads: thread count, wasm memory and RSS stay flat', async () => {
    await X.setThreads(4);
    lceRun(lceShape, lceS);
    ctcRun(ctcC, ctcS);
    const base = { tasks: tasks(), wasm: X.wasmMemoryBytes(), rss: process.memoryUsage().rss };
    for (let k = 0; k < 120; k++) {
      ctcRun(ctcC, ctcS);
      if (k % 20 === 0) lceRun(lceShape, lceS);
    }
    expect(tasks()).toBe(base.tasks);
    expect(X.wasmMemoryBytes()).toBe(base.wasm);
    expect(process.memoryUsage().rss - base.rss).toBeLessThan(64 << 20);
  });

  // Speed under load is the bench's to measure (a wall-clock ratio here failed CI on a busier
  // machine: 5.7x at 8 threads on 2 cores). What a test can hold: the bits do not change, and the
  // spin-waits end, so an idle pool takes no CPU from the processes that share the machine.
  test('a machine loaded by two busy processes: 2 and 8 threads give the same bits, and an idle pool burns no CPU (the spin-waits end)', async () => {
    const hogs: ChildProcess[] = [0, 1].map(() => spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' }));
    try {
      await new Promise((r) => setTimeout(r, 300));
      for (const n of [1, 2, 8]) {
        expect(await X.setThreads(n)).toBe(n);
        for (let k = 0; k < 3; k++) {
          expectSame(`lce on ${n} threads, loaded`, lceRun(lceShape, lceS).value, lceOne);
          expectSame(`ctc on ${n} threads, loaded`, ctcRun(ctcC, ctcS).value, ctcOne);
        }
        // CPU used by this process in 500 ms windows, until one is quiet (at most 6): a window can
        // still hold V8's own background work (tier-up of the new workers' code, GC); 8 workers
        // spinning would take both cores' share of every window (~800 ms of CPU).
        const windows: number[] = [];
        do {
          const cpu0 = process.cpuUsage();
          await new Promise((r) => setTimeout(r, 500));
          const cpu = process.cpuUsage(cpu0);
          windows.push((cpu.user + cpu.system) / 1000);
        } while (windows[windows.length - 1] >= 100 && windows.length < 6);
        expect(Math.min(...windows)).toBeLessThan(100);
      }
    } finally {
      hogs.forEach((h) => h.kill());
      await X.setThreads(1);
    }
  });
});
