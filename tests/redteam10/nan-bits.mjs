// Red team 10: the bytes (NaN sign and payload included) that the softmax family and
// crossEntropy's gradient return for logits holding NaNs, as one JSON line of hashes. Run by
// tests/redteam10.test.ts under `node --liftoff-only` and `node --no-liftoff` (V8's baseline and
// optimising wasm compilers): a kernel's results must not depend on which compiler ran it, since a
// call's chunks run on threads whose code may be at different tiers. Uses the built package (dist/);
// the build is WASM_XENT_BUILD's.
import * as X from '../../dist/esm/index.js';

await X.init();
const C = 21, inner = 4096, shape = [1, C, inner];
const hash = (a, canonical) => {
  // canonical: every NaN as the array type's NaN (only where NaNs are, not their bits, counts)
  if (canonical) a = a.map((v) => (Number.isNaN(v) ? NaN : v));
  const u = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let h = 0;
  for (let i = 0; i < u.length; i++) h = (Math.imul(h, 31) + u[i]) | 0;
  return (h >>> 0).toString(16);
};
const out = { build: X.wasmBuild() };
for (const T of [Float32Array, Float64Array]) {
  const x = new T(C * inner).fill(1);
  x[0] = NaN;
  x[5 * inner + 7] = NaN;
  const g = new T(C * inner).fill(0.5);
  const ops = {
    'softmax dim 1': () => X.softmax({ data: x, shape }, { dim: 1 }),
    'logSoftmax dim 1': () => X.logSoftmax({ data: x, shape }, { dim: 1 }),
    'softmax last dim': () => X.softmax({ data: x, shape: [inner, C] }, { dim: 1 }),
    'logSoftmaxBackward dim 1': () => X.logSoftmaxBackward({ data: g, shape }, { data: x, shape }, { dim: 1 }),
    'softmaxBackward dim 1': () => X.softmaxBackward({ data: g, shape }, { data: x, shape }, { dim: 1 }),
    'crossEntropy grad dim 1': () => X.crossEntropy({ data: x, shape }, new Int32Array(inner), { grad: true }).grad,
  };
  for (const [name, f] of Object.entries(ops)) {
    const y = f();
    out[`${T.name} ${name}`] = hash(y, false);
    out[`${T.name} ${name}, NaNs canonical`] = hash(y, true);
  }
}
console.log(JSON.stringify(out));
