// An independent float64 reference for every wasm-xent function, written plainly from PyTorch
// 1.13's definitions (aten/src/ATen/native/LossNLL.cpp, Loss.cpp, SoftMax.cpp) and its autograd:
// each loss is built the way torch composes it (log_softmax, then nll / the smoothing term, then
// the reduction), and each gradient is back-propagated through that composition, so NaN and
// infinities travel exactly as they do in torch (0 * inf = NaN included). No closed forms, no
// shortcuts, no code shared with src/. tests/reference.test.ts checks it against the committed
// PyTorch fixtures.

export type Reduction = 'mean' | 'sum' | 'none';

export interface RefTensor {
  data: ArrayLike<number>;
  shape: readonly number[];
}

export interface RefResult {
  /** A number for 'mean' / 'sum', one value per position (or element) for 'none'. */
  loss: number | Float64Array;
  /** d loss / d input, with the upstream gradient applied. */
  grad: Float64Array;
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** (outer, C, inner) around `dim`; `dim` already non-negative. */
function around(shape: readonly number[], dim: number) {
  return { outer: prod(shape.slice(0, dim)), C: shape.length === 0 ? 1 : shape[dim], inner: prod(shape.slice(dim + 1)) };
}

function normDim(dim: number, ndim: number): number {
  const n = Math.max(ndim, 1);
  if (dim < -n || dim >= n) throw new Error(`reference: dim ${dim} out of range for ${ndim} dims`);
  return dim < 0 ? dim + n : dim;
}

/** The max of a row, NaN if the row holds a NaN (as torch's max does). */
function rowMax(get: (c: number) => number, C: number): number {
  let m = -Infinity;
  for (let c = 0; c < C; c++) {
    const v = get(c);
    if (Number.isNaN(v)) return NaN;
    if (v > m) m = v;
  }
  return m;
}

// ------------------------------------------------------------------ softmax family

/** Calls fn once per row along `dim` (a fixed position, all C classes), with the row's index map. */
function forEachRow(shape: readonly number[], dim: number, fn: (at: (c: number) => number, C: number) => void): void {
  const { outer, C, inner } = around(shape, normDim(dim, shape.length));
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) fn((c) => (o * C + c) * inner + i, C);
  }
}

export function logSoftmax(x: RefTensor, dim = -1): Float64Array {
  const y = new Float64Array(x.data.length);
  forEachRow(x.shape, dim, (at, C) => {
    const m = rowMax((c) => x.data[at(c)], C);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(x.data[at(c)] - m);
    const logS = Math.log(s);
    for (let c = 0; c < C; c++) y[at(c)] = x.data[at(c)] - m - logS;
  });
  return y;
}

export function softmax(x: RefTensor, dim = -1): Float64Array {
  return logSoftmax(x, dim).map(Math.exp);
}

/** torch._log_softmax_backward_data: g - exp(y) * sum(g) along dim. */
export function logSoftmaxBackward(g: RefTensor, y: RefTensor, dim = -1): Float64Array {
  const dx = new Float64Array(y.data.length);
  forEachRow(y.shape, dim, (at, C) => {
    let s = 0;
    for (let c = 0; c < C; c++) s += g.data[at(c)];
    for (let c = 0; c < C; c++) dx[at(c)] = g.data[at(c)] - Math.exp(y.data[at(c)]) * s;
  });
  return dx;
}

/** torch._softmax_backward_data: y * (g - sum(g * y)) along dim. */
export function softmaxBackward(g: RefTensor, y: RefTensor, dim = -1): Float64Array {
  const dx = new Float64Array(y.data.length);
  forEachRow(y.shape, dim, (at, C) => {
    let s = 0;
    for (let c = 0; c < C; c++) s += g.data[at(c)] * y.data[at(c)];
    for (let c = 0; c < C; c++) dx[at(c)] = y.data[at(c)] * (g.data[at(c)] - s);
  });
  return dx;
}

// ------------------------------------------------------------------ class losses

export interface ClassLossOptions {
  weight?: ArrayLike<number>;
  ignoreIndex?: number;
  reduction?: Reduction;
  labelSmoothing?: number;
  /** default 1, or 0 for a 1-D input */
  dim?: number;
  /** a number for 'mean'/'sum' (default 1); per position for 'none' (default ones) */
  gradOutput?: number | ArrayLike<number>;
}

function classDim(shape: readonly number[], dim: number | undefined): number {
  return dim === undefined ? (shape.length === 1 ? 0 : 1) : normDim(dim, shape.length);
}

/** Upstream gradient of position p. */
function upstream(gradOutput: number | ArrayLike<number> | undefined, reduction: Reduction, p: number): number {
  if (gradOutput === undefined) return 1;
  if (typeof gradOutput === 'number') return gradOutput;
  if (reduction !== 'none') throw new Error('reference: array gradOutput needs reduction none');
  return gradOutput[p];
}

/** torch.nn.functional.nll_loss: l_p = -w[t] x[t]; 'mean' divides by the sum of w[t] over
 *  non-ignored positions. Works on any "log-probability" tensor, so cross_entropy reuses it. */
