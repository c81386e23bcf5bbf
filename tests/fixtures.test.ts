/**
 * Runs every case of tests/fixtures/*.json (written by tests/fixtures/generate.py from
 * PyTorch 1.13) through the public API and compares loss / output / gradient elementwise.
 *
 *   float32: |actual - expected| <= 1e-5  * (1 + |expected|)
 *   float64: |actual - expected| <= 1e-10 * (1 + |expected|)
 *   NaN must be NaN, +-Infinity must match exactly.
 *
 * The largest |actual - expected| / (1 + |expected|) seen per dtype is printed in afterAll.
 * Regenerate the fixtures with `npm run fixtures`.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as X from '../src';

// ------------------------------------------------------------------ fixture format

type Dtype = 'float32' | 'float64';
/** a JSON number, or "NaN" / "Infinity" / "-Infinity" */
type JNum = number | string;
interface JTensor {
  data: JNum[];
  shape: number[];
  type?: string;
}
type FnName =
  | 'crossEntropy'
  | 'nllLoss'
  | 'logSoftmax'
  | 'softmax'
  | 'logSoftmaxBackward'
  | 'softmaxBackward'
  | 'binaryCrossEntropy'
  | 'binaryCrossEntropyWithLogits';
interface Case {
  name: string;
  fn: FnName;
  dtype: Dtype;
  input: JTensor;
  target?: JTensor;
  gradOutput?: JTensor;
  options?: Record<string, unknown>;
  expected: { loss?: JNum | JTensor; grad?: JTensor; output?: JTensor };
}

// ------------------------------------------------------------------ the API as specified
// (accessed through this local view so the driver does not depend on the exact exported types)

type FloatArray = Float32Array | Float64Array;
interface Tensor {
  data: ArrayLike<number> | BigInt64Array;
  shape: number[];
}
type Options = Record<string, unknown>;
interface LossResult {
  loss: unknown;
  grad?: unknown;
}
type LossFn = (input: Tensor, target: unknown, options?: Options) => LossResult | Promise<LossResult>;
type UnaryFn = (input: Tensor, options?: Options) => unknown;
type BackwardFn = (gradOutput: Tensor, output: Tensor, options?: Options) => unknown;
interface Api {
  init(): Promise<unknown> | unknown;
  crossEntropy: LossFn;
  nllLoss: LossFn;
  binaryCrossEntropy: LossFn;
  binaryCrossEntropyWithLogits: LossFn;
  logSoftmax: UnaryFn;
  softmax: UnaryFn;
  logSoftmaxBackward: BackwardFn;
  softmaxBackward: BackwardFn;
}
const api = X as unknown as Api;

// ------------------------------------------------------------------ decoding

function dec(v: JNum): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  throw new Error(`bad encoded number ${JSON.stringify(v)}`);
}

const FLOAT_CTOR = { float32: Float32Array, float64: Float64Array } as const;

function floatArray(data: JNum[], dtype: Dtype): FloatArray {
  const a = new FLOAT_CTOR[dtype](data.length);
  for (let i = 0; i < data.length; i++) a[i] = dec(data[i]);
  return a;
}

function floatTensor(t: JTensor, dtype: Dtype): Tensor {
  return { data: floatArray(t.data, dtype), shape: t.shape.slice() };
}

const INT_CTOR = {
  Int8Array,
  Int16Array,
  Int32Array,
  Uint8Array,
  Uint16Array,
  Uint32Array,
} as const;

function buildTarget(t: JTensor, dtype: Dtype): unknown {
  const shape = t.shape.slice();
  switch (t.type) {
    case 'scalar':
      return dec(t.data[0]);
    case 'float':
      return { data: floatArray(t.data, dtype), shape };
    case 'number[]':
      return { data: t.data.map(dec), shape };
    case 'BigInt64Array':
      return { data: BigInt64Array.from(t.data.map((v) => BigInt(dec(v)))), shape };
    default: {
      const ctor = INT_CTOR[t.type as keyof typeof INT_CTOR];
      if (!ctor) throw new Error(`unknown target type ${String(t.type)}`);
      return { data: ctor.from(t.data.map(dec)), shape };
    }
  }
}

const isBackward = (fn: FnName): boolean => fn === 'logSoftmaxBackward' || fn === 'softmaxBackward';

function buildOptions(c: Case): Options {
  const o: Options = {};
  for (const [k, v] of Object.entries(c.options ?? {})) {
    if (k === 'weight' || k === 'posWeight') {
      // bare number[] (1-D, broadcasts along the last dim) or a {data, shape} tensor
      o[k] = Array.isArray(v) ? (v as JNum[]).map(dec) : floatTensor(v as JTensor, c.dtype);
    } else if (k === 'gradOutput') {
      o[k] = dec(v as JNum);
    } else {
      o[k] = v;
    }
  }
  if (!isBackward(c.fn)) {
    // an array gradOutput (reduction 'none') travels at the top level of the case
    if (c.gradOutput) o.gradOutput = floatArray(c.gradOutput.data, c.dtype);
    if (c.expected.grad) o.grad = true;
  }
  return o;
}

// ------------------------------------------------------------------ comparison

const TOL: Record<Dtype, number> = { float32: 1e-5, float64: 1e-10 };
const worst: Record<Dtype, { err: number; where: string }> = {
  float32: { err: 0, where: '(none)' },
  float64: { err: 0, where: '(none)' },
};

