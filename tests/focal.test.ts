// focalLoss / FocalLoss: every case of tests/fixtures/focalLoss.json (the formula written in torch,
// autograd gradients), gamma = 0 against crossEntropy, p_t = 1, logits of 1e4 in float32, and the
// float64 reference on a call of many chunks.
import * as X from '../src';
import * as R from './reference';
import { fixtureRunner, loadCases } from './helpers/family-fixtures';
import { rng, normals, ints, uniforms } from './helpers/random';
import { focalAccurate, randomFocalCase, worstUlps } from './helpers/focal';

beforeAll(() => X.init());

const cases = loadCases('focalLoss.json');
const runner = fixtureRunner('focalLoss');
afterAll(() => runner.report(cases.length));

describe('focalLoss.json (PyTorch 1.13 autograd)', () => {
  test.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => runner.run(c, X.focalLoss as never));
});

describe('gamma = 0 is crossEntropy', () => {
  const r = rng(14);
  for (const T of [Float32Array, Float64Array]) {
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      test(`${T.name} ${reduction}, weight and ignoreIndex, NCHW`, () => {
        const shape = [2, 5, 3, 3];
        const x = { data: T.from(normals(r, 90, 3)), shape };
        const t = { data: ints(r, 18, 5), shape: [2, 3, 3] };
        t.data[4] = -100;
        const weight = Array.from(uniforms(r, 5, 0.2, 2));
        const a = X.focalLoss(x, t, { gamma: 0, weight, reduction, grad: true });
        const b = X.crossEntropy(x, t, { weight, reduction, grad: true });
        // float32: both round their exps and products in float32 (the project's float32 tolerance)
        const tol = T === Float32Array ? 1e-5 : 1e-14;
        const la = typeof a.loss === 'number' ? [a.loss] : Array.from(a.loss);
        const lb = typeof b.loss === 'number' ? [b.loss] : Array.from(b.loss);
        la.forEach((v, i) => expect(Math.abs(v - lb[i])).toBeLessThanOrEqual(tol * (1 + Math.abs(lb[i]))));
        a.grad!.forEach((v, i) => expect(Math.abs(v - b.grad![i])).toBeLessThanOrEqual(tol * (1 + Math.abs(b.grad![i]))));
      });
    }
  }
});