function nllParts(x: ArrayLike<number>, shape: readonly number[], d: number, target: ArrayLike<number>, w: (c: number) => number, ii: number) {
  const { outer, C, inner } = around(shape, d);
  const perPos = new Float64Array(outer * inner);
  let weightSum = 0;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const p = o * inner + i;
      const t = target[p];
      if (t === ii) continue;
      if (!(t >= 0 && t < C && Number.isInteger(t))) throw new Error(`reference: target ${t} out of range`);
      perPos[p] = -w(t) * x[(o * C + t) * inner + i];
      weightSum += w(t);
    }
  }
  return { outer, C, inner, perPos, weightSum };
}

function reduce(perPos: Float64Array, reduction: Reduction, denominator: number): number | Float64Array {
  if (reduction === 'none') return perPos;
  let s = 0;
  for (const v of perPos) s += v;
  return reduction === 'sum' ? s : s / denominator;
}

export function nllLoss(input: RefTensor, target: ArrayLike<number>, o: ClassLossOptions = {}): RefResult {
  const reduction = o.reduction ?? 'mean';
  const ii = o.ignoreIndex ?? -100;
  const w = (c: number) => (o.weight ? o.weight[c] : 1);
  const d = classDim(input.shape, o.dim);
  const { outer, C, inner, perPos, weightSum } = nllParts(input.data, input.shape, d, target, w, ii);
  const loss = reduce(perPos, reduction, weightSum);
  const grad = new Float64Array(input.data.length);
  for (let a = 0; a < outer; a++) {
    for (let i = 0; i < inner; i++) {
      const p = a * inner + i;
      const t = target[p];
      if (t === ii) continue;
      const g = upstream(o.gradOutput, reduction, p);
      grad[(a * C + t) * inner + i] = -w(t) * (reduction === 'mean' ? g / weightSum : g);
    }
  }
  return { loss, grad };
}

/**
 * torch.nn.functional.cross_entropy with class-index targets, as 1.13 computes it:
 *   lp = log_softmax(x); nll = nll_loss(lp, t, w, reduction, ii)
 *   without smoothing: nll
 *   with eps > 0: smooth_p = -sum_c w[c] lp[c] (0 where ignored), reduced by 'sum', or for
 *   'mean' divided by the sum of w[t] over non-ignored positions when a weight is given, and by
 *   the number of non-ignored positions (smooth.sum() / (~ignore_mask).sum()) when it is not --
 *   that is the same denominator as nll's; result (1-eps) nll + eps/C smooth.
 */
export function crossEntropyIndex(input: RefTensor, target: ArrayLike<number>, o: ClassLossOptions = {}): RefResult {
  const reduction = o.reduction ?? 'mean';
  const ii = o.ignoreIndex ?? -100;
  const eps = o.labelSmoothing ?? 0;
  const w = (c: number) => (o.weight ? o.weight[c] : 1);
  const d = classDim(input.shape, o.dim);
  const lp = logSoftmax(input, d);
  const { outer, C, inner, perPos: nll, weightSum } = nllParts(lp, input.shape, d, target, w, ii);
  const P = outer * inner;
  const ignored = (p: number) => target[p] === ii;

  let loss: number | Float64Array;
  const smooth = new Float64Array(P);
  if (eps > 0) {
    for (let a = 0; a < outer; a++) {
      for (let i = 0; i < inner; i++) {
        const p = a * inner + i;
        let s = 0;
        for (let c = 0; c < C; c++) s += lp[(a * C + c) * inner + i] * w(c);
        smooth[p] = ignored(p) ? 0 : -s; // masked_fill_(ignore_mask, 0)
      }
    }
    const smoothDen = weightSum; // without weight: the count of non-ignored positions
    const nllR = reduce(nll, reduction, weightSum);
    const smR = reduce(smooth, reduction, smoothDen);
    if (typeof nllR === 'number') loss = (1 - eps) * nllR + (smR as number) * (eps / C);
    else loss = nllR.map((v, p) => (1 - eps) * v + (smR as Float64Array)[p] * (eps / C));
  } else {
    loss = reduce(nll, reduction, weightSum);
  }

  // Backward: d loss / d lp, then through log_softmax.
  const dlp = new Float64Array(input.data.length);
  for (let a = 0; a < outer; a++) {
    for (let i = 0; i < inner; i++) {
      const p = a * inner + i;
      if (ignored(p)) {
        // smoothing's masked_fill backward: a 0 that the weights multiply (NaN for a non-finite one)
        if (eps > 0) for (let c = 0; c < C; c++) dlp[(a * C + c) * inner + i] += -w(c) * 0;
        continue;
      }
      const g = upstream(o.gradOutput, reduction, p);
      const t = target[p];
      const nllScale = (eps > 0 ? 1 - eps : 1) * (reduction === 'mean' ? g / weightSum : g);
      dlp[(a * C + t) * inner + i] += -w(t) * nllScale;
      if (eps > 0) {
        const smScale = (eps / C) * (reduction === 'mean' ? g / weightSum : g);
        for (let c = 0; c < C; c++) dlp[(a * C + c) * inner + i] += -w(c) * smScale;
      }
    }
  }
  return { loss, grad: logSoftmaxBackward({ data: dlp, shape: input.shape }, { data: lp, shape: input.shape }, d) };
}

/**
 * cross_entropy with class-probability targets (1.13): q = p (1-eps) + eps/C when eps > 0;
 * l_p = -sum_c lp[c] * q[c] * w[c]; 'mean' divides by numel / C (NaN for an empty input).
 */
