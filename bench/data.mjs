// The workloads' data, from a counter-based generator that bench/torch_bench.py reproduces in numpy
// (same hash, same Box-Muller), so both processes see the same numbers and their losses can be compared.

/** lowbias32 (Chris Wellons' integer hash), a bijection on uint32. */
function lowbias32(x) {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The i-th uint32 of stream `seed`. */
export function hash(seed, i) {
  return lowbias32((lowbias32(i) ^ lowbias32(seed + 0x9e3779b9)) >>> 0);
}

/** Uniform in (0, 1). */
export function uniform(seed, i) {
  return (hash(seed, i) + 0.5) / 4294967296;
}

/** n standard normal float32 values of stream `seed` (Box-Muller on uniforms 2k and 2k+1). */
export function normals(seed, n, Type = Float32Array) {
  const out = new Type(n);
  const key = lowbias32(seed + 0x9e3779b9);
  const TWO_PI = 2 * Math.PI;
  for (let k = 0; k < n; k++) {
    const u1 = (lowbias32((lowbias32(2 * k) ^ key) >>> 0) + 0.5) / 4294967296;
    const u2 = (lowbias32((lowbias32(2 * k + 1) ^ key) >>> 0) + 0.5) / 4294967296;
    out[k] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(TWO_PI * u2);
  }
  return out;
}

/** Row-wise `map(z, max, sum of exp(z - max))` over a [rows, C] float32 array, in float64, stored
 *  as float32 (bench/torch_bench.py does the same in numpy). */
export function mapRows(z, rows, C, map) {
  const out = new Float32Array(z.length);
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    let m = -Infinity;
    for (let c = 0; c < C; c++) if (z[o + c] > m) m = z[o + c];
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(z[o + c] - m);
    for (let c = 0; c < C; c++) out[o + c] = map(z[o + c], m, s);
  }
  return out;
}

const softmaxRows = (z, rows, C) => mapRows(z, rows, C, (v, m, s) => Math.exp(v - m) / s);

export const WORKLOADS = {
  W1: { title: 'classification CE', shape: [4096, 1000], detail: 'Int32Array class indices, mean' },
  W2: { title: 'LLM-vocabulary CE', shape: [512, 32000], detail: '10% targets = -100 (ignored), labelSmoothing 0.1, mean' },
  W3: { title: 'segmentation CE, NCHW', shape: [8, 21, 128, 128], detail: 'Uint8Array mask [8,128,128], 21-class weight, mean' },
  W4: { title: 'soft-label CE', shape: [4096, 1000], detail: 'Float32Array probabilities, mean' },
  W5: { title: 'multi-label BCE with logits', shape: [4096, 1000], detail: '0/1 Float32Array targets, posWeight (1000), mean' },
  W6: { title: 'log_softmax, last dim', shape: [4096, 1000], detail: 'forward only' },
  W9: { title: 'CTC, OCR-sized', shape: [200, 32, 80], detail: 'log_softmax input (T 200, N 32, C 80), padded Int32Array targets [32, 40] (labels 1..79), full lengths, blank 0, mean' },
};

/** Builds one workload's float32 data. */
export function makeWorkload(id) {
  const { shape } = WORKLOADS[id];
  const numel = shape.reduce((a, b) => a * b, 1);
  switch (id) {
    case 'W1': {
      const [N, C] = shape;
      const x = normals(1, numel);
      const target = new Int32Array(N);
      for (let i = 0; i < N; i++) target[i] = hash(2, i) % C;
      return { shape, numel, x, target };
    }
    case 'W2': {
      const [N, C] = shape;
      const x = normals(3, numel);
      const target = new Int32Array(N);
      for (let i = 0; i < N; i++) target[i] = uniform(5, i) < 0.1 ? -100 : hash(4, i) % C;
      return { shape, numel, x, target, ignoreIndex: -100, labelSmoothing: 0.1 };
    }
    case 'W3': {
      const [N, C, H, W] = shape;
      const x = normals(6, numel);
      const target = new Uint8Array(N * H * W);
      for (let i = 0; i < target.length; i++) target[i] = hash(7, i) % C;
      const weight = new Float32Array(C);
      for (let c = 0; c < C; c++) weight[c] = 0.5 + uniform(8, c);
      return { shape, numel, x, target, weight };
    }
    case 'W4': {
      const [N, C] = shape;
      const x = normals(9, numel);
      const target = softmaxRows(normals(10, numel), N, C);
      return { shape, numel, x, target };
    }
    case 'W5': {
      const C = shape[1];
      const x = normals(11, numel);
      const target = new Float32Array(numel);
      for (let i = 0; i < numel; i++) target[i] = uniform(12, i) < 0.1 ? 1 : 0;
      const posWeight = new Float32Array(C);
      for (let c = 0; c < C; c++) posWeight[c] = 0.5 + 2 * uniform(13, c);
      return { shape, numel, x, target, posWeight };
    }
    case 'W6': {
      const x = normals(14, numel);
      return { shape, numel, x };
    }
    case 'W9': {
      // log_softmax over C of normal logits, in float64, stored as float32
      const [T, N, C] = shape;
      const z = normals(15, numel);
      const x = new Float32Array(numel);
      for (let r = 0; r < T * N; r++) {
        const o = r * C;
        let m = -Infinity;
        for (let c = 0; c < C; c++) if (z[o + c] > m) m = z[o + c];
        let s = 0;
        for (let c = 0; c < C; c++) s += Math.exp(z[o + c] - m);
        const logS = Math.log(s);
        for (let c = 0; c < C; c++) x[o + c] = z[o + c] - m - logS;
      }
      const S = 40;
      const target = new Int32Array(N * S);
      for (let i = 0; i < target.length; i++) target[i] = 1 + (hash(16, i) % (C - 1));
      return { shape, numel, x, target, S, inputLengths: new Int32Array(N).fill(T), targetLengths: new Int32Array(N).fill(S) };
    }
    default:
      throw new Error(`unknown workload ${id}`);
  }
}