// gamma 0 takes crossEntropy's own path (src/ops/focal.ts: crossEntropyAs), its column kernels on
// short rows and NCHW included, where the per-position step had taken 54 ns/elem at C = 2 against
// crossEntropy's 4.8: the same bits as crossEntropy, non-finite logits and upstream factors included.
describe('gamma = 0 takes crossEntropy\'s path', () => {
  const shapes = [[5003, 2], [4001, 3], [3, 5, 7, 9], [2, 21, 4, 33], [17, 1000]];
  test.each(shapes.map((s) => [JSON.stringify(s), s] as const))('bit for bit with crossEntropy, %s', (_name, shape) => {
    const r = rng(shape[0] * 31 + shape[1]);
    const C = shape[1];
    const n = shape.reduce((a, b) => a * b, 1);
    const targetShape = [shape[0], ...shape.slice(2)];
    for (const T of [Float32Array, Float64Array]) {
      const x = T.from(normals(r, n, 3));
      x[7] = -Infinity;
      x[n - 2] = NaN;
      const t = Int32Array.from(ints(r, n / C, C));
      t[1] = -100;
      const weight = T.from(uniforms(r, C, 0.2, 2));
      for (const [reduction, gradOutput] of [['mean', undefined], ['sum', 1e3], ['sum', Infinity], ['none', T.from(normals(r, n / C, 10))]] as const) {
        const opts = { weight, reduction, grad: true, gradOutput } as const;
        const f = X.focalLoss({ data: x, shape }, { data: t, shape: targetShape }, { ...opts, gamma: 0 } as never);
        const c = X.crossEntropy({ data: x, shape }, { data: t, shape: targetShape }, opts as never);
        const all = (v: number | ArrayLike<number>) => (typeof v === 'number' ? [v] : Array.from(v));
        expect(all(f.loss)).toEqual(all(c.loss));
        expect(Array.from(f.grad!)).toEqual(Array.from(c.grad!));
      }
    }
  });

  test('getters of the input, its shape and gamma are read once', () => {
    const values = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const reads = { data: 0, shape: 0, gamma: 0 };
    const input = {
      get data() { return reads.data++ > 0 ? new Float32Array(2) : values; },
      get shape() { return reads.shape++ > 0 ? [1, 2] : [2, 3]; },
    };
    const options = { get gamma() { return reads.gamma++ > 0 ? 2 : 0; }, grad: true };
    const got = X.focalLoss(input as never, [0, 1], options);
    const want = X.crossEntropy({ data: values, shape: [2, 3] }, [0, 1], { grad: true });
    expect(reads).toEqual({ data: 1, shape: 1, gamma: 1 });
    expect(got.loss).toBe(want.loss);
    expect(Array.from(got.grad!)).toEqual(Array.from(want.grad!));
  });

  // Its errors are focalLoss's, word for word as with gamma 2: float logits only, class-index
  // targets only (crossEntropy would take a float target, or numbers the input's length, as class
  // probabilities), its own options.
  const x = { data: Float32Array.from([1, 2, 3, 4, 5, 6]), shape: [2, 3] };
  const bad: [string, unknown, unknown, object][] = [
    ['a target out of range', x, [0, 3], {}],
    ['a weight of the wrong length', x, [0, 1], { weight: [1, 2] }],
    ['a float target', x, Float32Array.from([0, 1]), {}],
    ['class probabilities of the input\'s shape', x, Float32Array.from([1, 0, 0, 0, 1, 0]), {}],
    ['numbers of the input\'s length', x, [1, 0, 0, 0, 1, 0], {}],
    ['half-precision logits', { data: new Uint16Array(6), shape: [2, 3], dtype: 'float16' }, [0, 1], {}],
    ['a gradOutput of the wrong length', x, [0, 1], { reduction: 'none', grad: true, gradOutput: new Float32Array(3) }],
    ['an out too short', x, [0, 1], { grad: true, out: new Float32Array(5) }],
    ['labelSmoothing', x, [0, 1], { labelSmoothing: 0.1 }],
    ['an ignoreIndex that is not an integer', x, [0, 1], { ignoreIndex: 0.5 }],
    ['dim out of range', x, [0, 1], { dim: 2 }],
  ];
  test.each(bad)('%s: the error of gamma 2', (_name, input, target, options) => {
    const error = (gamma: number) => {
      try {
        X.focalLoss(input as never, target as never, { ...options, gamma } as never);
      } catch (e) {
        return [(e as Error).constructor.name, (e as Error).message];
      }
      return null;
    };
    const want = error(2);
    expect(want).not.toBeNull();
    expect(want![1]).toMatch(/^focalLoss: /);
    expect(error(0)).toEqual(want);
  });
});

test('logits of 1e4 in float32: finite where the formula is, NaN rows where autograd gives NaN', () => {
  const x = { data: Float32Array.from([1e4, 0, -1e4, -1e4, 1e4, 0]), shape: [2, 3] };
  const t = [0, 0]; // p_t = 1 (lp_t = 0 exactly), then p_t = 0 (lp_t = -2e4)
  for (const gamma of [0, 1, 2, 0.5]) {
    const { loss, grad } = X.focalLoss(x, t, { gamma, reduction: 'none', grad: true });
    expect(Array.from(loss as Float32Array, (v) => v + 0)).toEqual([0, 2e4]); // -0 from -(1 * 0), as in torch
    // the second row: u = 1, G = -1, so d/dx = -([c == t] - s) = [-1, 1, 0]
    expect(Array.from(grad!.subarray(3))).toEqual([-1, 1, 0]);
    const first = Array.from(grad!.subarray(0, 3));
    if (gamma === 0.5) expect(first.every(Number.isNaN)).toBe(true);
    else expect(first.map(Math.abs)).toEqual([0, 0, 0]);
  }
});

test('a call of many chunks matches the float64 reference', () => {
  const r = rng(15);
  const N = 3000;
  const C = 257;
  const x = normals(r, N * C, 3);
  const t = ints(r, N, C);
  t[7] = -100;
  const weight = uniforms(r, C, 0.5, 1.5);
  for (const gamma of [2, 0.7]) {
    const got = X.focalLoss({ data: x, shape: [N, C] }, t, { gamma, weight, grad: true });
    const want = R.focalLoss({ data: x, shape: [N, C] }, t, { gamma, weight, reduction: 'mean' });
    expect(Math.abs((got.loss as number) - (want.loss as number))).toBeLessThanOrEqual(1e-12 * (want.loss as number));
    for (let i = 0; i < N * C; i += 997) expect(Math.abs(got.grad![i] - want.grad[i])).toBeLessThanOrEqual(1e-15);
  }
});

