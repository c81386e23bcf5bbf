// Property-based tests (fast-check): every function, all options, both float types, K-dim shapes
// with the class dim anywhere, and hostile values, against the float64 reference in
// tests/reference.ts (itself proven on the PyTorch fixtures by tests/reference.test.ts); plus
// invariants that need no reference.
//
// Tolerances, with e the reference value (float64 arithmetic on exactly the values the library got,
// i.e. float32-rounded for float32 cases) and a the library's:
//   finite e:  |a - e| <= tol * (1 + |e|), tol = 1e-5 (float32) or 1e-10 (float64)
//   NaN e:     a is NaN;   +-Infinity e: a === e
//   an exact 0 the reference gets from a -Infinity logit (its probability, its gradient) must be an
//   exact 0 in the library too.
//
// The run's seed is printed; fast-check's failure message repeats it with the shrunk counterexample.
// Reproduce with FC_SEED=<seed> npx jest tests/properties.test.ts.
import fc from 'fast-check';
import * as X from '../src';
import * as R from './reference';

type Dtype = 'f32' | 'f64';
type Reduction = 'mean' | 'sum' | 'none';

const SEED = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : (Date.now() ^ (process.pid << 16)) >>> 0;
const SCALE = Number(process.env.FC_RUNS_SCALE ?? 1); // e.g. FC_RUNS_SCALE=10 for a longer local run
fc.configureGlobal({ seed: SEED });
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));

let generated = 0;
const perProperty: Record<string, number> = {};

beforeAll(async () => {
  await X.init();
  // eslint-disable-next-line no-console
  console.log(`properties: fast-check seed ${SEED} (reproduce with FC_SEED=${SEED})`);
});

afterAll(() => {
  // eslint-disable-next-line no-console
  console.log(`properties: ${generated} generated cases, seed ${SEED}\n  ${Object.entries(perProperty).map(([k, v]) => `${k}: ${v}`).join('\n  ')}`);
});

/** Runs a property, counting its cases; the seed is in fast-check's failure message. */
function property<T>(name: string, arb: fc.Arbitrary<T>, numRuns: number, check: (v: T) => void): void {
  test(name, () => {
    perProperty[name] = 0;
    fc.assert(
      fc.property(arb, (v) => {
        generated++;
        perProperty[name]++;
        check(v);
      }),
      { numRuns: runs(numRuns), seed: SEED },
    );
  });
}

// ------------------------------------------------------------------ helpers

const TOL: Record<Dtype, number> = { f32: 1e-5, f64: 1e-10 };
const round = (dtype: Dtype, v: number) => (dtype === 'f32' ? Math.fround(v) : v);
const floats = (dtype: Dtype, v: ArrayLike<number>) => (dtype === 'f32' ? Float32Array.from(v) : Float64Array.from(v));
const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/**
 * Compares a library result with the reference. `zeroFrom`: for each element, whether the
 * reference's exact 0 there comes from a -Infinity logit and must be exact in the library too.
 */
