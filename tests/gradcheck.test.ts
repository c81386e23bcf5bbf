// Every gradient checked against central finite differences of the library's own float64 loss:
// independent of the PyTorch fixtures, so a wrong closed form cannot hide behind a wrong fixture.
import * as X from '../src';
import { rng, normals, uniforms, ints } from './helpers/random';

beforeAll(() => X.init());

const H = 1e-6;

/** Central differences of the scalar f at x, compared with the analytic gradient. */
function expectGradient(f: (x: Float64Array) => number, x: Float64Array, grad: Float64Array): void {
  expect(grad.length).toBe(x.length);
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    const xp = x.slice(); xp[i] += H;
    const xm = x.slice(); xm[i] -= H;
    const numeric = (f(xp) - f(xm)) / (2 * H);
    // Round-off of a central difference is about 1e-16 * |f| / H ~ 1e-9 here; a wrong closed form
    // is off by the size of the gradient itself (~1e-2).
    worst = Math.max(worst, Math.abs(numeric - grad[i]) / (1e-7 + 1e-6 * Math.abs(numeric)));
  }
  expect(worst).toBeLessThan(1);
}

/** The scalar a loss call stands for: the loss itself, or sum(gradOutput * loss) for 'none'. */
function scalar(loss: number | Float64Array, gradOutput?: Float64Array | number): number {
  if (typeof loss === 'number') return loss * (typeof gradOutput === 'number' ? gradOutput : 1);
  let s = 0;
  loss.forEach((v, i) => (s += v * (gradOutput === undefined ? 1 : typeof gradOutput === 'number' ? gradOutput : gradOutput[i])));
  return s;
}

const shapes: { shape: number[]; dim?: number }[] = [
  { shape: [4, 5] },
  { shape: [2, 3, 4] },
  { shape: [2, 3, 2, 2] },
  { shape: [3, 4, 5], dim: -1 },
  { shape: [6] },
];

describe('crossEntropy gradients (index targets)', () => {
  const r = rng(1);
  for (const { shape, dim } of shapes) {
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      for (const variant of ['plain', 'weight+ignore', 'smoothing+weight+ignore'] as const) {
        test(`${JSON.stringify(shape)} dim=${dim ?? 'default'} ${reduction} ${variant}`, () => {
          const d = dim === undefined ? (shape.length === 1 ? 0 : 1) : (dim + shape.length) % shape.length;
          const C = shape[d];
          const positions = shape.reduce((a, b) => a * b, 1) / C;
          const x = normals(r, positions * C, 2);
          const target = ints(r, positions, C);
          if (variant !== 'plain' && positions > 1) target[1] = -100;
          const options = {
            dim,
            reduction,
            weight: variant === 'plain' ? undefined : Array.from(uniforms(r, C, 0.2, 2)),
            labelSmoothing: variant === 'smoothing+weight+ignore' ? 0.2 : 0,
          };
          const targetShape = shape.filter((_, i) => i !== d);
          const t = targetShape.length === 0 ? target[0] : { data: target, shape: targetShape };
          const gradOutput = reduction === 'none' ? normals(r, positions) : 0.7;
          const f = (v: Float64Array) => scalar(X.crossEntropy({ data: v, shape }, t, options).loss as number | Float64Array, gradOutput);
          const { grad } = X.crossEntropy({ data: x, shape }, t, { ...options, grad: true, gradOutput });
          expectGradient(f, x, grad!);
        });
      }
    }
  }
});

describe('crossEntropy gradients (probability targets)', () => {
  const r = rng(2);
  for (const { shape, dim } of shapes) {
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      test(`${JSON.stringify(shape)} dim=${dim ?? 'default'} ${reduction} weight+smoothing`, () => {
        const n = shape.reduce((a, b) => a * b, 1);
        const d = dim === undefined ? (shape.length === 1 ? 0 : 1) : (dim + shape.length) % shape.length;
        const C = shape[d];
        const x = normals(r, n, 2);
        const p = uniforms(r, n); // soft, not normalised: the formula does not need it
        const options = { dim, reduction, weight: Array.from(uniforms(r, C, 0.2, 2)), labelSmoothing: 0.1 };
        const lossShape = shape.filter((_, i) => i !== d);
        const gradOutput = reduction === 'none' && lossShape.length > 0 ? normals(r, n / C) : 1.3;
        const f = (v: Float64Array) => scalar(X.crossEntropy({ data: v, shape }, p, options).loss as number | Float64Array, gradOutput);
        const { grad } = X.crossEntropy({ data: x, shape }, p, { ...options, grad: true, gradOutput });
        expectGradient(f, x, grad!);
      });
    }
  }
});

