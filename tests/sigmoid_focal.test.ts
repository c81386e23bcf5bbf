// sigmoidFocalLoss / SigmoidFocalLoss: every case of tests/fixtures/sigmoidFocalLoss.json
// (torchvision.ops.sigmoid_focal_loss 0.14, autograd gradients), the saturated points, and the
// float64 reference on a call of many chunks.
import * as X from '../src';
import * as R from './reference';
import { fixtureRunner, loadCases } from './helpers/family-fixtures';
import { rng, normals } from './helpers/random';

beforeAll(() => X.init());

const cases = loadCases('sigmoidFocalLoss.json');
const runner = fixtureRunner('sigmoidFocalLoss');
afterAll(() => runner.report(cases.length));

describe('sigmoidFocalLoss.json (torchvision 0.14)', () => {
  test.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => runner.run(c, X.sigmoidFocalLoss as never));
});

test("the default reduction is 'none', as in torchvision; alpha = 0.25, gamma = 2", () => {
  const x = { data: Float64Array.from([0.3, -1.2, 2]), shape: [3] };
  const y = Float64Array.from([1, 0, 1]);
  const got = X.sigmoidFocalLoss(x, y);
  const want = R.sigmoidFocalLoss(x, y, { reduction: 'none', alpha: 0.25, gamma: 2 });
  expect(got.loss).toBeInstanceOf(Float64Array);
  (got.loss as Float64Array).forEach((v, i) => expect(v).toBeCloseTo((want.loss as Float64Array)[i], 15));
  // by hand for the first element: 0.25 * softplus(-0.3) * (1 - sigmoid(0.3))^2
  const p = 1 / (1 + Math.exp(-0.3));
  expect((got.loss as Float64Array)[0]).toBeCloseTo(0.25 * Math.log1p(Math.exp(-0.3)) * (1 - p) ** 2, 15);
});

test('p_t = 1: gradient 0 for gamma = 0 and gamma >= 1, NaN for 0 < gamma < 1 (PyTorch autograd), in both precisions', () => {
  for (const T of [Float32Array, Float64Array]) {
    const x = { data: T.from([1e4, -1e4, 50]), shape: [3] };
    const y = T.from([1, 0, 1]);
    for (const gamma of [0, 1, 2, 3]) {
      const { loss, grad } = X.sigmoidFocalLoss(x, y, { gamma, grad: true });
      expect(Array.from(loss as ArrayLike<number>).every((v) => v >= 0 && v < 1e-20)).toBe(true);
      expect(Array.from(grad!).every((v) => Math.abs(v) < 1e-20)).toBe(true);
    }
    for (const gamma of [0.25, 0.5, 0.999]) {
      const { grad } = X.sigmoidFocalLoss(x, y, { gamma, grad: true });
      expect(Array.from(grad!).every(Number.isNaN)).toBe(true);
    }
  }
});

test('a call of many chunks matches the float64 reference', () => {
  const r = rng(13);
  const n = 1 << 19;
  const x = normals(r, n, 4);
  const y = Float64Array.from(x, (_, i) => (i % 5 === 0 ? 1 : 0));
  for (const gamma of [2, 0.5]) {
    const got = X.sigmoidFocalLoss({ data: x, shape: [n] }, y, { gamma, reduction: 'mean', grad: true });
    const want = R.sigmoidFocalLoss({ data: x, shape: [n] }, y, { gamma, reduction: 'mean' });
    expect(Math.abs((got.loss as number) - (want.loss as number))).toBeLessThanOrEqual(1e-12 * (want.loss as number));
    for (let i = 0; i < n; i += 991) expect(got.grad![i]).toBeCloseTo(want.grad[i], 14);
  }
});

test('SigmoidFocalLoss: constructor options with per-call grad and out', () => {
  const x = { data: Float32Array.from([0.3, -1.2, 2, 4]), shape: [2, 2] };
  const y = { data: Float32Array.from([1, 0, 0, 1]), shape: [2, 2] };
  const out = new Float32Array(4);
  const m = new X.SigmoidFocalLoss({ alpha: -1, gamma: 1.5, reduction: 'sum' });
  const got = m.forward(x, y, { out });
  const want = R.sigmoidFocalLoss({ data: Array.from(x.data), shape: [2, 2] }, Array.from(y.data), { alpha: -1, gamma: 1.5, reduction: 'sum' });
  expect(got.grad).toBe(out);
  expect(got.loss).toBeCloseTo(want.loss as number, 6);
  out.forEach((v, i) => expect(v).toBeCloseTo(want.grad[i], 6));
});

// (1 - p_t)^gamma through math.ts powFocal (exp(g log |u|), which replaced AssemblyScript's
// Math.pow): targets outside [0, 1] make u = 1 - p_t negative, where pow gives a signed power for
// an integer gamma and NaN otherwise; the reference calls Math.pow.
test.each([3, 2.5, 0.5, 4])('targets outside [0, 1], gamma %p: float64 as the reference (Math.pow), NaN where it is', (gamma) => {
  const n = 64;
  const x = { data: Float64Array.from(normals(rng(11), n, 2)), shape: [n] };
  const y = Float64Array.from({ length: n }, (_, i) => [-1.5, 2, 0.3, 1][i % 4]);
  const got = X.sigmoidFocalLoss(x, { data: y, shape: [n] }, { gamma, grad: true });
  const want = R.sigmoidFocalLoss(x, y, { gamma });
  const same = (a: number, b: number) => (Number.isNaN(a) && Number.isNaN(b)) || Math.abs(a - b) <= 1e-12 * (1 + Math.abs(b));
  expect(Array.from(got.loss as Float64Array).every((v, i) => same(v, (want.loss as Float64Array)[i]))).toBe(true);
  expect(Array.from(got.grad as Float64Array).every((v, i) => same(v, (want.grad as Float64Array)[i]))).toBe(true);
});