export function crossEntropyProbs(input: RefTensor, target: ArrayLike<number>, o: ClassLossOptions = {}): RefResult {
  const reduction = o.reduction ?? 'mean';
  const eps = o.labelSmoothing ?? 0;
  const w = (c: number) => (o.weight ? o.weight[c] : 1);
  const d = classDim(input.shape, o.dim);
  const { outer, C, inner } = around(input.shape, d);
  const P = outer * inner;
  const q = Float64Array.from(target, (v) => (eps > 0 ? v * (1 - eps) + eps / C : v));
  const lp = logSoftmax(input, d);
  const perPos = new Float64Array(P);
  for (let a = 0; a < outer; a++) {
    for (let i = 0; i < inner; i++) {
      let s = 0;
      for (let c = 0; c < C; c++) {
        const k = (a * C + c) * inner + i;
        s += lp[k] * q[k] * w(c);
      }
      perPos[a * inner + i] = -s;
    }
  }
  const loss = reduce(perPos, reduction, input.data.length === 0 ? NaN : P);
  const dlp = new Float64Array(input.data.length);
  for (let a = 0; a < outer; a++) {
    for (let i = 0; i < inner; i++) {
      const g = upstream(o.gradOutput, reduction, a * inner + i);
      const scale = reduction === 'mean' ? g / P : g;
      for (let c = 0; c < C; c++) {
        const k = (a * C + c) * inner + i;
        dlp[k] = -q[k] * w(c) * scale;
      }
    }
  }
  return { loss, grad: logSoftmaxBackward({ data: dlp, shape: input.shape }, { data: lp, shape: input.shape }, d) };
}

// ------------------------------------------------------------------ binary losses

/** A tensor broadcast (NumPy rules, aligned at the trailing dims) to `shape`, read at flat index k. */
export function broadcastReader(b: RefTensor | undefined, shape: readonly number[]): (k: number) => number {
  if (!b) return () => 1;
  const bs = b.shape;
  if (bs.length > shape.length) throw new Error('reference: operand has more dims than the input');
  const lead = shape.length - bs.length;
  bs.forEach((s, j) => {
    if (s !== 1 && s !== shape[lead + j]) throw new Error('reference: not broadcastable');
  });
  return (k: number) => {
    let idx = 0;
    let stride = 1;
    let rest = k;
    const coords = new Array(shape.length);
    for (let j = shape.length - 1; j >= 0; j--) {
      coords[j] = rest % shape[j];
      rest = Math.floor(rest / shape[j]);
    }
    for (let j = bs.length - 1; j >= 0; j--) {
      idx += (bs[j] === 1 ? 0 : coords[lead + j]) * stride;
      stride *= bs[j];
    }
    return b.data[idx];
  };
}

export interface BinaryOptions {
  weight?: RefTensor;
  posWeight?: RefTensor;
  reduction?: Reduction;
  /** a number for 'mean'/'sum'; per element for 'none' */
  gradOutput?: number | ArrayLike<number>;
}

/** The clamp in torch's binary_cross_entropy_backward: EPSILON = 1e-12 is a C++ float, so the
 *  divisor is max((1 - x) x, (double)(float)1e-12) even for float64 input. */
export const BCE_GRAD_EPS = Math.fround(1e-12);

/** binary_cross_entropy: l = w ((y - 1) max(log1p(-x), -100) - y max(log x, -100));
 *  grad = g w (x - y) / max((1 - x) x, EPS). */
export function binaryCrossEntropy(input: RefTensor, target: ArrayLike<number>, o: BinaryOptions = {}): RefResult {
  const reduction = o.reduction ?? 'mean';
  const n = input.data.length;
  const w = broadcastReader(o.weight, input.shape);
  const perEl = new Float64Array(n);
  const grad = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const x = input.data[k];
    const y = target[k];
    perEl[k] = ((y - 1) * Math.max(Math.log1p(-x), -100) - y * Math.max(Math.log(x), -100)) * w(k);
    const g = upstream(o.gradOutput, reduction, k);
    const scale = reduction === 'mean' ? g / n : g;
    grad[k] = (scale * (x - y)) / Math.max((1 - x) * x, BCE_GRAD_EPS) * w(k);
  }
  return { loss: reduce(perEl, reduction, n), grad };
}

/** binary_cross_entropy_with_logits (1.13): with lw = 1 + (pw - 1) y and m = max(-x, 0), PyTorch
 *  computes l = w ((1 - y) x + lw (log(exp(-m) + exp(-x - m)) + m)); grad = g w (lw sigmoid(x) - pw y).
 *  The loss is taken here in the algebraically equal form without cancellation,
 *  w (max(x, 0) (1 - y) + m pw y + lw log1p(exp(-|x|))): PyTorch's (1 - y) x + lw m subtracts two
 *  numbers of size |x| and, at x = -1e300, y = 1e-307, returns 0 for a loss of 1e-7 (float64). The
 *  two agree to rounding elsewhere (reference.test.ts checks this one against the PyTorch fixtures).
 *  x = -inf is NaN, as in PyTorch's form (-inf + inf). */
