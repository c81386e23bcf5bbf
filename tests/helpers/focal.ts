// The float32 column path's reference (assembly/focal.ts focalColumns: rows of fewer than 64
// classes, class runs regrouped into columns, NCHW walked in place), for tests/focal.test.ts and
// tests/redteam36.test.ts. An accurate float64 form of the same maths from the float32 input values:
// u = -expm1(lp_t) (the PyTorch formula's 1 - exp(lp_t) is off by ulp(1) / u there, more than the
// kernel), d/dx_t = G u, d/dx_c = -G s_c. As in PyTorch float32, x_c - max is rounded to float32
// (its rounding, up to |x_c - max| 2^-25, is the input's to exp, not the kernel's error); and as in
// PyTorch, where S = 1 + R rounds to 1 in float64, log S is 0 (then p_t = 1 and u = 0 for the max's
// class).
import { ints, normals } from './random';
import { ulps } from './same';

/** Per-position losses, the gradient, the losses' sum and the weights' sum (the 'mean' divisor)
 *  of focalLoss on [outer, C, ...inner] (targets < 0 ignored), upstream k(position). */
export function focalAccurate(x: ArrayLike<number>, shape: number[], t: ArrayLike<number>, gamma: number, weight: ArrayLike<number> | null, k: (p: number) => number) {
  const [outer, C] = shape;
  const inner = shape.slice(2).reduce((a, b) => a * b, 1);
  const loss = new Float64Array(outer * inner);
  const grad = new Float64Array(x.length);
  let total = 0;
  let denominator = 0;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const p = o * inner + i;
      const at = (c: number) => (o * C + c) * inner + i;
      if (t[p] < 0) continue;
      let m = -Infinity;
      for (let c = 0; c < C; c++) m = Math.max(m, x[at(c)]);
      // S = 1 + R, R the exps other than one max's 1: log S as log1p(R) (log of a rounded S lost
      // R below 2^-53, all of the loss of a position whose S is near 1)
      let rest = 0;
      let one = false;
      const d = (c: number) => Math.fround(x[at(c)] - m);
      for (let c = 0; c < C; c++) {
        if (!one && x[at(c)] === m) one = true;
        else rest += Math.exp(d(c));
      }
      const s = 1 + rest;
      const lpt = d(t[p]) - (s === 1 ? 0 : Math.log1p(rest));
      const u = -Math.expm1(lpt);
      const w = weight ? weight[t[p]] : 1;
      loss[p] = -w * Math.pow(u, gamma) * lpt;
      total += loss[p];
      denominator += w;
      const gP = -k(p) * w;
      const G = gP * Math.pow(u, gamma) - gP * lpt * gamma * Math.pow(u, gamma - 1) * Math.exp(lpt);
      for (let c = 0; c < C; c++) grad[at(c)] = c === t[p] ? G * u : -G * Math.exp(d(c)) / s;
    }
  }
  return { loss, grad, total, denominator };
}

/** The largest error in float32 ulps of the wanted value (same.ts ulps: NaN against NaN and equal
 *  infinities count 0); below the smallest normal number an error up to it counts as 0 (the
 *  kernels flush would-be subnormal products, README Numerics). */
export function worstUlps(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    if (Math.abs(want[i]) < 2 ** -126 && Math.abs(got[i] - want[i]) <= 2 ** -126) continue;
    worst = Math.max(worst, ulps(got[i], want[i], true));
  }
  return worst;
}

/** A random float32 focalLoss case on `shape` ([outer, C, ...inner]): logits N(0, sd^2), then
 *  targets in 0..C-1 (drawn in that order from r), the target's shape, and the flat index of
 *  class c at position p. */
export function randomFocalCase(r: () => number, shape: number[], sd: number) {
  const C = shape[1];
  const n = shape.reduce((a, b) => a * b, 1);
  const positions = n / C;
  const inner = positions / shape[0];
  const x = Float32Array.from(normals(r, n, sd));
  const t = ints(r, positions, C);
  const at = (p: number, c: number) => (Math.floor(p / inner) * C + c) * inner + (p % inner);
  return { C, positions, inner, x, t, at, targetShape: [shape[0], ...shape.slice(2)] };
}
