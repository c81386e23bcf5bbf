// Hostile arguments (issue 8): arrays and objects that lie about themselves, change under the call,
// alias each other or the module's memory, or are empty in a costly way. Each class is a table row;
// every row must either give exactly the answer of the same call with honest arguments, or throw
// its own JavaScript error (never a wasm trap, never data left in wasm memory by an earlier call).
//
// "Honest" answers come from the same library on plain arrays, which the PyTorch fixtures prove;
// float64 references are written out here where a row needs its own.
import * as API from '../src';

// Hostile calls do not type-check, by design: call the API untyped.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const X: any = API;

beforeAll(async () => {
  await X.init();
});

function logits(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  const sin = Math.sin;
  for (let i = 0; i < n; i++) out[i] = sin(i * 12.9898 + seed) * 4;
  return out;
}
const N = 4;
const C = 5;
const honestInput = () => ({ data: logits(N * C), shape: [N, C] });
const T = [0, 4, 2, 1];

/** Calls every op family on an input from `make` (a fresh one per call: some lie only once) and
 *  honest other arguments, and returns all results. */
function everyOp(make: () => unknown) {
  const probs = X.softmax(honestInput());
  return [
    X.crossEntropy(make(), T, { grad: true }),
    X.crossEntropy(make(), { data: probs, shape: [N, C] }, { grad: true, reduction: 'sum' }),
    X.nllLoss(make(), T, { grad: true, reduction: 'none' }),
    X.logSoftmax(make()),
    X.softmax(make(), { dim: 0 }),
    X.binaryCrossEntropyWithLogits(make(), { data: probs, shape: [N, C] }, { grad: true }),
  ];
}

/** Results compared bit for bit: numbers and typed-array entries with Object.is. */
function same(a: unknown, b: unknown, path = 'result'): void {
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    const x = a as Float32Array;
    const y = b as Float32Array;
    expect(x.constructor).toBe(y.constructor);
    expect(x.length).toBe(y.length);
    const is = Object.is; // a local: global lookups are slow inside jest's vm context
    for (let i = 0; i < x.length; i++) if (!is(x[i], y[i])) throw new Error(`${path}[${i}]: ${x[i]} !== ${y[i]}`);
  } else if (a !== null && typeof a === 'object') {
    expect(Object.keys(a).sort()).toEqual(Object.keys(b as object).sort());
    for (const k of Object.keys(a)) same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
  } else if (!Object.is(a, b)) {
    throw new Error(`${path}: ${String(a)} !== ${String(b)}`);
  }
}

describe('arguments that lie about themselves give the honest answer', () => {
  // Each row builds an input tensor that claims something untrue; the library must read what the
  // memory really is, once.
  const rows: [string, () => unknown][] = [
    ['a typed-array subclass whose length lies (too long)', () => {
      class Liar extends Float32Array { override get length() { return 1e6; } }
      return { data: new Liar(logits(N * C)), shape: [N, C] };
    }],
    ['a typed-array subclass whose length lies (too short)', () => {
      class Liar extends Float32Array { override get length() { return 2; } }
      return { data: new Liar(logits(N * C)), shape: [N, C] };
    }],
    ['a subclass whose subarray/set/slice lie', () => {
      class Liar extends Float32Array {
        override subarray() { return new Float32Array(3); }
        override slice() { return new Float32Array(3); }
      }
      return { data: new Liar(logits(N * C)), shape: [N, C] };
    }],
    ['a shape Array subclass whose slice lies', () => {
      class Shape extends Array<number> { override slice() { return [1, N * C] as never; } }
      return { data: logits(N * C), shape: Shape.from([N, C]) };
    }],
    ['a shape Proxy whose slice lies', () => ({
      data: logits(N * C),
      shape: new Proxy([N, C], { get: (t, k) => (k === 'slice' ? () => [N * C, 1] : Reflect.get(t, k)) }),
    })],
    ['a shape whose entries change on every read', () => {
      let reads = 0;
      const values = [N, C];
      return { data: logits(N * C), shape: new Proxy(values, { get: (t, k) => (typeof k === 'string' && /^\d$/.test(k) ? (reads++ < 2 ? values[+k] : 1) : Reflect.get(t, k)) }) };
    }],
    ['a tensor whose data getter answers differently each time', () => {
      let reads = 0;
      const real = logits(N * C);
      return { get data() { return reads++ === 0 ? real : new Float32Array(1); }, shape: [N, C] };
    }],
  ];
  let honest: unknown[];
  beforeAll(() => {
    honest = everyOp(honestInput);
  });
  test.each(rows)('%s', (_, make) => {
    same(everyOp(make), honest);
  });
});