test('NCHW 64 x 64 (class rows a multiple of 512 bytes apart: the stream cuts each image in two chunks)', () => {
  const shape = [2, 5, 64, 64];
  const r = rng(64);
  for (const T of [Float32Array, Float64Array]) {
    const x = T.from(normals(r, 2 * 5 * 4096, 2));
    const t = new Int32Array(2 * 4096).map(() => Math.floor(r() * 5));
    t[2056] = -100; // the first position of an image's second chunk, ignored
    const weight = T.from([1, 0.5, 2, 1, 1.5]);
    const got = X.focalLoss({ data: x, shape }, { data: t, shape: [2, 64, 64] }, { gamma: 2, weight, reduction: 'sum', grad: true });
    const want = R.focalLoss({ data: x, shape }, t, { gamma: 2, weight, reduction: 'sum' });
    const tol = T === Float32Array ? 1e-5 : 1e-12;
    expect(Math.abs((got.loss as number) - (want.loss as number))).toBeLessThan(tol * Math.abs(want.loss as number));
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(got.grad![i] - want.grad[i]) / (1 + Math.abs(want.grad[i])));
    expect(worst).toBeLessThan(tol);
  }
});

test('NCHW with 8 or more classes (regrouped into rows per chunk: src/ops/focal.ts), every reduction, many chunks', () => {
  const shape = [6, 21, 40, 50];
  const r = rng(65);
  const n = 6 * 21 * 2000;
  for (const T of [Float32Array, Float64Array]) {
    const x = T.from(normals(r, n, 3));
    x[5 * 2000 + 7] = -Infinity; // one class of one position: exp 0, a zero gradient entry
    const t = new Int32Array(6 * 2000).map(() => Math.floor(r() * 21));
    t[2001] = -100;
    t[11999] = -100; // the last position, ignored
    const weight = T.from(uniforms(r, 21, 0.2, 2));
    const tol = T === Float32Array ? 1e-5 : 1e-12;
    for (const [gamma, reduction] of [[2, 'mean'], [0.7, 'sum'], [3, 'none']] as const) {
      const gradOutput = reduction === 'none' ? T.from(normals(r, 6 * 2000)) : undefined;
      const got = X.focalLoss({ data: x, shape }, { data: t, shape: [6, 40, 50] }, { gamma, weight, reduction, grad: true, gradOutput });
      const want = R.focalLoss({ data: x, shape }, t, { gamma, weight, reduction, gradOutput });
      const gl = typeof got.loss === 'number' ? [got.loss] : Array.from(got.loss);
      const wl = typeof want.loss === 'number' ? [want.loss] : Array.from(want.loss as ArrayLike<number>);
      expect(gl.length).toBe(wl.length);
      gl.forEach((v, i) => expect(Math.abs(v - wl[i])).toBeLessThanOrEqual(tol * (1 + Math.abs(wl[i]))));
      let worst = 0;
      for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(got.grad![i] - want.grad[i]) / (1 + Math.abs(want.grad[i])));
      expect(worst).toBeLessThan(tol);
    }
  }
});

test('FocalLoss: constructor options with per-call grad and gradOutput', () => {
  const x = { data: Float64Array.from([1, 2, 3, 0.5, -1, 2]), shape: [2, 3] };
  const m = new X.FocalLoss({ gamma: 1.5, weight: [1, 2, 0.5], reduction: 'sum' });
  const got = m.forward(x, [2, 0], { grad: true, gradOutput: 2 });
  const want = R.focalLoss(x, [2, 0], { gamma: 1.5, weight: [1, 2, 0.5], reduction: 'sum', gradOutput: 2 });
  expect(got.loss).toBeCloseTo(want.loss as number, 14);
  got.grad!.forEach((v, i) => expect(v).toBeCloseTo(want.grad[i], 14));
});

