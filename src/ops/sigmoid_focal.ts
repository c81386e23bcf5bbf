// sigmoidFocalLoss: torchvision.ops.sigmoid_focal_loss (0.14), element-wise on logits.

import { fail, showShape } from '../errors.js';
import { getWorkspace } from '../loader.js';
import { asStored, checkOptions, FloatArray, floatTensor, precisionOf, product, numberOption, readArg, Tensor } from '../tensor.js';
import { floatTarget, literalWhereNonFinite, logitsTerm } from './bce.js';
import { LOSS_OPTIONS, LossOptionsBase, outReplaces, LossResult, LossStream, planLoss } from './loss.js';

export interface SigmoidFocalLossOptions<A extends FloatArray = FloatArray> extends LossOptionsBase<A> {
  /** Weight of the positive class, 1 - alpha for the negative one; a negative alpha disables the
   *  term (default 0.25). */
  alpha?: number;
  /** Exponent of the modulating factor (1 - p_t) (default 2). */
  gamma?: number;
}

const FN = 'sigmoidFocalLoss';
const OPTIONS = [...LOSS_OPTIONS, 'alpha', 'gamma'];

type Kernel = (x: number, y: number, n: number, alpha: number, gamma: number, loss: number, grad: number, scale: number, gradPerElement: number) => number;

/** A finite number option, or its default. */
export function finiteOption(fn: string, name: string, value: unknown, fallback: number): number {
  const v = numberOption(fn, name, value, fallback);
  if (!Number.isFinite(v)) fail(fn, `${name} must be finite, got ${v}`, RangeError);
  return v;
}

/** Focal loss of binary `target`s (probabilities, usually 0 or 1) under logits `input` of the same
 *  shape. Mirrors torchvision.ops.sigmoid_focal_loss, whose default reduction is 'none'. */
export function sigmoidFocalLoss<A extends FloatArray>(inputArg: Tensor<A>, targetArg: unknown, options?: SigmoidFocalLossOptions<A>): LossResult<A> {
  const opts = checkOptions(FN, options, OPTIONS);
  const inputRead = readArg(FN, 'input', inputArg); // (all read, then validated: linear_cross_entropy.ts)
  const target = readArg(FN, 'target', targetArg);
  const input = floatTensor(FN, 'input', inputRead);
  const { data: x, shape } = input;
  const y = floatTarget(FN, target, input, (s) => `target of shape ${showShape(s)} does not match the input shape ${showShape(shape)}`);
  const alpha = finiteOption(FN, 'alpha', opts.alpha, 0.25);
  const gamma = finiteOption(FN, 'gamma', opts.gamma, 2);
  const plan = planLoss(FN, { ...opts, reduction: opts.reduction ?? 'none' }, x, shape);
  const precision = precisionOf(x);
  const ws = getWorkspace(FN);
  const lanes = [{ data: x, rows: 1, name: 'input' }, { data: y, rows: 1, type: x.constructor as Float64ArrayConstructor, name: 'target' }];
  const n = product(shape); // not x.length: a getter read since may have shrunk x's resizable buffer (the stream refuses it)
  // (before the stream is built: loss.ts outReplaces)
  const overwritten = outReplaces(plan, x, y);
  const stream = new LossStream(ws, FN, plan, precision, n, 1, 1, lanes, []);
  const kernel = ws.kernel<Kernel>('sigmoidFocalLoss', precision);
  const result = stream.run(n, (c, scale) =>
    kernel(c.inputs[0], c.inputs[1], c.count, alpha, gamma, c.loss, c.grad, scale, c.gradOutput),
  ) as LossResult<A>;
  // A target of +-inf or NaN: torchvision's loss, ce (1 - p_t)^gamma (times alpha_t), is +-inf where
  // the kernel's gives NaN (red team 30; the gradients agree already)
  if (!overwritten) {
    const [xs, ys] = [stream.input(0), stream.input(1)];
    const read = asStored(precision); // (as the kernel reads a float64 target)
    literalWhereNonFinite(result, stream.total, n, (i) => read(ys[i]) - read(ys[i]) !== 0, (i) => {
      const xi = xs[i], yi = read(ys[i]), p = 1 / (1 + Math.exp(-xi));
      const loss = logitsTerm(xi, yi, null) * Math.pow(1 - (p * yi + (1 - p) * (1 - yi)), gamma);
      return alpha >= 0 ? (alpha * yi + (1 - alpha) * (1 - yi)) * loss : loss;
    }, plan.reduction === 'mean', null);
  }
  return result;
}