describe('nllLoss gradients', () => {
  const r = rng(3);
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    test(`[3, 4, 2] ${reduction} weight+ignore`, () => {
      const shape = [3, 4, 2];
      const x = normals(r, 24);
      const target = ints(r, 6, 4);
      target[2] = 1; // ignored below
      const options = { reduction, weight: [0.5, 1, 2, 3], ignoreIndex: 1 };
      const gradOutput = reduction === 'none' ? normals(r, 6) : 0.5;
      const t = { data: target, shape: [3, 2] };
      const f = (v: Float64Array) => scalar(X.nllLoss({ data: v, shape }, t, options).loss as number | Float64Array, gradOutput);
      const { grad } = X.nllLoss({ data: x, shape }, t, { ...options, grad: true, gradOutput });
      expectGradient(f, x, grad!);
    });
  }
});

describe('BCE gradients', () => {
  const r = rng(4);
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    test(`binaryCrossEntropy [4, 3] ${reduction} with broadcast weight`, () => {
      const shape = [4, 3];
      const x = uniforms(r, 12, 0.05, 0.95);
      const y = uniforms(r, 12);
      const options = { reduction, weight: { data: uniforms(r, 4, 0.5, 2), shape: [4, 1] } };
      const gradOutput = reduction === 'none' ? normals(r, 12) : 2;
      const f = (v: Float64Array) => scalar(X.binaryCrossEntropy({ data: v, shape }, y, options).loss as number | Float64Array, gradOutput);
      const { grad } = X.binaryCrossEntropy({ data: x, shape }, y, { ...options, grad: true, gradOutput });
      expectGradient(f, x, grad!);
    });
    test(`binaryCrossEntropyWithLogits [4, 3] ${reduction} with weight and posWeight`, () => {
      const shape = [4, 3];
      const x = normals(r, 12, 3);
      const y = uniforms(r, 12);
      const options = { reduction, weight: Array.from(uniforms(r, 3, 0.5, 2)), posWeight: Array.from(uniforms(r, 3, 0.5, 4)) };
      const gradOutput = reduction === 'none' ? normals(r, 12) : 2;
      const f = (v: Float64Array) => scalar(X.binaryCrossEntropyWithLogits({ data: v, shape }, y, options).loss as number | Float64Array, gradOutput);
      const { grad } = X.binaryCrossEntropyWithLogits({ data: x, shape }, y, { ...options, grad: true, gradOutput });
      expectGradient(f, x, grad!);
    });
  }
});

describe('logSoftmax / softmax backward', () => {
  const r = rng(5);
  for (const dim of [0, 1, -1]) {
    test(`[3, 4, 2] dim=${dim}`, () => {
      const shape = [3, 4, 2];
      const x = normals(r, 24, 2);
      const g = normals(r, 24);
      const dot = (a: Float64Array) => a.reduce((s, v, i) => s + v * g[i], 0);
      const ls = X.logSoftmax({ data: x, shape }, { dim });
      expectGradient((v) => dot(X.logSoftmax({ data: v, shape }, { dim })), x, X.logSoftmaxBackward({ data: g, shape }, { data: ls, shape }, { dim }));
      const s = X.softmax({ data: x, shape }, { dim });
      expectGradient((v) => dot(X.softmax({ data: v, shape }, { dim })), x, X.softmaxBackward({ data: g, shape }, { data: s, shape }, { dim }));
    });
  }
});

describe('ctcLoss gradients', () => {
  // PyTorch's gradient for log_probs is d loss / d lp plus g exp(lp) (the softmax Jacobian's term,
  // folded in because log_probs are assumed to be log_softmax output; it cancels in
  // logSoftmaxBackward since the exps sum to 1). Both forms are checked: through logSoftmax of
  // free logits, and directly against d loss / d lp.
  const r = rng(6);
  const [T, N, C] = [6, 3, 4];
  const shape = [T, N, C];
  const targets = { data: [1, 2, 2, 3, 0, 0, 1, 3, 1], shape: [3, 3] };
  const il = [6, 5, 4];
  const tl = [3, 1, 3];
  const variants = [
    { reduction: 'mean' as const },
    { reduction: 'sum' as const, blank: 0 },
    { reduction: 'none' as const },
    { reduction: 'mean' as const, zeroInfinity: true, impossible: true },
  ];
  for (const v of variants) {
    const { impossible, ...options } = v as typeof v & { impossible?: boolean };
    const lengths = impossible ? [6, 5, 2] : il; // element 2 needs 3 frames
    const gradOutput = options.reduction === 'none' ? normals(r, N) : 0.8;
    const f = (lp: Float64Array) => scalar(X.ctcLoss({ data: lp, shape }, targets, lengths, tl, options).loss as number | Float64Array, gradOutput);

    test(`through logSoftmax: ${JSON.stringify(v)}`, () => {
      const x = normals(r, T * N * C, 2);
      const lp = (v: Float64Array) => X.logSoftmax({ data: v, shape }, { dim: -1 });
      const y = lp(x);
      const { grad } = X.ctcLoss({ data: y, shape }, targets, lengths, tl, { ...options, grad: true, gradOutput });
      expectGradient((v) => f(lp(v)), x, X.logSoftmaxBackward({ data: grad!, shape }, { data: y, shape }, { dim: -1 }));
    });

    test(`d loss / d logProbs plus g exp(lp): ${JSON.stringify(v)}`, () => {
      const y = X.logSoftmax({ data: normals(r, T * N * C, 2), shape }, { dim: -1 });
      const { grad } = X.ctcLoss({ data: y, shape }, targets, lengths, tl, { ...options, grad: true, gradOutput });
      const direct = grad!.map((g, i) => {
        const t = Math.floor(i / (N * C));
        const b = Math.floor(i / C) % N;
        if (t >= lengths[b] || (impossible && b === 2)) return g; // no exp term where PyTorch's gradient is 0
        const gb = typeof gradOutput === 'number' ? (options.reduction === 'mean' ? gradOutput / Math.max(tl[b], 1) / N : gradOutput) : gradOutput[b];
        return g - gb * Math.exp(y[i]);
      });
      expectGradient(f, y, direct);
    });
  }
});

