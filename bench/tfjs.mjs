// wasm-xent/tfjs: what the tfjs wrapper costs. One cross-entropy loss and its gradient per call,
// median ms, the contenders alternating call by call, tfjs's CPU backend:
//   array API   crossEntropy on the logits' Float32Array with grad: true (the kernel alone)
//   tfjs idx    wasm-xent/tfjs crossEntropy(logits, int32 labels) under tf.grads
//   tfjs fit    categoricalCrossentropyFromLogits(one-hot, logits) under tf.grads (model.fit's way)
//   tfjs own    tf.losses.softmaxCrossEntropy(one-hot, logits) under tf.grads
// Run after `npm run build`: node bench/tfjs.mjs
import * as tf from '@tensorflow/tfjs';
import { init, crossEntropy } from 'wasm-xent';
import * as XT from 'wasm-xent/tfjs';

await init();
await tf.setBackend('cpu');
const median = (a) => a.sort((p, q) => p - q)[a.length >> 1];
for (const [N, C] of [[64, 10], [512, 1000]]) {
  const x = tf.randomNormal([N, C], 0, 2, 'float32', 1);
  const labels = tf.randomUniform([N], 0, C, 'int32', 2);
  const oneHot = tf.oneHot(labels, C);
  const data = x.dataSync();
  const idx = labels.dataSync();
  // tf.tidy must not return the gradient's array: tidy walks what it returns, element by element.
  const read = (grads) => tf.tidy(() => {
    grads([x])[0].dataSync();
  });
  const contenders = {
    'array API': () => crossEntropy({ data, shape: [N, C] }, idx, { grad: true }).grad,
    'tfjs idx': () => read(tf.grads((l) => XT.crossEntropy(l, labels))),
    'tfjs fit': () => read(tf.grads((l) => tf.mean(XT.categoricalCrossentropyFromLogits(oneHot, l)))),
    'tfjs own': () => read(tf.grads((l) => tf.losses.softmaxCrossEntropy(oneHot, l))),
  };
  const times = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
  const calls = N * C > 1e5 ? 15 : 201;
  for (let r = 0; r < calls; r++) {
    for (const [name, f] of Object.entries(contenders)) {
      const t0 = performance.now();
      f();
      times[name].push(performance.now() - t0);
    }
  }
  console.log(`[${N}, ${C}], median of ${calls}: ${Object.entries(times).map(([k, v]) => `${k} ${median(v).toFixed(3)} ms`).join(', ')}`);
}
