// ctcLoss (issue 13): every case of tests/fixtures/ctc.json (PyTorch 1.13) through the public API
// and through the float64 reference (tests/reference.ts); the reference's two methods (brute force
// over alignments, forward-backward) against each other; and what no fixture can show: empty
// inputs, the torch.nn-style class, `out`, wasmArrays, flat memory.
import * as fs from 'fs';
import * as path from 'path';
import * as X from '../src';
import * as R from './reference';
import { ints, normals, rng } from './helpers/random';

type JNum = number | string;
interface JTensor { data: JNum[]; shape: number[]; type?: string }
interface Case {
  name: string;
  dtype: 'float32' | 'float64';
  input: JTensor;
  target: JTensor;
  inputLengths: number[] | number;
  targetLengths: number[] | number;
  gradOutput?: JTensor;
  options: Record<string, unknown>;
  expected: { loss: JNum | JTensor; grad: JTensor };
}

const dec = (v: JNum): number => (typeof v === 'number' ? v : v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : NaN);
const cases: Case[] = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'ctc.json'), 'utf8')).cases;

beforeAll(() => X.init());

const TOL = { float32: 1e-5, float64: 1e-10 };

/** |a - e| <= tol (1 + |e|), NaN where NaN, infinities exactly. */
function expectClose(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  const bad: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const a = actual[i];
    const ok = Number.isNaN(e) ? Number.isNaN(a) : !Number.isFinite(e) ? a === e : Math.abs(a - e) <= tol * (1 + Math.abs(e));
    if (!ok) bad.push(`${what}[${i}]: got ${a}, expected ${e}`);
  }
  if (bad.length) throw new Error(`${bad.length} of ${expected.length} values off:\n  ${bad.slice(0, 8).join('\n  ')}`);
}

function buildTargets(t: JTensor): unknown {
  const values = t.data.map(dec);
  const data =
    t.type === 'number[]' ? values
    : t.type === 'BigInt64Array' ? BigInt64Array.from(values.map(BigInt))
    : ({ Int32Array, Int16Array, Uint8Array } as Record<string, { from(v: number[]): unknown }>)[t.type ?? 'Int32Array'].from(values);
  return { data, shape: t.shape };
}

/** Each element's labels, from padded (N, S) or concatenated targets. */
function perElement(c: Case): number[][] {
  const tl = typeof c.targetLengths === 'number' ? [c.targetLengths] : c.targetLengths;
  const values = c.target.data.map(dec);
  let k = 0;
  return tl.map((n, b) => {
    const start = c.target.shape.length === 2 ? b * c.target.shape[1] : k;
    k += n;
    return values.slice(start, start + n);
  });
}

describe('ctc.json (PyTorch 1.13)', () => {
  test.each(cases.map((c): [string, Case] => [c.name, c]))('%s', (_name, c) => {
    const Ctor = c.dtype === 'float32' ? Float32Array : Float64Array;
    const logProbs = { data: Ctor.from(c.input.data.map(dec)), shape: c.input.shape };
    const options: Record<string, unknown> = { ...c.options, grad: true };
    if (typeof options.gradOutput === 'string') options.gradOutput = dec(options.gradOutput);
    if (c.gradOutput) options.gradOutput = Ctor.from(c.gradOutput.data.map(dec));
    const res = X.ctcLoss(logProbs, buildTargets(c.target), c.inputLengths, c.targetLengths, options);
    const expectedLoss = typeof c.expected.loss === 'object' ? c.expected.loss.data.map(dec) : [dec(c.expected.loss)];
    if (typeof c.expected.loss === 'object') expect(res.loss).toBeInstanceOf(Ctor);
    else expect(typeof res.loss).toBe('number');
    const loss = typeof res.loss === 'number' ? [res.loss] : res.loss;
    expectClose('loss', loss, expectedLoss, TOL[c.dtype]);
    expect(res.grad).toBeInstanceOf(Ctor);
    expectClose('grad', res.grad!, c.expected.grad.data.map(dec), TOL[c.dtype]);

    // the reference, from the same (cast) values
    const il = typeof c.inputLengths === 'number' ? [c.inputLengths] : c.inputLengths;
    const ref = R.ctcLoss({ data: Array.from(logProbs.data), shape: c.input.shape }, perElement(c), il, {
      blank: c.options.blank as number | undefined,
      reduction: c.options.reduction as R.Reduction | undefined,
      zeroInfinity: c.options.zeroInfinity as boolean | undefined,
      gradOutput: options.gradOutput as number | Float64Array | undefined,
    });
    expectClose('reference loss', typeof ref.loss === 'number' ? [ref.loss] : ref.loss, expectedLoss, 1e-12);
    expectClose('reference grad', ref.grad, c.expected.grad.data.map(dec), 1e-12);
  });
});