type Row = [name: string, call: () => unknown, kind: ErrorConstructor | typeof TypeError | typeof RangeError, message: string | RegExp];

// A getter of a later argument that shrinks (resizable buffer) or detaches (transfer) an earlier
// argument's buffer after that argument was read: every op reads all its arguments before it
// validates any, so the check sees the change (red team 55: linearCrossEntropy had validated its
// input before reading linearWeight and target, and then computed on the previous call's data).
// One row per op and argument pair: the op, the argument whose buffer changes, and the call with
// that argument's data and a later argument whose getter runs `change`.
describe('a later argument\'s getter shrinks or detaches an earlier argument\'s buffer', () => {
  const resizable = (n: number) => new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(n * 4, { maxByteLength: n * 4 });
  const later = <V>(value: V, shape: number[], change: () => void) => ({ get data() { change(); return value; }, shape });
  type Op = [fn: string, argument: string, shape: number[], call: (data: Float32Array, change: () => void) => unknown];
  const W = () => ({ data: logits(3 * 4, 2), shape: [3, 4] });
  const probs = (n: number) => new Float32Array(n).fill(0.25);
  const ops: Op[] = [
    ['crossEntropy', 'input', [N, C], (d, ch) => X.crossEntropy({ data: d, shape: [N, C] }, later(T, [N], ch))],
    ['nllLoss', 'input', [N, C], (d, ch) => X.nllLoss({ data: d, shape: [N, C] }, later(T, [N], ch))],
    ['focalLoss', 'input', [N, C], (d, ch) => X.focalLoss({ data: d, shape: [N, C] }, later(T, [N], ch), { grad: true })],
    ['binaryCrossEntropy', 'input', [N, C], (d, ch) => X.binaryCrossEntropy({ data: d, shape: [N, C] }, later(probs(N * C), [N, C], ch))],
    ['binaryCrossEntropyWithLogits', 'input', [N, C], (d, ch) => X.binaryCrossEntropyWithLogits({ data: d, shape: [N, C] }, later(probs(N * C), [N, C], ch), { grad: true })],
    ['klDiv', 'input', [N, C], (d, ch) => X.klDiv({ data: d, shape: [N, C] }, later(probs(N * C), [N, C], ch))],
    ['sigmoidFocalLoss', 'input', [N, C], (d, ch) => X.sigmoidFocalLoss({ data: d, shape: [N, C] }, later(probs(N * C), [N, C], ch))],
    ['tokenScores', 'logits', [N, C], (d, ch) => X.tokenScores({ data: d, shape: [N, C] }, later(T, [N], ch))],
    ['softmaxBackward', 'gradOutput', [N, C], (d, ch) => X.softmaxBackward({ data: d, shape: [N, C] }, later(X.softmax(honestInput()), [N, C], ch))],
    ['linearCrossEntropy', 'input', [2, 4], (d, ch) => X.linearCrossEntropy({ data: d, shape: [2, 4] }, later(W().data, [3, 4], ch), [0, 2], { grad: true })],
    ['linearCrossEntropy', 'input', [2, 4], (d, ch) => X.linearCrossEntropy({ data: d, shape: [2, 4] }, W(), later([0, 2], [2], ch), { grad: true })],
    ['ctcLoss', 'logProbs', [3, 1, 4], (d, ch) => X.ctcLoss({ data: d, shape: [3, 1, 4] }, later([1, 2], [1, 2], ch), [3], [2])],
    ['linearCrossEntropy', 'linearWeight', [3, 4], (d, ch) => X.linearCrossEntropy({ data: logits(8), shape: [2, 4] }, { data: d, shape: [3, 4] }, later([0, 2], [2], ch), { grad: true })],
  ];
  const shown = (shape: number[]) => `[${shape.join(', ')}]`;
  test.each(ops)('%s: %s shrunk to 0 bytes', (fn, argument, shape, call) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const buffer = resizable(n);
    const data = new Float32Array(buffer, 0, n);
    data.set(logits(n, 3).map((v) => Math.abs(v) / 8)); // (in [0, 1] for BCE)
    expect(() => call(data, () => (buffer as unknown as { resize(n: number): void }).resize(0)))
      .toThrow(new RangeError(`${fn}: ${argument} shape ${shown(shape)} holds ${n} elements but its data has 0`));
  });
  test.each(ops)('%s: %s detached', (fn, argument, shape, call) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n).fill(0.5);
    expect(() => call(data, () => structuredClone(data.buffer, { transfer: [data.buffer] })))
      .toThrow(new TypeError(`${fn}: ${argument} is backed by a detached ArrayBuffer (it was transferred); pass an array that still owns its memory`));
  });
});