/** a returned array: a typed array, or (tolerated) a {data, shape} tensor holding one */
function unwrap(x: unknown, what: string): { data: unknown } {
  if (x !== null && typeof x === 'object' && !ArrayBuffer.isView(x) && 'data' in x) {
    return { data: (x as { data: unknown }).data };
  }
  if (x === undefined) throw new Error(`${what}: missing from the result`);
  return { data: x };
}

function expectArray(c: Case, what: string, actualRaw: unknown, expected: JTensor): void {
  const { data } = unwrap(actualRaw, what);
  const ctor = FLOAT_CTOR[c.dtype];
  if (!(data instanceof ctor)) {
    const got =
      data !== null && typeof data === 'object' ? (data as object).constructor.name : typeof data;
    throw new Error(`${what}: expected a ${ctor.name} (input dtype ${c.dtype}), got ${got}`);
  }
  compareValues(c, what, data as FloatArray, expected.data);
}

function compareValues(c: Case, what: string, actual: ArrayLike<number>, expected: JNum[]): void {
  expect({ what, length: actual.length }).toEqual({ what, length: expected.length });
  const tol = TOL[c.dtype];
  const bad: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    const e = dec(expected[i]);
    const a = actual[i];
    let ok: boolean;
    if (Number.isNaN(e)) ok = Number.isNaN(a);
    else if (!Number.isFinite(e)) ok = a === e;
    else if (!Number.isFinite(a)) ok = false;
    else {
      const err = Math.abs(a - e) / (1 + Math.abs(e));
      if (err > worst[c.dtype].err) worst[c.dtype] = { err, where: `${c.name} ${what}[${i}]` };
      ok = err <= tol;
    }
    if (!ok) bad.push(`${what}[${i}]: got ${a}, expected ${e}`);
  }
  if (bad.length > 0) {
    const more = bad.length > 8 ? ` ... and ${bad.length - 8} more` : '';
    throw new Error(
      `${c.name}: ${bad.length} of ${expected.length} ${what} values out of tolerance ` +
        `${tol} * (1 + |expected|):\n  ${bad.slice(0, 8).join('\n  ')}${more}`,
    );
  }
}

function expectLoss(c: Case, actual: unknown, expected: JNum | JTensor): void {
  if (typeof expected === 'object') {
    // reduction 'none': a typed array of the input's float type (one element when unbatched)
    expectArray(c, 'loss', actual, expected);
  } else {
    if (typeof actual !== 'number') {
      throw new Error(`loss: expected a JS number for mean/sum, got ${typeof actual}`);
    }
    compareValues(c, 'loss', [actual], [expected]);
  }
}

// ------------------------------------------------------------------ running a case

async function runCase(c: Case): Promise<void> {
  const input = floatTensor(c.input, c.dtype);
  const options = buildOptions(c);
  switch (c.fn) {
    case 'crossEntropy':
    case 'nllLoss':
    case 'binaryCrossEntropy':
    case 'binaryCrossEntropyWithLogits': {
      if (!c.target) throw new Error('case without target');
      const res = await api[c.fn](input, buildTarget(c.target, c.dtype), options);
      if (c.expected.loss !== undefined) expectLoss(c, res.loss, c.expected.loss);
      if (c.expected.grad) expectArray(c, 'grad', res.grad, c.expected.grad);
      break;
    }
    case 'logSoftmax':
    case 'softmax': {
      const out = await api[c.fn](input, options);
      if (!c.expected.output) throw new Error('case without expected.output');
      expectArray(c, 'output', out, c.expected.output);
      break;
    }
    case 'logSoftmaxBackward':
    case 'softmaxBackward': {
      if (!c.gradOutput || !c.expected.grad) throw new Error('backward case without gradOutput/grad');
      // `input` holds the forward OUTPUT for the backward cases
      const g = await api[c.fn](floatTensor(c.gradOutput, c.dtype), input, options);
      expectArray(c, 'grad', g, c.expected.grad);
      break;
    }
    default:
      throw new Error(`unknown fn ${String((c as Case).fn)}`);
  }
}

// ------------------------------------------------------------------ the tests

const FIXTURE_FILES = ['crossEntropy.json', 'nllLoss.json', 'softmax.json', 'bce.json', 'edges.json'];

function loadCases(file: string): Case[] {
  const text = fs.readFileSync(path.join(__dirname, 'fixtures', file), 'utf8');
  const parsed = JSON.parse(text) as { cases: Case[] };
  if (!Array.isArray(parsed.cases) || parsed.cases.length === 0) {
    throw new Error(`${file}: no cases`);
  }
  return parsed.cases;
}

const seen = new Set<string>();
const allFiles = FIXTURE_FILES.map((file) => {
  const cases = loadCases(file);
  for (const c of cases) {
    if (seen.has(c.name)) throw new Error(`duplicate fixture case name ${c.name}`);
    seen.add(c.name);
  }
  return { file, cases };
});

beforeAll(async () => {
  await api.init();
});

afterAll(() => {
  const fmt = (d: Dtype): string =>
    `${d}: ${worst[d].err.toExponential(3)} (tolerance ${TOL[d]}; at ${worst[d].where})`;
  // eslint-disable-next-line no-console
  console.log(
    `fixtures: largest |actual - expected| / (1 + |expected|) over ${seen.size} cases\n` +
      `  ${fmt('float32')}\n  ${fmt('float64')}`,
  );
});

for (const { file, cases } of allFiles) {
  describe(file, () => {
    test.each(cases.map((c): [string, Case] => [c.name, c]))('%s', async (_name, c) => {
      await runCase(c);
    });
  });
}
