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
      if (ignored(p)) continue;
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
    perEl[k] = x === -Infinity ? NaN : (Math.max(x, 0) * (1 - y) + m * p * y + lw * Math.log1p(Math.exp(-Math.abs(x)))) * w(k);
    const g = upstream(o.gradOutput, reduction, k);
    const scale = reduction === 'mean' ? g / n : g;
    const sig = 1 / (1 + Math.exp(-x));
    const local = o.posWeight ? lw * sig - pw(k) * y : sig - y;
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