export function binaryCrossEntropyWithLogits(input: RefTensor, target: ArrayLike<number>, o: BinaryOptions = {}): RefResult {
  const reduction = o.reduction ?? 'mean';
  const n = input.data.length;
  const w = broadcastReader(o.weight, input.shape);
  const pw = broadcastReader(o.posWeight, input.shape);
  const perEl = new Float64Array(n);
  const grad = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const x = input.data[k];
    const y = target[k];
    const m = Math.max(-x, 0);
    const p = o.posWeight ? pw(k) : 1;
    const lw = 1 + (p - 1) * y; // PyTorch's form: (1 - y) + p y rounds to 0 at |y| >= 2^53
    // Where y or p y is not finite, PyTorch's own form, whose infinities the split one turns to NaN
    // (inf * 0): (1 - y) x + lw (log(e^-m + e^(-x - m)) + m), or (1 - y) x + m + log(...) without pw.
    const log = Math.log(Math.exp(-m) + Math.exp(-x - m));
    const literal = !(Math.abs(y) * (1 + Math.abs(p)) < Infinity);
    const own = o.posWeight ? (1 - y) * x + lw * (log + m) : (1 - y) * x + m + log;
    perEl[k] = (literal ? own : x === -Infinity ? NaN : Math.max(x, 0) * (1 - y) + m * p * y + lw * Math.log1p(Math.exp(-Math.abs(x)))) * w(k);
    const g = upstream(o.gradOutput, reduction, k);
    const scale = reduction === 'mean' ? g / n : g;
    const sig = 1 / (1 + Math.exp(-x));
    const t = pw(k) * y; // PyTorch's backward: ((t + 1 - y) sigmoid - t) g, t = pw y
    const local = o.posWeight ? (t + 1 - y) * sig - t : sig - y;
    grad[k] = local * scale * w(k);
  }
  return { loss: reduce(perEl, reduction, n), grad };
}

// ------------------------------------------------------------------ target helpers (README's definitions)

/** F.one_hot(t, C).float(), flattened: shape [...t.shape, C]. */
export function oneHot(target: ArrayLike<number>, numClasses: number): Float64Array {
  const out = new Float64Array(target.length * numClasses);
  for (let i = 0; i < target.length; i++) out[i * numClasses + target[i]] = 1;
  return out;
}

/** w_c proportional to 1 / frequency_c over the classes present, summing to 1; absent classes 0. */
export function inverseFrequencyWeights(target: ArrayLike<number>, numClasses: number): Float64Array {
  const freq = new Float64Array(numClasses);
  for (let i = 0; i < target.length; i++) freq[target[i]] += 1 / target.length;
  const inv = Array.from(freq, (f) => (f > 0 ? 1 / f : 0));
  const total = inv.reduce((a, b) => a + b, 0);
  return Float64Array.from(inv, (v) => (total > 0 ? v / total : 0));
}

// ------------------------------------------------------------------ CTC

export interface CtcOptions {
  blank?: number;
  reduction?: Reduction;
  zeroInfinity?: boolean;
  /** a number for 'mean'/'sum' (default 1); one per batch element for 'none' */
  gradOutput?: number | ArrayLike<number>;
}

/** One element's problem: Tb frames of C log-probabilities (lp(t, c)), its labels. */
interface CtcElement {
  lp: (t: number, c: number) => number;
  Tb: number;
  C: number;
  labels: number[];
  blank: number;
}

/** log(sum(exp(v))) of a list, -Infinity for an empty or all -Infinity list. */
function logSumExp(v: number[]): number {
  const m = Math.max(-Infinity, ...v);
  if (m === -Infinity) return -Infinity;
  if (!Number.isFinite(m)) return NaN; // +inf (inf - inf, as in PyTorch) or NaN
  return m + Math.log(v.reduce((s, x) => s + Math.exp(x - m), 0));
}

/** The CTC collapse: merge repeats, then drop blanks. */
function collapse(path: number[], blank: number): number[] {
  const out: number[] = [];
  path.forEach((c, t) => {
    if (c !== blank && (t === 0 || path[t - 1] !== c)) out.push(c);
  });
  return out;
}

/**
 * By the definition, for tiny problems: every path of Tb frames over C classes whose collapse is
 * the target; log p = log sum over those paths of exp(sum_t lp(t, path_t)), and d(-log p)/d lp(t, c)
 * = -(sum of the probabilities of those paths with path_t = c) / p. C^Tb paths: keep it small.
 */
export function ctcBruteForce(e: CtcElement): { nll: number; dNll: Float64Array } {
  const { Tb, C } = e;
  if (C ** Tb > 2e6) throw new Error('reference: brute force over too many paths');
  const logs: number[] = [];
  const paths: number[][] = [];
  const path = new Array<number>(Tb).fill(0);
  for (let k = 0; k < C ** Tb; k++) {
    for (let t = 0, r = k; t < Tb; t++, r = Math.floor(r / C)) path[t] = r % C;
    const out = collapse(path, e.blank);
    if (out.length !== e.labels.length || out.some((c, i) => c !== e.labels[i])) continue;
    let s = 0;
    for (let t = 0; t < Tb; t++) s += e.lp(t, path[t]);
    logs.push(s);
    paths.push(path.slice());
  }
  const logP = logSumExp(logs);
  const dNll = new Float64Array(Tb * C);
  paths.forEach((p, i) => {
    const w = Math.exp(logs[i] - logP);
    for (let t = 0; t < Tb; t++) dNll[t * C + p[t]] -= w;
  });
  return { nll: -logP, dNll };
}

