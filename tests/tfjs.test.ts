// wasm-xent/tfjs in TensorFlow.js 4.22 (CPU backend, Node): model.fit with the compile loss gives
// tfjs's own loss curve from the same weights, optimizer.minimize with class-index targets gives
// the same steps as tfjs's loss on one-hot targets, every function's value and gradient (tf.grads)
// equal the same loss written in tfjs ops, and tf.memory().numTensors stays flat.
import * as tf from '@tensorflow/tfjs';
import * as XT from '../src/tfjs';
import * as X from '../src';
import { rng, normals, uniforms, ints } from './helpers/random';

// Malformed calls do not type-check, by design: call the API untyped there.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const U: any = XT;

// model.fit takes a few seconds, more on a loaded machine.
jest.setTimeout(60_000);

beforeAll(async () => {
  await XT.init();
  await tf.setBackend('cpu');
});

/** Largest |a - b| over two tensors of one shape. */
function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  const abs = Math.abs;
  for (let i = 0; i < x.length; i++) m = Math.max(m, abs(x[i] - y[i]));
  return m;
}

const N = 64;
const F = 8;
const C = 5;
const r = rng(9);
const features = Float32Array.from(normals(r, N * F));
const labels = ints(r, N, C);

/** A small two-layer classifier with seeded initial weights (logits out, no softmax). */
function model(): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.dense({ units: 16, activation: 'tanh', inputShape: [F], kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
  m.add(tf.layers.dense({ units: C, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
  return m;
}

describe('model.compile({ loss }) and model.fit', () => {
  test('categoricalCrossentropyFromLogits: the loss curve of tf.losses.softmaxCrossEntropy, numTensors flat across epochs', async () => {
    const x = tf.tensor2d(features, [N, F]);
    const y = tf.oneHot(tf.tensor1d(labels, 'int32'), C).toFloat();
    const curves: number[][] = [];
    const weights: tf.Tensor[][] = [];
    const counts: number[] = [];
    const evaluated: number[] = [];
    for (const loss of [(yt: tf.Tensor, yp: tf.Tensor) => tf.losses.softmaxCrossEntropy(yt, yp), XT.categoricalCrossentropyFromLogits]) {
      const m = model();
      m.compile({ optimizer: tf.train.sgd(0.5), loss });
      const seen: number[] = [];
      const h = await m.fit(x, y, { epochs: 12, batchSize: 16, shuffle: false, verbose: 0, callbacks: { onEpochEnd: async () => { seen.push(tf.memory().numTensors); } } });
      curves.push(h.history.loss as number[]);
      weights.push(m.getWeights());
      // evaluate runs the loss outside a gradient tape (no gradient computed)
      evaluated.push((m.evaluate(x, y, { batchSize: 64 }) as tf.Scalar).dataSync()[0]);
      counts.push(...seen.slice(1).map((n) => n - seen[0]));
    }
    const [theirs, ours] = curves;
    const diff = Math.max(...theirs.map((v, i) => Math.abs(v - ours[i])));
    console.log(`fit, 12 epochs x 4 batches: loss ${theirs[0].toFixed(4)} -> ${theirs[11].toFixed(4)}; max |tfjs - wasm-xent| over the curve ${diff.toExponential(2)}, over the final weights ${Math.max(...weights[0].map((w, i) => maxDiff(w, weights[1][i]))).toExponential(2)}`);
    expect(theirs[11]).toBeLessThan(theirs[0] * 0.7); // it trains
    expect(diff).toBeLessThan(1e-5);
    for (let i = 0; i < weights[0].length; i++) expect(maxDiff(weights[0][i], weights[1][i])).toBeLessThan(1e-5);
    expect(counts).toEqual(counts.map(() => 0));
    expect(Math.abs(evaluated[0] - evaluated[1])).toBeLessThan(1e-5);
  });

  test('binaryCrossentropyFromLogits: the curve of tf.losses.sigmoidCrossEntropy (multi-label)', async () => {
    const x = tf.tensor2d(features, [N, F]);
    const y = tf.tensor2d(Float32Array.from(uniforms(rng(3), N * C), (v) => (v < 0.4 ? 1 : 0)), [N, C]);
    const curves: number[][] = [];
    for (const loss of [(yt: tf.Tensor, yp: tf.Tensor) => tf.losses.sigmoidCrossEntropy(yt, yp), XT.binaryCrossentropyFromLogits]) {
      const m = model();
      m.compile({ optimizer: tf.train.sgd(0.5), loss });
      curves.push((await m.fit(x, y, { epochs: 8, batchSize: 16, shuffle: false, verbose: 0 })).history.loss as number[]);
    }
    const diff = Math.max(...curves[0].map((v, i) => Math.abs(v - curves[1][i])));
    console.log(`fit, BCE with logits: max |tfjs - wasm-xent| over the curve ${diff.toExponential(2)}`);
    expect(curves[0][7]).toBeLessThan(curves[0][0]);
    expect(diff).toBeLessThan(1e-5);
  });
});

describe('optimizer.minimize with class-index targets', () => {
  test('int32 labels step for step like tfjs on one-hot labels, numTensors flat under tf.tidy', () => {
    const x = tf.tensor2d(features, [N, F]);
    const idx = tf.tensor1d(labels, 'int32');
    const oneHot = tf.oneHot(idx, C);
    const losses: number[][] = [];
    const counts: number[] = [];
    for (const loss of [(logits: tf.Tensor) => tf.losses.softmaxCrossEntropy(oneHot, logits), (logits: tf.Tensor) => XT.crossEntropy(logits, idx)]) {
      const w = tf.variable(tf.tensor2d(Float32Array.from(normals(rng(5), F * C, 0.1)), [F, C]));
      const b = tf.variable(tf.zeros([C]));
      const opt = tf.train.adam(0.05);
      const seen: number[] = [];
      for (let step = 0; step < 20; step++) {
        tf.tidy(() => {
          const value = opt.minimize(() => loss(tf.add(tf.matMul(x, w), b)) as tf.Scalar, true, [w, b])!;
          seen.push(value.dataSync()[0]);
        });
        counts.push(tf.memory().numTensors);
      }
      losses.push(seen);
      opt.dispose();
      w.dispose();
      b.dispose();
    }
    const diff = Math.max(...losses[0].map((v, i) => Math.abs(v - losses[1][i])));
    console.log(`minimize (adam), 20 steps: loss ${losses[0][0].toFixed(4)} -> ${losses[0][19].toFixed(4)}; max |tfjs - wasm-xent| ${diff.toExponential(2)}`);
    expect(losses[0][19]).toBeLessThan(losses[0][0] * 0.8);
    expect(diff).toBeLessThan(1e-5);
    // Adam's moments are created on the first step; from then on every step frees what it makes.
    expect(counts.slice(1, 20)).toEqual(counts.slice(1, 20).map(() => counts[1]));
    expect(counts.slice(21)).toEqual(counts.slice(21).map(() => counts[21]));
  });

  test('a loss outside any tape computes no gradient and leaves only its result', () => {
    const logits = tf.tensor2d([1, 2, 3], [1, 3]);
    const before = tf.memory().numTensors;
    const loss = XT.crossEntropy(logits, [2]);
    // PyTorch: F.cross_entropy(torch.tensor([[1., 2., 3.]]), torch.tensor([2])) = 0.4076
    expect(loss.dataSync()[0]).toBeCloseTo(0.40760596, 6);
    expect(tf.memory().numTensors).toBe(before + 1);
    loss.dispose();
    tf.tidy(() => {
      XT.crossEntropy(logits, [2]);
    });
    expect(tf.memory().numTensors).toBe(before);
    logits.dispose();
  });
});

// ----------------------------------------------------------- every function against tfjs ops

type LossFn = (x: tf.Tensor) => tf.Tensor;
const f32 = (values: ArrayLike<number>, shape: number[]) => tf.tensor(Float32Array.from(values), shape, 'float32');

/** Value and gradient (tf.grads, with a random upstream gradient dy of the loss's shape) of ours
 *  and of the reference written in tfjs ops, compared. */
function sameAs(ours: LossFn, theirs: LossFn, x: tf.Tensor, tolerance = 2e-6): void {
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const a = ours(x);
    const b = theirs(x);
    expect(maxDiff(a, b)).toBeLessThan(tolerance);
    const dy = f32(uniforms(rng(11), a.size, 0.5, 2), a.shape);
    const [ga] = tf.grads(ours)([x], dy);
    const [gb] = tf.grads(theirs)([x], dy);
    expect(maxDiff(ga, gb)).toBeLessThan(tolerance);
    // The gradient is not a copy of something else: it is not all zeros.
    expect(tf.max(tf.abs(ga)).dataSync()[0]).toBeGreaterThan(1e-3);
  });
  expect(tf.memory().numTensors).toBe(before);
}

const logits = f32(normals(rng(21), 6 * 4 * 3, 2), [6, 4, 3]); // (N, C, L): class dim 1
const rows = f32(normals(rng(22), 6 * 4, 2), [6, 4]);
const idx2 = tf.tensor(ints(rng(23), 6 * 3, 4), [6, 3], 'int32');
const idx1 = tf.tensor(ints(rng(24), 6, 4), [6], 'int32');
const probs = f32(uniforms(rng(25), 6 * 4, 0.02, 0.98), [6, 4]);
// Rows that sum to 1: tfjs's softmaxCrossEntropy gradient, softmax(x) - p, assumes they do.
const dists = tf.div(probs, tf.sum(probs, 1, true));
const binary = f32(uniforms(rng(26), 6 * 4), [6, 4]);
/** log p_t picked out at class dim 1 of an (N, C, L) tensor by a one-hot mask. */
const pick = (lp: tf.Tensor, t: tf.Tensor) => tf.sum(tf.mul(lp, tf.transpose(tf.oneHot(t, 4), [0, 2, 1])), 1);
const pickRows = (lp: tf.Tensor, t: tf.Tensor) => tf.sum(tf.mul(lp, tf.oneHot(t, 4)), 1);

describe('values and tf.grads against the same loss in tfjs ops', () => {
  const cases: [string, LossFn, LossFn, tf.Tensor][] = [
    ['crossEntropy (N, C, L), index targets, mean', (x) => XT.crossEntropy(x, idx2), (x) => tf.neg(tf.mean(pick(tf.logSoftmax(tf.transpose(x, [0, 2, 1])).transpose([0, 2, 1]), idx2))), logits],
    ['crossEntropy (N, C, L), reduction none', (x) => XT.crossEntropy(x, idx2, { reduction: 'none' }), (x) => tf.neg(pick(tf.logSoftmax(tf.transpose(x, [0, 2, 1])).transpose([0, 2, 1]), idx2)), logits],
    ['crossEntropy, float32 index labels (tf.tensor1d default dtype), sum', (x) => XT.crossEntropy(x, idx1.toFloat(), { reduction: 'sum' }), (x) => tf.neg(tf.sum(pickRows(tf.logSoftmax(x), idx1))), rows],
    ['crossEntropy, probability targets, labelSmoothing 0.1', (x) => XT.crossEntropy(x, dists, { labelSmoothing: 0.1 }), (x) => tf.losses.softmaxCrossEntropy(dists, x, undefined, 0.1), rows],
    ['crossEntropy, int32 one-hot targets (tf.oneHot, as model.fit passes them)', (x) => XT.crossEntropy(x, tf.oneHot(idx1, 4)), (x) => tf.losses.softmaxCrossEntropy(tf.oneHot(idx1, 4), x), rows],
    ['binaryCrossEntropyWithLogits, int32 0/1 targets', (x) => XT.binaryCrossEntropyWithLogits(x, tf.oneHot(idx1, 4)), (x) => tf.losses.sigmoidCrossEntropy(tf.oneHot(idx1, 4), x), rows],
    ['crossEntropy, class weight as a tf.Tensor', (x) => XT.crossEntropy(x, idx1, { weight: tf.tensor1d([1, 2, 0.5, 3]) }), (x) => {
      const w = tf.gather(tf.tensor1d([1, 2, 0.5, 3]), idx1);
      return tf.div(tf.neg(tf.sum(tf.mul(w, pickRows(tf.logSoftmax(x), idx1)))), tf.sum(w));
    }, rows],
    ['nllLoss, none', (x) => XT.nllLoss(x, idx1, { reduction: 'none' }), (x) => tf.neg(pickRows(x, idx1)), rows],
    ['focalLoss gamma 2', (x) => XT.focalLoss(x, idx1), (x) => {
      const lp = pickRows(tf.logSoftmax(x), idx1);
      return tf.neg(tf.mean(tf.mul(tf.square(tf.sub(1, tf.exp(lp))), lp)));
    }, rows],
    ['binaryCrossEntropy', (x) => XT.binaryCrossEntropy(x, binary), (x) => tf.neg(tf.mean(tf.add(tf.mul(binary, tf.log(x)), tf.mul(tf.sub(1, binary), tf.log(tf.sub(1, x)))))), probs],
    ['binaryCrossEntropyWithLogits, posWeight, none', (x) => XT.binaryCrossEntropyWithLogits(x, binary, { reduction: 'none', posWeight: tf.tensor1d([1, 2, 3, 4]) }), (x) => {
      // -(pw y log s(x) + (1 - y) log(1 - s(x))), with log s(x) = -softplus(-x)
      const pw = tf.tensor1d([1, 2, 3, 4]);
      return tf.add(tf.mul(tf.mul(pw, binary), tf.softplus(tf.neg(x))), tf.mul(tf.sub(1, binary), tf.softplus(x)));
    }, rows],
    ['klDiv batchmean', (x) => XT.klDiv(x, probs, { reduction: 'batchmean' }), (x) => tf.div(tf.sum(tf.mul(probs, tf.sub(tf.log(probs), x))), 6), tf.logSoftmax(rows)],
    ['sigmoidFocalLoss (none, alpha 0.25, gamma 2)', (x) => XT.sigmoidFocalLoss(x, binary), (x) => {
      const p = tf.sigmoid(x);
      const ce = tf.add(tf.mul(binary, tf.softplus(tf.neg(x))), tf.mul(tf.sub(1, binary), tf.softplus(x)));
      const pt = tf.add(tf.mul(p, binary), tf.mul(tf.sub(1, p), tf.sub(1, binary)));
      const at = tf.add(tf.mul(0.25, binary), tf.mul(0.75, tf.sub(1, binary)));
      return tf.mul(at, tf.mul(ce, tf.square(tf.sub(1, pt))));
    }, rows],
    ['logSoftmax, dim 1 of (N, C, L)', (x) => XT.logSoftmax(x, { dim: 1 }), (x) => tf.transpose(tf.logSoftmax(tf.transpose(x, [0, 2, 1])), [0, 2, 1]), logits],
    ['softmax', (x) => XT.softmax(x), (x) => tf.softmax(x), rows],
  ];
  test.each(cases)('%s', (_name, ours, theirs, x) => sameAs(ours, theirs, x));
});

// ------------------------------------------------------------------------- bad input

describe('bad input: a clear error, nothing leaked', () => {
  const x = tf.tensor2d([1, 2, 3, 1, 2, 3], [2, 3]);
  const cases: [string, () => unknown, typeof TypeError | typeof RangeError, string | RegExp][] = [
    ['input not a tf.Tensor', () => U.crossEntropy({ data: new Float32Array(6), shape: [2, 3] }, [0, 1]), TypeError, 'crossEntropy: input must be a tf.Tensor, got Object'],
    ['int32 input', () => U.softmax(tf.tensor2d([1, 2], [1, 2], 'int32')), TypeError, 'softmax: input must be a float32 tf.Tensor, got int32'],
    ['disposed input', () => { const d = tf.tensor1d([1, 2]); d.dispose(); return U.nllLoss(d, 0); }, TypeError, 'nllLoss: input is a disposed tf.Tensor'],
    ['grad option', () => U.crossEntropy(x, [0, 1], { grad: true }), TypeError, /^crossEntropy: option 'grad' is not taken by wasm-xent\/tfjs/],
    // Would be dropped without a word (the result is one tensor); the cast: the type excludes it.
    ['returnLse option', () => U.crossEntropy(x, [0, 1], { returnLse: true } as object), TypeError, /^crossEntropy: option 'returnLse' is not taken by wasm-xent\/tfjs/],
    ['bool target', () => U.binaryCrossEntropy(x, tf.tensor2d([1, 0, 1, 0, 1, 0], [2, 3], 'bool')), TypeError, 'binaryCrossEntropy: target must be a float32 or int32 tf.Tensor, got bool'],
    ['fractional float32 class index', () => U.nllLoss(x, tf.tensor1d([0, 1.5])), TypeError, 'nllLoss: target 1.5 at position [1] is not an integer class index'],
    ['class index out of range', () => U.crossEntropy(x, tf.tensor1d([0, 3], 'int32')), RangeError, /^crossEntropy: Target 3 is out of bounds/],
    ['target of another batch size', () => U.focalLoss(x, tf.tensor1d([0, 1, 2], 'int32')), RangeError, 'focalLoss: Expected input batch_size (2) to match target batch_size (3).'],
    // options are own properties, as in the array API: an inherited one is named, not dropped by a copy
    ['inherited option', () => U.crossEntropy(x, [0, 1], Object.create({ reduction: 'sum' })), TypeError, "crossEntropy: option 'reduction' is inherited from the options object's prototype; options must be its own properties"],
    ['inherited weight', () => U.nllLoss(x, [0, 1], Object.create({ weight: tf.tensor1d([1, 2, 3]) })), TypeError, "nllLoss: option 'weight' is inherited from the options object's prototype; options must be its own properties"],
    // an array is refused, as the array API refuses it (a spread had made it a plain object)
    ['array as options', () => U.crossEntropy(x, [0, 1], [] as object), TypeError, 'crossEntropy: options must be an object, got Array'],
  ];
  test.each(cases)('%s', (_name, call, kind, message) => {
    const before = tf.memory().numTensors;
    let error: unknown;
    tf.tidy(() => {
      try {
        call();
      } catch (e) {
        error = e;
      }
    });
    expect(error).toBeInstanceOf(kind);
    expect((error as Error).message).toEqual(typeof message === 'string' ? message : expect.stringMatching(message));
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
    // The next correct call still gives PyTorch's value: lse(1, 2, 3) - (1 + 2) / 2 = 1.9076
    expect(tf.tidy(() => XT.crossEntropy(x, [0, 1]).dataSync()[0])).toBeCloseTo(1.90760596, 5);
  });
});

// A non-enumerable own option is read, as the array API and the classes read it (red team 73: the
// options' spread dropped it, and reduction 'sum' gave the mean).
test('a non-enumerable own option is read', () => {
  const x = tf.tensor2d([1, 2, 3, 1, 2, 3], [2, 3]);
  const options = Object.defineProperty({}, 'reduction', { value: 'sum', enumerable: false });
  const got = tf.tidy(() => XT.crossEntropy(x, [0, 1], options).dataSync()[0]);
  const want = X.crossEntropy({ data: Float32Array.from([1, 2, 3, 1, 2, 3]), shape: [2, 3] }, [0, 1], options).loss as number;
  expect(got).toBeCloseTo(want, 5);
  expect(want).toBeCloseTo(2 * 1.90760596, 5);
});
