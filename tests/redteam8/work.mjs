// The consumer probes' shared workload (copied next to each script): a linearCrossEntropy call
// whose vocabulary blocks split over the pool and a ctcLoss batch split over it, on seeded data.
export function problems(X) {
  let s = 12345;
  const r = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const f32 = (n, k = 1) => Float32Array.from({ length: n }, () => k * (r() - 0.5));
  const N = 64, D = 64, C = 5000;
  const x = f32(N * D), w = f32(C * D, 0.6), t = Int32Array.from({ length: N }, () => Math.floor(r() * C));
  const T = 80, B = 16, K = 60;
  const lp = X.logSoftmax({ data: f32(T * B * K, 6), shape: [T, B, K] }, { dim: 2 });
  const il = Array.from({ length: B }, (_, b) => T - 3 * b), tl = Array.from({ length: B }, (_, b) => 1 + (b % 9));
  const labels = Int32Array.from({ length: tl.reduce((a, b) => a + b, 0) }, () => 1 + Math.floor(r() * (K - 1)));
  return () => {
    const lce = X.linearCrossEntropy({ data: x, shape: [N, D] }, { data: w, shape: [C, D] }, t, { grad: true });
    const ctc = X.ctcLoss({ data: lp, shape: [T, B, K] }, labels, il, tl, { grad: true });
    return [lce.loss, lce.gradInput, lce.gradWeight, ctc.loss, ctc.grad];
  };
}
const bytes = (v) => (typeof v === 'number' ? Buffer.from(Float64Array.of(v).buffer) : Buffer.from(v.buffer, v.byteOffset, v.byteLength));
export const sameBits = (a, b) => a.length === b.length && a.every((v, k) => bytes(v).equals(bytes(b[k])));
/** A checksum of results' bits, to compare across processes and workers. */
export const digest = (res) => res.map((v) => bytes(v).toString('base64').slice(0, 16) + ':' + bytes(v).length).join(' ');