/**
 * The forward-backward algorithm (Graves et al. 2006, section 4.1), in log space: over the
 * extended target l' (blanks around and between the labels), alpha_t(s) is the log-probability of
 * the prefixes of length t+1 that end in state s, beta_t(s) that of the suffixes from t+1 on given
 * state s at t (this one excludes frame t, unlike PyTorch's). The occupation of state s at t is
 * exp(alpha_t(s) + beta_t(s) - log p), and d(-log p)/d lp(t, c) is minus the sum of the
 * occupations of the states labelled c.
 */
export function ctcForwardBackward(e: CtcElement): { nll: number; dNll: Float64Array } {
  const { Tb, C, blank } = e;
  const ext: number[] = [blank];
  for (const l of e.labels) ext.push(l, blank);
  const L = ext.length;
  const dNll = new Float64Array(Tb * C);
  if (Tb === 0) return { nll: e.labels.length === 0 ? 0 : Infinity, dNll };
  // transitions into s come from s, s-1, and s-2 when ext[s] is a label unlike ext[s-2]
  const from = Array.from({ length: L }, (_, s) => [s, s - 1, ...(s >= 2 && ext[s] !== blank && ext[s] !== ext[s - 2] ? [s - 2] : [])].filter((r) => r >= 0));
  const alpha = Array.from({ length: Tb }, () => new Array<number>(L).fill(-Infinity));
  alpha[0][0] = e.lp(0, ext[0]);
  if (L > 1) alpha[0][1] = e.lp(0, ext[1]);
  for (let t = 1; t < Tb; t++) {
    for (let s = 0; s < L; s++) alpha[t][s] = logSumExp(from[s].map((r) => alpha[t - 1][r])) + e.lp(t, ext[s]);
  }
  const logP = logSumExp(L > 1 ? [alpha[Tb - 1][L - 1], alpha[Tb - 1][L - 2]] : [alpha[Tb - 1][0]]);
  const beta = Array.from({ length: Tb }, () => new Array<number>(L).fill(-Infinity));
  beta[Tb - 1][L - 1] = 0;
  if (L > 1) beta[Tb - 1][L - 2] = 0;
  for (let t = Tb - 2; t >= 0; t--) {
    for (let s = 0; s < L; s++) {
      const to: number[] = [];
      for (let r = s; r < Math.min(s + 3, L); r++) if (from[r].includes(s)) to.push(beta[t + 1][r] + e.lp(t + 1, ext[r]));
      beta[t][s] = logSumExp(to);
    }
  }
  for (let t = 0; t < Tb; t++) {
    for (let s = 0; s < L; s++) dNll[t * C + ext[s]] -= Math.exp(alpha[t][s] + beta[t][s] - logP);
  }
  return { nll: -logP, dNll };
}

/**
 * torch.nn.functional.ctc_loss with the gradient PyTorch 1.13's native backward gives log_probs:
 *   grad(t, b, c) = g_b (exp(lp(t, b, c)) + d nll_b / d lp(t, b, c))  for t < inputLengths[b]
 * (the exp term is the softmax Jacobian's, folded in because PyTorch assumes log_softmax input);
 * 0 for later frames. g_b is the upstream gradient of element b's loss ('mean':
 * gradOutput / max(targetLength, 1) / N). Where PyTorch's formula meets nan or -inf - -inf the
 * gradient is NaN: every frame t < inputLength of an element with nll = +inf (unless zeroInfinity,
 * which zeroes that element), and each entry whose lp is -inf. `targets` are per element.
 * `method`: 'forward-backward' (any size) or 'brute-force' (tiny ones).
 */
export function ctcLoss(
  logProbs: RefTensor, targets: number[][], inputLengths: number[], o: CtcOptions = {},
  method: 'forward-backward' | 'brute-force' = 'forward-backward',
): RefResult {
  const batched = logProbs.shape.length === 3;
  const [T, N, C] = batched ? logProbs.shape : [logProbs.shape[0], 1, logProbs.shape[1]];
  const blank = o.blank ?? 0;
  const reduction = o.reduction ?? 'mean';
  const perElement = new Float64Array(N);
  const grad = new Float64Array(T * N * C);
  const solve = method === 'brute-force' ? ctcBruteForce : ctcForwardBackward;
  for (let b = 0; b < N; b++) {
    const lp = (t: number, c: number) => logProbs.data[(t * N + b) * C + c];
    const Tb = inputLengths[b];
    const { nll, dNll } = solve({ lp, Tb, C, labels: targets[b], blank });
    const zeroed = o.zeroInfinity === true && nll === Infinity;
    perElement[b] = zeroed ? 0 : nll;
    const S = targets[b].length;
    const g = o.gradOutput === undefined ? 1 : typeof o.gradOutput === 'number' ? o.gradOutput : o.gradOutput[b];
    const gb = reduction === 'mean' ? g / Math.max(S, 1) / N : g;
    if (zeroed) continue;
    for (let t = 0; t < Tb; t++) {
      for (let c = 0; c < C; c++) {
        const x = lp(t, c);
        const bad = !Number.isFinite(nll) || x === -Infinity || Number.isNaN(x);
        grad[(t * N + b) * C + c] = bad ? NaN : gb * (Math.exp(x) + dNll[t * C + c]);
      }
    }
  }
  let loss: number | Float64Array = perElement;
  if (reduction !== 'none') {
    let s = 0;
    perElement.forEach((v, b) => (s += reduction === 'mean' ? v / Math.max(targets[b].length, 1) : v));
    loss = reduction === 'mean' ? s / N : s;
  }
  return { loss, grad };
}