// The modulating factor (1 - p_t)^gamma and its slope come from exp(g log u) (math.ts powFocal,
// which replaced AssemblyScript's Math.pow for the module's size): against the float64 reference,
// which calls Math.pow, for gammas whose power is not a product. (1e-11: the reference forms
// 1 - p_t by subtraction, off by ulp(1) / u relative, times gamma: 2.3e-12 at gamma 3.7 here; the
// kernel's u = -expm1(lp_t) and exp(g log u) are within |g log u| ulps.)
test.each([0.25, 0.5, 0.7, 1.5, 2.5, 3, 3.7])('gamma %p: float64 loss and gradient within 1e-11 of the reference (Math.pow)', (gamma) => {
  const N = 64, C = 7;
  const x = { data: Float64Array.from(normals(rng(Math.round(gamma * 100)), N * C, 3)), shape: [N, C] };
  const t = ints(rng(7), N, C);
  const got = X.focalLoss(x, t, { gamma, reduction: 'none', grad: true });
  const want = R.focalLoss(x, t, { gamma, reduction: 'none' });
  const rel = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]) / (1e-300 + Math.abs(b[i]))));
  expect(rel(got.loss as Float64Array, want.loss as Float64Array)).toBeLessThan(1e-11);
  expect(Math.max(...Array.from(got.grad as Float64Array, (v, i) => Math.abs(v - (want.grad as Float64Array)[i])))).toBeLessThan(1e-11);
});

// ---- float32 column path (assembly/focal.ts focalColumns): against helpers/focal.ts focalAccurate.

describe('float32 column path: within 16 ulps of float64, near-converged positions and gradOutput 1e3 included', () => {
  const r = rng(66);
  const shapes: number[][] = [[1003, 2], [1003, 3], [1003, 5], [1003, 7], [1003, 13], [1003, 21], [1003, 33], [601, 63], [3, 2, 7, 9], [3, 5, 7, 9], [3, 21, 7, 9], [50, 21, 4], [2, 150, 5, 7]];
  test.each(shapes.map((s) => [JSON.stringify(s), s] as const))('%s', (_name, shape) => {
    const { C, positions, x, t, at, targetShape } = randomFocalCase(r, shape, 3);
    // near-converged positions: the target ahead of every other class by 8-40 (S rounds to 1 from
    // about 37 on), and a tie for the max
    for (let p = 1; p < positions; p += 5) {
      x[at(p, t[p])] = 8 + 32 * r() + Math.max(...Array.from({ length: C }, (_, c) => x[at(p, c)]));
    }
    if (C > 1) x[at(3, (t[3] + 1) % C)] = x[at(3, t[3])];
    const target = Array.from(t);
    target[0] = -100;
    target[positions - 1] = -100;
    const weight = Float32Array.from(uniforms(r, C, 0.2, 2));
    weight[C - 1] = 0;
    for (const gamma of [2, 1, 0.5, 3]) {
      for (const scale of [1, 1e3]) {
        const gradOutput = Float32Array.from(normals(r, positions, scale));
        const got = X.focalLoss({ data: x, shape }, { data: Int32Array.from(target), shape: targetShape }, { gamma, weight, reduction: 'none', grad: true, gradOutput });
        const want = focalAccurate(x, shape, target, gamma, weight, (p) => gradOutput[p]);
        const lossUlps = worstUlps(got.loss as Float32Array, want.loss);
        const gradUlps = worstUlps(got.grad!, want.grad);
        // (measured: at most 10.3 ulps for the loss and 12.0 for the gradient, gamma 3; the per-position
        // step in float32 lanes, from u, p_t and 1 / S rounded once each)
        expect(lossUlps).toBeLessThanOrEqual(16);
        expect(gradUlps).toBeLessThanOrEqual(16);
      }
    }
  });
});