/** log_softmax over the last dim of random logits. */
function logProbsOf(values: Float64Array, C: number): Float64Array {
  const out = new Float64Array(values.length);
  for (let r = 0; r < values.length / C; r++) {
    const row = values.subarray(r * C, (r + 1) * C);
    const m = Math.max(...row);
    const z = Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    row.forEach((v, c) => (out[r * C + c] = v - m - z));
  }
  return out;
}

describe('the reference agrees with itself', () => {
  test('brute force over alignments equals forward-backward (120 tiny problems, -inf entries included)', () => {
    const r = rng(13);
    for (let k = 0; k < 120; k++) {
      const C = 2 + Math.floor(r() * 3);
      const T = 1 + Math.floor(r() * 6);
      const N = 1 + Math.floor(r() * 2);
      const lp = logProbsOf(normals(r, T * N * C, 2), C);
      if (k % 5 === 0) lp[Math.floor(r() * lp.length)] = -Infinity;
      const blank = Math.floor(r() * C);
      const targets = Array.from({ length: N }, () => Array.from(ints(r, Math.floor(r() * 4), C - 1)).map((v) => (v >= blank ? v + 1 : v)));
      const il = Array.from({ length: N }, () => Math.floor(r() * (T + 1)));
      const o = { blank, reduction: 'none' as const, gradOutput: Array.from(normals(r, N)) };
      const a = R.ctcLoss({ data: lp, shape: [T, N, C] }, targets, il, o, 'brute-force');
      const b = R.ctcLoss({ data: lp, shape: [T, N, C] }, targets, il, o);
      expectClose('loss', b.loss as Float64Array, a.loss as Float64Array, 1e-12);
      expectClose('grad', b.grad, a.grad, 1e-12);
    }
  });
});