// ------------------------------------------------------------------ the rest of the family (issue 12)

export interface KlDivOptions {
  reduction?: Reduction | 'batchmean';
  logTarget?: boolean;
  gradOutput?: number | ArrayLike<number>;
}

/** torch.nn.functional.kl_div (1.13): l = xlogy(t, t) - t x, or exp(t) (t - x) with log_target;
 *  xlogy(t, t) is NaN for t = NaN, 0 for t = 0, t log t otherwise. Autograd through the product:
 *  dl/dx = -t (-exp(t)). 'mean' divides by the element count, 'batchmean' by shape[0] (a 0-d
 *  input is summed). */
export function klDiv(input: RefTensor, target: ArrayLike<number>, o: KlDivOptions = {}): RefResult {
  const reduction = o.reduction ?? 'mean';
  const n = input.data.length;
  const denominator = reduction === 'batchmean' ? (input.shape.length === 0 ? 1 : input.shape[0]) : n;
  const perEl = new Float64Array(n);
  const grad = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const x = input.data[k];
    const t = target[k];
    const xlogy = Number.isNaN(t) ? NaN : t === 0 ? 0 : t * Math.log(t);
    const e = Math.exp(t);
    perEl[k] = o.logTarget ? e * (t - x) : xlogy - t * x;
    const g = upstream(o.gradOutput, reduction === 'batchmean' ? 'mean' : reduction, k);
    const scale = reduction === 'mean' || reduction === 'batchmean' ? g / denominator : g;
    grad[k] = -(o.logTarget ? e : t) * scale;
  }
  return { loss: reduce(perEl, reduction === 'batchmean' ? 'mean' : reduction, denominator), grad };
}

export interface SigmoidFocalOptions {
  reduction?: Reduction;
  alpha?: number;
  gamma?: number;
  gradOutput?: number | ArrayLike<number>;
}

/** torchvision.ops.sigmoid_focal_loss (0.14): p = sigmoid(x), ce = BCE with logits (the stable
 *  form above), p_t = p y + (1 - p)(1 - y), l = alpha_t ce (1 - p_t)^gamma (alpha_t = 1 when
 *  alpha < 0). The gradient is back-propagated through each of those steps as autograd does
 *  (pow's backward is 0 for a zero exponent), so its NaNs are PyTorch's. Default reduction 'none'. */
export function sigmoidFocalLoss(input: RefTensor, target: ArrayLike<number>, o: SigmoidFocalOptions = {}): RefResult {
  const reduction = o.reduction ?? 'none';
  const alpha = o.alpha ?? 0.25;
  const gamma = o.gamma ?? 2;
  const n = input.data.length;
  const perEl = new Float64Array(n);
  const grad = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const x = input.data[k];
    const y = target[k];
    const p = 1 / (1 + Math.exp(-x));
    const ce = binaryCrossEntropyWithLogits({ data: [x], shape: [] }, [y], { reduction: 'sum' }).loss as number;
    const pt = p * y + (1 - p) * (1 - y);
    const m = Math.pow(1 - pt, gamma);
    const at = alpha >= 0 ? alpha * y + (1 - alpha) * (1 - y) : 1;
    perEl[k] = at * (ce * m);
    const g = upstream(o.gradOutput, reduction, k);
    const gLoss = (reduction === 'mean' ? g / n : g) * at;
    const gPow = gamma === 0 ? 0 : gLoss * ce * (gamma * Math.pow(1 - pt, gamma - 1));
    const gP = -gPow * y - -gPow * (1 - y);
    grad[k] = gP * (1 - p) * p + gLoss * m * (p - y);
  }
  return { loss: reduce(perEl, reduction, n), grad };
}

/** The multi-class focal loss of issue 12, as written in torch (tests/fixtures/generate.py,
 *  focal_torch): lp = log_softmax(x), p_t = exp(lp_t), l = -w_t ((1 - p_t)^gamma lp_t) over the
 *  non-ignored positions; 'mean' divides by the sum of w_t. Autograd step by step: d l / d lp_t,
 *  then log_softmax's backward for every row (an ignored row back-propagates a zero). */
export function focalLoss(input: RefTensor, target: ArrayLike<number>, o: ClassLossOptions & { gamma?: number } = {}): RefResult {
  const reduction = o.reduction ?? 'mean';
  const ii = o.ignoreIndex ?? -100;
  const gamma = o.gamma ?? 2;
  const w = (c: number) => (o.weight ? o.weight[c] : 1);
  const d = classDim(input.shape, o.dim);
  const lp = logSoftmax(input, d);
  const { outer, C, inner } = around(input.shape, d);
  const perPos = new Float64Array(outer * inner);
  let weightSum = 0;
  for (let p = 0; p < perPos.length; p++) if (target[p] !== ii) weightSum += w(target[p]);
  const dlp = new Float64Array(input.data.length);
  for (let a = 0; a < outer; a++) {
    for (let i = 0; i < inner; i++) {
      const p = a * inner + i;
      const t = target[p];
      if (t === ii) continue;
      const k = (a * C + t) * inner + i;
      const pt = Math.exp(lp[k]);
      const m = Math.pow(1 - pt, gamma);
      perPos[p] = -w(t) * (m * lp[k]);
      const g = upstream(o.gradOutput, reduction, p);
      const gProduct = -(reduction === 'mean' ? g / weightSum : g) * w(t);
      const gPow = gamma === 0 ? 0 : gProduct * lp[k] * (gamma * Math.pow(1 - pt, gamma - 1));
      dlp[k] = gProduct * m + -gPow * pt;
    }
  }
  return { loss: reduce(perPos, reduction, weightSum), grad: logSoftmaxBackward({ data: dlp, shape: input.shape }, { data: lp, shape: input.shape }, d) };
}