// The lanes focalColumns leaves to focalPosition (an ignored target, a non-finite logit, weight or
// gradOutput) inside groups of four whose other lanes it keeps: the same NaNs, infinities and
// values as the float64 path (the per-position code, against PyTorch in focalLoss.json).
test.each([[[64, 5]], [[2, 5, 4, 8]], [[40, 3, 6]]])('float32 column path, hostile lanes %p: as float64', (shape) => {
  const r = rng(67);
  const C = shape[1];
  const n = shape.reduce((a, b) => a * b, 1);
  const positions = n / C;
  const inner = positions / shape[0];
  const x = Float32Array.from(normals(r, n, 2));
  const at = (p: number, c: number) => (Math.floor(p / inner) * C + c) * inner + (p % inner);
  x[at(1, 0)] = -Infinity;
  x[at(6, 1)] = NaN;
  x[at(9, 2)] = Infinity;
  for (let c = 0; c < C; c++) x[at(14, c)] = -Infinity;
  x[at(19, 1)] = 3e38;
  x[at(19, 0)] = -3e38;
  const t = Int32Array.from(ints(r, positions, C));
  t[2] = -100;
  t[positions - 1] = -100;
  t[23] = 0;
  x[at(23, 0)] = -Infinity; // the target's logit -inf: an infinite loss
  const weight = Float32Array.from(uniforms(r, C, 0.5, 2));
  for (const [gamma, w] of [[2, weight], [0.5, weight], [1, Float32Array.from(weight, (v, c) => (c === 1 ? Infinity : c === 2 ? NaN : v))]] as const) {
    const gradOutput = Float32Array.from(normals(r, positions, 10));
    gradOutput[4] = Infinity;
    gradOutput[11] = NaN;
    gradOutput[17] = 3e38;
    expectAsFloat64(x, shape, t, gamma, w, gradOutput);
  }
});

/** focalLoss on float32 x (reduction 'none', with the gradient) within 16 ulps of the same call on
 *  float64 copies of x, the weight and gradOutput: the float64 path's NaNs, infinities and values. */
function expectAsFloat64(x: Float32Array, shape: number[], t: Int32Array, gamma: number, w: Float32Array, gradOutput: Float32Array) {
  const pshape = [shape[0], ...shape.slice(2)];
  const opts = { gamma, weight: w, reduction: 'none' as const, grad: true };
  const got = X.focalLoss({ data: x, shape }, { data: t, shape: pshape }, { ...opts, gradOutput });
  const want = X.focalLoss({ data: Float64Array.from(x), shape }, { data: t, shape: pshape }, { ...opts, weight: Float64Array.from(w), gradOutput: Float64Array.from(gradOutput) });
  const asF32 = (a: ArrayLike<number>) => Float32Array.from(a);
  expect(worstUlps(got.loss as Float32Array, asF32(want.loss as Float64Array))).toBeLessThanOrEqual(16);
  expect(worstUlps(got.grad!, asF32(want.grad!))).toBeLessThanOrEqual(16);
}

// Negative gamma stays on the per-position path: below -1 the two terms of G nearly cancel, and the
// column path's p_t = e_t / S from float32 exps was 50 ulps off (red team 35b).
test('gamma -2, float32: within 8 ulps of the float64 path', () => {
  const x = Float32Array.from([0.25263968, 1.0753723, 0.25263968, 1.0753723, 2, -1, 1.5, -0.3]); // (away from G = 0)
  const t = Int32Array.from([0, 0, 0, 1]);
  for (const gradOutput of [Float32Array.from([1, 1e-30, 1, 3]), undefined]) {
    const opts = { gamma: -2, reduction: (gradOutput ? 'none' : 'sum') as 'none' | 'sum', grad: true, gradOutput };
    const got = X.focalLoss({ data: x, shape: [4, 2] }, t, opts);
    const want = X.focalLoss({ data: Float64Array.from(x), shape: [4, 2] }, t, { ...opts, gradOutput: gradOutput && Float64Array.from(gradOutput) });
    expect(worstUlps(got.grad!, Float32Array.from(want.grad!))).toBeLessThanOrEqual(8);
  }
});

// ---- C = 2 (assembly/focal.ts focalPair): one exp per position, the step in float32 lanes.

