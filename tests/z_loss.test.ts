// crossEntropy's zLoss and returnLse (issue 12): every case of tests/fixtures/crossEntropyZLoss.json
// (cross_entropy + z * logsumexp^2 written out in torch 1.13, autograd gradients), the float64
// reference (tests/reference.ts: crossEntropy plus zLossTerm) on random calls of every layout,
// central finite differences, logits of 1e4 in float32, and the result types.
import * as X from '../src';
import * as R from './reference';
import { dec, fixtureRunner, loadCases } from './helpers/family-fixtures';
import { rng, normals, ints, uniforms } from './helpers/random';

beforeAll(() => X.init());

const cases = loadCases('crossEntropyZLoss.json');
const runner = fixtureRunner('crossEntropyZLoss');
afterAll(() => runner.report(cases.length));

type Lse = { lse: { data: (number | string)[]; shape: number[] } };

describe('crossEntropyZLoss.json (PyTorch 1.13 autograd)', () => {
  test.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    let lse: unknown;
    const call = (input: never, target: never, options: never) => {
      // a scalar target (unbatched input) is passed as a plain number, as users do
      const t = c.target.type === 'scalar' ? dec(c.target.data[0]) : target;
      const res = X.crossEntropy(input, t as never, options as X.CrossEntropyOptions);
      lse = res.lse;
      return res;
    };
    runner.run(c, call as never);
    // lse: the input's float type, one value per position, ignored positions included
    const want = (c.expected as unknown as Lse).lse;
    const Ctor = c.dtype === 'float32' ? Float32Array : Float64Array;
    expect(lse).toBeInstanceOf(Ctor);
    const got = lse as Float32Array | Float64Array;
    expect(got.length).toBe(want.data.length);
    const tol = c.dtype === 'float32' ? 1e-6 : 1e-12;
    want.data.forEach((e, i) => {
      const v = dec(e);
      if (Number.isFinite(v)) expect(Math.abs(got[i] - v)).toBeLessThanOrEqual(tol * (1 + Math.abs(v)));
      else expect(got[i]).toBe(v);
    });
  });
});

describe('the reference itself (crossEntropy + zLossTerm) against the float64 fixtures', () => {
  // So that the properties below check against something PyTorch agrees with (on finite data: the
  // non-finite cases, PyTorch's infinities, are the library's alone, checked above).
  test.each(cases.filter((c) => c.dtype === 'float64' && !c.name.includes('/non-finite-')).map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const o = c.options as { weight?: (number | string)[]; ignoreIndex?: number; labelSmoothing?: number; reduction?: 'mean' | 'sum' | 'none'; dim?: number; gradOutput?: number | string; zLoss: number };
    const input = { data: c.input.data.map(dec), shape: c.input.shape };
    const gradOutput = c.gradOutput ? c.gradOutput.data.map(dec) : o.gradOutput === undefined ? undefined : dec(o.gradOutput);
    const ro = { weight: o.weight?.map(dec), ignoreIndex: o.ignoreIndex, labelSmoothing: o.labelSmoothing, reduction: o.reduction, dim: o.dim, gradOutput };
    const probs = c.target.type === 'float';
    const t = c.target.data.map(dec);
    const ce = probs ? R.crossEntropyProbs(input, t, ro) : R.crossEntropyIndex(input, t, ro);
    const zt = R.zLossTerm(input, probs ? null : t, o.zLoss, ro);
    const loss = typeof ce.loss === 'number' ? [ce.loss + (zt.loss as number)] : Array.from(ce.loss, (v, i) => v + (zt.loss as Float64Array)[i]);
    const want = typeof c.expected.loss === 'object' ? c.expected.loss.data.map(dec) : [dec(c.expected.loss)];
    const close = (a: number, e: number) => (Number.isNaN(e) ? Number.isNaN(a) : Math.abs(a - e) <= 1e-10 * (1 + Math.abs(e)));
    loss.forEach((v, i) => expect([i, close(v, want[i])]).toEqual([i, true]));
    const g = c.expected.grad.data.map(dec);
    ce.grad.forEach((v, i) => expect([i, close(v + zt.grad[i], g[i])]).toEqual([i, true]));
    const lse = (c.expected as unknown as Lse).lse.data.map(dec);
    zt.lse.forEach((v, i) => expect([i, close(v, lse[i])]).toEqual([i, true]));
  });
});

