// Red team 8 (a session that did not write the code): Pool.forkJoin's new path (the calling thread
// runs, once its own parts are done, any part no worker has taken yet; that worker is then stalled
// until it catches up) attacked from outside: many short forkJoin calls in a row beside stream ops
// that use Pool.wait, oversubscription (4 and 8 threads on 2 cores), a loaded machine, workers
// terminated between and during calls, setThreads churn, memory churn. Every result must have the
// bits of the 1-thread result (which matches the float64 reference, tests/reference.ts), no call
// may hang (10 s guards, never a speed ratio), and every live worker must get jobs again later
// (jobsRun grows). Probes that held are table rows; the one that found a problem is "FINDING".
import { readdirSync } from 'fs';
import { spawn, ChildProcess } from 'child_process';
import * as X from '../src';
import * as R from './reference';
import { ints, normals, rng } from './helpers/random';
import { expectSame } from './helpers/same';

jest.setTimeout(120000);

type ThreadInside = { worker: { terminate(): Promise<number> } };
type PoolInside = {
  jobsRun: number[];
  hangMs: number;
  takeUntaken: boolean;
  size: number;
  alive(w: number): boolean;
  forkJoin: (fn: string, parts: { name: string; args: number[] }[][], between?: () => void) => boolean;
  threads: (ThreadInside | undefined)[];
};
function poolOf(): PoolInside {
  const state = (globalThis as Record<symbol, { workspace: { pool: PoolInside } }>)[Symbol.for('wasm-xent@0.1.0')];
  return state.workspace.pool;
}
const tasks = () => readdirSync('/proc/self/task').length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(done: () => boolean): Promise<void> {
  for (let t = 0; t < 200 && !done(); t++) await sleep(50);
}
/** Deep copy of a result (typed arrays sliced). */
function snapshot(v: unknown): unknown {
  if (ArrayBuffer.isView(v)) return (v as Float32Array).slice();
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, snapshot(x)]));
  return v;
}
/** expectSame, fast: typed arrays compared as bytes (the bits, NaN payloads and -0 included) with
 *  Buffer.equals, which a per-element loop in jest's vm context is ~100x slower than; on a
 *  difference, expectSame names the first one. */
