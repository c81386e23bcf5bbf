// The "shapes" table (issue 8, WORKLOADS.md): shapes where a per-position cost or a layout can
// dominate, each timed as float32 forward+gradient into `out` (forward into `out` for softmax and
// logSoftmax, the backward pass into `out` for the two backward ops) beside the plain-JS peer doing
// the same. Goal: no shape slower than plain JS, every shape within 2x of the best shape's ns/elem.
//
// shapeCases(X) builds every case against a wasm-xent module X (so a script can time two builds of
// wasm-xent in one process); run.mjs times them (`npm run bench -- --shapes`).

import { hash, normals, uniform } from './data.mjs';
import * as naive from './naive.mjs';

/** About this many elements per case: 4 MB of float32, the same for every shape. */
const NUMEL = 1 << 20;

const rows = (C) => Math.max(1, Math.round(NUMEL / C));

/** Class-index targets for `positions` positions of C classes. */
function classTargets(seed, positions, C) {
  const t = new Int32Array(positions);
  for (let i = 0; i < positions; i++) t[i] = hash(seed, i) % C;
  return t;
}

function uniforms(seed, n) {
  const u = new Float32Array(n);
  for (let i = 0; i < n; i++) u[i] = uniform(seed, i);
  return u;
}

/** The cases: { id, group, what, shape, numel, xent, naive, check } with xent/naive the timed calls
 *  and check() comparing their results (null if they agree, else why not). */
export function shapeCases(X) {
  const cases = [];
  const add = (c) => cases.push({ ...c, numel: c.shape.reduce((a, b) => a * b, 1) });

  // Class-index targets: `op` is crossEntropy or focalLoss (the plain-JS peer of the same name).
  const indexCase = (op, peer, id, group, what, shape, opts = {}) => {
    const [outer, C] = shape;
    const inner = shape.slice(2).reduce((a, b) => a * b, 1);
    const x = normals(100 + cases.length, outer * C * inner);
    const t = classTargets(200 + cases.length, outer * inner, C);
    const target = { data: t, shape: [outer, ...shape.slice(2)] };
    const out = new Float32Array(x.length);
    const nOut = new Float32Array(x.length);
    add({
      id, group, what, shape,
      xent: () => X[op]({ data: x, shape }, target, { ...opts, out }),
      naive: () => naive[peer](x, outer, C, inner, t, { ...opts, grad: true, out: nOut }),
    });
  };
  // Cross-entropy: [N, C] rows, then class dim 1 with a trailing dim L ((N, C, L): the NCHW path)
  // of 21 classes, and a large C with a short inner dim.
  const ce = (id, group, what, shape) => indexCase('crossEntropy', 'crossEntropyIndex', id, group, what, shape);
  for (const C of [2, 3, 10, 21, 63, 1000]) ce(`ce-C${C}`, 'CE rows', `row CE, C = ${C}`, [rows(C), C]);
  ce('ce-C50000-L8', 'CE large C', 'CE, large C, inner 8', [1, 50000, 8]);
  for (const L of [2, 3, 4, 5, 6, 7, 15, 16, 1000, 1024, 4096, 4100]) {
    ce(`ce-nchw-L${L}`, 'CE NCHW', `CE (N, 21, L), L = ${L}`, [rows(21 * L), 21, L]);
  }

  // Focal loss (gamma 2): rows of 2, 21 and 1000 classes, and NCHW.
  const focal = (id, what, shape) => indexCase('focalLoss', 'focalLoss', id, 'focal', what, shape);
  for (const C of [2, 21, 1000]) focal(`focal-C${C}`, `focalLoss rows, C = ${C}`, [rows(C), C]);
  focal('focal-nchw', 'focalLoss NCHW [8, 21, 64, 96]', [8, 21, 64, 96]);
  // gamma 0 (crossEntropy bit for bit) keeps the per-position code: a cliff on short rows, kept in view
  indexCase('focalLoss', 'focalLoss', 'focal-C2-g0', 'focal', 'focalLoss rows, C = 2, gamma 0', [rows(2), 2], { gamma: 0 });

  // Probability targets: NCHW (class dim 1) against channels-last (class dim -1) on the same sizes.
  const probs = (id, what, shape, dim) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = normals(300 + cases.length, n);
    const p = uniforms(400 + cases.length, n);
    const C = 21;
    const d = dim < 0 ? shape.length + dim : dim;
    const outer = shape.slice(0, d).reduce((a, b) => a * b, 1);
    const inner = shape.slice(d + 1).reduce((a, b) => a * b, 1);
    const out = new Float32Array(n);
    const nOut = new Float32Array(n);
    add({
      id, group: 'CE probabilities', what, shape,
      xent: () => X.crossEntropy({ data: x, shape }, { data: p, shape }, { dim, out }),
      naive: () => naive.crossEntropyProbs(x, outer, C, inner, p, { grad: true, out: nOut }),
    });
  };
  probs('probs-nchw', 'probability-target CE, NCHW [8, 21, 64, 96]', [8, 21, 64, 96], 1);
  probs('probs-nhwc', 'probability-target CE, channels-last [8, 64, 96, 21]', [8, 64, 96, 21], -1);

  // softmax / logSoftmax forward into out, over the last dim and over dim 1 of (N, C, L).
  const forward = (op, id, what, shape, dim) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = normals(500 + cases.length, n);
    const d = dim < 0 ? shape.length + dim : dim;
    const outer = shape.slice(0, d).reduce((a, b) => a * b, 1);
    const C = shape[d];
    const inner = shape.slice(d + 1).reduce((a, b) => a * b, 1);
    const out = new Float32Array(n);
    const nOut = new Float32Array(n);
    add({
      id, group: 'softmax', what, shape, forwardOnly: true,
      xent: () => X[op]({ data: x, shape }, { dim, out }),
      naive: () => naive[op](x, outer, C, inner, nOut),
    });
  };
  for (const op of ['softmax', 'logSoftmax']) {
    forward(op, `${op}-last`, `${op}, last dim [1024, 1024]`, [1024, 1024], -1);
    forward(op, `${op}-dim1`, `${op}, dim 1 of [16, 64, 1024]`, [16, 64, 1024], 1);
    // rows of two classes, and short position runs after the class dim (regrouped into columns)
    forward(op, `${op}-C2`, `${op}, last dim [524288, 2]`, [rows(2), 2], -1);
    forward(op, `${op}-L2`, `${op}, dim 1 of [24966, 21, 2]`, [rows(42), 21, 2], 1);
  }

  // The backward ops on the forward's output, into out, over the last dim and over dim 1.
  const backward = (op, fwd, id, what, shape, dim) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const y = X[fwd]({ data: normals(600 + cases.length, n), shape }, { dim });
    const g = normals(700 + cases.length, n);
    const d = dim < 0 ? shape.length + dim : dim;
    const outer = shape.slice(0, d).reduce((a, b) => a * b, 1);
    const C = shape[d];
    const inner = shape.slice(d + 1).reduce((a, b) => a * b, 1);
    const out = new Float32Array(n);
    const nOut = new Float32Array(n);
    add({
      id, group: 'backward', what, shape, forwardOnly: true,
      xent: () => X[op]({ data: g, shape }, { data: y, shape }, { dim, out }),
      naive: () => naive[op](g, y, outer, C, inner, nOut),
    });
  };
  for (const [op, fwd] of [['logSoftmaxBackward', 'logSoftmax'], ['softmaxBackward', 'softmax']]) {
    backward(op, fwd, `${op}-last`, `${op}, last dim [1024, 1024]`, [1024, 1024], -1);
    backward(op, fwd, `${op}-dim1`, `${op}, dim 1 of [16, 64, 1024]`, [16, 64, 1024], 1);
    backward(op, fwd, `${op}-C2`, `${op}, last dim [524288, 2]`, [rows(2), 2], -1);
  }

  // binaryCrossEntropy on probabilities, and with logits for posWeight periods 1, 2, 3, 8, 1000.
  {
    const shape = [1024, 1024];
    const x = uniforms(800, NUMEL);
    const y = uniforms(801, NUMEL);
    const out = new Float32Array(NUMEL);
    const nOut = new Float32Array(NUMEL);
    add({
      id: 'bce-probs', group: 'BCE', what: 'binaryCrossEntropy on probabilities [1024, 1024]', shape,
      xent: () => X.binaryCrossEntropy({ data: x, shape }, y, { out }),
      naive: () => naive.bce(x, y, { grad: true, out: nOut }),
    });
  }
  for (const P of [1, 2, 3, 8, 1000]) {
    const shape = [rows(P), P];
    const n = shape[0] * P;
    const x = normals(900 + P, n);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) y[i] = uniform(901 + P, i) < 0.1 ? 1 : 0;
    const posWeight = new Float32Array(P);
    for (let c = 0; c < P; c++) posWeight[c] = 0.5 + 2 * uniform(902 + P, c);
    const out = new Float32Array(n);
    const nOut = new Float32Array(n);
    add({
      id: `bce-logits-pw${P}`, group: 'BCE', what: `BCE with logits, posWeight period ${P}`, shape,
      xent: () => X.binaryCrossEntropyWithLogits({ data: x, shape }, y, { posWeight, out }),
      naive: () => naive.bceWithLogits(x, y, P, { posWeight, grad: true, out: nOut }),
    });
  }
  for (const c of cases) c.check = () => agree(c.xent(), c.naive());
  return cases;
}

