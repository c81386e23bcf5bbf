// klDiv: torch.nn.functional.kl_div (PyTorch 1.13) on log-probabilities, element-wise.

import { fail, showShape } from '../errors.js';
import { getWorkspace } from '../loader.js';
import { checkBoolean, checkOptions, checkReduction, FloatArray, floatTensor, precisionOf, product, readArg, Reduction, Tensor } from '../tensor.js';
import { floatTarget } from './bce.js';
import { LOSS_OPTIONS, LossOptionsBase, LossResult, LossStream, planLoss } from './loss.js';

export type KlDivReduction = Reduction | 'batchmean';

export interface KlDivOptions<A extends FloatArray = FloatArray> extends Omit<LossOptionsBase<A>, 'reduction'> {
  /** 'mean' (PyTorch 1.13's default) averages over every element; 'batchmean' divides the sum by
   *  input.shape[0], the mathematical KL divergence per sample. */
  reduction?: KlDivReduction;
  /** The target holds log-probabilities instead of probabilities. */
  logTarget?: boolean;
}

const FN = 'klDiv';
const OPTIONS = [...LOSS_OPTIONS, 'logTarget'];

type KlDivKernel = (x: number, t: number, n: number, logTarget: number, loss: number, grad: number, scale: number, gradPerElement: number) => number;

/** KL divergence loss of `target` from `input` (log-probabilities), either of any shape, the
 *  target of the input's shape. Mirrors torch.nn.functional.kl_div. */
export function klDiv<A extends FloatArray>(inputArg: Tensor<A>, targetArg: unknown, options?: KlDivOptions<A>): LossResult<A> {
  const opts = checkOptions(FN, options, OPTIONS);
  const inputRead = readArg(FN, 'input', inputArg); // (all read, then validated: linear_cross_entropy.ts)
  const target = readArg(FN, 'target', targetArg);
  const input = floatTensor(FN, 'input', inputRead);
  const { data: x, shape } = input;
  const t = floatTarget(FN, target, input, (s) => `target of shape ${showShape(s)} does not match the input shape ${showShape(shape)} (klDiv takes a target of the input's shape)`);
  const reduction: string = checkReduction(FN, opts.reduction, true);
  const logTarget = checkBoolean(FN, 'logTarget', opts.logTarget);
  // 'batchmean' is 'mean' with input.shape[0] as the denominator (PyTorch divides the sum by
  // it; a 0-d input is just summed).
  const batchmean = reduction === 'batchmean';
  const plan = planLoss(FN, { ...opts, reduction: batchmean ? 'mean' : reduction }, x, shape);
  const n = product(shape); // not x.length: a getter read since may have shrunk x's resizable buffer (the stream refuses it)
  const denominator = batchmean ? (shape.length === 0 ? 1 : shape[0]) : n;
  const precision = precisionOf(x);
  const ws = getWorkspace(FN);
  const stream = new LossStream(ws, FN, plan, precision, n, 1, 1, [{ data: x, rows: 1, name: 'input' }, { data: t, rows: 1, type: x.constructor as Float64ArrayConstructor, name: 'target' }], []);
  const kernel = ws.kernel<KlDivKernel>('klDiv', precision);
  return stream.run(denominator, (c, scale) =>
    kernel(c.inputs[0], c.inputs[1], c.count, logTarget ? 1 : 0, c.loss, c.grad, scale, c.gradOutput),
  ) as LossResult<A>;
}
