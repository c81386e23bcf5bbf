// Plain float64 references, written independently of the code under test: log-sum-exp softmax,
// PyTorch's cross_entropy (class-index targets, class weights, label smoothing, 'mean') and
// binary_cross_entropy_with_logits ('mean'), each with its gradient d loss / d input.

export interface Ref {
  loss: number;
  grad: number[];
}

export function logSoftmaxRow(row: number[]): number[] {
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
  return row.map((v) => v - lse);
}

/** F.cross_entropy(x [N, C], y, weight, label_smoothing=eps), reduction 'mean'. */
export function crossEntropyRef(x: number[], shape: [number, number], y: number[], opts: { weight?: number[]; labelSmoothing?: number } = {}): Ref {
  const [N, C] = shape;
  const w = opts.weight ?? new Array(C).fill(1);
  const eps = opts.labelSmoothing ?? 0;
  const wSum = w.reduce((s, v) => s + v, 0);
  let total = 0;
  let norm = 0;
  const grad = new Array(N * C).fill(0);
  for (let i = 0; i < N; i++) {
    const lp = logSoftmaxRow(x.slice(i * C, (i + 1) * C));
    const t = y[i];
    let li = (1 - eps) * w[t] * -lp[t];
    for (let c = 0; c < C; c++) li += (eps / C) * w[c] * -lp[c];
    total += li;
    norm += w[t];
    for (let j = 0; j < C; j++) {
      const p = Math.exp(lp[j]);
      grad[i * C + j] = (1 - eps) * w[t] * (p - (j === t ? 1 : 0)) + (eps / C) * (wSum * p - w[j]);
    }
  }
  return { loss: total / norm, grad: grad.map((g) => g / norm) };
}

/** F.binary_cross_entropy_with_logits(x, y), reduction 'mean'. */
export function bceWithLogitsRef(x: number[], y: number[]): Ref {
  const n = x.length;
  let total = 0;
  const grad = x.map((v, i) => {
    total += Math.max(v, 0) - v * y[i] + Math.log1p(Math.exp(-Math.abs(v)));
    return (1 / (1 + Math.exp(-v)) - y[i]) / n;
  });
  return { loss: total / n, grad };
}

export function softmaxRef(x: number[], C: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < x.length; i += C) out.push(...logSoftmaxRow(x.slice(i, i + C)).map(Math.exp));
  return out;
}

/** Largest |a - b| over two arrays of the same length (throws on a length mismatch). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Deterministic pseudo-random logits in [-3, 3) and targets, from a seed. */
export function sample(seed: number, N: number, C: number): { x: number[]; y: number[] } {
  let a = seed >>> 0;
  const r = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const x = Array.from({ length: N * C }, () => 6 * r() - 3);
  const y = Array.from({ length: N }, () => Math.floor(r() * C));
  return { x, y };
}
