// klDiv / KLDivLoss: every case of tests/fixtures/klDiv.json (torch.nn.functional.kl_div, 1.13),
// the values users hit NaNs at elsewhere, and a chunked call against the float64 reference.
import * as X from '../src';
import * as R from './reference';
import { fixtureRunner, loadCases } from './helpers/family-fixtures';
import { rng, normals, uniforms } from './helpers/random';

beforeAll(() => X.init());

const cases = loadCases('klDiv.json');
const runner = fixtureRunner('klDiv');
afterAll(() => runner.report(cases.length));

describe('klDiv.json (PyTorch 1.13)', () => {
  test.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => runner.run(c, X.klDiv as never));
});

describe('zero targets and -inf log-probabilities', () => {
  for (const T of [Float32Array, Float64Array]) {
    test(`${T.name}: 0 where PyTorch gives 0, NaN where it gives NaN, in vector bodies and tails`, () => {
      // 4 + 4 + 1 elements: two f32 vectors (four f64 vectors) and a tail
      const x = T.from([-Infinity, 0, -1, -30, -Infinity, -Infinity, -2, -1, -Infinity]);
      const t = T.from([0, 0, 0, 0, 0, 0.5, 0, 0, 0]);
      const { loss, grad } = X.klDiv({ data: x, shape: [9] }, { data: t, shape: [9] }, { reduction: 'none', grad: true });
      expect(Array.from(loss as ArrayLike<number>)).toEqual([NaN, 0, 0, 0, NaN, Infinity, 0, 0, NaN]);
      // d/dx of -t x: -t, so -0 at zero targets whatever x is
      expect(Array.from(grad!)).toEqual([-0, -0, -0, -0, -0, -0.5, -0, -0, -0]);
      const lt = T.from([-Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity]);
      const r = X.klDiv({ data: x, shape: [9] }, { data: lt, shape: [9] }, { reduction: 'none', logTarget: true });
      // exp(-inf) (-inf - x): 0 * -inf = NaN for finite x, and 0 * NaN at x = -inf (PyTorch's values)
      expect(Array.from(r.loss as ArrayLike<number>).every(Number.isNaN)).toBe(true);
    });
  }
});

test('a call of many chunks matches the float64 reference (float32 and float64)', () => {
  const r = rng(12);
  const n = 1 << 19; // 2 MiB of float32: several chunks
  const x = normals(r, n, 2).map((v) => v - 3);
  const t = uniforms(r, n).map((v, i) => (i % 7 === 0 ? 0 : v));
  const ref = R.klDiv({ data: x, shape: [n / 1024, 1024] }, t, { reduction: 'batchmean' });
  for (const T of [Float64Array, Float32Array]) {
    const xs = T.from(x);
    const ts = T.from(t);
    const want = T === Float64Array ? ref : R.klDiv({ data: Array.from(xs), shape: [n / 1024, 1024] }, Array.from(ts), { reduction: 'batchmean' });
    const got = X.klDiv({ data: xs, shape: [n / 1024, 1024] }, { data: ts, shape: [n / 1024, 1024] }, { reduction: 'batchmean', grad: true });
    const tol = T === Float64Array ? 1e-12 : 1e-6;
    expect(Math.abs((got.loss as number) - (want.loss as number))).toBeLessThanOrEqual(tol * Math.abs(want.loss as number));
    for (let i = 0; i < n; i += 997) expect(got.grad![i]).toBeCloseTo(want.grad[i], 12);
  }
});

test('KLDivLoss: constructor options with per-call grad, gradOutput and out', () => {
  const x = { data: Float64Array.from([-1.2, -0.9, -1.2, -2, -0.5, -1.2]), shape: [2, 3] };
  const t = { data: Float64Array.from([0.2, 0.5, 0.3, 0.1, 0.6, 0.3]), shape: [2, 3] };
  const out = new Float64Array(6);
  const m = new X.KLDivLoss({ reduction: 'batchmean' });
  const got = m.forward(x, t, { out, gradOutput: 3 });
  const want = R.klDiv(x, t.data, { reduction: 'batchmean', gradOutput: 3 });
  expect(got.grad).toBe(out);
  expect(got.loss).toBeCloseTo(want.loss as number, 14);
  out.forEach((v, i) => expect(v).toBeCloseTo(want.grad[i], 14));
  expect(m.forward(x, t).loss).toBe(got.loss);
});

test('float32 t log t (the vector log) is within 2 ulp over the normal range; huge and infinite targets are exact', () => {
  const n = 4001;
  const t = new Float32Array(n);
  for (let i = 0; i < n - 1; i++) t[i] = Math.fround(10 ** (-37.9 + (73.9 * i) / (n - 2))); // 1.26e-38 .. 1e36
  t[n - 1] = Infinity;
  const x = new Float32Array(n);
  x[n - 1] = -1; // inf log inf - inf * -1 = inf (at x = 0 it is inf - NaN, NaN as in PyTorch)
  const loss = X.klDiv({ data: x, shape: [n] }, { data: t, shape: [n] }, { reduction: 'none' }).loss as Float32Array;
  let worst = 0;
  for (let i = 0; i < n - 1; i++) {
    const want = t[i] * Math.log(t[i]);
    const ulp = Math.abs(Math.fround(want) - Math.fround(want * (1 + 2 ** -23))) || 1e-45;
    worst = Math.max(worst, Math.abs(loss[i] - want) / ulp);
  }
  expect(worst).toBeLessThanOrEqual(2);
  expect(loss[n - 1]).toBe(Infinity);
  // t log t above the float32 range: the sum is an f64 and stays finite
  const big = Float32Array.from([3e38, 3e38, 3e38, 3e38]);
  const sum = X.klDiv({ data: new Float32Array(4), shape: [4] }, { data: big, shape: [4] }, { reduction: 'sum' }).loss as number;
  expect(sum / 1e40).toBeCloseTo((4 * big[0] * Math.log(big[0])) / 1e40, 10);
});
