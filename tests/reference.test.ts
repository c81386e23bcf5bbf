// Proves the float64 reference (tests/reference.ts) against PyTorch itself: every committed golden
// fixture (tests/fixtures/*.json, written by PyTorch 1.13 in float64 from the very input values the
// case ships) is recomputed by the reference and must agree within 1e-12 * (1 + |expected|),
// with NaN and +-Infinity exactly where PyTorch has them. The property tests then trust the
// reference on inputs no fixture covers.
import * as fs from 'fs';
import * as path from 'path';
import * as R from './reference';

type JNum = number | string;
interface JTensor {
  data: JNum[];
  shape: number[];
  type?: string;
}
interface Case {
  name: string;
  fn: string;
  dtype: 'float32' | 'float64';
  input: JTensor;
  target?: JTensor;
  gradOutput?: JTensor;
  options?: Record<string, unknown>;
  expected: { loss?: JNum | JTensor; grad?: JTensor; output?: JTensor };
}

const dec = (v: JNum): number => (typeof v === 'number' ? v : v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : NaN);
const arr = (t: JTensor) => t.data.map(dec);
const tensor = (t: JTensor): R.RefTensor => ({ data: arr(t), shape: t.shape });

const TOL = 1e-12;
let worst = { err: 0, where: '' };
let compared = 0;

function compare(name: string, what: string, actual: ArrayLike<number>, expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  const bad: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const a = actual[i];
    compared++;
    if (Number.isNaN(e) || !Number.isFinite(e)) {
      if (!Object.is(a, e) && !(Number.isNaN(a) && Number.isNaN(e))) bad.push(`${what}[${i}]: ${a} vs ${e}`);
      continue;
    }
    const err = Math.abs(a - e) / (1 + Math.abs(e));
    if (!(err <= TOL)) bad.push(`${what}[${i}]: ${a} vs ${e}`);
    else if (err > worst.err) worst = { err, where: `${name} ${what}[${i}]` };
  }
  if (bad.length) throw new Error(`${name}: reference disagrees with PyTorch:\n  ${bad.slice(0, 8).join('\n  ')}`);
}

function run(c: Case): void {
  const o = { ...(c.options ?? {}) } as Record<string, unknown>;
  const input = tensor(c.input);
  const gradOutput = c.gradOutput ? arr(c.gradOutput) : o.gradOutput !== undefined ? dec(o.gradOutput as JNum) : undefined;
  const reduction = (o.reduction as R.Reduction | undefined) ?? 'mean';
  const weightOpt = o.weight as JNum[] | JTensor | undefined;
  const asTensor = (w: JNum[] | JTensor | undefined): R.RefTensor | undefined =>
    w === undefined ? undefined : Array.isArray(w) ? { data: w.map(dec), shape: [w.length] } : tensor(w);
  let res: R.RefResult;
  switch (c.fn) {
    case 'logSoftmax':
    case 'softmax': {
      const y = R[c.fn](input, (o.dim as number | undefined) ?? -1);
      return compare(c.name, 'output', y, arr(c.expected.output!));
    }
    case 'logSoftmaxBackward':
    case 'softmaxBackward': {
      const g = R[c.fn](tensor(c.gradOutput!), input, (o.dim as number | undefined) ?? -1);
      return compare(c.name, 'grad', g, arr(c.expected.grad!));
    }
    case 'crossEntropy':
    case 'nllLoss': {
      const t = c.target!;
      const opts: R.ClassLossOptions = {
        weight: asTensor(weightOpt)?.data,
        ignoreIndex: o.ignoreIndex as number | undefined,
        reduction,
        labelSmoothing: o.labelSmoothing as number | undefined,
        dim: o.dim as number | undefined,
        gradOutput,
      };
      if (c.fn === 'nllLoss') res = R.nllLoss(input, arr(t), opts);
      else if (t.type === 'float') res = R.crossEntropyProbs(input, arr(t), opts);
      else res = R.crossEntropyIndex(input, arr(t), opts);
      break;
    }
    case 'binaryCrossEntropy':
    case 'binaryCrossEntropyWithLogits':
      res = R[c.fn](input, arr(c.target!), { weight: asTensor(weightOpt), posWeight: asTensor(o.posWeight as JNum[] | JTensor | undefined), reduction, gradOutput });
      break;
    case 'klDiv':
      res = R.klDiv(input, arr(c.target!), { reduction: o.reduction as R.KlDivOptions['reduction'], logTarget: o.logTarget as boolean | undefined, gradOutput });
      break;
    case 'sigmoidFocalLoss':
      res = R.sigmoidFocalLoss(input, arr(c.target!), { reduction: o.reduction as R.Reduction | undefined, alpha: o.alpha as number | undefined, gamma: o.gamma as number | undefined, gradOutput });
      break;
    case 'focalLoss':
      res = R.focalLoss(input, arr(c.target!), { weight: asTensor(weightOpt)?.data, ignoreIndex: o.ignoreIndex as number | undefined, reduction, dim: o.dim as number | undefined, gamma: o.gamma as number | undefined, gradOutput });
      break;
    default:
      throw new Error(`unknown fn ${c.fn}`);
  }
  const exp = c.expected;
  if (exp.loss !== undefined) {
    if (typeof exp.loss === 'object') compare(c.name, 'loss', res.loss as Float64Array, arr(exp.loss));
    else {
      expect(typeof res.loss).toBe('number');
      compare(c.name, 'loss', [res.loss as number], [dec(exp.loss)]);
    }
  }
  if (exp.grad) compare(c.name, 'grad', res.grad, arr(exp.grad));
}

const files = ['crossEntropy.json', 'nllLoss.json', 'softmax.json', 'bce.json', 'klDiv.json', 'sigmoidFocalLoss.json', 'focalLoss.json'];
const cases: Case[] = files.flatMap((f) => (JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', f), 'utf8')) as { cases: Case[] }).cases);

afterAll(() => {
  // eslint-disable-next-line no-console
  console.log(`reference vs PyTorch fixtures: ${cases.length} cases, ${compared} values, largest relative error ${worst.err.toExponential(2)} (${worst.where})`);
});

test('every fixture is covered', () => {
  expect(cases.length).toBeGreaterThan(800);
});

test.each(cases.map((c): [string, Case] => [c.name, c]))('%s', (_n, c) => run(c));

test('the BCE gradient clamp is float32 1e-12', () => {
  expect(R.BCE_GRAD_EPS).toBe(9.999999960041972e-13);
});
