// A page that trains a tfjs model with wasm-xent/tfjs (consumers.test.ts bundles it with esbuild,
// tfjs from node_modules): model.fit with tfjs's own softmax cross-entropy and with
// categoricalCrossentropyFromLogits, from the same seeded weights, then optimizer.minimize with
// int32 class indices. The test compares the curves; window.RESULT carries them.
import * as tf from '@tensorflow/tfjs';
import { init, wasmBuild } from 'wasm-xent';
import { categoricalCrossentropyFromLogits, crossEntropy } from 'wasm-xent/tfjs';

const N = 64, F = 8, C = 4;

/** The same two-layer classifier each time: seeded initial weights, logits out. */
function model() {
  const m = tf.sequential();
  m.add(tf.layers.dense({ units: 16, activation: 'tanh', inputShape: [F], kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
  m.add(tf.layers.dense({ units: C, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
  return m;
}

async function main() {
  await init();
  await tf.setBackend('cpu');
  const x = tf.randomNormal([N, F], 0, 1, 'float32', 7);
  // Labels that depend on the features, so there is something to learn.
  const labels = tf.tidy(() => tf.argMax(tf.matMul(x, tf.randomNormal([F, C], 0, 1, 'float32', 8)), 1).toInt());
  const y = tf.oneHot(labels, C).toFloat();
  const fit = async (loss) => {
    const m = model();
    m.compile({ optimizer: tf.train.sgd(0.5), loss });
    const counts = [];
    const h = await m.fit(x, y, { epochs: 10, batchSize: 16, shuffle: false, verbose: 0, callbacks: { onEpochEnd: async () => { counts.push(tf.memory().numTensors); } } });
    return { curve: h.history.loss, counts };
  };
  const theirs = await fit((yt, yp) => tf.losses.softmaxCrossEntropy(yt, yp));
  const ours = await fit(categoricalCrossentropyFromLogits);
  // A custom loop: int32 class indices, no one-hot.
  const w = tf.variable(tf.zeros([F, C]));
  const opt = tf.train.sgd(0.5);
  const steps = [];
  const stepCounts = [];
  for (let i = 0; i < 10; i++) {
    tf.tidy(() => { steps.push(opt.minimize(() => crossEntropy(tf.matMul(x, w), labels), true, [w]).dataSync()[0]); });
    stepCounts.push(tf.memory().numTensors);
  }
  return { theirs, ours, steps, stepCounts, backend: tf.getBackend(), build: wasmBuild() };
}

main().then(
  (result) => (window.RESULT = result),
  (error) => (window.RESULT = { error: String(error && error.stack || error) }),
);