describe('ctcLoss beyond the fixtures', () => {
  const lp = (T: number, N: number, C: number, seed = 1) => logProbsOf(normals(rng(seed), T * N * C, 2), C);

  test('inputLength 0: loss 0 for an empty target, +Infinity otherwise, and a zero gradient (PyTorch 1.13 reads uninitialised memory there)', () => {
    const x = { data: lp(3, 3, 4), shape: [3, 3, 4] };
    const res = X.ctcLoss(x, { data: [1, 2, 0, 0, 3, 0], shape: [3, 2] }, [0, 0, 3], [2, 0, 1], { reduction: 'none', grad: true });
    const ref = R.ctcLoss({ data: Array.from(x.data), shape: x.shape }, [[1, 2], [], [3]], [0, 0, 3], { reduction: 'none' });
    expect(Array.from(res.loss as Float64Array).slice(0, 2)).toEqual([Infinity, 0]);
    expectClose('loss', res.loss as Float64Array, ref.loss as Float64Array, 1e-12);
    expectClose('grad', res.grad!, ref.grad, 1e-12);
    for (let t = 0; t < 3; t++) for (let i = 0; i < 8; i++) expect(res.grad![t * 12 + i]).toBe(0);
    const zi = X.ctcLoss(x, { data: [1, 2, 0, 0, 3, 0], shape: [3, 2] }, [0, 0, 3], [2, 0, 1], { zeroInfinity: true });
    expect(zi.loss).toBeCloseTo((0 + 0 + (ref.loss as Float64Array)[2]) / 3, 12);
  });

  test('T = 0: every element has an empty input', () => {
    const res = X.ctcLoss({ data: new Float32Array(0), shape: [0, 2, 3] }, [1], [0, 0], [1, 0], { reduction: 'none', grad: true });
    expect(Array.from(res.loss as Float32Array)).toEqual([Infinity, 0]);
    expect(res.grad!.length).toBe(0);
  });

  test('CTCLoss.forward equals ctcLoss with the same options; per-call options are merged in', () => {
    const x = { data: lp(6, 2, 5), shape: [6, 2, 5] };
    const criterion = new X.CTCLoss({ blank: 4, reduction: 'sum', zeroInfinity: true });
    const a = criterion.forward(x, [1, 2, 3, 0, 0], [6, 5], [3, 2], { grad: true });
    const b = X.ctcLoss(x, [1, 2, 3, 0, 0], [6, 5], [3, 2], { blank: 4, reduction: 'sum', zeroInfinity: true, grad: true });
    expect(a.loss).toBe(b.loss);
    expect(a.grad).toEqual(b.grad);
  });

  test('out receives the gradient (overwritten, not accumulated) and is returned', () => {
    const x = { data: Float32Array.from(lp(5, 2, 4)), shape: [5, 2, 4] };
    const out = new Float32Array(40).fill(7);
    const res = X.ctcLoss(x, [1, 2, 3], [5, 3], [2, 1], { out });
    expect(res.grad).toBe(out);
    expect(Array.from(out)).toEqual(Array.from(X.ctcLoss(x, [1, 2, 3], [5, 3], [2, 1], { grad: true }).grad!));
    expect(out[3 * 8 + 4]).toBe(0); // element 1 ends at frame 3
  });

  test('a wasmArray is read in place and gives the same result', () => {
    const values = lp(8, 3, 6);
    const w = X.wasmArray(Float64Array, values.length);
    w.array.set(values);
    const g = X.wasmArray(Float64Array, values.length);
    const a = X.ctcLoss({ data: w.array, shape: [8, 3, 6] }, [1, 2, 3, 4, 5], [8, 7, 8], [2, 2, 1], { out: g.array });
    const b = X.ctcLoss({ data: values, shape: [8, 3, 6] }, [1, 2, 3, 4, 5], [8, 7, 8], [2, 2, 1], { grad: true });
    expect(a.loss).toBe(b.loss);
    expect(Array.from(g.array)).toEqual(Array.from(b.grad!));
    w.free();
    g.free();
  });

  test('a W9-sized batch (T 200, N 8, C 80, S 40) matches the reference, float32 and float64', () => {
    const [T, N, C, S] = [200, 8, 80, 40];
    const values = lp(T, N, C, 9);
    const r = rng(10);
    const targets = Array.from({ length: N }, () => Array.from(ints(r, S, C - 1)).map((v) => v + 1));
    const il = Array.from({ length: N }, (_, b) => T - 7 * b);
    const tl = targets.map((t) => t.length);
    const ref = R.ctcLoss({ data: values, shape: [T, N, C] }, targets, il, { reduction: 'none' });
    for (const Ctor of [Float64Array, Float32Array]) {
      const data = Ctor.from(values);
      const res = X.ctcLoss({ data, shape: [T, N, C] }, targets.flat(), il, tl, { reduction: 'none', grad: true });
      const ref32 = Ctor === Float32Array ? R.ctcLoss({ data: Array.from(data), shape: [T, N, C] }, targets, il, { reduction: 'none' }) : ref;
      const tol = Ctor === Float32Array ? 1e-5 : 1e-10;
      expectClose('loss', res.loss as Float64Array, ref32.loss as Float64Array, tol);
      expectClose('grad', res.grad!, ref32.grad, tol);
    }
  });

  test('repeated calls of the same size do not grow wasm memory', () => {
    const x = { data: Float32Array.from(lp(50, 4, 20)), shape: [50, 4, 20] };
    const call = () => X.ctcLoss(x, { data: new Int32Array(4 * 10).fill(3), shape: [4, 10] }, [50, 50, 40, 30], [10, 9, 8, 7], { grad: true });
    call();
    const before = X.wasmMemoryBytes();
    for (let i = 0; i < 50; i++) call();
    expect(X.wasmMemoryBytes()).toBe(before);
  });
});