/** The op a case times, for the table's "/ best of its op" column: class-index cross-entropy (rows,
 *  large C and NCHW together), probability-target cross-entropy, softmax, logSoftmax, each backward
 *  op, BCE on probabilities and BCE with logits. */
export function shapeOp(id) {
  if (id.startsWith('ce-')) return 'crossEntropy (class indices)';
  if (id.startsWith('probs-')) return 'crossEntropy (probabilities)';
  if (id.startsWith('focal-')) return 'focalLoss';
  if (id.startsWith('bce-logits')) return 'binaryCrossEntropyWithLogits';
  if (id === 'bce-probs') return 'binaryCrossEntropy';
  return id.slice(0, id.lastIndexOf('-')); // softmax-last -> softmax, logSoftmaxBackward-dim1 -> ...
}

/** null when wasm-xent and the plain-JS peer agree (loss 1e-4 relative, array 1e-3 of its max). */
function agree(a, b) {
  const arrays = a.loss === undefined ? [a, b] : [a.grad, b.grad];
  if (a.loss !== undefined) {
    const d = Math.abs(a.loss - b.loss) / Math.max(Math.abs(b.loss), 1e-30);
    if (!(d <= 1e-4)) return `loss ${a.loss} vs plain JS ${b.loss}`;
  }
  const [u, v] = arrays;
  let diff = 0;
  let big = 0;
  for (let i = 0; i < v.length; i++) {
    const e = Math.abs(u[i] - v[i]);
    if (!(e <= diff)) diff = e;
    big = Math.max(big, Math.abs(v[i]));
  }
  if (!(diff <= 1e-3 * big)) return `max |diff| ${diff} against max |plain JS| ${big}`;
  return null;
}