function same(what: string, a: unknown, b: unknown): void {
  const bytes = (v: ArrayBufferView) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  const equal = (x: unknown, y: unknown): boolean => {
    if (ArrayBuffer.isView(x) && ArrayBuffer.isView(y)) return x.constructor === y.constructor && bytes(x).equals(bytes(y));
    if (x && y && typeof x === 'object' && typeof y === 'object') {
      const kx = Object.keys(x).sort(), ky = Object.keys(y).sort();
      return kx.join() === ky.join() && kx.every((k) => equal((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k]));
    }
    return Object.is(x, y);
  };
  if (!equal(a, b)) {
    expectSame(what, a, b);
    throw new Error(`${what}: the bits differ`);
  }
}
/** |a - e| <= tol (1 + |e|) elementwise. */
function close(what: string, a: ArrayLike<number> | number, e: ArrayLike<number> | number, tol: number): void {
  const xs = typeof a === 'number' ? [a] : a;
  const es = typeof e === 'number' ? [e] : e;
  expect(xs.length).toBe(es.length);
  const abs = Math.abs;
  for (let i = 0; i < es.length; i++) if (!(abs(xs[i] - es[i]) <= tol * (1 + abs(es[i])))) throw new Error(`${what}[${i}]: ${xs[i]}, reference ${es[i]}`);
}
/** Busy child processes (a loaded machine). */
function hogs(n: number): ChildProcess[] {
  return Array.from({ length: n }, () => spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' }));
}

// ------------------------------------------------------------------ the workload

// Short forkJoin calls: linearCrossEntropy with one vocabulary block just at the split threshold
// (f32 N 8, D 64, C 1024: 1024 x 8 x 64 = 2^19 multiply-adds for the logits, twice that for the
// gradients), one of 2 blocks with N not a multiple of 8, an f64 one (512-class blocks, 16 tokens),
// and ctcLoss just over 2^16 log-probabilities (64 x 4 x 257). Beside them stream ops of 2-3 chunks
// (crossEntropy, softmax), which post jobs and wait with Pool.wait's 250 ms take-back.
// `accumulate`: the gradients are added into outInput / outWeight holding a start value, so a part
// run twice (by its worker and by the caller that took it) would add its rows twice.
function lceOp(seed: number, N: number, D: number, C: number, f64 = false, accumulate = false) {
  const r = rng(seed);
  const T = f64 ? Float64Array : Float32Array;
  const x = T.from(normals(r, N * D, 1)), w = T.from(normals(r, C * D, 0.3)), t = ints(r, N, C);
  const gi = T.from(normals(r, N * D, 1)), gw = T.from(normals(r, C * D, 1));
  const outs = () => (accumulate ? { outInput: gi.slice(), outWeight: gw.slice(), accumulate } : {});
  return {
    run: () => snapshot(X.linearCrossEntropy({ data: x, shape: [N, D] }, { data: w, shape: [C, D] }, t, { grad: true, ...outs() } as never)),
    check: (got: { loss: number; gradInput: ArrayLike<number>; gradWeight: ArrayLike<number> }) => {
      const ref = R.linearCrossEntropy({ data: x, shape: [N, D] }, { data: w, shape: [C, D] }, t, false, {});
      const tol = f64 ? 1e-10 : 2e-4;
      const plus = (a: ArrayLike<number>, start: ArrayLike<number>) => (accumulate ? Float64Array.from(a, (v, i) => v + start[i]) : a);
      close('loss', got.loss, ref.loss as number, tol);
      close('gradInput', got.gradInput, plus(ref.gradInput, gi), tol);
      close('gradWeight', got.gradWeight, plus(ref.gradWeight, gw), tol);
    },
  };
}
function ctcOp(seed: number) {
  const T = 64, N = 4, C = 257;
  const r = rng(seed);
  const lp = X.logSoftmax({ data: Float32Array.from(normals(r, T * N * C, 2)), shape: [T, N, C] }, { dim: 2 }) as Float32Array;
  const il = [64, 61, 33, 1], tl = [12, 25, 5, 0];
  const labels = tl.map((l) => Array.from({ length: l }, () => 1 + Math.floor(r() * (C - 1))));
  const flat = Int32Array.from(labels.flat());
  return {
    run: () => snapshot(X.ctcLoss({ data: lp, shape: [T, N, C] }, flat, il, tl, { grad: true, reduction: 'sum' })),
    check: (got: { loss: number; grad: ArrayLike<number> }) => {
      const ref = R.ctcLoss({ data: lp, shape: [T, N, C] }, labels, il, { reduction: 'sum' });
      close('loss', got.loss, ref.loss as number, 2e-4);
      close('grad', got.grad, ref.grad, 2e-4);
    },
  };
}
function ceOp(seed: number) {
  const N = 800, C = 250; // 800 KB of logits: 2 chunks
  const r = rng(seed);
  const x = Float32Array.from(normals(r, N * C, 2)), t = ints(r, N, C);
  return {
    run: () => snapshot(X.crossEntropy({ data: x, shape: [N, C] }, t, { grad: true })),
    check: (got: { loss: number; grad: ArrayLike<number> }) => {
      const ref = R.crossEntropyIndex({ data: x, shape: [N, C] }, t);
      close('loss', got.loss, ref.loss as number, 1e-5);
      close('grad', got.grad, ref.grad, 1e-5);
    },
  };
}
function softmaxOp(seed: number) {
  const N = 600, C = 250;
  const x = Float32Array.from(normals(rng(seed), N * C, 3));
  return {
    run: () => X.softmax({ data: x, shape: [N, C] }).slice(),
    check: (got: ArrayLike<number>) => close('softmax', got, R.softmax({ data: x, shape: [N, C] }), 1e-5),
  };
}

type Op = { name: string; run: () => unknown; one?: unknown };
let ops: Op[];
/** A larger split call (4 blocks of 1024 x 64 x 64), whose parts last long enough for a worker to
 *  wake and take one: the probe of "every live worker still gets jobs". */
let big: Op;

beforeAll(async () => {
  await X.init();
  expect(await X.setThreads(1)).toBe(1);
  const made = [
    ['lce N 8, D 64, C 1024 (f32, 2^19)', lceOp(81, 8, 64, 1024)],
    ['lce N 9, D 72, C 1000 (f32, 2 blocks)', lceOp(82, 9, 72, 1000)],
    ['lce N 16, D 64, C 1024 (f64)', lceOp(83, 16, 64, 1024, true)],
    ['lce N 8, D 64, C 2048 (f32, accumulate into outInput / outWeight)', lceOp(88, 8, 64, 2048, false, true)],
    ['ctc 64 x 4 x 257', ctcOp(84)],
    ['crossEntropy 800 x 250 (2 chunks)', ceOp(85)],
    ['softmax 600 x 250 (2 chunks)', softmaxOp(86)],
  ] as const;
  ops = made.map(([name, op]) => {
    const one = op.run();
    (op.check as (g: unknown) => void)(one); // 1 thread against the float64 reference
    return { name, run: op.run, one };
  });
  const b = lceOp(87, 64, 64, 4096);
  big = { name: 'lce N 64, D 64, C 4096', run: b.run, one: b.run() };
});
afterAll(async () => {
  await X.setThreads(1);
});

/** Every op once, each result compared with the 1-thread bits; returns the slowest call's ms. */
function round(what: string): number {
  let worst = 0;
  for (const op of ops) {
    const t0 = performance.now();
    const got = op.run();
    worst = Math.max(worst, performance.now() - t0);
    same(`${what}: ${op.name}`, got, op.one);
  }
  return worst;
}

/** Runs `big` (yielding between calls, so exits are seen and slots refilled) until every worker
 *  slot has run a job it had not run before, or 10 s: a worker left stalled for good, or never
 *  given jobs again, fails this. */
async function everyWorkerRunsAgain(): Promise<void> {
  const pool = poolOf();
  await until(() => pool.threads.length === pool.size - 1 && pool.threads.every((_, w) => pool.alive(w)));
  const before = pool.threads.map((t, w) => ({ t, ran: pool.jobsRun[w] }));
  const fresh = () => pool.threads.map((t, w) => (t !== before[w].t ? pool.jobsRun[w] > 0 : pool.jobsRun[w] > before[w].ran));
  const t0 = performance.now();
  while (!fresh().every(Boolean) && performance.now() - t0 < 10000) {
    same('big', big.run(), big.one);
    await sleep(0);
  }
  expect(fresh()).toEqual(pool.threads.map(() => true));
}

const worst: Record<string, number> = {};
afterAll(() => console.log(`redteam8 worst call (ms) per probe: ${JSON.stringify(worst)}`));

// ------------------------------------------------------------------ probes that held

describe('forkJoin taking untaken parts: the same bits, no hang, no stuck worker', () => {
  test.each([2, 4, 8])('race: 50 rounds of short forkJoin calls (lce, ctc) between stream ops (crossEntropy, softmax) on %i threads', async (n) => {
    expect(await X.setThreads(n)).toBe(n);
    let w = 0;
    for (let k = 0; k < 50; k++) w = Math.max(w, round(`${n} threads, round ${k}`));
    worst[`race ${n}T`] = Math.round(w);
    expect(w).toBeLessThan(10000);
    await everyWorkerRunsAgain();
  });

  test('a machine loaded by two busy processes, 8 and 3 threads: the same bits; once the load is gone every worker gets jobs again', async () => {
    const h = hogs(2);
    try {
      await sleep(200);
      for (const n of [8, 3]) {
        expect(await X.setThreads(n)).toBe(n);
        let w = 0;
        for (let k = 0; k < 40; k++) w = Math.max(w, round(`loaded, ${n} threads, round ${k}`));
        worst[`loaded ${n}T`] = Math.round(w);
        expect(w).toBeLessThan(10000);
      }
    } finally {
      h.forEach((p) => p.kill());
    }
    await everyWorkerRunsAgain();
  });

  test('workers terminated from outside between calls (exit unseen for several calls, then seen): the same bits; slots refilled and used', async () => {
    expect(await X.setThreads(8)).toBe(8);
    const r = rng(808);
    let w = 0;
    for (let k = 0; k < 40; k++) {
      const pool = poolOf();
      const victim = Math.floor(r() * (pool.size - 1));
      void pool.threads[victim]?.worker.terminate(); // no await: the next calls run before the exit event
      for (let j = 0; j < 3; j++) w = Math.max(w, round(`terminated ${victim}, round ${k}.${j}`));
      if (k % 4 === 3) await sleep(0); // now and then the exits are seen and the slots refilled
    }
    worst['terminated between'] = Math.round(w);
    expect(w).toBeLessThan(10000);
    await everyWorkerRunsAgain();
  });

  test('a worker terminated during a call (before its n-th block join, or once its part is posted: mid-part), in the middle of linearCrossEntropy: the same bits or the clear mid-job error; the next call the same bits', async () => {
    expect(await X.setThreads(4)).toBe(4);
    const pool = poolOf();
    const real = pool.forkJoin;
    const outcomes: string[] = [];
    pool.hangMs = 2000;
    try {
      for (let k = 0; k < 16; k++) {
        let joins = 0;
        const victim = k % 3;
        pool.forkJoin = function (this: PoolInside, fn, parts, between) {
          if (++joins !== 1 + (k % 4)) return real.call(this, fn, parts, between);
          const kill = () => void this.threads[victim]?.worker.terminate();
          if (k % 2 === 0) kill(); // before the join
          // else as `between` runs: the parts are posted, the victim may be computing its own
          return real.call(this, fn, parts, () => (k % 2 ? kill() : undefined, between?.()));
        };
        const t0 = performance.now();
        try {
          same(`call ${k}`, big.run(), big.one);
          outcomes.push('same bits');
        } catch (e) {
          expect((e as Error).message).toMatch(/^linearCrossEntropy: worker thread \d took a job and did not finish it in 2 s \(it died or hung\); it is being replaced, call again$/);
          outcomes.push('mid-job error');
        } finally {
          pool.forkJoin = real;
        }
        worst['terminated during'] = Math.max(worst['terminated during'] ?? 0, Math.round(performance.now() - t0));
        expect(performance.now() - t0).toBeLessThan(10000);
        same(`after ${k}`, big.run(), big.one);
        await sleep(0);
      }
    } finally {
      pool.hangMs = 30000;
      pool.forkJoin = real;
    }
    console.log(`terminated during a call: ${outcomes.join(', ')}`);
    await everyWorkerRunsAgain();
  });

  test('setThreads churn (not awaited, 1..8) between calls: the same bits; threads back to the baseline after setThreads(1)', async () => {
    await X.setThreads(1);
    await until(() => tasks() <= 20);
    const base = tasks();
    const r = rng(809);
    let w = 0;
    for (let k = 0; k < 50; k++) {
      void X.setThreads(1 + Math.floor(r() * 8));
      await sleep(Math.floor(r() * 4));
      w = Math.max(w, round(`churn ${k} (${X.getThreads()} threads)`));
    }
    worst.churn = Math.round(w);
    expect(await X.setThreads(2)).toBe(2);
    await everyWorkerRunsAgain();
    await X.setThreads(1);
    await until(() => tasks() <= base);
    expect(tasks()).toBeLessThanOrEqual(base);
  });

  test('memory churn: 800 short split calls across ops on 2 threads: wasm memory, threads and RSS flat (medians of samples)', async () => {
    expect(await X.setThreads(2)).toBe(2);
    const short = ops.filter((o) => !o.name.startsWith('softmax'));
    for (let k = 0; k < 200; k++) short[k % short.length].run(); // warm-up: memory grown, code tiered up
    const samples: { wasm: number; tasks: number; rss: number }[] = [];
    for (let k = 0; k < 800; k++) {
      const op = short[k % short.length];
      const got = op.run();
      if (k % 97 === 0) same(`churn call ${k}`, got, op.one);
      if (k % 40 === 39) samples.push({ wasm: X.wasmMemoryBytes(), tasks: tasks(), rss: process.memoryUsage().rss });
    }
    const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
    const first = samples.slice(0, 5), last = samples.slice(-5);
    expect(new Set(samples.map((s) => s.wasm)).size).toBe(1);
    expect(median(last.map((s) => s.tasks))).toBe(median(first.map((s) => s.tasks)));
    expect(median(last.map((s) => s.rss)) - median(first.map((s) => s.rss))).toBeLessThan(48 << 20);
  });
});

// ------------------------------------------------------------------ findings

describe('linearCrossEntropy: the caller share adapts both ways', () => {
  // A call of many blocks: N 256, D 64, C 20000 f32: 20 blocks of 1024 classes per token chunk.
  const N = 256, D = 64, C = 20000;
  const r = rng(810);
  const x = Float32Array.from(normals(r, N * D, 1)), w = Float32Array.from(normals(r, C * D, 0.3)), t = ints(r, N, C);
  const call = () => snapshot(X.linearCrossEntropy({ data: x, shape: [N, D] }, { data: w, shape: [C, D] }, t, { grad: true }));

  /** The call with forkJoin reporting "a worker was still busy" for its first `lateJoins` joins and
   *  "none" after (workers slower than the caller for a while, on a loaded machine, then not): the
   *  number of joins, and per logits join (split by class rows: args[1] of lceLogits) after the
   *  late ones the caller's share of the rows. */
  function withLateness(lateJoins: number): { joins: number; sharesAfter: number[]; value: unknown } {
    const pool = poolOf();
    const real = pool.forkJoin;
    let joins = 0;
    const sharesAfter: number[] = [];
    pool.forkJoin = function (this: PoolInside, fn, parts, between) {
      const rows = (p: { name: string; args: number[] }[]) => (p[0] ? p[0].args[1] : 0);
      const logits = parts.some((p) => p[0]?.name.startsWith('lceLogits'));
      if (logits && joins >= lateJoins) sharesAfter.push(rows(parts[0]) / parts.reduce((s, p) => s + rows(p), 0));
      real.call(this, fn, parts, between);
      return ++joins <= lateJoins;
    };
    try {
      const value = call();
      return { joins, sharesAfter, value };
    } finally {
      pool.forkJoin = real;
    }
  }

  test('FINDING (fixed): a share that reaches 1 comes down again: after many late joins the later blocks of the call split over the threads again', async () => {
    await X.setThreads(1);
    const one = call();
    expect(await X.setThreads(4)).toBe(4);
    const never = withLateness(0); // the workers always keep up: every block split
    same('never late', never.value, one);
    expect(never.joins).toBe(80); // 20 blocks x 2 token chunks x (logits, gradients)
    // Workers late for the first 45 joins (0.25 + 45 x 0.02 would pass 1), then never late: the
    // blocks after that should split again, with the caller's share coming back down.
    const late = withLateness(45);
    same('late, then not', late.value, one);
    // Got (439a1ce): 38 joins in all; at the 38th the share reached 1, after which every range but
    // the caller's is empty, BlockGemms.run calls no forkJoin, and so never moves the share again.
    expect(late.joins).toBeGreaterThan(46);
    expect(late.sharesAfter.length).toBeGreaterThan(2);
    expect(late.sharesAfter[late.sharesAfter.length - 1]).toBeLessThan(late.sharesAfter[0]);
  });
});