// ------------------------------------------------------------------ z-loss (issue 12)

/**
 * The z term crossEntropy adds with `zLoss` (PaLM's z-loss, issue 12): z * lse^2 per kept position
 * (every non-ignored one; every one when `target` is null, for probability targets), with
 * lse = logsumexp over the class dim; 'mean' divides the summed term by the count of kept
 * positions (not by a weight sum). Its gradient is upstream * z * 2 lse * softmax. Add both to
 * crossEntropyIndex / crossEntropyProbs for the whole loss. Also returns lse at every position.
 */
export function zLossTerm(input: RefTensor, target: ArrayLike<number> | null, z: number, o: ClassLossOptions = {}): RefResult & { lse: Float64Array } {
  const reduction = o.reduction ?? 'mean';
  const ii = o.ignoreIndex ?? -100;
  const d = classDim(input.shape, o.dim);
  const { outer, C, inner } = around(input.shape, d);
  const lse = new Float64Array(outer * inner);
  const kept = (p: number) => target === null || target[p] !== ii;
  let count = 0;
  const perPos = new Float64Array(outer * inner);
  for (let a = 0; a < outer; a++) {
    for (let i = 0; i < inner; i++) {
      const p = a * inner + i;
      const x = (c: number) => input.data[(a * C + c) * inner + i];
      const m = rowMax(x, C);
      let s = 0;
      for (let c = 0; c < C; c++) s += Math.exp(x(c) - m);
      lse[p] = m + Math.log(s);
      if (!kept(p)) continue;
      count++;
      perPos[p] = z * lse[p] * lse[p];
    }
  }
  const loss = reduce(perPos, reduction, count);
  const grad = new Float64Array(input.data.length);
  for (let a = 0; a < outer; a++) {
    for (let i = 0; i < inner; i++) {
      const p = a * inner + i;
      if (!kept(p)) continue;
      const g = upstream(o.gradOutput, reduction, p) * (reduction === 'mean' ? 1 / count : 1);
      for (let c = 0; c < C; c++) {
        const k = (a * C + c) * inner + i;
        grad[k] = g * z * 2 * lse[p] * Math.exp(input.data[k] - lse[p]);
      }
    }
  }
  return { loss, grad, lse };
}

// ------------------------------------------------------------------ tokenScores (issue 12)

export interface TokenScoresRef {
  lse: Float64Array;
  entropy: Float64Array;
  argmax: Int32Array;
  logProb?: Float64Array;
  rank?: Int32Array;
  topKLogProbs?: Float64Array;
  topKIndices?: Int32Array;
}

/** tokenScores from torch's definitions, one position at a time (positions in the order of
 *  torch.movedim(x, dim, -1)): torch.logsumexp (an infinite max counts as 0, so a row of -inf gives
 *  -inf and a +inf gives +inf), torch.special.entr(softmax).sum() (entr(0) = 0), torch.argmax (the
 *  first NaN, else the first max), log_softmax at the target (NaN where ignored) and the count of
 *  larger logits (-1 where ignored), and the topK log-probabilities in the order: NaN first, then
 *  descending, ties to the lower class. */
export function tokenScores(x: RefTensor, target?: ArrayLike<number>, o: { dim?: number; topK?: number; ignoreIndex?: number } = {}): TokenScoresRef {
  const d = normDim(o.dim ?? -1, x.shape.length);
  const { outer, C, inner } = around(x.shape, d);
  const P = outer * inner;
  const K = o.topK;
  const ii = o.ignoreIndex ?? -100;
  const r: TokenScoresRef = { lse: new Float64Array(P), entropy: new Float64Array(P), argmax: new Int32Array(P) };
  if (target) {
    r.logProb = new Float64Array(P);
    r.rank = new Int32Array(P);
  }
  if (K !== undefined) {
    r.topKLogProbs = new Float64Array(P * K);
    r.topKIndices = new Int32Array(P * K);
  }
  for (let a = 0; a < outer; a++) {
    for (let i = 0; i < inner; i++) {
      const p = a * inner + i;
      const row = Array.from({ length: C }, (_, c) => x.data[(a * C + c) * inner + i]);
      const m = rowMax((c) => row[c], C);
      const shift = Number.isFinite(m) ? m : 0; // logsumexp's masked max
      let s = 0;
      for (const v of row) s += Math.exp(v - shift);
      r.lse[p] = Math.log(s) + shift;
      // log_softmax and softmax as torch computes them: x - max - log(sum(exp(x - max)))
      let s2 = 0;
      for (const v of row) s2 += Math.exp(v - m);
      const lp = row.map((v) => v - m - Math.log(s2));
      let h = 0;
      for (const l of lp) {
        const q = Math.exp(l);
        h += Number.isNaN(q) ? NaN : q === 0 ? 0 : -q * Math.log(q);
      }
      r.entropy[p] = h;
      let am = row.findIndex((v) => Number.isNaN(v));
      if (am < 0) am = row.findIndex((v) => v === m);
      r.argmax[p] = Math.max(am, 0);
      if (target) {
        const t = target[p];
        r.logProb![p] = t === ii ? NaN : lp[t];
        r.rank![p] = t === ii ? -1 : row.filter((v) => v > row[t]).length;
      }
      if (K !== undefined) {
        const order = row.map((_, c) => c).sort((u, v) => {
          const nu = Number.isNaN(row[u]);
          const nv = Number.isNaN(row[v]);
          if (nu !== nv) return nu ? -1 : 1;
          if (!nu && row[u] !== row[v]) return row[v] - row[u] > 0 ? 1 : -1;
          return u - v;
        });
        for (let k = 0; k < K; k++) {
          r.topKIndices![p * K + k] = order[k];
          r.topKLogProbs![p * K + k] = lp[order[k]];
        }
      }
    }
  }
  return r;
}