function expectClose(what: string, dtype: Dtype, actual: number | ArrayLike<number> | undefined, expected: number | ArrayLike<number>, zeroFrom?: (i: number) => boolean): void {
  if (typeof expected === 'number') {
    if (typeof actual !== 'number') throw new Error(`${what}: expected a number, got ${typeof actual}`);
    return expectClose(what, dtype, [actual], [expected]);
  }
  if (actual === undefined || typeof actual === 'number') throw new Error(`${what}: expected an array, got ${typeof actual}`);
  const ctor = dtype === 'f32' ? Float32Array : Float64Array;
  if (!(actual instanceof ctor) && !Array.isArray(actual)) throw new Error(`${what}: expected a ${ctor.name}, got ${(actual as object).constructor.name}`);
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length}, expected ${expected.length}`);
  const tol = TOL[dtype];
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const a = actual[i];
    let ok: boolean;
    if (Number.isNaN(e)) ok = Number.isNaN(a);
    else if (!Number.isFinite(e)) ok = a === e;
    else if (e === 0 && zeroFrom?.(i)) ok = a === 0;
    else ok = Number.isFinite(a) && Math.abs(a - e) <= tol * (1 + Math.abs(e));
    if (!ok) throw new Error(`${what}[${i}]: got ${a}, reference ${e} (${dtype}, tolerance ${tol} * (1 + |e|))`);
  }
}

/** Moves axis `dim` of a row-major array to the end. */
function toChannelsLast(data: ArrayLike<number>, shape: readonly number[], dim: number): { data: Float64Array; shape: number[] } {
  const outer = prod(shape.slice(0, dim));
  const C = shape[dim];
  const inner = prod(shape.slice(dim + 1));
  const out = new Float64Array(data.length);
  for (let o = 0; o < outer; o++) for (let c = 0; c < C; c++) for (let i = 0; i < inner; i++) out[(o * inner + i) * C + c] = data[(o * C + c) * inner + i];
  return { data: out, shape: [...shape.slice(0, dim), ...shape.slice(dim + 1), C] };
}

// ------------------------------------------------------------------ arbitraries

/** A logit: moderate, or (hostile) +-1e4 (float32) / +-1e300 (float64), -Infinity, NaN. */
function logitArb(dtype: Dtype, hostile: boolean): fc.Arbitrary<number> {
  const moderate = fc.double({ min: -20, max: 20, noNaN: true });
  if (!hostile) return moderate;
  const big = dtype === 'f32' ? 1e4 : 1e300;
  return fc.oneof(
    { arbitrary: moderate, weight: 10 },
    { arbitrary: fc.constantFrom(big, -big), weight: 3 },
    { arbitrary: fc.double({ min: -big, max: big, noNaN: true }), weight: 2 },
    { arbitrary: fc.constant(-Infinity), weight: 3 },
    { arbitrary: fc.constant(NaN), weight: 1 },
  );
}

interface Layout {
  dtype: Dtype;
  hostile: boolean;
  shape: number[];
  /** the class dim, non-negative */
  dim: number;
  /** what is passed as `dim` (undefined: the default) */
  dimOpt: number | undefined;
  C: number;
  positions: number;
  n: number;
}

/** A K-dim shape (1 to 4 dims of 1..4, sometimes an empty batch) with its class dim anywhere. */
function layoutArb(defaultDim: (ndim: number) => number, hostileShare = 0.3): fc.Arbitrary<Layout> {
  return fc
    .record({
      dtype: fc.constantFrom<Dtype>('f32', 'f64'),
      hostile: fc.double({ min: 0, max: 1, noNaN: true }).map((u) => u < hostileShare),
      shape: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
      emptyBatch: fc.integer({ min: 0, max: 29 }).map((k) => k === 0),
      dimPick: fc.nat(),
      dimStyle: fc.constantFrom('default', 'positive', 'negative'),
    })
    .map(({ dtype, hostile, shape, emptyBatch, dimPick, dimStyle }) => {
      const ndim = shape.length;
      const dim = dimStyle === 'default' ? defaultDim(ndim) : dimPick % ndim;
      const dimOpt = dimStyle === 'default' ? undefined : dimStyle === 'positive' ? dim : dim - ndim;
      const s = shape.slice();
      if (emptyBatch && ndim > 1) s[dim === 0 ? 1 : 0] = 0;
      const n = prod(s);
      return { dtype, hostile, shape: s, dim, dimOpt, C: s[dim], positions: n / s[dim], n };
    });
}

const reductionArb = fc.constantFrom<Reduction>('mean', 'sum', 'none');
const arrayOf = <T>(a: fc.Arbitrary<T>, n: number) => fc.array(a, { minLength: n, maxLength: n });
/** Non-negative weights, exact zeros included; no subnormals (whose products underflow to 0 in an
 *  order-dependent way, e.g. (-inf * 5e-324) * 5e-324 = -inf but -inf * (5e-324 * 5e-324) = NaN). */
const positive = fc.oneof({ arbitrary: fc.double({ min: 1e-3, max: 3, noNaN: true }), weight: 5 }, { arbitrary: fc.constant(0), weight: 1 });
/** A label-smoothing value in [0, 1], 0 and 1 included, no subnormals. */
const smoothingArb = fc.oneof(fc.constant(0), fc.double({ min: 1e-6, max: 1, noNaN: true }), fc.constant(1));
const classDefault = (ndim: number) => (ndim === 1 ? 0 : 1);

/** Upstream gradient: a number for mean/sum, or per position for 'none' (sometimes absent). */
function gradOutputArb(reduction: Reduction, count: number): fc.Arbitrary<number | number[] | undefined> {
  const g = fc.double({ min: -2, max: 2, noNaN: true });
  const value: fc.Arbitrary<number | number[]> = reduction === 'none' ? arrayOf(g, count) : g;
  return fc.option(value, { nil: undefined });
}

// ------------------------------------------------------------------ softmax family

/** softmax-style: `dim` defaults to -1 (the last dim). */
function lastDimDefault(l: Layout): Layout {
  const dim = l.dimOpt === undefined ? l.shape.length - 1 : l.dim;
  const C = l.shape[dim];
  return { ...l, dimOpt: l.dimOpt ?? -1, dim, C, positions: C === 0 ? 0 : l.n / C };
}

const softmaxCase = layoutArb(() => 0).chain((l) =>
  fc.record({
    l: fc.constant(lastDimDefault(l)),
    x: arrayOf(logitArb(l.dtype, l.hostile), l.n),
    log: fc.boolean(),
  }),
);

property('logSoftmax / softmax match the reference (any dim, hostile values)', softmaxCase, 250, ({ l, x, log }) => {
  const input = { data: floats(l.dtype, x), shape: l.shape };
  const ref = (log ? R.logSoftmax : R.softmax)({ data: Array.from(input.data), shape: l.shape }, l.dim);
  const got = (log ? X.logSoftmax : X.softmax)(input, { dim: l.dimOpt });
  // softmax of a -Infinity logit is an exact 0 (its log is -Infinity, checked as an infinity)
  expectClose(log ? 'logSoftmax' : 'softmax', l.dtype, got, ref, (i) => input.data[i] === -Infinity);
});

const backwardCase = layoutArb(() => 0, 0).chain((l) =>
  fc.record({
    l: fc.constant(lastDimDefault(l)),
    x: arrayOf(logitArb(l.dtype, false), l.n),
    g: arrayOf(fc.double({ min: -3, max: 3, noNaN: true }), l.n),
    log: fc.boolean(),
  }),
);

property('logSoftmaxBackward / softmaxBackward match the reference', backwardCase, 150, ({ l, x, g, log }) => {
  // y is a real forward output (rounded to the dtype), as in training
  const y = floats(l.dtype, (log ? R.logSoftmax : R.softmax)({ data: floats(l.dtype, x), shape: l.shape }, l.dim));
  const gg = floats(l.dtype, g);
  const ref = (log ? R.logSoftmaxBackward : R.softmaxBackward)({ data: Array.from(gg), shape: l.shape }, { data: Array.from(y), shape: l.shape }, l.dim);
  const got = (log ? X.logSoftmaxBackward : X.softmaxBackward)({ data: gg, shape: l.shape }, { data: y, shape: l.shape }, { dim: l.dimOpt });
  expectClose(log ? 'logSoftmaxBackward' : 'softmaxBackward', l.dtype, got, ref);
});

// ------------------------------------------------------------------ class-index losses

type TargetType = 'Int32Array' | 'Int16Array' | 'Int8Array' | 'Uint8Array' | 'Uint16Array' | 'Uint32Array' | 'BigInt64Array' | 'number[]';
const TARGET_TYPES: TargetType[] = ['Int32Array', 'Int16Array', 'Int8Array', 'Uint8Array', 'Uint16Array', 'Uint32Array', 'BigInt64Array', 'number[]'];

function makeTarget(values: number[], type: TargetType, positionShape: number[], asTensor: boolean): unknown {
  let data: unknown;
  const negative = values.some((v) => v < 0);
  if (type === 'number[]') data = values;
  else if (type === 'BigInt64Array') data = BigInt64Array.from(values.map(BigInt));
  else if (negative && type.startsWith('Uint')) data = Int32Array.from(values);
  else data = ({ Int32Array, Int16Array, Int8Array, Uint8Array, Uint16Array, Uint32Array } as const)[type].from(values);
  if (positionShape.length === 0 && !asTensor) return values[0]; // unbatched: a plain number
  return asTensor ? { data, shape: positionShape } : data;
}

const indexCase = (withSmoothing: boolean) =>
  layoutArb(classDefault).chain((l) =>
    fc
      .record({
        reduction: reductionArb,
        ignoreIndex: fc.constantFrom<number | undefined>(undefined, -100, -1, ...Array.from({ length: l.C }, (_, c) => c)),
        weighted: fc.boolean(),
        smoothing: withSmoothing ? smoothingArb : fc.constant(0),
      })
      .chain((o) =>
        fc.record({
          l: fc.constant(l),
          o: fc.constant(o),
          x: arrayOf(logitArb(l.dtype, l.hostile), l.n),
          t: arrayOf(fc.integer({ min: 0, max: l.C - 1 }), l.positions),
          ignored: arrayOf(fc.integer({ min: 0, max: 4 }).map((k) => k === 0), l.positions),
          weight: o.weighted ? arrayOf(positive, l.C) : fc.constant(undefined),
          gradOutput: gradOutputArb(o.reduction, l.positions),
          targetType: fc.constantFrom(...TARGET_TYPES),
          asTensor: fc.boolean(),
          useOut: fc.boolean(),
        }),
      ),
  );

type IndexCase = typeof indexCase extends (b: boolean) => fc.Arbitrary<infer T> ? T : never;

function runIndex(fn: 'crossEntropy' | 'nllLoss', c: IndexCase): void {
  const { l, o } = c;
  const ii = o.ignoreIndex ?? -100;
  const t = c.t.map((v, p) => (c.ignored[p] ? ii : v));
  const positionShape = l.shape.filter((_, i) => i !== l.dim);
  const input = { data: floats(l.dtype, c.x), shape: l.shape };
  const weight = c.weight && floats(l.dtype, c.weight);
  const gradOutput = c.gradOutput === undefined ? undefined : typeof c.gradOutput === 'number' ? round(l.dtype, c.gradOutput) : floats(l.dtype, c.gradOutput);
  const out = c.useOut ? (l.dtype === 'f32' ? new Float32Array(l.n).fill(7) : new Float64Array(l.n).fill(7)) : undefined;
  const options = {
    reduction: o.reduction,
    ...(o.ignoreIndex !== undefined && { ignoreIndex: o.ignoreIndex }),
    ...(weight && { weight }),
    ...(fn === 'crossEntropy' && o.smoothing !== 0 && { labelSmoothing: o.smoothing }),
    ...(l.dimOpt !== undefined && { dim: l.dimOpt }),
    ...(gradOutput !== undefined && { gradOutput }),
    ...(out ? { out } : { grad: true }),
  };
  const target = makeTarget(t, c.targetType, positionShape, c.asTensor);
  const got = fn === 'crossEntropy' ? X.crossEntropy(input, target as never, options) : X.nllLoss(input, target as never, options);
  const refOpts: R.ClassLossOptions = {
    reduction: o.reduction,
    ignoreIndex: ii,
    weight: weight && Array.from(weight),
    labelSmoothing: o.smoothing,
    dim: l.dim,
    gradOutput: gradOutput === undefined ? undefined : typeof gradOutput === 'number' ? gradOutput : Array.from(gradOutput),
  };
  const x = { data: Array.from(input.data), shape: l.shape };
  const ref = fn === 'crossEntropy' ? R.crossEntropyIndex(x, t, refOpts) : R.nllLoss(x, t, refOpts);
  expectClose(`${fn} loss`, l.dtype, got.loss, ref.loss);
  // A -Infinity logit's gradient is an exact 0 when nothing but its softmax feeds it (no smoothing).
  const noSmoothing = fn === 'nllLoss' || o.smoothing === 0;
  expectClose(`${fn} grad`, l.dtype, got.grad, ref.grad, (i) => fn === 'crossEntropy' && noSmoothing && input.data[i] === -Infinity);
  if (out && got.grad !== out) throw new Error('grad is not the out array');
}

property('crossEntropy (class indices) matches the reference: weight, ignoreIndex, labelSmoothing, reductions, dim, gradOutput, out', indexCase(true), 350, (c) => runIndex('crossEntropy', c));
property('nllLoss matches the reference: weight, ignoreIndex, reductions, dim, gradOutput, out', indexCase(false), 150, (c) => runIndex('nllLoss', c));

/** Wider shapes than `layoutArb`: long class rows (C up to 70) and many positions around a class
 *  dim in the middle, so vectorised main loops, their tails and cache blocks are all reached. */
const wideLayoutArb: fc.Arbitrary<Layout> = fc
  .record({
    dtype: fc.constantFrom<Dtype>('f32', 'f64'),
    hostile: fc.boolean(),
    N: fc.integer({ min: 1, max: 3 }),
    C: fc.integer({ min: 1, max: 70 }),
    inner: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 300 })),
  })
  .map(({ dtype, hostile, N, C, inner }) => {
    const shape = inner === 0 ? [N, C] : [N, C, Math.max(1, Math.min(inner, Math.floor(3000 / (N * C))))];
    const n = prod(shape);
    return { dtype, hostile, shape, dim: 1, dimOpt: undefined, C, positions: n / C, n };
  });

const wideCase = wideLayoutArb.chain((l) =>
  fc.record({
    l: fc.constant(l),
    o: fc.record({ reduction: reductionArb, ignoreIndex: fc.constant<number | undefined>(undefined), weighted: fc.boolean(), smoothing: smoothingArb }),
    x: arrayOf(logitArb(l.dtype, l.hostile), l.n),
    t: arrayOf(fc.integer({ min: 0, max: l.C - 1 }), l.positions),
    ignored: arrayOf(fc.integer({ min: 0, max: 9 }).map((k) => k === 0), l.positions),
    weight: arrayOf(positive, l.C),
    gradOutput: fc.constant(undefined),
    targetType: fc.constantFrom(...TARGET_TYPES),
    asTensor: fc.constant(true),
    useOut: fc.boolean(),
  }),
);

property('crossEntropy on wide shapes (C up to 70, up to 3000 elements, class dim 1) matches the reference', wideCase, 80, (c) =>
  runIndex('crossEntropy', { ...c, weight: c.o.weighted ? c.weight : undefined }),
);

property('logSoftmax / softmax on wide shapes match the reference (dim 1 and -1)', wideCase, 60, ({ l, x }) => {
  const input = { data: floats(l.dtype, x), shape: l.shape };
  for (const dim of [1, -1]) {
    const d = dim < 0 ? l.shape.length - 1 : dim;
    const ref = R.softmax({ data: Array.from(input.data), shape: l.shape }, d);
    expectClose('softmax (wide)', l.dtype, X.softmax(input, { dim }), ref, (i) => input.data[i] === -Infinity);
    const refLog = R.logSoftmax({ data: Array.from(input.data), shape: l.shape }, d);
    expectClose('logSoftmax (wide)', l.dtype, X.logSoftmax(input, { dim }), refLog);
  }
});

// ------------------------------------------------------------------ probability targets

const probsCase = layoutArb(classDefault).chain((l) =>
  fc.record({
    l: fc.constant(l),
    x: arrayOf(logitArb(l.dtype, l.hostile), l.n),
    // exact zeros (0 * -Infinity = NaN, as in torch) but no subnormals (see `positive`)
    p: arrayOf(fc.oneof(fc.double({ min: 1e-6, max: 1, noNaN: true }), fc.constant(0)), l.n),
    normalise: fc.boolean(),
    reduction: reductionArb,
    weight: fc.option(arrayOf(positive, l.C), { nil: undefined }),
    smoothing: smoothingArb,
    g: fc.double({ min: -2, max: 2, noNaN: true }),
    gs: arrayOf(fc.double({ min: -2, max: 2, noNaN: true }), l.positions),
    useG: fc.boolean(),
  }),
);

property('crossEntropy (class probabilities) matches the reference', probsCase, 200, (c) => {
  const { l } = c;
  let p = c.p.slice();
  if (c.normalise) {
    // make each position's probabilities sum to 1 (when they are not all 0)
    for (let o = 0; o < l.n / (l.C * prod(l.shape.slice(l.dim + 1))); o++) {
      const inner = prod(l.shape.slice(l.dim + 1));
      for (let i = 0; i < inner; i++) {
        let s = 0;
        for (let k = 0; k < l.C; k++) s += p[(o * l.C + k) * inner + i];
        if (s > 0) for (let k = 0; k < l.C; k++) p[(o * l.C + k) * inner + i] /= s;
      }
    }
  }
  const input = { data: floats(l.dtype, c.x), shape: l.shape };
  const target = floats(l.dtype, p);
  p = Array.from(target);
  const weight = c.weight && floats(l.dtype, c.weight);
  const gradOutput = !c.useG ? undefined : c.reduction === 'none' ? floats(l.dtype, c.gs) : round(l.dtype, c.g);
  const got = X.crossEntropy(input, { data: target, shape: l.shape }, {
    reduction: c.reduction,
    grad: true,
    ...(weight && { weight }),
    ...(c.smoothing !== 0 && { labelSmoothing: c.smoothing }),
    ...(l.dimOpt !== undefined && { dim: l.dimOpt }),
    ...(gradOutput !== undefined && { gradOutput }),
  });
  const ref = R.crossEntropyProbs({ data: Array.from(input.data), shape: l.shape }, p, {
    reduction: c.reduction,
    weight: weight && Array.from(weight),
    labelSmoothing: c.smoothing,
    dim: l.dim,
    gradOutput: gradOutput === undefined ? undefined : typeof gradOutput === 'number' ? gradOutput : Array.from(gradOutput),
  });
  expectClose('crossEntropy(probs) loss', l.dtype, got.loss, ref.loss);
  expectClose('crossEntropy(probs) grad', l.dtype, got.grad, ref.grad);
});

// ------------------------------------------------------------------ binary losses

/** An operand broadcastable to `shape`: a trailing slice of it with some dims set to 1, maybe bare. */
function broadcastArb(shape: number[]): fc.Arbitrary<{ shape: number[]; bare: boolean; values: number[] }> {
  return fc
    .record({ keep: fc.integer({ min: 0, max: shape.length }), ones: arrayOf(fc.boolean(), shape.length), bare: fc.boolean() })
    .chain(({ keep, ones, bare }) => {
      const s = shape.slice(shape.length - keep).map((d, i) => (ones[i] ? 1 : d));
      return fc.record({
        shape: fc.constant(s),
        bare: fc.constant(bare && s.length === 1),
        values: arrayOf(positive, prod(s)),
      });
    });
}

const bceCase = (logits: boolean) =>
  layoutArb(() => 0).chain((l) =>
    fc.record({
      l: fc.constant(l),
      x: logits
        ? arrayOf(logitArb(l.dtype, l.hostile), l.n)
        : arrayOf(
            l.hostile
              ? fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0, 1, 1e-30, 1 - 1e-7, 1e-7))
              : fc.double({ min: 1e-4, max: 1 - 1e-4, noNaN: true }),
            l.n,
          ),
      y: arrayOf(fc.oneof(fc.constantFrom(0, 1), fc.double({ min: 0, max: 1, noNaN: true })), l.n),
      reduction: reductionArb,
      weight: fc.option(broadcastArb(l.shape), { nil: undefined }),
      posWeight: logits ? fc.option(broadcastArb(l.shape), { nil: undefined }) : fc.constant(undefined),
      g: fc.double({ min: -2, max: 2, noNaN: true }),
      gs: arrayOf(fc.double({ min: -2, max: 2, noNaN: true }), l.n),
      useG: fc.boolean(),
      useOut: fc.boolean(),
    }),
  );

type BceCase = typeof bceCase extends (b: boolean) => fc.Arbitrary<infer T> ? T : never;

function runBce(logits: boolean, c: BceCase): void {
  const { l } = c;
  const input = { data: floats(l.dtype, c.x), shape: l.shape };
  const target = floats(l.dtype, c.y);
  const operand = (b: { shape: number[]; bare: boolean; values: number[] } | undefined) =>
    b && (b.bare ? floats(l.dtype, b.values) : { data: floats(l.dtype, b.values), shape: b.shape });
  const refOperand = (b: { shape: number[]; values: number[] } | undefined) => b && { data: Array.from(floats(l.dtype, b.values)), shape: b.shape };
  const gradOutput = !c.useG ? undefined : c.reduction === 'none' ? floats(l.dtype, c.gs) : round(l.dtype, c.g);
  const out = c.useOut ? (l.dtype === 'f32' ? new Float32Array(l.n) : new Float64Array(l.n)) : undefined;
  const options = {
    reduction: c.reduction,
    ...(c.weight && { weight: operand(c.weight) }),
    ...(c.posWeight && { posWeight: operand(c.posWeight) }),
    ...(gradOutput !== undefined && { gradOutput }),
    ...(out ? { out } : { grad: true }),
  };
  const got = logits ? X.binaryCrossEntropyWithLogits(input, target, options) : X.binaryCrossEntropy(input, target, options);
  const refOpts: R.BinaryOptions = {
    reduction: c.reduction,
    weight: refOperand(c.weight),
    posWeight: refOperand(c.posWeight),
    gradOutput: gradOutput === undefined ? undefined : typeof gradOutput === 'number' ? gradOutput : Array.from(gradOutput),
  };
  const x = { data: Array.from(input.data), shape: l.shape };
  const ref = logits ? R.binaryCrossEntropyWithLogits(x, Array.from(target), refOpts) : R.binaryCrossEntropy(x, Array.from(target), refOpts);
  const fn = logits ? 'binaryCrossEntropyWithLogits' : 'binaryCrossEntropy';
  expectClose(`${fn} loss`, l.dtype, got.loss, ref.loss);
  expectClose(`${fn} grad`, l.dtype, got.grad, ref.grad);
  if (out && got.grad !== out) throw new Error('grad is not the out array');
}

property('binaryCrossEntropy matches the reference (weight broadcast, p = 0 and 1, reductions, gradOutput, out)', bceCase(false), 150, (c) => runBce(false, c));
property('binaryCrossEntropyWithLogits matches the reference (weight and posWeight broadcast, hostile logits)', bceCase(true), 150, (c) => runBce(true, c));

// ------------------------------------------------------------------ target helpers

const helperCase = fc.record({
  C: fc.integer({ min: 1, max: 12 }),
  n: fc.integer({ min: 0, max: 60 }),
  type: fc.constantFrom(...TARGET_TYPES),
}).chain(({ C, n, type }) => fc.record({ C: fc.constant(C), type: fc.constant(type), t: arrayOf(fc.integer({ min: 0, max: C - 1 }), n) }));

property('oneHot and inverseFrequencyWeights match their definitions (any integer array type)', helperCase, 100, ({ C, type, t }) => {
  const target = makeTarget(t, type, [t.length], false);
  expectClose('oneHot', 'f32', X.oneHot(target as never, C), R.oneHot(t, C));
  // float32 output of a float64 definition: within float32 rounding
  expectClose('inverseFrequencyWeights', 'f32', X.inverseFrequencyWeights(target as never, C), R.inverseFrequencyWeights(t, C));
});

test('inverseFrequencyWeights of a binary mask is [alpha, 1 - alpha], alpha = mean(mask) (README)', () => {
  const mask = Uint8Array.from({ length: 40 }, (_, i) => (i % 4 === 0 ? 1 : 0)); // mean 0.25
  const w = X.inverseFrequencyWeights(mask, 2);
  expect(w[0]).toBeCloseTo(0.25, 7);
  expect(w[1]).toBeCloseTo(0.75, 7);
});

// ------------------------------------------------------------------ invariants (no reference)

const finiteCase = layoutArb(() => 0, 0).chain((l) =>
  fc.record({ l: fc.constant(lastDimDefault(l)), x: arrayOf(fc.double({ min: -30, max: 30, noNaN: true }), l.n) }),
);

property('softmax sums to 1 along its dim', finiteCase, 100, ({ l, x }) => {
  const y = X.softmax({ data: floats(l.dtype, x), shape: l.shape }, { dim: l.dimOpt });
  const inner = prod(l.shape.slice(l.dim + 1));
  for (let o = 0; o < l.n / (l.C * inner); o++) {
    for (let i = 0; i < inner; i++) {
      let s = 0;
      for (let c = 0; c < l.C; c++) {
        const v = y[(o * l.C + c) * inner + i];
        if (!(v >= 0 && v <= 1)) throw new Error(`softmax value ${v} outside [0, 1]`);
        s += v;
      }
      if (Math.abs(s - 1) > (l.dtype === 'f32' ? 1e-6 : 1e-14) * l.C) throw new Error(`softmax row sums to ${s}`);
    }
  }
});

const sumZeroCase = layoutArb(classDefault, 0).chain((l) =>
  fc.record({
    l: fc.constant(l),
    x: arrayOf(fc.double({ min: -20, max: 20, noNaN: true }), l.n),
    t: arrayOf(fc.integer({ min: 0, max: l.C - 1 }), l.positions),
    weight: fc.option(arrayOf(fc.double({ min: 0.1, max: 3, noNaN: true }), l.C), { nil: undefined }),
    smoothing: smoothingArb,
  }),
);

property('the gradient of mean cross-entropy sums to zero along the class dim', sumZeroCase, 100, ({ l, x, t, weight, smoothing }) => {
  if (l.positions === 0) return;
  const { grad } = X.crossEntropy({ data: floats(l.dtype, x), shape: l.shape }, { data: t, shape: l.shape.filter((_, i) => i !== l.dim) }, {
    grad: true, labelSmoothing: smoothing, ...(weight && { weight }), ...(l.dimOpt !== undefined && { dim: l.dimOpt }),
  });
  const inner = prod(l.shape.slice(l.dim + 1));
  for (let o = 0; o < l.n / (l.C * inner); o++) {
    for (let i = 0; i < inner; i++) {
      let s = 0;
      let size = 0;
      for (let c = 0; c < l.C; c++) {
        s += grad![(o * l.C + c) * inner + i];
        size += Math.abs(grad![(o * l.C + c) * inner + i]);
      }
      if (Math.abs(s) > (l.dtype === 'f32' ? 1e-6 : 1e-14) * (1 + size)) throw new Error(`gradient sums to ${s} along the class dim`);
    }
  }
});

const oneHotCase = layoutArb(classDefault, 0).chain((l) =>
  fc.record({
    l: fc.constant(l),
    x: arrayOf(fc.double({ min: -20, max: 20, noNaN: true }), l.n),
    t: arrayOf(fc.integer({ min: 0, max: l.C - 1 }), l.positions),
    reduction: reductionArb,
    weight: fc.option(arrayOf(fc.double({ min: 0.1, max: 3, noNaN: true }), l.C), { nil: undefined }),
    smoothing: smoothingArb,
  }),
);

property('one-hot probability targets equal index targets (sum, none; mean without weight)', oneHotCase, 100, ({ l, x, t, reduction, weight, smoothing }) => {
  const w = reduction === 'mean' ? undefined : weight;
  const input = { data: floats(l.dtype, x), shape: l.shape };
  const inner = prod(l.shape.slice(l.dim + 1));
  const oneHot = new Float64Array(l.n);
  t.forEach((c, p) => (oneHot[(Math.floor(p / inner) * l.C + c) * inner + (p % inner)] = 1));
  const options = { reduction, grad: true, labelSmoothing: smoothing, ...(w && { weight: w }), ...(l.dimOpt !== undefined && { dim: l.dimOpt }) };
  const a = X.crossEntropy(input, { data: t, shape: l.shape.filter((_, i) => i !== l.dim) }, options);
  const b = X.crossEntropy(input, { data: floats(l.dtype, oneHot), shape: l.shape }, options);
  expectClose('one-hot loss', l.dtype, b.loss, a.loss as number | ArrayLike<number>);
  expectClose('one-hot grad', l.dtype, b.grad, a.grad!);
});

const permuteCase = layoutArb(classDefault, 0.3).chain((l) =>
  fc.record({
    l: fc.constant(l),
    x: arrayOf(logitArb(l.dtype, l.hostile), l.n),
    t: arrayOf(fc.integer({ min: 0, max: l.C - 1 }), l.positions),
    p: arrayOf(fc.double({ min: 0, max: 1, noNaN: true }), l.n),
    fn: fc.constantFrom('crossEntropy', 'crossEntropyProbs', 'nllLoss', 'logSoftmax', 'softmax'),
    reduction: reductionArb,
    weight: fc.option(arrayOf(positive, l.C), { nil: undefined }),
    smoothing: smoothingArb,
  }),
);

property("permuting to channels-last with dim: -1 changes nothing", permuteCase, 100, ({ l, x, t, p, fn, reduction, weight, smoothing }) => {
  const input = { data: floats(l.dtype, x), shape: l.shape };
  const last = toChannelsLast(input.data, l.shape, l.dim);
  const inputLast = { data: floats(l.dtype, last.data), shape: last.shape };
  const positionShape = l.shape.filter((_, i) => i !== l.dim);
  const back = (a: ArrayLike<number>) => toChannelsLast(a, l.shape, l.dim).data;
  if (fn === 'logSoftmax' || fn === 'softmax') {
    const a = X[fn](input, { dim: l.dim });
    const b = X[fn](inputLast, { dim: -1 });
    return expectClose(`${fn} channels-last`, l.dtype, b, back(a));
  }
  const common = { reduction, grad: true, ...(weight && { weight }) };
  let a: X.LossResult;
  let b: X.LossResult;
  if (fn === 'crossEntropyProbs') {
    const target = floats(l.dtype, p);
    a = X.crossEntropy(input, { data: target, shape: l.shape }, { ...common, dim: l.dim, labelSmoothing: smoothing });
    b = X.crossEntropy(inputLast, { data: floats(l.dtype, toChannelsLast(target, l.shape, l.dim).data), shape: last.shape }, { ...common, dim: -1, labelSmoothing: smoothing });
  } else if (fn === 'crossEntropy') {
    a = X.crossEntropy(input, { data: t, shape: positionShape }, { ...common, dim: l.dim, labelSmoothing: smoothing });
    b = X.crossEntropy(inputLast, { data: t, shape: positionShape }, { ...common, dim: -1, labelSmoothing: smoothing });
  } else {
    a = X.nllLoss(input, { data: t, shape: positionShape }, { ...common, dim: l.dim });
    b = X.nllLoss(inputLast, { data: t, shape: positionShape }, { ...common, dim: -1 });
  }
  expectClose(`${fn} channels-last loss`, l.dtype, b.loss, a.loss as number | ArrayLike<number>);
  expectClose(`${fn} channels-last grad`, l.dtype, b.grad, back(a.grad!));
});

// ------------------------------------------------------------------ CTC

/** A CTC problem: (T, N, C) log-probabilities (log_softmax of logits at scale 1, 50 or 3000, the
 *  last reaching -1e4 nats in a frame; float64 also 1e300), sometimes -Infinity entries, random
 *  blank, targets (never the blank) of 0..4 labels padded or concatenated, input lengths 0..T,
 *  every option. */
const ctcCase = fc
  .record({
    dtype: fc.constantFrom<Dtype>('f32', 'f64'),
    T: fc.integer({ min: 0, max: 7 }),
    N: fc.integer({ min: 0, max: 3 }),
    C: fc.integer({ min: 2, max: 5 }),
    unbatched: fc.integer({ min: 0, max: 5 }).map((k) => k === 0),
    scale: fc.constantFrom(1, 1, 50, 3000, 1e300),
    negInfShare: fc.constantFrom(0, 0, 0.1),
  })
  .chain((d) => {
    const N = d.unbatched ? 1 : d.N;
    return fc.record({
      d: fc.constant({ ...d, N }),
      logits: arrayOf(fc.double({ min: -3, max: 3, noNaN: true }), d.T * N * d.C),
      negInf: arrayOf(fc.double({ min: 0, max: 1, noNaN: true }).map((u) => u < d.negInfShare), d.T * N * d.C),
      blank: fc.integer({ min: 0, max: d.C - 1 }),
      labels: arrayOf(arrayOf(fc.integer({ min: 0, max: d.C - 2 }), 4), N),
      tl: arrayOf(fc.integer({ min: 0, max: 4 }), N),
      il: arrayOf(fc.integer({ min: 0, max: d.T }), N),
      padded: fc.boolean(),
      reduction: reductionArb,
      zeroInfinity: fc.boolean(),
      gradOutput: gradOutputArb('none', N),
      gradScalar: fc.option(fc.double({ min: -2, max: 2, noNaN: true }), { nil: undefined }),
      useOut: fc.boolean(),
    });
  });

property('ctcLoss matches the reference (padded and concatenated targets, every option, -inf and peaky inputs)', ctcCase, 300, (c) => {
  const { dtype, T, N, C, unbatched } = c.d;
  const scale = dtype === 'f32' ? Math.min(c.d.scale, 3000) : c.d.scale;
  const x = c.logits.map((v) => v * scale);
  const lpValues = R.logSoftmax({ data: x, shape: [T * N, C] }, -1).map((v, i) => (c.negInf[i] ? -Infinity : v));
  const data = floats(dtype, lpValues);
  const shape = unbatched ? [T, C] : [T, N, C];
  const targets = c.labels.map((l, b) => l.slice(0, c.tl[b]).map((v) => (v >= c.blank ? v + 1 : v)));
  const S = Math.max(0, ...c.tl);
  const padded = { data: targets.flatMap((t) => [...t, ...new Array<number>(S - t.length).fill(c.blank)]), shape: [N, S] };
  const target = c.padded ? padded : targets.flat();
  const gradOutput = c.reduction === 'none' ? (c.gradOutput === undefined ? undefined : floats(dtype, c.gradOutput as number[])) : c.gradScalar === undefined ? undefined : round(dtype, c.gradScalar);
  const out = c.useOut ? (dtype === 'f32' ? new Float32Array(data.length).fill(7) : new Float64Array(data.length).fill(7)) : undefined;
  const options = { blank: c.blank, reduction: c.reduction, zeroInfinity: c.zeroInfinity, ...(gradOutput !== undefined && { gradOutput }), ...(out ? { out } : { grad: true }) };
  const res = unbatched ? X.ctcLoss({ data, shape }, target, c.il[0], c.tl[0], options) : X.ctcLoss({ data, shape }, target, c.il, c.tl, options);
  const ref = R.ctcLoss({ data: Array.from(data), shape }, targets, c.il, { ...options, gradOutput: gradOutput as number | ArrayLike<number> | undefined });
  expectClose('ctcLoss loss', dtype, res.loss, ref.loss as number | ArrayLike<number>);
  // Log-probabilities of 1e300: the loss is exact to rounding, but PyTorch's gradient there is
  // itself rounding (alpha + beta + nll - lp of that size), so it is not compared.
  if (scale < 1e300) expectClose('ctcLoss grad', dtype, res.grad, ref.grad);
  if (out) expect(res.grad).toBe(out);
});

const longCtcCase = fc
  .record({ dtype: fc.constantFrom<Dtype>('f32', 'f64'), T: fc.integer({ min: 20, max: 80 }), C: fc.integer({ min: 2, max: 6 }), scale: fc.constantFrom(5, 40, 300) })
  .chain((d) =>
    fc.record({
      d: fc.constant(d),
      // uniform in [-3, 3] (fc.double favours values near 0, which are not peaky enough)
      logits: arrayOf(fc.integer({ min: -3000, max: 3000 }).map((v) => v / 1000), d.T * 2 * d.C),
      labels: arrayOf(arrayOf(fc.integer({ min: 1, max: d.C - 1 }), 15), 2),
      tl: arrayOf(fc.integer({ min: 0, max: 15 }), 2),
    }),
  );

property('ctcLoss on long, peaky sequences (states thousands of nats apart) matches the reference', longCtcCase, 60, ({ d, logits, labels, tl }) => {
  const { dtype, T, C, scale } = d;
  const data = floats(dtype, R.logSoftmax({ data: logits.map((v) => v * scale), shape: [T * 2, C] }, -1));
  const targets = labels.map((l, b) => l.slice(0, tl[b]));
  const il = [T, T - 3];
  const res = X.ctcLoss({ data, shape: [T, 2, C] }, targets.flat(), il, tl, { reduction: 'none', grad: true });
  const ref = R.ctcLoss({ data: Array.from(data), shape: [T, 2, C] }, targets, il, { reduction: 'none' });
  expectClose('ctcLoss loss', dtype, res.loss, ref.loss as Float64Array);
  expectClose('ctcLoss grad', dtype, res.grad, ref.grad);
});

test('at least 1000 cases were generated in this run', () => {
  expect(generated).toBeGreaterThanOrEqual(1000 * Math.min(SCALE, 1));
});

// ------------------------------------------------------------------ the rest of the family (issue 12)

/** A probability target: moderate, exactly 0, and (hostile) tiny, subnormal, negative or NaN. */
function probabilityArb(hostile: boolean): fc.Arbitrary<number> {
  const moderate = fc.oneof({ arbitrary: fc.double({ min: 1e-6, max: 1, noNaN: true }), weight: 4 }, { arbitrary: fc.constant(0), weight: 1 });
  if (!hostile) return moderate;
  return fc.oneof({ arbitrary: moderate, weight: 6 }, { arbitrary: fc.constantFrom(1e-30, 1e-39, 1e-310, -0.5, NaN, 1), weight: 1 });
}

const klDivCase = layoutArb(() => 0).chain((l) =>
  fc.record({
    l: fc.constant(l),
    x: arrayOf(logitArb(l.dtype, l.hostile).map((v) => (Number.isNaN(v) ? v : -Math.abs(v))), l.n),
    t: arrayOf(probabilityArb(l.hostile), l.n),
    logTarget: fc.boolean(),
    reduction: fc.constantFrom<Reduction | 'batchmean'>('mean', 'batchmean', 'sum', 'none'),
    g: fc.double({ min: -2, max: 2, noNaN: true }),
    gs: arrayOf(fc.double({ min: -2, max: 2, noNaN: true }), l.n),
    useG: fc.boolean(),
    useOut: fc.boolean(),
  }),
);

property('klDiv matches the reference (zero, tiny and hostile targets, -inf log-probabilities, logTarget, every reduction)', klDivCase, 200, (c) => {
  const { l } = c;
  const input = { data: floats(l.dtype, c.x), shape: l.shape };
  const t = floats(l.dtype, c.logTarget ? c.t.map(Math.log) : c.t);
  const gradOutput = !c.useG ? undefined : c.reduction === 'none' ? floats(l.dtype, c.gs) : round(l.dtype, c.g);
  const out = c.useOut ? (l.dtype === 'f32' ? new Float32Array(l.n) : new Float64Array(l.n)) : undefined;
  const got = X.klDiv(input, { data: t, shape: l.shape }, { reduction: c.reduction, logTarget: c.logTarget, ...(gradOutput !== undefined && { gradOutput }), ...(out ? { out } : { grad: true }) });
  const ref = R.klDiv({ data: Array.from(input.data), shape: l.shape }, Array.from(t), {
    reduction: c.reduction,
    logTarget: c.logTarget,
    gradOutput: gradOutput === undefined ? undefined : typeof gradOutput === 'number' ? gradOutput : Array.from(gradOutput),
  });
  expectClose('klDiv loss', l.dtype, got.loss, ref.loss);
  expectClose('klDiv grad', l.dtype, got.grad, ref.grad);
  if (out && got.grad !== out) throw new Error('grad is not the out array');
});

const sigmoidFocalCase = layoutArb(() => 0).chain((l) =>
  fc.record({
    l: fc.constant(l),
    x: arrayOf(logitArb(l.dtype, l.hostile), l.n),
    y: arrayOf(fc.oneof(fc.constantFrom(0, 1), fc.double({ min: 0, max: 1, noNaN: true })), l.n),
    alpha: fc.oneof(fc.constantFrom(0.25, -1, 0, 1), fc.double({ min: -1, max: 1, noNaN: true })),
    gamma: fc.oneof(fc.constantFrom(0, 0.5, 1, 2, 3), fc.double({ min: 0, max: 5, noNaN: true })),
    reduction: reductionArb,
    g: fc.double({ min: -2, max: 2, noNaN: true }),
    gs: arrayOf(fc.double({ min: -2, max: 2, noNaN: true }), l.n),
    useG: fc.boolean(),
  }),
);

property('sigmoidFocalLoss matches the reference (hostile logits, saturated p_t, any alpha and gamma, reductions)', sigmoidFocalCase, 200, (c) => {
  const { l } = c;
  const input = { data: floats(l.dtype, c.x), shape: l.shape };
  const y = floats(l.dtype, c.y);
  const gradOutput = !c.useG ? undefined : c.reduction === 'none' ? floats(l.dtype, c.gs) : round(l.dtype, c.g);
  const got = X.sigmoidFocalLoss(input, y, { reduction: c.reduction, alpha: c.alpha, gamma: c.gamma, grad: true, ...(gradOutput !== undefined && { gradOutput }) });
  const ref = R.sigmoidFocalLoss({ data: Array.from(input.data), shape: l.shape }, Array.from(y), {
    reduction: c.reduction,
    alpha: c.alpha,
    gamma: c.gamma,
    gradOutput: gradOutput === undefined ? undefined : typeof gradOutput === 'number' ? gradOutput : Array.from(gradOutput),
  });
  expectClose('sigmoidFocalLoss loss', l.dtype, got.loss, ref.loss);
  expectClose('sigmoidFocalLoss grad', l.dtype, got.grad, ref.grad);
});

const focalCase = indexCase(false).chain((c) =>
  fc.record({ c: fc.constant(c), gamma: fc.oneof(fc.constantFrom(0, 0.5, 1, 2, 3), fc.double({ min: 0, max: 5, noNaN: true })) }),
);

property('focalLoss matches the reference: gamma, weight, ignoreIndex, reductions, dim, gradOutput, out, hostile logits', focalCase, 200, ({ c, gamma }) => {
  const { l, o } = c;
  const ii = o.ignoreIndex ?? -100;
  const t = c.t.map((v, p) => (c.ignored[p] ? ii : v));
  const input = { data: floats(l.dtype, c.x), shape: l.shape };
  const weight = c.weight && floats(l.dtype, c.weight);
  const gradOutput = c.gradOutput === undefined ? undefined : typeof c.gradOutput === 'number' ? round(l.dtype, c.gradOutput) : floats(l.dtype, c.gradOutput);
  const out = c.useOut ? (l.dtype === 'f32' ? new Float32Array(l.n).fill(7) : new Float64Array(l.n).fill(7)) : undefined;
  const got = X.focalLoss(input, makeTarget(t, c.targetType, l.shape.filter((_, i) => i !== l.dim), c.asTensor), {
    reduction: o.reduction,
    gamma,
    ...(o.ignoreIndex !== undefined && { ignoreIndex: o.ignoreIndex }),
    ...(weight && { weight }),
    ...(l.dimOpt !== undefined && { dim: l.dimOpt }),
    ...(gradOutput !== undefined && { gradOutput }),
    ...(out ? { out } : { grad: true }),
  });
  const ref = R.focalLoss({ data: Array.from(input.data), shape: l.shape }, t, {
    reduction: o.reduction,
    gamma,
    ignoreIndex: ii,
    weight: weight && Array.from(weight),
    dim: l.dim,
    gradOutput: gradOutput === undefined ? undefined : typeof gradOutput === 'number' ? gradOutput : Array.from(gradOutput),
  });
  expectClose('focalLoss loss', l.dtype, got.loss, ref.loss);
  expectClose('focalLoss grad', l.dtype, got.grad, ref.grad);
  if (out && got.grad !== out) throw new Error('grad is not the out array');
});

// ------------------------------------------------------------------ tokenScores (issue 12)

const tokenScoresCase = layoutArb(() => 0).chain((l0) => {
  const l = lastDimDefault(l0);
  const others = prod(l.shape.filter((_, i) => i !== l.dim));
  return fc.record({
    l: fc.constant(l),
    others: fc.constant(others),
    x: arrayOf(logitArb(l.dtype, l.hostile), l.n),
    t: arrayOf(fc.nat(), others),
    ignored: arrayOf(fc.integer({ min: 0, max: 4 }).map((k) => k === 0), others),
    withTarget: fc.boolean(),
    topK: fc.option(fc.nat(), { nil: undefined }),
    ignoreIndex: fc.option(fc.constantFrom(-100, 0, 1), { nil: undefined }),
  });
});

property('tokenScores matches the reference: any dim, ties from rounding, hostile logits, ignored targets, topK 0..C', tokenScoresCase, 200, (c) => {
  const { l } = c;
  const input = { data: floats(l.dtype, c.x), shape: l.shape };
  const ii = c.ignoreIndex ?? -100;
  const t = c.t.map((v, p) => (c.ignored[p] ? ii : l.C > 0 ? v % l.C : 0));
  const topK = c.topK === undefined ? undefined : l.C === 0 ? 0 : c.topK % (l.C + 1);
  const options = { ...(l.dimOpt !== undefined && { dim: l.dimOpt }), ...(topK !== undefined && { topK }), ...(c.ignoreIndex !== undefined && { ignoreIndex: c.ignoreIndex }) };
  const target = c.withTarget ? { data: Int32Array.from(t), shape: l.shape.filter((_, i) => i !== l.dim) } : null;
  if (l.C === 0 && c.others > 0) {
    expect(() => X.tokenScores(input, target, options)).toThrow(RangeError); // torch.argmax over an empty dim
    return;
  }
  const got = X.tokenScores(input, target, options);
  const ref = R.tokenScores({ data: Array.from(input.data), shape: l.shape }, c.withTarget ? t : undefined, { dim: l.dim, topK, ignoreIndex: ii });
  expectClose('tokenScores lse', l.dtype, got.lse, ref.lse);
  expectClose('tokenScores entropy', l.dtype, got.entropy, ref.entropy);
  expect(Array.from(got.argmax)).toEqual(Array.from(ref.argmax));
  expect(got.logProb === undefined).toBe(!c.withTarget);
  if (c.withTarget) {
    expectClose('tokenScores logProb', l.dtype, got.logProb, ref.logProb!);
    expect(Array.from(got.rank!)).toEqual(Array.from(ref.rank!));
  }
  expect(got.topKIndices === undefined).toBe(topK === undefined);
  if (topK !== undefined) {
    expectClose('tokenScores topKLogProbs', l.dtype, got.topKLogProbs, ref.topKLogProbs!);
    expect(Array.from(got.topKIndices!)).toEqual(Array.from(ref.topKIndices!));
  }
});

const wideTokenCase = fc
  .record({ dtype: fc.constantFrom<Dtype>('f32', 'f64'), hostile: fc.boolean(), ties: fc.boolean(), P: fc.integer({ min: 1, max: 3 }), C: fc.integer({ min: 1, max: 70 }) })
  .chain((s) =>
    fc.record({
      s: fc.constant(s),
      // ties: a few small integers, so equal logits sit in one vector, across vectors and in the tail
      x: arrayOf(s.ties ? fc.integer({ min: -3, max: 3 }).map((v) => v + 0) : logitArb(s.dtype, s.hostile), s.P * s.C),
      t: arrayOf(fc.nat(), s.P),
      topK: fc.nat(),
    }),
  );

property('tokenScores on rows of 1..70 classes (the SIMD bodies, blocks and tails): ties, hostile logits, any topK', wideTokenCase, 200, ({ s, x, t, topK }) => {
  const input = { data: floats(s.dtype, x), shape: [s.P, s.C] };
  const target = t.map((v) => v % s.C);
  const K = topK % (s.C + 1);
  const got = X.tokenScores(input, target, { topK: K });
  const ref = R.tokenScores({ data: Array.from(input.data), shape: input.shape }, target, { topK: K });
  expectClose('tokenScores lse', s.dtype, got.lse, ref.lse);
  expectClose('tokenScores entropy', s.dtype, got.entropy, ref.entropy);
  expectClose('tokenScores logProb', s.dtype, got.logProb, ref.logProb!);
  expectClose('tokenScores topKLogProbs', s.dtype, got.topKLogProbs, ref.topKLogProbs!);
  expect([Array.from(got.argmax), Array.from(got.rank), Array.from(got.topKIndices)]).toEqual([Array.from(ref.argmax), Array.from(ref.rank!), Array.from(ref.topKIndices!)]);
  // and without the top K, the argmax comes from its own scan
  expect(Array.from(X.tokenScores(input).argmax)).toEqual(Array.from(ref.argmax));
});