/** |a - e| / (1 + |e|) over every element. */
function worst(a: ArrayLike<number>, e: ArrayLike<number>): number {
  expect(a.length).toBe(e.length);
  const abs = Math.abs;
  let w = 0;
  for (let i = 0; i < e.length; i++) w = Math.max(w, abs(a[i] - e[i]) / (1 + abs(e[i])));
  return w;
}

const asArray = (v: number | ArrayLike<number>) => (typeof v === 'number' ? [v] : v);

describe('against the float64 reference (crossEntropy + zLossTerm)', () => {
  const r = rng(21);
  const layouts = [
    { shape: [37, 19] },
    { shape: [3, 7, 10] }, // class dim 1, inner 10: vector columns and a scalar tail
    { shape: [2, 5, 8, 8] }, // NCHW
    { shape: [4, 6, 11], dim: -1 },
    { shape: [9] },
  ];
  for (const T of [Float32Array, Float64Array]) {
    for (const { shape, dim } of layouts) {
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        for (const kind of ['index', 'probs'] as const) {
          test(`${T.name} ${JSON.stringify(shape)} dim=${dim ?? 'default'} ${reduction} ${kind}`, () => {
            const d = dim === undefined ? (shape.length === 1 ? 0 : 1) : dim + shape.length;
            const C = shape[d];
            const n = shape.reduce((a, b) => a * b, 1);
            const positions = n / C;
            const x = T.from(normals(r, n, 3));
            const xs = Float64Array.from(x); // the reference sees exactly the values the library gets
            const weight = Array.from(uniforms(r, C, 0.3, 2)).map((v) => (T === Float32Array ? Math.fround(v) : v));
            const z = 0.07;
            const gradOutput = reduction === 'none' ? T.from(normals(r, positions)) : 1.5;
            const go = typeof gradOutput === 'number' ? gradOutput : Float64Array.from(gradOutput);
            const positionShape = shape.filter((_, i) => i !== d);
            let want: R.RefResult;
            let zt: ReturnType<typeof R.zLossTerm>;
            let got: X.LossResult;
            if (kind === 'index') {
              const t = ints(r, positions, C);
              if (positions > 1) t[positions - 1] = -100; // (a lone ignored position: a NaN mean)
              const o = { dim, reduction, weight, labelSmoothing: 0.1, gradOutput: go };
              want = R.crossEntropyIndex({ data: xs, shape }, t, o);
              zt = R.zLossTerm({ data: xs, shape }, t, z, o);
              const target = positionShape.length ? { data: t, shape: positionShape } : t[0];
              got = X.crossEntropy({ data: x, shape }, target, { dim, reduction, weight, labelSmoothing: 0.1, zLoss: z, returnLse: true, gradOutput, grad: true });
            } else {
              const p = T.from(uniforms(r, n, 0, 1));
              const o = { dim, reduction, weight, labelSmoothing: 0.1, gradOutput: go };
              want = R.crossEntropyProbs({ data: xs, shape }, Float64Array.from(p), o);
              zt = R.zLossTerm({ data: xs, shape }, null, z, o);
              got = X.crossEntropy({ data: x, shape }, { data: p, shape }, { dim, reduction, weight, labelSmoothing: 0.1, zLoss: z, returnLse: true, gradOutput, grad: true });
            }
            const loss = typeof want.loss === 'number' ? (want.loss as number) + (zt.loss as number) : (want.loss as Float64Array).map((v, i) => v + (zt.loss as Float64Array)[i]);
            const grad = want.grad.map((v, i) => v + zt.grad[i]);
            const tol = T === Float32Array ? 1e-5 : 1e-12;
            expect(worst(asArray(got.loss), asArray(loss))).toBeLessThanOrEqual(tol);
            expect(worst(got.grad!, grad)).toBeLessThanOrEqual(tol);
            expect(got.lse).toBeInstanceOf(T);
            expect(worst(got.lse!, zt.lse)).toBeLessThanOrEqual(T === Float32Array ? 1e-6 : 1e-13);
          });
        }
      }
    }
  }

  test('a call of many chunks: z averaged by count, not by weight', () => {
    const N = 3000;
    const C = 257;
    const x = normals(r, N * C, 3);
    const t = ints(r, N, C);
    for (let i = 0; i < N; i += 7) t[i] = -100;
    const weight = uniforms(r, C, 0.1, 3);
    const o = { weight, reduction: 'mean' as const };
    const got = X.crossEntropy({ data: x, shape: [N, C] }, t, { weight, zLoss: 1e-3, grad: true });
    const ce = R.crossEntropyIndex({ data: x, shape: [N, C] }, t, o);
    const zt = R.zLossTerm({ data: x, shape: [N, C] }, t, 1e-3, o);
    expect(Math.abs((got.loss as number) - ((ce.loss as number) + (zt.loss as number)))).toBeLessThanOrEqual(1e-12 * (got.loss as number));
    for (let i = 0; i < N * C; i += 991) expect(Math.abs(got.grad![i] - (ce.grad[i] + zt.grad[i]))).toBeLessThanOrEqual(1e-15);
  });
});