// ---- linearCrossEntropy ----

export interface LinearCrossEntropyRefOptions extends ClassLossOptions {
  linearBias?: ArrayLike<number>;
  softcap?: number;
  zLoss?: number;
}

export interface LinearCrossEntropyRefResult {
  loss: number | Float64Array;
  lse: Float64Array;
  gradInput: Float64Array;
  gradWeight: Float64Array;
  gradBias: Float64Array;
}

/**
 * linearCrossEntropy composed as torch would run it: logits = x W^T + b ([N, C], the (N, C)
 * matrix materialised), z = softcap tanh(logits / softcap), cross_entropy(z, target) (the
 * references above), plus zLoss * logsumexp(z)^2 per non-ignored position ('mean': divided by the
 * count of those positions); back-propagated through each step. `probabilities`: target is [N, C].
 */
export function linearCrossEntropy(
  x: RefTensor, w: RefTensor, target: ArrayLike<number>, probabilities: boolean, o: LinearCrossEntropyRefOptions = {},
): LinearCrossEntropyRefResult {
  const D = x.shape[x.shape.length - 1];
  const N = x.data.length / Math.max(1, D);
  const C = w.shape[0];
  const reduction = o.reduction ?? 'mean';
  const ii = o.ignoreIndex ?? -100;
  const raw = new Float64Array(N * C);
  const xd = Float64Array.from(x.data), wd = Float64Array.from(w.data); // locals: fast in jest's vm
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      let s = o.linearBias ? o.linearBias[c] : 0;
      for (let d = 0; d < D; d++) s += xd[n * D + d] * wd[c * D + d];
      raw[n * C + c] = s;
    }
  }
  const cap = o.softcap;
  const z = cap ? raw.map((v) => cap * Math.tanh(v / cap)) : raw;
  const zt = { data: z, shape: [N, C] };
  const ceOptions: ClassLossOptions = { weight: o.weight, ignoreIndex: o.ignoreIndex, reduction, labelSmoothing: o.labelSmoothing, dim: 1, gradOutput: o.gradOutput };
  const ce = probabilities ? crossEntropyProbs(zt, target, ceOptions) : crossEntropyIndex(zt, target, ceOptions);
  const lse = new Float64Array(N);
  const lp = logSoftmax(zt, 1);
  for (let n = 0; n < N; n++) lse[n] = z[n * C] - lp[n * C];
  let loss = ce.loss;
  const dz = ce.grad;
  const zLoss = o.zLoss ?? 0;
  if (zLoss > 0) {
    const kept = (n: number) => probabilities || target[n] !== ii;
    let count = 0;
    for (let n = 0; n < N; n++) if (kept(n)) count++;
    const zTerm = new Float64Array(N);
    for (let n = 0; n < N; n++) zTerm[n] = kept(n) ? zLoss * lse[n] * lse[n] : 0;
    if (typeof loss === 'number') {
      let s = 0;
      for (const v of zTerm) s += v;
      loss += reduction === 'mean' ? s / count : s;
    } else {
      loss = loss.map((v, n) => v + zTerm[n]);
    }
    // d lse / d z = softmax(z)
    for (let n = 0; n < N; n++) {
      if (!kept(n)) continue;
      const g = upstream(o.gradOutput, reduction, n);
      const scale = 2 * zLoss * lse[n] * (reduction === 'mean' ? g / count : g);
      for (let c = 0; c < C; c++) dz[n * C + c] += scale * Math.exp(lp[n * C + c]);
    }
  }
  const dRaw = cap ? dz.map((v, k) => v * (1 - Math.tanh(raw[k] / cap) ** 2)) : dz;
  const gradInput = new Float64Array(N * D);
  const gradWeight = new Float64Array(C * D);
  const gradBias = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const g = dRaw[n * C + c];
      gradBias[c] += g;
      for (let d = 0; d < D; d++) {
        gradInput[n * D + d] += g * wd[c * D + d];
        gradWeight[c * D + d] += g * xd[n * D + d];
      }
    }
  }
  return { loss, lse, gradInput, gradWeight, gradBias };
}