// Every gap v - m between the two logits that float32 exp does not round to 0 or 1 (e from 1 down
// to 2^-149 and past it), with the target on either side of the max and on a tie, gradOutput 1 and
// 1e3, against helpers/focal.ts focalAccurate (float64, from float32's d). The regrouped rows and an
// NCHW layout walked in place reach the same kernel.
describe('C = 2 float32 kernel, every logit gap: within 16 ulps of float64', () => {
  const gaps: number[] = [0];
  for (let g = 2 ** -26; g < 110; g *= 1.0213) gaps.push(g);
  const positions = 4 * Math.ceil((2 * gaps.length) / 4);
  const x = new Float32Array(2 * positions);
  const t = new Int32Array(positions);
  for (let p = 0; p < positions; p++) {
    const gap = gaps[(p >> 1) % gaps.length];
    const top = ((p * 7919) % 13) - 6; // the max anywhere in [-6, 6]
    // rows [x0, x1]: the target (alternating 0 and 1) the max at even p, the smaller one at odd p
    t[p] = (p >> 2) & 1;
    x[2 * p + t[p]] = p % 2 === 0 ? top : top - gap;
    x[2 * p + 1 - t[p]] = p % 2 === 0 ? top - gap : top;
  }
  // the same positions as NCHW [positions / 4, 2, 4]... walked in place needs class runs of 16 or
  // more: [positions / 16, 2, 16]
  const nchw = new Float32Array(x.length);
  const inner = 16;
  const outer = positions / inner;
  for (let p = 0; p < positions; p++) {
    const o = Math.floor(p / inner), i = p % inner;
    nchw[(o * 2) * inner + i] = x[2 * p];
    nchw[(o * 2 + 1) * inner + i] = x[2 * p + 1];
  }
  const cases = [
    ['rows', x, [positions, 2], [positions]],
    ['NCHW', nchw, [outer, 2, inner], [outer, inner]],
  ] as const;
  test.each(cases.flatMap(([name, data, shape, tshape]) => [2, 1, 0.5, 3].map((gamma) => [name, gamma, data, shape, tshape] as const)))('%s, gamma %p', (_name, gamma, data, shape, tshape) => {
    if (positions % inner !== 0) throw new Error('positions must fill whole NCHW rows');
    const target = shape.length === 2 ? t : Int32Array.from({ length: positions }, (_, q) => t[Math.floor(q / inner) * inner + (q % inner)]);
    for (const scale of [1, 1e3]) {
      const gradOutput = Float32Array.from({ length: positions }, (_, p) => scale * (1 + (p % 5) / 8));
      const got = X.focalLoss({ data, shape: [...shape] }, { data: target, shape: [...tshape] }, { gamma, reduction: 'none', grad: true, gradOutput });
      const want = focalAccurate(data, [...shape], target, gamma, null, (p) => gradOutput[p]);
      expect(worstUlps(got.loss as Float32Array, want.loss)).toBeLessThanOrEqual(16);
      expect(worstUlps(got.grad!, want.grad)).toBeLessThanOrEqual(16);
      const sum = X.focalLoss({ data, shape: [...shape] }, { data: target, shape: [...tshape] }, { gamma, reduction: 'sum' }).loss as number;
      expect(Math.abs(sum - want.total)).toBeLessThanOrEqual(1e-6 * Math.abs(want.total));
    }
  });
});