describe('klDiv gradients', () => {
  const r = rng(12);
  for (const shape of [[4, 5], [2, 3, 4], [7]]) {
    for (const reduction of ['mean', 'batchmean', 'sum', 'none'] as const) {
      for (const logTarget of [false, true]) {
        test(`${JSON.stringify(shape)} ${reduction}${logTarget ? ' logTarget' : ''}`, () => {
          const n = shape.reduce((a, b) => a * b, 1);
          const x = normals(r, n);
          const p = uniforms(r, n, 0.01, 1);
          const t = { data: logTarget ? p.map(Math.log) : p, shape };
          const gradOutput = reduction === 'none' ? normals(r, n) : -1.3;
          const f = (v: Float64Array) => scalar(X.klDiv({ data: v, shape }, t, { reduction, logTarget }).loss as number | Float64Array, gradOutput);
          const { grad } = X.klDiv({ data: x, shape }, t, { reduction, logTarget, grad: true, gradOutput });
          expectGradient(f, x, grad!);
        });
      }
    }
  }
});

describe('sigmoidFocalLoss gradients', () => {
  const r = rng(13);
  for (const shape of [[4, 5], [7]]) {
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      for (const [alpha, gamma] of [[0.25, 2], [-1, 0.5], [0.6, 0], [0.25, 1], [0.4, 3.5]]) {
        test(`${JSON.stringify(shape)} ${reduction} alpha=${alpha} gamma=${gamma}`, () => {
          const n = shape.reduce((a, b) => a * b, 1);
          const x = normals(r, n, 2);
          // hard and soft targets
          const y = uniforms(r, n).map((u, i) => (i % 3 === 0 ? u : u < 0.5 ? 0 : 1));
          const gradOutput = reduction === 'none' ? normals(r, n) : 0.8;
          const f = (v: Float64Array) => scalar(X.sigmoidFocalLoss({ data: v, shape }, y, { reduction, alpha, gamma }).loss as number | Float64Array, gradOutput);
          const { grad } = X.sigmoidFocalLoss({ data: x, shape }, y, { reduction, alpha, gamma, grad: true, gradOutput });
          expectGradient(f, x, grad!);
        });
      }
    }
  }
});

describe('focalLoss gradients', () => {
  const r = rng(14);
  for (const { shape, dim } of shapes) {
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      for (const gamma of [2, 0.5, 0, 3.2]) {
        test(`${JSON.stringify(shape)} dim=${dim ?? 'default'} ${reduction} gamma=${gamma} weight+ignore`, () => {
          const d = dim === undefined ? (shape.length === 1 ? 0 : 1) : (dim + shape.length) % shape.length;
          const C = shape[d];
          const positions = shape.reduce((a, b) => a * b, 1) / C;
          const x = normals(r, positions * C, 2);
          const target = ints(r, positions, C);
          if (positions > 1) target[1] = -100;
          const options = { dim, reduction, gamma, weight: Array.from(uniforms(r, C, 0.2, 2)) };
          const targetShape = shape.filter((_, i) => i !== d);
          const t = targetShape.length === 0 ? target[0] : { data: target, shape: targetShape };
          const gradOutput = reduction === 'none' ? normals(r, positions) : 0.7;
          const f = (v: Float64Array) => scalar(X.focalLoss({ data: v, shape }, t, options).loss as number | Float64Array, gradOutput);
          const { grad } = X.focalLoss({ data: x, shape }, t, { ...options, grad: true, gradOutput });
          expectGradient(f, x, grad!);
        });
      }
    }
  }
});
