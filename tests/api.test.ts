// Behaviour of the API beyond single values: ownership of results, `out`, memory reuse, layout
// equivalences, float32 accumulation, the torch.nn-style classes and the target helpers.
import * as X from '../src';
import { rng, normals, uniforms, ints } from './helpers/random';

beforeAll(() => X.init());

const r = rng(42);

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(tol * (1 + Math.abs(b[i])));
}

/** Permutes (N, C, L) data to (N, L, C). */
function channelsLast(x: ArrayLike<number>, N: number, C: number, L: number): Float64Array {
  const out = new Float64Array(N * C * L);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let l = 0; l < L; l++) out[(n * L + l) * C + c] = x[(n * C + c) * L + l];
  return out;
}

test('returned arrays belong to the caller and survive later calls', () => {
  const a = X.softmax({ data: new Float32Array([1, 2, 3]), shape: [3] });
  const copy = Array.from(a);
  X.softmax({ data: new Float32Array([5, -1, 0]), shape: [3] });
  X.crossEntropy({ data: new Float32Array(3000), shape: [1000, 3] }, new Int32Array(1000), { grad: true });
  expect(Array.from(a)).toEqual(copy);
  expect(a).toBeInstanceOf(Float32Array);
});

test('out receives the gradient and is returned as grad', () => {
  const input = { data: new Float32Array(normals(r, 20)), shape: [4, 5] };
  const target = ints(r, 4, 5);
  const out = new Float32Array(20);
  const viaOut = X.crossEntropy(input, target, { out });
  const fresh = X.crossEntropy(input, target, { grad: true });
  expect(viaOut.grad).toBe(out);
  expect(Array.from(out)).toEqual(Array.from(fresh.grad!));
});

test('repeating a call of the same size does not grow wasm memory', () => {
  const input = { data: new Float32Array(normals(r, 64 * 1000)), shape: [64, 1000] };
  const target = ints(r, 64, 1000);
  X.crossEntropy(input, target, { grad: true });
  const before = X.wasmMemoryBytes();
  for (let i = 0; i < 200; i++) X.crossEntropy(input, target, { grad: true, labelSmoothing: 0.1 });
  for (let i = 0; i < 200; i++) X.logSoftmax(input);
  expect(X.wasmMemoryBytes()).toBe(before);
});

test('dim: -1 on channels-last (N, L, C) equals dim 1 on (N, C, L)', () => {
  const [N, C, L] = [3, 5, 4];
  const x = normals(r, N * C * L);
  const target = ints(r, N * L, C);
  const opts = { weight: [1, 2, 0.5, 1, 3], labelSmoothing: 0.1, grad: true } as const;
  const ncl = X.crossEntropy({ data: x, shape: [N, C, L] }, { data: target, shape: [N, L] }, opts);
  const nlc = X.crossEntropy({ data: channelsLast(x, N, C, L), shape: [N, L, C] }, { data: target, shape: [N, L] }, { ...opts, dim: -1 });
  expect(nlc.loss).toBeCloseTo(ncl.loss as number, 12);
  close(nlc.grad!, channelsLast(ncl.grad!, N, C, L), 1e-12);
  // ... and flattening to (N*L, C) gives the same mean.
  const flat = X.crossEntropy({ data: channelsLast(x, N, C, L), shape: [N * L, C] }, target, opts);
  expect(flat.loss).toBeCloseTo(ncl.loss as number, 12);
});

test('NCHW segmentation equals the flattened (N*H*W, C) problem', () => {
  const [N, C, H, W] = [2, 4, 3, 5];
  const x = normals(r, N * C * H * W);
  const mask = new Uint8Array(ints(r, N * H * W, C));
  const nchw = X.crossEntropy({ data: x, shape: [N, C, H, W] }, { data: mask, shape: [N, H, W] }, { weight: [1, 2, 3, 4] });
  const flat = X.crossEntropy({ data: channelsLast(x, N, C, H * W), shape: [N * H * W, C] }, mask, { weight: [1, 2, 3, 4] });
  expect(nchw.loss).toBeCloseTo(flat.loss as number, 12);
});