// The lanes focalPair leaves to focalPosition (an ignored target; a non-finite logit, weight or
// gradOutput; a loss or G beyond float32), inside groups of four whose other lanes it keeps: the
// same NaNs, infinities and values as the float64 path. A -inf beside a finite target logit stays
// in its lane (u = 0): the float64 path's values there too.
test.each([[[64, 2]], [[2, 2, 32]]])('C = 2 float32 kernel, hostile lanes %p: as float64', (shape) => {
  const r = rng(68);
  const n = shape.reduce((a, b) => a * b, 1);
  const positions = n / 2;
  const inner = positions / shape[0];
  const x = Float32Array.from(normals(r, n, 2));
  // (multiples of 1/64: float32's gaps x_c - m are exact, as float64's, so the two paths differ by
  // the kernels' rounding only, not by float32's d: 25 ulps at a gap of 20 with gamma 2)
  x.forEach((v, i) => (x[i] = Math.round(v * 64) / 64));
  const at = (p: number, c: number) => (Math.floor(p / inner) * 2 + c) * inner + (p % inner);
  const t = Int32Array.from(ints(r, positions, 2));
  const set = (p: number, target: number, x0: number, x1: number) => {
    t[p] = target;
    x[at(p, 0)] = x0;
    x[at(p, 1)] = x1;
  };
  set(1, 1, -Infinity, 0.5); // -inf beside the target
  set(5, 0, -Infinity, 0.5); // the target's logit -inf: an infinite loss
  set(6, 1, NaN, 1);
  set(9, 0, Infinity, 2);
  set(13, 1, -Infinity, -Infinity);
  set(19, 0, 3e38, -3e38);
  set(21, 1, 1e30, -1e30); // (float32's d = -2e30 - 0: [3e38, -3e38] overflows it, to NaN as PyTorch float32's)
  set(25, 0, 1e30, -1e30);
  set(26, 1, 40, 0); // S rounds to 1 in float64: u 0 at the target
  set(27, 0, 40, 0);
  set(29, 1, 2.5, 2.5); // a tie
  t[2] = -100;
  t[positions - 1] = -100;
  const weight = Float32Array.from([0.5, 1.7]);
  for (const [gamma, w] of [[2, weight], [0.5, weight], [1, weight], [3, Float32Array.from([Infinity, 1])], [2, Float32Array.from([NaN, 2])], [2, Float32Array.from([1e-30, 3e38])]] as const) {
    const gradOutput = Float32Array.from(normals(r, positions, 10));
    gradOutput[4] = Infinity;
    gradOutput[11] = NaN;
    gradOutput[17] = 3e38;
    gradOutput[22] = -1e-30;
    expectAsFloat64(x, shape, t, gamma, w, gradOutput);
    const pshape = [shape[0], ...shape.slice(2)];
    for (const reduction of ['sum', 'mean'] as const) {
      const a = X.focalLoss({ data: x, shape }, { data: t, shape: pshape }, { gamma, weight: w, reduction }).loss as number;
      const b = X.focalLoss({ data: Float64Array.from(x), shape }, { data: t, shape: pshape }, { gamma, weight: Float64Array.from(w), reduction }).loss as number;
      expect(worstUlps([a], [Math.fround(b)])).toBeLessThanOrEqual(16);
    }
  }
});

// Red team 53: the first version of the C = 2 branch took S = 1 + e in float32 and u = e / S from
// it: 17.5 and 17.1 ulps on these rows at gamma 3 (19.5 at a gap of 15.54 in a scan), over the
// README's 17. The branch now forms u and p_t from S in f64, the loops' own values.
test.each([
  [[3.7169487476348877, -11.839228630065918], 0, null, 1e30],
  [[-1730.1739501953125, -1726.1505126953125], 1, [0.1, 10], 1000],
  [[0, -15.537118911743164], 0, [1.3, 0.7], -0.3],
] as const)('C = 2 at gamma 3: %p, target %p, weight %p, gradOutput %p within 17 ulps', (row, target, weight, k) => {
  const x = Float32Array.from([...row, ...row, ...row, ...row]);
  const t = new Int32Array(4).fill(target);
  const w = weight && Float32Array.from(weight);
  const gradOutput = new Float32Array(4).fill(k);
  const got = X.focalLoss({ data: x, shape: [4, 2] }, t, { gamma: 3, weight: w ?? undefined, reduction: 'none', grad: true, gradOutput });
  const want = focalAccurate(x, [4, 2], t, 3, w, () => k);
  expect(worstUlps(got.loss as Float32Array, want.loss)).toBeLessThanOrEqual(16);
  expect(worstUlps(got.grad!, want.grad)).toBeLessThanOrEqual(17);
});

// Red team 57's near-converged rows, whose shift x_c - max float32 rounds: 63 and 28 ulps from the
// formula with exact shifts, within 17 (README: the bound's reference rounds the shift as PyTorch
// float32 does; tests/helpers/focal.ts).
test.each([[[13.066300392150879, 34.03630065917969], 1, 3], [[5.329400062561035, 35.18939971923828], 1, 1]])('near-converged row %p, target %i, gamma %i: within 17 ulps of the formula on float32 shifts', (row, target, gamma) => {
  const x = Float32Array.from(row as number[]);
  const got = X.focalLoss({ data: x, shape: [1, 2] }, [target as number], { gamma: gamma as number, reduction: 'none', grad: true });
  const want = focalAccurate(x, [1, 2], [target as number], gamma as number, null, () => 1);
  expect(worstUlps(got.loss as Float32Array, want.loss)).toBeLessThanOrEqual(17);
  expect(worstUlps(got.grad!, want.grad)).toBeLessThanOrEqual(17);
});
