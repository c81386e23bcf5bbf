// A TypeScript consumer of wasm-xent/tfjs: the loss types follow the reduction (tf.Scalar or
// tf.Tensor, so optimizer.minimize takes them with no cast), the compile losses fit
// model.compile, and the options the tape manages are refused. skipLibCheck: tfjs 4.22's own
// declarations do not pass a library check (hash_util.d.ts names an undeclared Long, tfjs-layers'
// configs break their index signatures), and a library check of wasm-xent/tfjs's declarations
// would check tfjs's with them. The root entry's declarations are checked strictly in ../tsc.
import * as tf from '@tensorflow/tfjs';
import { crossEntropy, sigmoidFocalLoss, klDiv, categoricalCrossentropyFromLogits } from 'wasm-xent/tfjs';
import { init } from 'wasm-xent';

await init();
const x = tf.zeros([2, 3]);
const a: tf.Scalar = crossEntropy(x, [0, 1]);
const b: tf.Scalar = crossEntropy(x, [0, 1], { labelSmoothing: 0.1, weight: tf.ones([3]) });
// @ts-expect-error 'none' is not a scalar
const c: tf.Scalar = crossEntropy(x, [0, 1], { reduction: 'none' });
const d: tf.Tensor = sigmoidFocalLoss(x, x);
// @ts-expect-error sigmoidFocalLoss defaults to 'none'
const e: tf.Scalar = sigmoidFocalLoss(x, x);
const f: tf.Scalar = sigmoidFocalLoss(x, x, { reduction: 'mean' });
const g: tf.Scalar = klDiv(x, x, { reduction: 'batchmean' });
// @ts-expect-error grad is managed by tfjs
crossEntropy(x, [0, 1], { grad: true });
const m = tf.sequential();
m.compile({ optimizer: 'sgd', loss: categoricalCrossentropyFromLogits });
tf.train.sgd(0.1).minimize(() => crossEntropy(x, tf.tensor1d([0, 1], 'int32')));
export { a, b, c, d, e, f, g };