test('one-hot probability targets equal index targets (sum always, mean without weight)', () => {
  const [N, C] = [6, 4];
  const x = { data: normals(r, N * C), shape: [N, C] };
  const target = ints(r, N, C);
  const onehot = new Float64Array(X.oneHot(target, C));
  for (const reduction of ['sum', 'mean', 'none'] as const) {
    const a = X.crossEntropy(x, target, { reduction, grad: true, labelSmoothing: 0.2 });
    const b = X.crossEntropy(x, onehot, { reduction, grad: true, labelSmoothing: 0.2 });
    if (reduction === 'none') close(a.loss as Float64Array, b.loss as Float64Array, 1e-12);
    else expect(b.loss).toBeCloseTo(a.loss as number, 12);
    close(a.grad!, b.grad!, 1e-12);
  }
  const weight = [1, 2, 3, 4];
  const a = X.crossEntropy(x, target, { reduction: 'sum', weight });
  const b = X.crossEntropy(x, onehot, { reduction: 'sum', weight });
  expect(b.loss).toBeCloseTo(a.loss as number, 12);
});

test('a float32 weighted mean over a million positions stays within 1e-6 of float64', () => {
  const N = 1_000_000;
  const x32 = new Float32Array(normals(r, N * 2, 3));
  const target = ints(r, N, 2);
  const weight = [0.3, 1.7];
  const l32 = X.crossEntropy({ data: x32, shape: [N, 2] }, target, { weight }).loss as number;
  const l64 = X.crossEntropy({ data: new Float64Array(x32), shape: [N, 2] }, target, { weight }).loss as number;
  expect(Math.abs(l32 - l64) / Math.abs(l64)).toBeLessThan(1e-6);
});

test('extreme logits: 1e4 in float32 and 1e300 in float64 stay finite and exact', () => {
  const f32 = X.crossEntropy({ data: new Float32Array([1e4, 0, -1e4]), shape: [1, 3] }, [1], { grad: true });
  expect(f32.loss).toBe(1e4);
  expect(Array.from(f32.grad!)).toEqual([1, -1, 0]);
  const f64 = X.crossEntropy({ data: new Float64Array([1e300, 0, -1e300]), shape: [1, 3] }, [1], { grad: true });
  expect(f64.loss).toBe(1e300);
  expect(Array.from(f64.grad!)).toEqual([1, -1, 0]);
  expect(Array.from(X.logSoftmax({ data: new Float64Array([1e300, 1e300]), shape: [2] }))).toEqual([-Math.LN2, -Math.LN2]);
});

test('-inf logits give exact zero probabilities and gradients; NaN propagates', () => {
  const x = { data: new Float32Array([-Infinity, 0, 0, -Infinity]), shape: [1, 4] };
  const { loss, grad } = X.crossEntropy(x, [1], { grad: true });
  expect(loss).toBeCloseTo(Math.LN2, 6);
  expect(Array.from(grad!)).toEqual([0, -0.5, 0.5, 0]);
  expect(Array.from(X.softmax(x))).toEqual([0, 0.5, 0.5, 0]);
  const nan = X.crossEntropy({ data: new Float64Array([1, NaN, 2, 1, 2, 3]), shape: [2, 3] }, [0, 1], { reduction: 'none', grad: true });
  expect(Number.isNaN((nan.loss as Float64Array)[0])).toBe(true);
  expect(Number.isNaN((nan.loss as Float64Array)[1])).toBe(false);
  expect(Array.from(nan.grad!.slice(0, 3)).every(Number.isNaN)).toBe(true);
});

test('every target ignored: mean is NaN with a zero gradient, sum is 0', () => {
  const x = { data: normals(r, 6), shape: [2, 3] };
  const mean = X.crossEntropy(x, [-100, -100], { grad: true, labelSmoothing: 0.1 });
  expect(mean.loss).toBeNaN();
  expect(Array.from(mean.grad!)).toEqual([0, 0, 0, 0, 0, 0]);
  expect(X.crossEntropy(x, [-100, -100], { reduction: 'sum' }).loss).toBe(0);
});

test('gradOutput scales the gradient', () => {
  const x = { data: normals(r, 12), shape: [3, 4] };
  const t = ints(r, 3, 4);
  const one = X.crossEntropy(x, t, { grad: true }).grad!;
  const scaled = X.crossEntropy(x, t, { grad: true, gradOutput: -2.5 }).grad!;
  close(scaled, one.map((v) => v * -2.5), 1e-14);
});