test('an NCHW image over the chunk size (chunks slice the spatial dim): loss, gradient and lse', () => {
  const r = rng(24);
  const shape = [1, 4, 200, 200];
  const n = 160000;
  const x = normals(r, n, 3);
  const t = ints(r, 40000, 4);
  for (let i = 0; i < 40000; i += 11) t[i] = -100;
  const weight = [0.5, 1, 2, 1.5];
  const o = { weight, labelSmoothing: 0.05, reduction: 'sum' as const, gradOutput: 0.5 };
  const got = X.crossEntropy({ data: x, shape }, { data: t, shape: [1, 200, 200] }, { ...o, zLoss: 0.02, returnLse: true, grad: true });
  const ce = R.crossEntropyIndex({ data: x, shape }, t, o);
  const zt = R.zLossTerm({ data: x, shape }, t, 0.02, o);
  const want = (ce.loss as number) + (zt.loss as number);
  expect(Math.abs((got.loss as number) - want)).toBeLessThanOrEqual(1e-12 * Math.abs(want));
  expect(worst(got.grad!, ce.grad.map((v, i) => v + zt.grad[i]))).toBeLessThanOrEqual(1e-14);
  expect(worst(got.lse!, zt.lse)).toBeLessThanOrEqual(1e-14);
});

describe('finite differences (float64)', () => {
  const r = rng(22);
  const H = 1e-6;
  const shapes = [{ shape: [4, 5] }, { shape: [2, 3, 2, 2] }, { shape: [3, 4, 5], dim: -1 }, { shape: [6] }];
  for (const { shape, dim } of shapes) {
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      for (const kind of ['index', 'probs'] as const) {
        test(`${JSON.stringify(shape)} ${reduction} ${kind}`, () => {
          const d = dim === undefined ? (shape.length === 1 ? 0 : 1) : dim + shape.length;
          const C = shape[d];
          const n = shape.reduce((a, b) => a * b, 1);
          const positionShape = shape.filter((_, i) => i !== d);
          const x = normals(r, n, 2);
          const weight = Array.from(uniforms(r, C, 0.3, 2));
          let target: unknown;
          if (kind === 'index') {
            const t = ints(r, n / C, C);
            if (t.length > 1) t[1] = -100;
            target = positionShape.length ? { data: t, shape: positionShape } : t[0];
          } else {
            target = { data: uniforms(r, n), shape };
          }
          const g = reduction === 'none' ? normals(r, n / C) : 0.8;
          const options = { dim, reduction, weight, labelSmoothing: 0.15, zLoss: 0.3 };
          const f = (v: Float64Array) => {
            const l = X.crossEntropy({ data: v, shape }, target as never, options).loss;
            if (typeof l === 'number') return l * (g as number);
            let s = 0;
            l.forEach((e, i) => (s += e * (g as Float64Array)[i]));
            return s;
          };
          const grad = X.crossEntropy({ data: x, shape }, target as never, { ...options, grad: true, gradOutput: g }).grad!;
          let w = 0;
          for (let i = 0; i < n; i++) {
            const xp = x.slice(); xp[i] += H;
            const xm = x.slice(); xm[i] -= H;
            const numeric = (f(xp) - f(xm)) / (2 * H);
            w = Math.max(w, Math.abs(numeric - grad[i]) / (1e-7 + 1e-6 * Math.abs(numeric)));
          }
          expect(w).toBeLessThan(1);
        });
      }
    }
  }
});

