// Pinned float32 probability-target crossEntropy cases (red teams 46, 47, ...): one call with its
// PyTorch 1.13 float64 answer on the float32-rounded inputs, and the check that measures our result
// against it in float32 ulps. A new red team's cases are a table for checkProbabilityCase.
import * as X from '../../src';
import { ulps } from './same';

const F = Float32Array;
const FLT_MIN = 2 ** -126;

export interface ProbabilityCase {
  what: string;
  x: number[];
  q: number[];
  shape: number[];
  weight?: number[];
  reduction: 'mean' | 'sum' | 'none';
  labelSmoothing?: number;
  dim?: number;
  gradOutput: number | number[];
  loss: number[]; // PyTorch float64 on the float32-rounded inputs
  grad: number[];
}

/** n copies of v. */
export const rep = (v: number, n: number): number[] => new Array<number>(n).fill(v);

/** max(|k p_c P|, |k w_c q'_c|) per element in float64 (the gradient's two terms, whose difference
 *  it is), from the inputs: the scale of a gradient entry's rounding error. */
export function termScale(c: ProbabilityCase): number[] {
  const dim = c.dim ?? (c.shape.length === 1 ? 0 : 1);
  const C = c.shape[dim];
  const outer = c.shape.slice(0, dim).reduce((a, b) => a * b, 1);
  const inner = c.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  const rows = outer * inner;
  const eps = c.labelSmoothing ?? 0;
  const x = Array.from(F.from(c.x));
  const q = Array.from(F.from(c.q));
  const w = c.weight ? Array.from(F.from(c.weight)) : null;
  const out = new Array<number>(x.length).fill(0);
  for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) {
    const pos = o * inner + i;
    const at = (cl: number) => (o * C + cl) * inner + i;
    let m = -Infinity;
    for (let cl = 0; cl < C; cl++) m = Math.max(m, x[at(cl)]);
    let s = 0;
    for (let cl = 0; cl < C; cl++) s += Math.exp(x[at(cl)] - m);
    let P = 0;
    const qp = (cl: number) => q[at(cl)] * (1 - eps) + eps / C;
    for (let cl = 0; cl < C; cl++) P += (w ? w[cl] : 1) * qp(cl);
    const g = typeof c.gradOutput === 'number' ? Math.fround(c.gradOutput) : Math.fround(c.gradOutput[pos]);
    const k = c.reduction === 'mean' ? g / rows : g;
    for (let cl = 0; cl < C; cl++) {
      const p = Math.exp(x[at(cl)] - m) / s;
      out[at(cl)] = Math.max(Math.abs(k * p * P), Math.abs(k * (w ? w[cl] : 1) * qp(cl)));
    }
  }
  return out;
}

/** The case's call, float32, with the gradient. */
export function runProbabilityCase(c: ProbabilityCase) {
  return X.crossEntropy({ data: F.from(c.x), shape: c.shape }, { data: F.from(c.q), shape: c.shape }, {
    weight: c.weight && F.from(c.weight), reduction: c.reduction, labelSmoothing: c.labelSmoothing, dim: c.dim, grad: true,
    gradOutput: typeof c.gradOutput === 'number' ? c.gradOutput : F.from(c.gradOutput),
  });
}

/** The loss within `lossUlps` float32 ulps of PyTorch's. The gradient within `gradUlps` float32 ulps
 *  of its own value (gradScale 'value'; below FLT_MIN, of the subnormal spacing), or (gradScale
 *  'terms') of the larger of its two terms, termScale, an |error| below FLT_MIN passing (the SIMD
 *  builds' documented flush class). Throws naming the first entry out of bounds. */
export function checkProbabilityCase(c: ProbabilityCase, lossUlps: number, gradUlps: number, gradScale: 'value' | 'terms'): void {
  const r = runProbabilityCase(c);
  const loss = typeof r.loss === 'number' ? [r.loss] : Array.from(r.loss);
  if (loss.length !== c.loss.length) throw new Error(`loss: ${loss.length} values for PyTorch's ${c.loss.length}`);
  loss.forEach((v, i) => {
    const e = ulps(v, c.loss[i], true);
    if (!(e <= lossUlps)) throw new Error(`loss[${i}]: ${v} for PyTorch float64's ${c.loss[i]} (${e.toPrecision(3)} float32 ulps)`);
  });
  const grad = Array.from(r.grad as Float32Array);
  if (grad.length !== c.grad.length) throw new Error(`grad: ${grad.length} values for PyTorch's ${c.grad.length}`);
  const scale = gradScale === 'terms' ? termScale(c) : c.grad;
  grad.forEach((v, i) => {
    if (gradScale === 'terms' && Math.abs(v - c.grad[i]) < FLT_MIN) return;
    const e = ulps(v, c.grad[i], true, scale[i]);
    if (!(e <= gradUlps)) throw new Error(`grad[${i}]: ${v} for PyTorch float64's ${c.grad[i]} (${e.toPrecision(3)} float32 ulps of ${gradScale === 'terms' ? `the larger term ${scale[i]}` : 'its value'})`);
  });
}