test('torch.nn-style classes compute what the functions compute', () => {
  const x = { data: normals(r, 12), shape: [3, 4] };
  const t = ints(r, 3, 4);
  const y = uniforms(r, 12);
  expect(new X.CrossEntropyLoss({ labelSmoothing: 0.1 }).forward(x, t).loss).toBe(X.crossEntropy(x, t, { labelSmoothing: 0.1 }).loss);
  expect(new X.NLLLoss({ reduction: 'sum' }).forward(x, t).loss).toBe(X.nllLoss(x, t, { reduction: 'sum' }).loss);
  expect(new X.BCEWithLogitsLoss({ posWeight: [1, 2, 3, 4] }).forward(x, y).loss).toBe(X.binaryCrossEntropyWithLogits(x, y, { posWeight: [1, 2, 3, 4] }).loss);
  const p = { data: uniforms(r, 12, 0.01, 0.99), shape: [3, 4] };
  expect(new X.BCELoss().forward(p, y).loss).toBe(X.binaryCrossEntropy(p, y).loss);
  expect(Array.from(new X.LogSoftmax({ dim: 0 }).forward(x))).toEqual(Array.from(X.logSoftmax(x, { dim: 0 })));
  expect(Array.from(new X.Softmax().forward(x))).toEqual(Array.from(X.softmax(x)));
  const g = new X.CrossEntropyLoss().forward(x, t, { grad: true }).grad!;
  expect(Array.from(g)).toEqual(Array.from(X.crossEntropy(x, t, { grad: true }).grad!));
  // any of the function's options per call, typed without a cast (ts-jest type-checks this file)
  expect(new X.NLLLoss().forward(x, t, { reduction: 'sum' }).loss).toBe(X.nllLoss(x, t, { reduction: 'sum' }).loss);
  expect(new X.FocalLoss({ gamma: 2 }).forward(x, t, { gamma: 0 }).loss).toBe(X.crossEntropy(x, t).loss);
});

test('a class forwards its options as the function reads them (red team 51)', () => {
  const x = { data: normals(r, 12), shape: [3, 4] };
  const t = ints(r, 3, 4);
  const message = (f: () => unknown) => { try { f(); } catch (e) { return (e as Error).message; } return 'no error'; };
  const sum = X.crossEntropy(x, t, { reduction: 'sum' }).loss;
  const CE = new X.CrossEntropyLoss({ reduction: 'sum' });
  // a call object without a prototype (it crashed on `key in null`)
  expect(CE.forward(x, t, Object.create(null)).loss).toBe(sum);
  const bare = Object.assign(Object.create(null), { reduction: 'none' });
  expect(Array.from(CE.forward(x, t, bare).loss as Float64Array)).toEqual(Array.from(X.crossEntropy(x, t, { reduction: 'none' }).loss));
  // an unknown key is refused even when undefined, as by the function
  expect(message(() => CE.forward(x, t, { ignore_index: undefined } as never))).toBe(message(() => X.crossEntropy(x, t, { ignore_index: undefined } as never)));
  expect(message(() => CE.forward(x, t, { ignore_index: undefined } as never))).toMatch(/unknown option 'ignore_index' \(did you mean 'ignoreIndex'\?\)/);
  // a non-enumerable own option is read, by the class as by the function
  const hidden = Object.defineProperty({}, 'reduction', { value: 'mean', enumerable: false });
  expect(CE.forward(x, t, hidden).loss).toBe(X.crossEntropy(x, t, hidden).loss);
  expect(new X.CrossEntropyLoss(hidden).forward(x, t).loss).toBe(X.crossEntropy(x, t).loss);
  // an option the constructor's options inherit is refused with or without a call's options
  const inherits = Object.create({ reduction: 'sum' });
  for (const call of [undefined, {}, { grad: true }]) {
    expect(message(() => new X.CrossEntropyLoss(inherits).forward(x, t, call))).toBe("crossEntropy: option 'reduction' is inherited from the options object's prototype; options must be its own properties");
  }
  // an option the call inherits is the call's: refused, not replaced by the constructor's own
  expect(message(() => CE.forward(x, t, Object.create({ reduction: 'none' })))).toBe("crossEntropy: option 'reduction' is inherited from the options object's prototype; options must be its own properties");
  expect(message(() => new X.Softmax({ dim: 1 }).forward(x, Object.create({ dim: 0 })))).toBe("softmax: option 'dim' is inherited from the options object's prototype; options must be its own properties");
  // LogSoftmax and Softmax take per-call options too (they ignored a second argument)
  expect(Array.from(new X.Softmax({ dim: 1 }).forward(x, { dim: 0 }))).toEqual(Array.from(X.softmax(x, { dim: 0 })));
  expect(message(() => new X.LogSoftmax().forward(x, 5 as never))).toBe(message(() => X.logSoftmax(x, 5 as never)));
  expect(message(() => new X.Softmax().forward(x, { bogus: 1 } as never))).toBe("softmax: unknown option 'bogus'; known options: dim, out");
});

