// Calls one kernel of build/xent.wasm directly on data in wasm memory (64,000 elements), for
// bench/instructions.sh: argv[2] names the kernel, argv[3] how many timed calls follow the warm-up.
// cefg/cef: cross-entropy [64, 1000] forward+gradient / forward; ls: log_softmax; nchw(w): cross-
// entropy with the class dim first, [1, 20, 3200] (with weight); bce: BCE with logits; ctcfg/ctcf:
// CTC loss forward+gradient / forward, W9's shape with N = 4: (T 200, N 4, C 80), S 40 (per T*N*C);
// tok5/tok0/tokt: tokenScores [64, 1000] with targets and topK 5 / without either / targets only;
// nchwtok: tokenScores [1, 20, 3200] with the class dim not last, targets and topK 5; c2: row
// cross-entropy with C = 2 as the stream runs it, regrouped into columns (1, 2, 32000); c2s, nchws:
// c2 and nchw with label smoothing 0.1; fc2, fnchw: focalLoss (gamma 2) on c2's and nchw's shapes.
import fs from 'node:fs';
const bytes = fs.readFileSync(process.env.WASM || new URL('../build/xent.wasm', import.meta.url));
const { instance } = await WebAssembly.instantiate(bytes, { env: { abort() {}, seed: () => 1 } });
const X = instance.exports;
const which = process.argv[2], reps = Number(process.argv[3]);
const N = 64, C = 1000, n = N * C;
const base = (X.heapBase() + 15) & ~15;
X.memory.grow(Math.ceil((base + n * 12 + (1 << 20) - X.memory.buffer.byteLength) / 65536));
const px = base, pg = base + n * 4, pt = pg + n * 4;
const f = new Float32Array(X.memory.buffer, px, n);
let s = 1; const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
for (let i = 0; i < n; i++) f[i] = (r() - 0.5) * 4;
const t = new Int32Array(X.memory.buffer, pt, 3200);
for (let i = 0; i < 3200; i++) t[i] = (r() * (which.startsWith('nchw') || which === 'fnchw' ? 20 : C)) | 0;
new Float32Array(X.memory.buffer, pt + 16384, 20).fill(1.5);
// CTC: log_softmax rows over C = 80 (T 200 x N 4), padded targets [4, 40] of labels 1..79, full
// lengths, then the kernel's small arrays and its scratch (src/ops/ctc.ts's sizes).
const [cT, cN, cC, cS] = [200, 4, 80, 40];
if (which.startsWith('ctc')) {
  for (let row = 0; row < cT * cN; row++) {
    const z = f.subarray(row * cC, (row + 1) * cC);
    const m = Math.max(...z);
    const logS = Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
    z.forEach((v, c) => (z[c] = v - m - logS));
  }
}
const pLab = pt + 20480, pOff = pLab + cN * cS * 4, pTl = pOff + 16, pIl = pTl + 16, pNll = pIl + 16, pScale = pNll + 32, pScratch = pScale + 32;
new Int32Array(X.memory.buffer, pLab, cN * cS).forEach((_, i, a) => (a[i] = 1 + ((r() * 79) | 0)));
new Int32Array(X.memory.buffer, pOff, cN).forEach((_, i, a) => (a[i] = i * cS));
new Int32Array(X.memory.buffer, pTl, cN).fill(cS);
new Int32Array(X.memory.buffer, pIl, cN).fill(cT);
new Float64Array(X.memory.buffer, pScale, cN).fill(1 / cS / cN);
const pc2 = base + n * 12;
new Int32Array(X.memory.buffer, pc2, 32000).forEach((_, i, a) => (a[i] = r() < 0.5 ? 0 : 1));
const calls = {
  ctcfg: () => X.ctcLoss_f32(px, cT, cN, 0, cN, cC, 0, pLab, pOff, pTl, pIl, cS, 0, pNll, pg, pScale, pScratch),
  ctcf: () => X.ctcLoss_f32(px, cT, cN, 0, cN, cC, 0, pLab, pOff, pTl, pIl, cS, 0, pNll, 0, pScale, pScratch),
  cefg: () => X.crossEntropyIndex_f32(px, pt, 0, N, C, 1, 0, 0, pg, 1 / N, 0, 0, 0, 0),
  cef: () => X.crossEntropyIndex_f32(px, pt, 0, N, C, 1, 0, 0, 0, 1 / N, 0, 0, 0, 0),
  ls: () => X.logSoftmaxForward_f32(px, pg, N, C, 1),
  // the columns path (class dim not last): [1, 64, 1000]
  lsc: () => X.logSoftmaxForward_f32(px, pg, 1, 64, 1000),
  smc: () => X.softmaxForward_f32(px, pg, 1, 64, 1000),
  nchw: () => X.crossEntropyIndex_f32(px, pt, 0, 1, 20, 3200, 0, 0, pg, 1 / 3200, 0, 0, 0, 0),
  nchww: () => X.crossEntropyIndex_f32(px, pt, pt + 16384, 1, 20, 3200, 0, 0, pg, 1 / 3200, 0, 0, 0, 0),
  bce: () => X.binaryCrossEntropyWithLogits_f32(px, pg, 0, 1, 0, 1, n, 0, pt + 20000, 1, 0, 1 / n),
  // tokenScores [64, 1000] with targets and topK 5 / bare (outputs in the gradient's region)
  tok5: () => X.tokenScores_f32(px, pt, N, C, 1, 5, pg, pg + 256, pg + 512, pg + 768, pg + 1024, pg + 1280, pg + 2560),
  tok0: () => X.tokenScores_f32(px, 0, N, C, 1, 0, pg, pg + 256, pg + 512, 0, 0, 0, 0),
  tokt: () => X.tokenScores_f32(px, pt, N, C, 1, 0, pg, pg + 256, pg + 512, pg + 768, pg + 1024, 0, 0),
  // row CE with C = 2 as src/stream.ts runs it: short rows regrouped into columns, (1, 2, 32000)
  c2: () => X.crossEntropyIndex_f32(px, pc2, 0, 1, 2, 32000, 0, 0, pg, 1 / 32000, 0, 0, 0, 0),
  // the same and nchw with label smoothing 0.1
  c2s: () => X.crossEntropyIndex_f32(px, pc2, 0, 1, 2, 32000, 0.1, 0, pg, 1 / 32000, 0, 0, 0, 0),
  nchws: () => X.crossEntropyIndex_f32(px, pt, 0, 1, 20, 3200, 0.1, 0, pg, 1 / 3200, 0, 0, 0, 0),
  // focalLoss gamma 2 as the stream runs it: C = 2 rows regrouped (1, 2, 32000), and NCHW (1, 20, 3200)
  fc2: () => X.focalLoss_f32(px, pc2, 0, 1, 2, 32000, 2, 0, pg, 1 / 32000, 0),
  fnchw: () => X.focalLoss_f32(px, pt, 0, 1, 20, 3200, 2, 0, pg, 1 / 3200, 0),
  nchwtok: () => X.tokenScores_f32(px, pt, 1, 20, 3200, 5, pg, pg + 12800, pg + 25600, pg + 38400, pg + 51200, pg + 64000, pg + 128000),
};
for (let i = 0; i < 300; i++) calls[which]();  // tier-up
for (let i = 0; i < reps; i++) calls[which]();