describe('arguments that cannot be read safely are refused with their own error', () => {
  // Resizable buffers (ES2024) are newer than the lib this project compiles against.
  const resizable = (n: number) => new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(n * 4, { maxByteLength: n * 4 });
  const rows: Row[] = [
    ['Proxy of a Float32Array as data', () => X.softmax({ data: new Proxy(logits(6), {}), shape: [2, 3] }), TypeError,
      'softmax: input.data must be a Float32Array or Float64Array, got Float32Array-like object that is not a typed array (a Proxy?)'],
    ['Proxy of an Int32Array as target', () => X.crossEntropy(honestInput(), new Proxy(new Int32Array(T), {})), TypeError,
      'crossEntropy: target must be an array or a tensor { data, shape }, got Int32Array-like object that is not a typed array (a Proxy?)'],
    ['resizable input buffer shrunk by an option getter', () => {
      const buffer = resizable(N * C);
      const data = new Float32Array(buffer);
      data.set(logits(N * C));
      return X.crossEntropy({ data, shape: [N, C] }, T, { get reduction() { (buffer as unknown as { resize(n: number): void }).resize(8); return 'sum'; } });
    }, RangeError, 'crossEntropy: input shape [4, 5] holds 20 elements but its data has 2'],
    ['resizable input buffer shrunk by the target getter, after the input was read', () => {
      const buffer = resizable(N * C);
      const data = new Float32Array(buffer, 0, N * C);
      return X.crossEntropy({ data, shape: [N, C] }, { get data() { (buffer as unknown as { resize(n: number): void }).resize(8); return T; } });
    }, RangeError, 'crossEntropy: input shape [4, 5] holds 20 elements but its data has 0'],
    ['a reduction getter that writes 5 into a BCE input after it was read', () => {
      const input = { data: new Float32Array([0.5, 0.5]), shape: [2] };
      return X.binaryCrossEntropy(input, new Float32Array([1, 0]), { get reduction() { input.data[0] = 5; return 'mean'; } });
    }, RangeError, 'binaryCrossEntropy: all elements of input should be between 0 and 1 (input[0] = 5)'],
    // red team 32: `out` was taken on its constructor's word, so a look-alike wrote through its own
    // buffer / byteOffset / byteLength (into another live wasmArray), and a Proxy's length getter threw
    // V8's message without the function's name
    ['Proxy of a Float32Array as out', () => X.crossEntropy(honestInput(), T, { out: new Proxy(new Float32Array(N * C), {}) }), TypeError,
      'crossEntropy: out must be a Float32Array like the input, got Float32Array-like object that is not a typed array (a Proxy?)'],
    ['a look-alike object whose constructor is Float32Array as out, over another wasmArray', () => {
      const a = X.wasmArray(Float32Array, 12);
      const b = X.wasmArray(Float32Array, 12);
      b.array.fill(7);
      const view = a.array;
      const out = { constructor: Float32Array, length: 12, buffer: view.buffer, byteOffset: view.byteOffset + 40, byteLength: 8, BYTES_PER_ELEMENT: 4, set() {}, subarray: () => view };
      try {
        return X.softmax({ data: new Float32Array(12).fill(1), shape: [4, 3] }, { out });
      } finally {
        expect(Array.from(b.array)).toEqual(new Array(12).fill(7));
        a.free();
        b.free();
      }
    }, TypeError, 'softmax: out must be a Float32Array like the input, got Float32Array-like object that is not a typed array (a Proxy?)'],
    ['Proxy of a Float32Array as linearCrossEntropy outWeight', () => X.linearCrossEntropy({ data: logits(8), shape: [2, 4] }, { data: logits(12), shape: [3, 4] }, [0, 2],
      { grad: true, outWeight: new Proxy(new Float32Array(12), {}) }), TypeError,
      'linearCrossEntropy: outWeight must be a Float32Array like the input, got Float32Array-like object that is not a typed array (a Proxy?)'],
    ['a shape with 10^7 dims', () => X.softmax({ data: new Float32Array(1), shape: new Array(1e7).fill(1) }), RangeError,
      'softmax: input.shape has 10000000 dimensions (at most 64)'],
    ['oneHot with 2^40 classes', () => X.oneHot([0, 1], 2 ** 40), RangeError,
      'oneHot: a one-hot array of 2 x 1099511627776 values is too large (at most 2147483647 elements)'],
  ];
  test.each(rows)('%s', (_, call, kind, message) => {
    let error: unknown;
    try {
      call();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(kind);
    expect((error as Error).constructor).toBe(kind);
    if (typeof message === 'string') expect((error as Error).message).toBe(message);
    else expect((error as Error).message).toMatch(message);
  });

  test('every option getter runs exactly once', () => {
    const reads: Record<string, number> = {};
    const options = Object.fromEntries(['reduction', 'grad', 'weight', 'ignoreIndex', 'labelSmoothing', 'dim'].map((k) => [k, undefined]));
    const values: Record<string, unknown> = { reduction: 'sum', grad: true, weight: [1, 2, 3, 4, 5], ignoreIndex: -1, labelSmoothing: 0.1, dim: 1 };
    for (const k of Object.keys(values)) {
      Object.defineProperty(options, k, { enumerable: true, get: () => { reads[k] = (reads[k] ?? 0) + 1; return values[k]; } });
    }
    const result = X.crossEntropy(honestInput(), T, options);
    same(result, X.crossEntropy(honestInput(), T, values));
    expect(reads).toEqual({ reduction: 1, grad: 1, weight: 1, ignoreIndex: 1, labelSmoothing: 1, dim: 1 });
  });
});

describe('out must not partly overlap what the call reads', () => {
  // Large enough to span many chunks (the corruption showed only then), and a small one.
  for (const [n, c] of [[3, 4], [2048, 1000]] as const) {
    const partly = (Kind: Float32ArrayConstructor, offset: number) => {
      const buffer = new Kind(n * c + c);
      buffer.set(logits(n * c));
      return { input: buffer.subarray(0, n * c), out: buffer.subarray(offset, offset + n * c) };
    };
    const rows: [string, () => unknown, string][] = [
      ['out over input, shifted by one row', () => { const { input, out } = partly(Float32Array, c); return X.crossEntropy({ data: input, shape: [n, c] }, new Int32Array(n), { out }); }, 'crossEntropy: out partly overlaps input'],
      ['out over a probability target', () => {
        const { input: target, out } = partly(Float32Array, 1);
        return X.crossEntropy({ data: logits(n * c), shape: [n, c] }, { data: target, shape: [n, c] }, { out });
      }, 'crossEntropy: out partly overlaps target'],
      ['out over a BCE target', () => {
        const { input: target, out } = partly(Float32Array, 2);
        return X.binaryCrossEntropyWithLogits({ data: logits(n * c), shape: [n, c] }, { data: target, shape: [n, c] }, { out });
      }, 'binaryCrossEntropyWithLogits: out partly overlaps target'],
      ['softmax out over its input', () => { const { input, out } = partly(Float32Array, 3); return X.softmax({ data: input, shape: [n, c] }, { out }); }, 'softmax: out partly overlaps input'],
      ['logSoftmaxBackward out over gradOutput', () => {
        const { input, out } = partly(Float32Array, c);
        return X.logSoftmaxBackward({ data: input, shape: [n, c] }, { data: logits(n * c), shape: [n, c] }, { out });
      }, 'logSoftmaxBackward: out partly overlaps gradOutput'],
    ];
    test.each(rows)(`[${n}, ${c}] %s`, (_, call, prefix) => {
      expect(call).toThrow(RangeError);
      expect(call).toThrow(prefix + ' (some elements of the input and the written-to array refer to the same memory); pass a separate array, or exactly the same array');
    });

    test(`[${n}, ${c}] an exact alias (out is the input) gives the honest answer`, () => {
      const data = logits(n * c);
      const target = Int32Array.from({ length: n }, (_, i) => (i * 7) % c);
      const honest = X.crossEntropy({ data: data.slice(), shape: [n, c] }, target, { grad: true });
      const aliased = X.crossEntropy({ data, shape: [n, c] }, target, { out: data });
      expect(aliased.grad).toBe(data);
      same(aliased, honest);
      const probs = X.softmax({ data: logits(n * c, 2), shape: [n, c] });
      const honestSoftmax = X.softmax({ data: probs.slice(), shape: [n, c] });
      same(X.softmax({ data: probs, shape: [n, c] }, { out: probs }), honestSoftmax);
    });
  }
});

describe('stale views of wasm memory', () => {
  test('a view kept across memory growth says so', () => {
    const a = X.wasmArray(Float32Array, 6);
    const view = a.array;
    const big = X.wasmArray(Float32Array, (X.wasmMemoryBytes() / 4) + 65536); // forces growth
    expect(() => X.softmax({ data: view, shape: [2, 3] })).toThrow(
      new TypeError("softmax: input is a view of wasm-xent's memory from before the memory grew; read the wasmArray's .array again after every call"),
    );
    expect(X.softmax({ data: a.array, shape: [2, 3] })).toHaveLength(6);
    big.free();
    a.free();
  });

  // An option getter that allocates a wasmArray grows the memory after the caller took the input's
  // view: every op refuses that view alike (red team 60 had seen crossEntropy refuse it where others
  // computed; rechecked 2026-12-07, each op in a process of its own: all refuse it). Each row's
  // getter array is 256 KB larger than the row before's, whose freed block it cannot fit, so each
  // row grows the memory by a little (one doubling, then linear).
  const growRows: [string, string, (x: unknown, o: object) => unknown][] = [
    ['crossEntropy', 'input', (x, o) => X.crossEntropy(x, [1, 2], o)],
    ['nllLoss', 'input', (x, o) => X.nllLoss(x, [1, 2], o)],
    ['focalLoss', 'input', (x, o) => X.focalLoss(x, [1, 2], o)],
    ['binaryCrossEntropy', 'input', (x, o) => X.binaryCrossEntropy(x, new Float32Array(8).fill(0.5), o)],
    ['binaryCrossEntropyWithLogits', 'input', (x, o) => X.binaryCrossEntropyWithLogits(x, new Float32Array(8).fill(0.5), o)],
    ['sigmoidFocalLoss', 'input', (x, o) => X.sigmoidFocalLoss(x, new Float32Array(8).fill(1), o)],
    ['klDiv', 'input', (x, o) => X.klDiv(x, new Float32Array(8).fill(0.25), o)],
    ['softmax', 'input', (x, o) => X.softmax(x, o)],
    ['logSoftmax', 'input', (x, o) => X.logSoftmax(x, o)],
    ['tokenScores', 'logits', (x, o) => X.tokenScores(x, [1, 2], o)],
    ['linearCrossEntropy', 'input', (x, o) => X.linearCrossEntropy(x, { data: new Float32Array(12).fill(0.1), shape: [3, 4] }, [1, 2], o)],
  ];
  let balloonFloats = 0;
  test.each(growRows)('%s: an option getter that grows the memory leaves the input view stale, and says so', (fn, name, call) => {
    balloonFloats = Math.max(balloonFloats + 65536, X.wasmMemoryBytes() / 4 + 65536);
    const a = X.wasmArray(Float32Array, 8);
    a.array.set([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]);
    const balloons: { free(): void }[] = [];
    const grow = () => {
      if (!balloons.length) balloons.push(X.wasmArray(Float32Array, balloonFloats));
    };
    const byDim = fn === 'softmax' || fn === 'logSoftmax' || fn === 'tokenScores';
    const options = byDim ? { get dim() { grow(); return -1; } } : { get reduction() { grow(); return 'sum'; } };
    const before = X.wasmMemoryBytes();
    try {
      expect(() => call({ data: a.array, shape: [2, 4] }, options)).toThrow(
        new TypeError(`${fn}: ${name} is a view of wasm-xent's memory from before the memory grew; read the wasmArray's .array again after every call`),
      );
      expect(X.wasmMemoryBytes()).toBeGreaterThan(before); // (the getter did grow it)
    } finally {
      balloons.forEach((b) => b.free());
      a.free();
    }
  });

  test('a freed wasmArray view is refused even after its block is reused', () => {
    const a = X.wasmArray(Float32Array, 6);
    const view = a.array;
    view.set([1, 2, 3, 4, 5, 6]);
    a.free();
    const b = X.wasmArray(Float32Array, 6); // first fit: a's block
    b.array.set([6, 5, 4, 3, 2, 1]);
    expect(b.array.byteOffset).toBe(view.byteOffset);
    expect(() => X.softmax({ data: view, shape: [2, 3] })).toThrow(
      new Error('softmax: input is the view of a wasmArray that was freed (use after free); allocate a new wasmArray'),
    );
    b.free();
  });

  test('allocating the next array and freeing the previous one reuses freed space', () => {
    let previous = X.wasmArray(Float32Array, 100_000); // 400 KB
    const before = X.wasmMemoryBytes();
    for (let step = 0; step < 3000; step++) {
      const next = X.wasmArray(Float32Array, 100_000);
      previous.free();
      previous = next;
    }
    previous.free();
    expect(X.wasmMemoryBytes()).toBeLessThanOrEqual(before + 400_000 + 65536);
  });
});

describe('empty dims cost nothing and never trap', () => {
  test('softmax over an empty class dim with a large inner size', () => {
    expect(X.softmax({ data: new Float32Array(0), shape: [1, 0, 100000] }, { dim: 1 })).toHaveLength(0);
    expect(X.logSoftmax({ data: new Float64Array(0), shape: [3, 0, 7] }, { dim: 1 })).toHaveLength(0);
  });

  test('probability targets with an empty class dim: -0 per position, as PyTorch', () => {
    const input = { data: new Float32Array(0), shape: [1, 0, 300000] };
    const target = { data: new Float32Array(0), shape: [1, 0, 300000] };
    expect(Object.is(X.crossEntropy(input, target, { reduction: 'sum' }).loss, -0)).toBe(true);
    expect(X.crossEntropy(input, target).loss).toBeNaN();
    const none = X.crossEntropy(input, target, { reduction: 'none', grad: true });
    expect(none.loss).toHaveLength(300000);
    expect(none.loss.every((v: number) => Object.is(v, -0))).toBe(true);
    expect(none.grad).toHaveLength(0);
  });

  test('a huge outer size over an empty dim returns at once, without memory', () => {
    const before = X.wasmMemoryBytes();
    expect(X.softmax({ data: new Float32Array(0), shape: [2 ** 31 - 1, 0] })).toHaveLength(0);
    expect(X.softmax({ data: new Float32Array(0), shape: [0, 1e8] })).toHaveLength(0);
    expect(X.crossEntropy({ data: new Float32Array(0), shape: [0, 2e8] }, new Int32Array(0)).loss).toBeNaN();
    expect(X.crossEntropy({ data: new Float32Array(0), shape: [0, 2e8] }, new Int32Array(0), { reduction: 'sum', grad: true }).loss).toBe(0);
    expect(X.wasmMemoryBytes()).toBe(before);
  });
});

describe('BCE weights that broadcast from a leading dim stream with the input', () => {
  test('a per-sample [N, 1] weight and a full-shape weight on a 64 MB input', () => {
    const n = 16384;
    const c = 1024;
    const x = logits(n * c, 3);
    const y = new Float32Array(n * c);
    for (let i = 0; i < n * c; i += 3) y[i] = 1;
    const perSample = Float32Array.from({ length: n }, (_, i) => 0.5 + (i % 5) / 4);
    const full = new Float32Array(n * c);
    for (let i = 0; i < n; i++) full.fill(perSample[i], i * c, (i + 1) * c);
    // float64 reference of the 'sum' loss: w (max(x, 0) - x y + log1p(exp(-|x|)))
    // (Math's functions taken into locals: a global lookup per element is slow inside jest's vm context)
    const { max, exp, log1p, abs } = Math;
    let expected = 0;
    for (let r = 0; r < n; r++) {
      for (let i = r * c; i < (r + 1) * c; i++) expected += perSample[r] * (max(x[i], 0) - x[i] * y[i] + log1p(exp(-abs(x[i]))));
    }
    X.binaryCrossEntropyWithLogits({ data: x.subarray(0, 4096), shape: [4, 1024] }, y.subarray(0, 4096), { grad: true }); // warm-up size
    const before = X.wasmMemoryBytes();
    const a = X.binaryCrossEntropyWithLogits({ data: x, shape: [n, c] }, { data: y, shape: [n, c] }, { reduction: 'sum', weight: { data: perSample, shape: [n, 1] }, grad: true });
    const b = X.binaryCrossEntropyWithLogits({ data: x, shape: [n, c] }, { data: y, shape: [n, c] }, { reduction: 'sum', weight: { data: full, shape: [n, c] }, grad: true });
    expect(X.wasmMemoryBytes() - before).toBeLessThan(16 << 20); // was 250 MiB: the whole input staged
    expect(Math.abs(a.loss - expected)).toBeLessThan(1e-6 * Math.abs(expected));
    same(a, b);
  });
});

describe('a polluted Object.prototype is never read as an option', () => {
  // Options are own properties (src/tensor.ts checkOptions, red team 50): a call without options
  // gives what it gives on a clean prototype, and an options object that would inherit one of
  // its options is refused by name, by the functions and the torch.nn classes alike.
  const probs = () => ({ data: X.softmax(honestInput()), shape: [N, C] });
  let logProbs: Float32Array;
  beforeAll(() => { logProbs = X.logSoftmax({ data: logits(5 * 2 * 3), shape: [5, 2, 3] }, { dim: 2 }); });
  const calls: [string, (o?: object) => unknown][] = [
    ['crossEntropy', (o) => X.crossEntropy(honestInput(), T, o)],
    ['crossEntropy, probability targets', (o) => X.crossEntropy(honestInput(), probs(), o)],
    ['nllLoss', (o) => X.nllLoss(honestInput(), T, o)],
    ['logSoftmax', (o) => X.logSoftmax(honestInput(), o)],
    ['softmax', (o) => X.softmax(honestInput(), o)],
    ['binaryCrossEntropy', (o) => X.binaryCrossEntropy(probs(), probs(), o)],
    ['binaryCrossEntropyWithLogits', (o) => X.binaryCrossEntropyWithLogits(honestInput(), probs(), o)],
    ['klDiv', (o) => X.klDiv(honestInput(), probs(), o)],
    ['focalLoss', (o) => X.focalLoss(honestInput(), T, o)],
    ['sigmoidFocalLoss', (o) => X.sigmoidFocalLoss(honestInput(), probs(), o)],
    ['ctcLoss', (o) => X.ctcLoss({ data: logProbs, shape: [5, 2, 3] }, [1, 2], [5, 4], [1, 1], o)],
    ['tokenScores', (o) => X.tokenScores(honestInput(), T, o)],
    ['linearCrossEntropy', (o) => X.linearCrossEntropy({ data: logits(N * 3, 2), shape: [N, 3] }, { data: logits(C * 3, 3), shape: [C, 3] }, T, o)],
    ['CrossEntropyLoss', (o) => new X.CrossEntropyLoss(o).forward(honestInput(), T)],
    ['FocalLoss, a call option', (o) => new X.FocalLoss().forward(honestInput(), T, o)],
    ['crossEntropy, bfloat16 logits', (o) => X.crossEntropy({ data: Uint16Array.from(logits(N * C), (v) => new Uint32Array(Float32Array.of(v).buffer)[0] >>> 16), dtype: 'bfloat16', shape: [N, C] }, T, o)],
    ['crossEntropy, typed-array probability targets', (o) => X.crossEntropy(honestInput(), X.softmax(honestInput()), o)],
  ];
  // every option name of every op, with a value that would change its result
  const pollution: Record<string, unknown> = {
    reduction: 'sum', grad: true, gradOutput: 7, weight: [1, 2, 3, 4, 5], ignoreIndex: 0, labelSmoothing: 0.3,
    dim: 0, zLoss: 1, returnLse: true, blank: 1, zeroInfinity: true, gamma: 5, alpha: 0.9, logTarget: true,
    posWeight: 3, topK: 2, softcap: 1, linearBias: [1, 2, 3, 4, 5], accumulate: true,
    // and the fields of tensors and of the library's own records (red team 51: half read float32
    // inputs as 16-bit bits and trapped, type crashed every op, dtype / data / out misled)
    half: 'float16', type: 1, dtype: 'bfloat16', data: new Float32Array(20), dims: [4, 5], location: 'gpu',
    outInput: new Float32Array(3), out: new Float32Array(5),
  };
  test.each(calls)('%s', (_name, call) => {
    const clean = call();
    const proto = Object.prototype as Record<string, unknown>;
    let polluted: unknown;
    let refused = '';
    try {
      for (const [key, value] of Object.entries(pollution)) proto[key] = value;
      polluted = call();
      try {
        call({});
      } catch (e) {
        refused = (e as Error).message;
      }
    } finally {
      for (const key of Object.keys(pollution)) delete proto[key];
    }
    same(polluted, clean);
    expect(refused).toMatch(/: option '\w+' is inherited from the options object's prototype; options must be its own properties$/);
  });
});