test('options are own properties: a polluted Object.prototype is refused, not applied', () => {
  const x = { data: normals(r, 12), shape: [3, 4] };
  const t = ints(r, 3, 4);
  const mean = X.crossEntropy(x, t).loss;
  const proto = Object.prototype as Record<string, unknown>;
  proto.reduction = 'none';
  try {
    expect(() => X.crossEntropy(x, t, {})).toThrow("crossEntropy: option 'reduction' is inherited from the options object's prototype");
    expect(X.crossEntropy(x, t).loss).toBe(mean); // (no options object: nothing is inherited)
    expect(new X.CrossEntropyLoss().forward(x, t).loss).toBe(mean);
    expect(() => new X.CrossEntropyLoss({}).forward(x, t)).toThrow("crossEntropy: option 'reduction' is inherited");
    // an own value is read, the inherited one never is
    expect(X.crossEntropy(x, t, { reduction: 'sum' }).loss).toBeCloseTo(3 * (mean as number), 5);
  } finally {
    delete proto.reduction;
  }
  expect(X.crossEntropy(x, t, {}).loss).toBe(mean);
});

test('a per-call option left undefined keeps the constructor\'s value, in every loss class', () => {
  // { gamma: undefined } means "not given", as an omitted argument does; a spread of the call's
  // options over the constructor's used to replace gamma 2 by the default.
  const x = { data: normals(r, 12), shape: [3, 4] };
  const t = ints(r, 3, 4);
  const y = uniforms(r, 12, 0.05, 0.95);
  const logp = X.logSoftmax({ data: normals(r, 30), shape: [5, 2, 3] }, { dim: 2 });
  const lp = { data: logp, shape: [5, 2, 3] };
  const w = { data: normals(r, 20), shape: [4, 5] };
  const h = { data: normals(r, 15), shape: [3, 5] };
  type Run = (o: any) => { loss: unknown; grad?: ArrayLike<number>; gradInput?: ArrayLike<number> };
  const cases: [string, Record<string, unknown>, Run, Run][] = [
    ['CrossEntropyLoss', { labelSmoothing: 0.2, reduction: 'sum', weight: [1, 2, 3, 4] },
      (o) => new X.CrossEntropyLoss(o).forward(x, t, CALL), (o) => X.crossEntropy(x, t, o)],
    ['NLLLoss', { reduction: 'sum', ignoreIndex: 1 }, (o) => new X.NLLLoss(o).forward(x, t, CALL), (o) => X.nllLoss(x, t, o)],
    ['BCELoss', { reduction: 'sum', weight: [1, 2, 3, 4] },
      (o) => new X.BCELoss(o).forward({ data: y, shape: [3, 4] }, y, CALL), (o) => X.binaryCrossEntropy({ data: y, shape: [3, 4] }, y, o)],
    ['BCEWithLogitsLoss', { posWeight: [1, 2, 3, 4], reduction: 'sum' },
      (o) => new X.BCEWithLogitsLoss(o).forward(x, y, CALL), (o) => X.binaryCrossEntropyWithLogits(x, y, o)],
    ['KLDivLoss', { reduction: 'batchmean', logTarget: true },
      (o) => new X.KLDivLoss(o).forward(x, X.logSoftmax(x), CALL), (o) => X.klDiv(x, X.logSoftmax(x), o)],
    ['SigmoidFocalLoss', { alpha: 0.6, gamma: 3, reduction: 'sum' },
      (o) => new X.SigmoidFocalLoss(o).forward(x, y, CALL), (o) => X.sigmoidFocalLoss(x, y, o)],
    ['FocalLoss', { gamma: 2, reduction: 'sum' }, (o) => new X.FocalLoss(o).forward(x, t, CALL), (o) => X.focalLoss(x, t, o)],
    ['CTCLoss', { blank: 2, reduction: 'sum' },
      (o) => new X.CTCLoss(o).forward(lp, [1, 1], [5, 4], [1, 1], CALL), (o) => X.ctcLoss(lp, [1, 1], [5, 4], [1, 1], o)],
    ['LinearCrossEntropyLoss', { labelSmoothing: 0.2, reduction: 'sum' },
      (o) => new X.LinearCrossEntropyLoss(o).forward(h, w, t, CALL), (o) => X.linearCrossEntropy(h, w, t, o)],
  ];
  let CALL: Record<string, unknown> = {};
  for (const [name, options, viaClass, viaFunction] of cases) {
    CALL = { grad: true };
    for (const key of Object.keys(options)) CALL[key] = undefined;
    const expected = viaFunction({ ...options, grad: true });
    const got = viaClass(options);
    // The constructor's options changed the result (so the test can fail), and they were kept.
    expect([name, viaFunction({ grad: true }).loss]).not.toEqual([name, expected.loss]);
    expect([name, got.loss]).toEqual([name, expected.loss]);
    const gradient = (res: ReturnType<Run>) => Array.from((res.grad ?? res.gradInput)!);
    expect([name, gradient(got)]).toEqual([name, gradient(expected)]);
  }
  // What the function refuses the class refuses in the same words (red team 50: the classes
  // dropped inherited options and ignored a non-object third argument, which the functions read
  // or refused): a number, an option inherited by the call or by the constructor's options (which
  // the functions read from a prototype before, so Object.prototype pollution changed results).
  const message = (f: () => unknown) => { try { f(); } catch (e) { return (e as Error).message; } return 'no error'; };
  for (const [name, options, viaClass, viaFunction] of cases) {
    const inherits = () => Object.create({ grad: true }); // (an option no constructor here sets)
    for (const [what, ctor, call] of [['number', options, 5], ['inherited call option', options, inherits()], ['inherited constructor option', inherits(), undefined]] as const) {
      CALL = call as never;
      const byFunction = message(() => viaFunction(call ?? ctor));
      expect([name, what, byFunction]).toEqual([name, what, expect.stringMatching(/options must be an object, got number|option 'grad' is inherited from the options object's prototype/)]);
      expect([name, what, message(() => viaClass(ctor))]).toEqual([name, what, byFunction]);
    }
  }
  // A JSON "__proto__" key stays an own, unknown option (refused, as by the function), not the
  // options' prototype, whose gamma and reduction the op would read (red team 49).
  const proto = JSON.parse('{"__proto__": {"gamma": 5, "reduction": "none"}}');
  expect(() => X.focalLoss(x, t, proto)).toThrow("focalLoss: unknown option '__proto__'");
  expect(() => new X.FocalLoss().forward(x, t, proto)).toThrow("focalLoss: unknown option '__proto__'");
  expect(() => new X.CrossEntropyLoss().forward(x, t, proto)).toThrow("crossEntropy: unknown option '__proto__'");
  // A given value still replaces the constructor's, and each call option is read once.
  let reads = 0;
  const call = { get gamma() { reads++; return 0; }, grad: true };
  const focal = new X.FocalLoss({ gamma: 2 }).forward(x, t, call);
  expect(reads).toBe(1);
  expect(focal.loss).toBe(X.crossEntropy(x, t).loss);
});

test("a per-call option given as a getter that returns undefined keeps the constructor's value, as an undefined data property does", () => {
  const x = { data: normals(r, 12), shape: [3, 4] };
  const t = ints(r, 3, 4);
  const expected = X.focalLoss(x, t, { gamma: 3, reduction: 'sum' }).loss;
  expect(expected).not.toBe(X.focalLoss(x, t, { reduction: 'sum' }).loss); // (the default gamma is 2)
  const focal = new X.FocalLoss({ gamma: 3, reduction: 'sum' });
  expect(focal.forward(x, t, { gamma: undefined }).loss).toBe(expected);
  // the call's getter is read once, and its undefined leaves gamma 3 in place
  let reads = 0;
  const call = { get gamma() { reads++; return undefined; } };
  expect(focal.forward(x, t, call).loss).toBe(expected);
  expect(reads).toBe(1);
  // likewise over a getter of the constructor's, which runs once when the call's gives undefined
  let ctorReads = 0;
  const ctor = { get gamma() { ctorReads++; return 3; }, reduction: 'sum' as const };
  reads = 0;
  expect(new X.FocalLoss(ctor).forward(x, t, call).loss).toBe(expected);
  expect([reads, ctorReads]).toEqual([1, 1]);
  // a getter without a value for an option the constructor does not set: the function's default
  expect(focal.forward(x, t, { get ignoreIndex() { return undefined; } }).loss).toBe(expected);
  // a setter alone reads as undefined: the constructor's value stands
  expect(focal.forward(x, t, Object.defineProperty({}, 'gamma', { set() {}, enumerable: true })).loss).toBe(expected);
  // a getter with a value replaces the constructor's; one the call inherits is refused as before
  expect(focal.forward(x, t, { get gamma() { return 0; } }).loss).toBe(X.focalLoss(x, t, { gamma: 0, reduction: 'sum' }).loss);
  expect(() => focal.forward(x, t, Object.create({ get gamma() { return undefined; } }))).toThrow("focalLoss: option 'gamma' is inherited from the options object's prototype");
  // the same in another class
  const sum = X.crossEntropy(x, t, { reduction: 'sum' }).loss;
  expect(new X.CrossEntropyLoss({ reduction: 'sum' }).forward(x, t, { get reduction() { return undefined; } }).loss).toBe(sum);
});

test('oneHot lays classes along a new last dim', () => {
  expect(Array.from(X.oneHot([2, 0], 3))).toEqual([0, 0, 1, 1, 0, 0]);
  expect(X.oneHot(new BigInt64Array([1n]), 2)).toBeInstanceOf(Float32Array);
});

test('inverseFrequencyWeights: binary masks give [alpha, 1 - alpha]; absent classes get 0', () => {
  const mask = new Uint8Array([1, 0, 0, 0, 1, 0, 0, 0]); // alpha = mean(mask) = 0.25
  const w = X.inverseFrequencyWeights(mask, 2);
  expect(w[0]).toBeCloseTo(0.25, 7);
  expect(w[1]).toBeCloseTo(0.75, 7);
  const w3 = X.inverseFrequencyWeights([0, 0, 0, 2], 3); // p = [3/4, 0, 1/4] -> 1/p = [4/3, -, 4]
  expect(Array.from(w3).map((v) => +v.toFixed(6))).toEqual([0.25, 0, 0.75]);
});

test('plain number arrays (as JSON gives them) read like typed arrays: soft labels, BCE targets, a scalar posWeight', () => {
  const x = { data: Float32Array.from([1, 2, 3, 0.5, -1, 2]), shape: [2, 3] };
  const probs = [0.1, 0.2, 0.7, 0.3, 0.3, 0.4];
  const typed = X.crossEntropy(x, { data: Float32Array.from(probs), shape: [2, 3] }, { grad: true });
  expect(X.crossEntropy(x, probs, { grad: true })).toEqual(typed);
  expect(X.crossEntropy(x, { data: probs, shape: [2, 3] }, { grad: true })).toEqual(typed);
  const y = [0, 1, 1, 0, 1, 0];
  const plain = X.binaryCrossEntropyWithLogits(x, y, { posWeight: 2, grad: true });
  const full = X.binaryCrossEntropyWithLogits(x, Float32Array.from(y), { posWeight: [2, 2, 2], grad: true });
  close([plain.loss as number], [full.loss as number], 1e-6); // (the two weight layouts take different kernel paths)
  close(plain.grad!, full.grad!, 1e-6);
});