describe('semantics', () => {
  test('zLoss 0 (or absent) changes nothing; returnLse alone adds lse', () => {
    const r = rng(23);
    const x = { data: Float32Array.from(normals(r, 60, 2)), shape: [4, 15] };
    const t = [3, -100, 14, 0];
    const base = X.crossEntropy(x, t, { grad: true, reduction: 'none' });
    const same = X.crossEntropy(x, t, { grad: true, reduction: 'none', zLoss: 0, returnLse: true });
    expect(Array.from(same.loss)).toEqual(Array.from(base.loss));
    expect(Array.from(same.grad)).toEqual(Array.from(base.grad));
    expect(same.lse.length).toBe(4);
    expect(base).not.toHaveProperty('lse');
  });

  test("'none': z lse^2 per kept position, 0 where ignored; lse at every position", () => {
    const x = { data: Float64Array.from([1, 2, 3, 0, 0, 0, -1, 5, 2]), shape: [3, 3] };
    const { loss, lse } = X.crossEntropy(x, [2, -100, 1], { zLoss: 0.5, reduction: 'none', returnLse: true });
    const lseOf = (a: number[]) => Math.log(a.reduce((s, v) => s + Math.exp(v), 0));
    const want = [lseOf([1, 2, 3]), lseOf([0, 0, 0]), lseOf([-1, 5, 2])];
    want.forEach((v, i) => expect(lse[i]).toBeCloseTo(v, 14));
    expect(loss[0]).toBeCloseTo(want[0] - 3 + 0.5 * want[0] ** 2, 14);
    expect(loss[1]).toBe(0);
    expect(loss[2]).toBeCloseTo(want[2] - 5 + 0.5 * want[2] ** 2, 14);
  });

  test('logits of 1e4 in float32: z lse^2 (about 1e4) within 1e-6 relative', () => {
    const x = { data: Float32Array.from([1e4, 0, -1, 9999.5, -1e4, -9997, -9999, -10002]), shape: [2, 4] };
    const { loss, lse, grad } = X.crossEntropy(x, [0, 1], { zLoss: 1e-4, reduction: 'none', returnLse: true, grad: true });
    const xs = Float64Array.from(x.data);
    const ce = R.crossEntropyIndex({ data: xs, shape: [2, 4] }, [0, 1], { reduction: 'none' });
    const zt = R.zLossTerm({ data: xs, shape: [2, 4] }, [0, 1], 1e-4, { reduction: 'none' });
    for (let p = 0; p < 2; p++) {
      const want = (ce.loss as Float64Array)[p] + (zt.loss as Float64Array)[p];
      expect(Math.abs(loss[p] - want) / Math.abs(want)).toBeLessThanOrEqual(1e-6);
      expect(Math.abs(lse[p] - zt.lse[p]) / Math.abs(zt.lse[p])).toBeLessThanOrEqual(1e-7);
    }
    grad.forEach((v, i) => expect(Math.abs(v - (ce.grad[i] + zt.grad[i]))).toBeLessThanOrEqual(1e-6));
  });

  test('CrossEntropyLoss takes zLoss and returnLse', () => {
    const x = { data: Float64Array.from([1, 2, 3, 0.5, -1, 2]), shape: [2, 3] };
    const m = new X.CrossEntropyLoss({ zLoss: 0.2, returnLse: true });
    const got = m.forward(x, [2, 0]);
    const ce = R.crossEntropyIndex(x, [2, 0]);
    const zt = R.zLossTerm(x, [2, 0], 0.2);
    expect(got.loss as number).toBeCloseTo((ce.loss as number) + (zt.loss as number), 14);
    expect(Array.from(got.lse!)).toEqual(Array.from(zt.lse).map((v, i) => (Math.abs(v - got.lse![i]) < 1e-14 ? got.lse![i] : v)));
  });

  test('result types: lse is typed by returnLse', () => {
    const x = { data: new Float32Array(6), shape: [2, 3] };
    const a = X.crossEntropy(x, [0, 1], { returnLse: true });
    const lse: Float32Array = a.lse; // compiles only when lse is Float32Array, not optional
    expect(lse).toBeInstanceOf(Float32Array);
    const b = X.crossEntropy(x, [0, 1]);
    const none: undefined = b.lse;
    expect(none).toBeUndefined();
    const flag = Math.random() < 2; // not known at compile time
    const c = X.crossEntropy(x, [0, 1], { returnLse: flag });
    const maybe: Float32Array | undefined = c.lse;
    expect(maybe).toBeInstanceOf(Float32Array);
  });
});
