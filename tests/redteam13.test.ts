// Red team 13: this session's changes (c50fc7c: sameMemory, viewsAgain in crossEntropy's
// zero-weight smoothed 'mean' path, zLoss's kept count before the stream; ed8f9a5: ChunkLayout)
// attacked from outside.
// - Here (one thread, memory growth detaches views): crossEntropy 'mean' with labelSmoothing and
//   class weights summing to zero over the kept targets, on every combination of wasmArray input /
//   out (separate, or out = input) / gradOutput ('none' with a per-position wasmArray gradOutput
//   too), float32 / float64 / bfloat16 input, returnLse, zLoss, with memory filled to its end so
//   that the call (and its nested call) grows memory: the bits of the same call on plain arrays,
//   and PyTorch's NaN loss / NaN gradient for the kept positions.
// - tests/redteam13/threads.test.ts (threads, shared memory): views through an OLDER
//   SharedArrayBuffer object of wasm-xent's memory (V8 hands out a new object when another shared
//   WebAssembly.Memory grows) in all 15 ops as input, second input, targets, out: inside live
//   wasmArrays the bits of plain arrays; over unpinned memory / freed wasmArrays refused; out
//   partly overlapping the input across objects refused; exact alias across objects works; a call
//   that grows memory with such views; the zero-weight path on 2 threads.
// - tests/redteam13/run.sh: the packed package installed offline in a fresh project, setThreads(2),
//   NCHW crossEntropy on wasmArrays with Uint8Array targets (and an older-object input).
// FINDINGS (threads.test.ts, failing until fixed): (1) crossEntropy (class indices and
// probabilities) returnLse with out = input
// where one of them is viewed through an older buffer object: lse NaN instead of +Infinity for a
// row holding +inf (sameArray compares buffer objects); (2)-(4) linearCrossEntropy's resident() /
// overlaps() compare buffer objects: older-object views over unpinned memory or a freed wasmArray
// are not refused, outInput partly overlapping the input across objects is not refused; (5) a live
// wasmArray's .array taken while V8's current object was one workspace.ts never noted is refused
// as a foreign SharedArrayBuffer once another shared memory grows again.
// FINDINGS here (one thread): (6) a class weight / BCE weight / posWeight / linearCrossEntropy
// weight given as a wasmArray's .array throws "Cannot perform %TypedArray%.prototype.set on a
// detached ArrayBuffer" when the call grows wasm memory (the view is copied in after the reserve),
// in crossEntropy (index and probabilities), nllLoss, focalLoss, BCE, BCE-with-logits, LCE.
import * as X from '../src';

jest.setTimeout(120000);

type Any = any; // eslint-disable-line @typescript-eslint/no-explicit-any

beforeAll(() => X.init());

function snap(r: unknown): unknown {
  if (typeof r === 'number') return Object.is(r, -0) ? '-0' : Number.isNaN(r) ? 'NaN' : r;
  if (ArrayBuffer.isView(r)) return Array.from(r as unknown as ArrayLike<number>, (v) => snap(v));
  if (r && typeof r === 'object') return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, snap(v)]));
  return r;
}

/** Runs f with wasm memory filled to its end by a filler wasmArray: the call's reserve must grow it. */
function withFullMemory<T>(f: () => T): T {
  const probe = X.wasmArray(Float32Array, 4);
  const p = probe.pointer;
  probe.free();
  const filler = X.wasmArray(Float32Array, Math.max(1, (X.wasmMemoryBytes() - p) >> 2));
  try {
    return f();
  } finally {
    filler.free();
  }
}

function toBf16(v: number): number {
  const u = new Uint32Array(Float32Array.of(v).buffer)[0];
  return (u + 0x7fff + ((u >> 16) & 1)) >>> 16;
}

const C = 4;
const N = 3000; // positions: large enough that the call's workspace reaches past the filler
const weight = [1, 2, 0, 0];
// kept targets only in classes 2, 3 (weight 0): the weight sum over kept targets is 0
const targets = Array.from({ length: N }, (_, i) => (i % 7 === 3 ? -100 : 2 + (i % 2)));
const xs = Array.from({ length: N * C }, (_, i) => Math.sin(i * 0.61) * 3);

type Kind = 'f32' | 'f64' | 'bf16';
function inputOf(kind: Kind, wasm: boolean): { tensor: Any; free: () => void; array?: Float32Array | Float64Array; now?: () => Float32Array | Float64Array } {
  if (kind === 'bf16') {
    const bits = Uint16Array.from(xs, toBf16);
    if (!wasm) return { tensor: { data: bits, shape: [N, C], dtype: 'bfloat16' }, free: () => undefined };
    const w = X.wasmArray(Float32Array, (N * C) / 2);
    new Uint16Array(w.array.buffer, w.array.byteOffset, N * C).set(bits);
    return { tensor: { data: new Uint16Array(w.array.buffer, w.array.byteOffset, N * C), shape: [N, C], dtype: 'bfloat16' }, free: () => w.free() };
  }
  const T = kind === 'f32' ? Float32Array : Float64Array;
  if (!wasm) { const a = T.from(xs); return { tensor: { data: a, shape: [N, C] }, free: () => undefined, array: a }; }
  const w = X.wasmArray(T as typeof Float32Array, N * C);
  w.array.set(xs);
  return { tensor: { data: w.array, shape: [N, C] }, free: () => w.free(), array: w.array, now: () => w.array };
}

describe('zero class-weight sum + labelSmoothing: wasmArray input / out / gradOutput, memory growing during the call = plain arrays', () => {
  const cases: [Kind, boolean, 'none' | 'plain' | 'wasm' | 'input', boolean, boolean, 'mean' | 'none'][] = [];
  for (const kind of ['f32', 'f64', 'bf16'] as Kind[]) {
    for (const wasmIn of [false, true]) {
      for (const out of ['none', 'plain', 'wasm', 'input'] as const) {
        if (out === 'input' && (kind === 'bf16' || !wasmIn)) continue;
        for (const [lse, z] of [[false, false], [true, false], [false, true], [true, true]]) {
          cases.push([kind, wasmIn, out, lse, z, 'mean']);
          if (!lse && !z) cases.push([kind, wasmIn, out, lse, z, 'none']);
        }
      }
    }
  }
  test.each(cases)('%s input wasm=%s out=%s returnLse=%s zLoss=%s reduction=%s', (kind, wasmIn, out, lse, z, reduction) => {
    const T = kind === 'f64' ? Float64Array : Float32Array;
    const gradOutput = reduction === 'none' ? Float32Array.from({ length: N }, (_, i) => 1 + (i % 3)) : 0.5;
    const opts = (o: Any, g: Any): Any => ({ weight, labelSmoothing: 0.2, reduction, grad: true, gradOutput: reduction === 'none' ? (kind === 'f64' ? Float64Array.from(g) : g) : g, ...(lse ? { returnLse: true } : {}), ...(z ? { zLoss: 1e-3 } : {}), ...(o ? { out: o } : {}) });
    // the plain-array call (the reference, no growth involved)
    const pin = inputOf(kind, false);
    const plain = snap(X.crossEntropy(pin.tensor, Int32Array.from(targets), opts(out === 'none' ? null : out === 'input' ? pin.array : new T(N * C), gradOutput)));
    const wasmOut = out === 'wasm' ? X.wasmArray(T as typeof Float32Array, N * C) : null;
    const wasmG = reduction === 'none' ? X.wasmArray(T as typeof Float32Array, N) : null;
    const win = inputOf(kind, wasmIn);
    try {
      if (wasmG) wasmG.array.set(gradOutput as Float32Array);
      const got = withFullMemory(() => {
        const before = X.wasmMemoryBytes();
        const r = X.crossEntropy(win.tensor, Int32Array.from(targets), opts(out === 'none' ? null : out === 'plain' ? new T(N * C) : out === 'wasm' ? wasmOut!.array : win.array, wasmG ? wasmG.array : gradOutput));
        expect(X.wasmMemoryBytes()).toBeGreaterThan(before); // the call did grow memory
        return snap(r);
      });
      expect(got).toEqual(plain);
      if (wasmG) expect(snap(wasmG.array)).toEqual(snap(gradOutput)); // gradOutput not written
      if (wasmOut) expect(snap(wasmOut.array)).toEqual((plain as Any).grad);
      if (out === 'input') expect(snap(win.now!())).toEqual((plain as Any).grad); // the gradient written over the input
      // PyTorch: 'mean' divides by the weight sum over kept targets, 0: the loss is NaN and the
      // gradient of every kept position NaN
      if (reduction === 'mean') {
        expect((plain as Any).loss).toBe('NaN');
        const g = (plain as Any).grad as unknown[];
        expect(targets.every((t, i) => t < 0 || g.slice(i * C, i * C + C).every((v) => v === 'NaN'))).toBe(true);
      }
    } finally {
      win.free();
      wasmG?.free();
      wasmOut?.free();
    }
  });
});

describe('more zero class-weight sum cases under memory growth (held)', () => {
  test('NCHW [2, 4, 50, 30] dim 1, wasmArray input and out, ignore_index 3 occurring (the copy path), zLoss + returnLse: the bits of plain arrays', () => {
    const shape = [2, 4, 50, 30], n = 2 * 4 * 50 * 30, P = 2 * 50 * 30;
    const x = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.37) * 2);
    const t = Uint8Array.from({ length: P }, (_, i) => (i % 5 === 0 ? 3 : 2));
    const o = (out: Float32Array): Any => ({ weight: [1, 1, 0, 5], ignoreIndex: 3, labelSmoothing: 0.1, grad: true, zLoss: 1e-4, returnLse: true, out });
    const plain = snap(X.crossEntropy({ data: x, shape }, t, o(new Float32Array(n))));
    expect((plain as Any).loss).toBe('NaN');
    const wx = X.wasmArray(Float32Array, n), wo = X.wasmArray(Float32Array, n);
    try {
      wx.array.set(x);
      const got = withFullMemory(() => {
        const before = X.wasmMemoryBytes();
        const r = snap(X.crossEntropy({ data: wx.array, shape }, t, o(wo.array)));
        expect(X.wasmMemoryBytes()).toBeGreaterThan(before);
        return r;
      });
      expect(got).toEqual(plain);
      expect(snap(wo.array)).toEqual((plain as Any).grad);
    } finally {
      wo.free(); wx.free();
    }
  });
  test('linearCrossEntropy zero class-weight sum + labelSmoothing \'mean\', wasmArray input / linearWeight / outInput / outWeight, growing memory: the bits of plain arrays', () => {
    const Nl = 500, D = 8, Cl = 6;
    const x = Float32Array.from({ length: Nl * D }, (_, i) => Math.sin(i * 0.3));
    const w = Float32Array.from({ length: Cl * D }, (_, i) => Math.cos(i * 0.7) * 0.5);
    const t = Array.from({ length: Nl }, (_, i) => (i % 9 === 0 ? -100 : 4 + (i % 2)));
    const o = (gi: Float32Array, gw: Float32Array): Any => ({ weight: [1, 1, 1, 1, 0, 0], labelSmoothing: 0.1, zLoss: 1e-3, returnLse: true, outInput: gi, outWeight: gw });
    const plain = snap(X.linearCrossEntropy({ data: x, shape: [Nl, D] }, { data: w, shape: [Cl, D] }, t, o(new Float32Array(Nl * D), new Float32Array(Cl * D))));
    const wx = X.wasmArray(Float32Array, Nl * D), ww = X.wasmArray(Float32Array, Cl * D), gi = X.wasmArray(Float32Array, Nl * D), gw = X.wasmArray(Float32Array, Cl * D);
    try {
      wx.array.set(x); ww.array.set(w);
      const got = withFullMemory(() => {
        const before = X.wasmMemoryBytes();
        const r = snap(X.linearCrossEntropy({ data: wx.array, shape: [Nl, D] }, { data: ww.array, shape: [Cl, D] }, t, o(gi.array, gw.array)));
        expect(X.wasmMemoryBytes()).toBeGreaterThan(before);
        return r;
      });
      expect(got).toEqual(plain);
      expect(snap(gi.array)).toEqual((plain as Any).gradInput);
      expect(snap(gw.array)).toEqual((plain as Any).gradWeight);
    } finally {
      gw.free(); gi.free(); ww.free(); wx.free();
    }
  });
});

describe('FINDINGS (fixed in the commit before this merge; each failed before it)', () => {
  // A weight-like option given as a wasmArray's .array (class weight, BCE weight, posWeight,
  // linearCrossEntropy's class weight) is kept as that view (classWeight / checkNumbers return
  // it) and copied into the call's fixed block only AFTER the stream's (or the LCE's) reserve,
  // which may grow wasm memory and detach it: "TypeError: Cannot perform
  // %TypedArray%.prototype.set on a detached ArrayBuffer". Without growth the same call works.
  // Expected: the bits of the same call with a plain Float32Array weight. (linearBias and
  // tokenScores, tried the same way, held.)
  const Nw = 3000, Cw = 4;
  const xw = Float32Array.from({ length: Nw * Cw }, (_, i) => 0.05 + 0.9 * Math.abs(Math.sin(i)));
  const yw = Float32Array.from({ length: Nw * Cw }, (_, i) => (i % 3) / 2);
  const tw = Int32Array.from({ length: Nw }, (_, i) => i % Cw);
  const Ww = Float32Array.from({ length: 2 * Cw }, (_, i) => Math.cos(i));
  const weightCases: [string, (p: Float32Array) => unknown][] = [
    ['crossEntropy index weight', (p) => X.crossEntropy({ data: xw, shape: [Nw, Cw] }, tw, { weight: p, grad: true, labelSmoothing: 0.1 })],
    ['crossEntropy probs weight', (p) => X.crossEntropy({ data: xw, shape: [Nw, Cw] }, { data: yw, shape: [Nw, Cw] }, { weight: p, grad: true })],
    ['nllLoss weight', (p) => X.nllLoss({ data: xw, shape: [Nw, Cw] }, tw, { weight: p, grad: true, reduction: 'none' })],
    ['focalLoss weight', (p) => X.focalLoss({ data: xw, shape: [Nw, Cw] }, tw, { weight: p, grad: true, gamma: 2 })],
    ['binaryCrossEntropy weight', (p) => X.binaryCrossEntropy({ data: xw, shape: [Nw, Cw] }, { data: yw, shape: [Nw, Cw] }, { weight: p, grad: true })],
    ['binaryCrossEntropyWithLogits weight', (p) => X.binaryCrossEntropyWithLogits({ data: xw, shape: [Nw, Cw] }, { data: yw, shape: [Nw, Cw] }, { weight: p, grad: true })],
    ['binaryCrossEntropyWithLogits posWeight', (p) => X.binaryCrossEntropyWithLogits({ data: xw, shape: [Nw, Cw] }, { data: yw, shape: [Nw, Cw] }, { posWeight: p, grad: true })],
    ['linearCrossEntropy weight', (p) => X.linearCrossEntropy({ data: xw, shape: [Nw, Cw] }, { data: Ww, shape: [2, Cw] }, Array.from(tw, (v) => v % 2), { weight: p.subarray(0, 2), grad: true })],
  ];
  test.each(weightCases)('%s as a wasmArray, the call growing wasm memory: the bits of a plain weight', (_name, f) => {
    const vals = [0.5, 1, 2, 3];
    const plain = snap(f(Float32Array.from(vals)));
    const w = X.wasmArray(Float32Array, 4);
    try {
      w.array.set(vals);
      expect(snap(f(w.array))).toEqual(plain); // (no growth: held)
      let got: unknown;
      withFullMemory(() => {
        const before = X.wasmMemoryBytes();
        try {
          got = snap(f(w.array));
        } catch (e) {
          got = `${(e as Error).name}: ${(e as Error).message}`;
        }
        expect(X.wasmMemoryBytes()).toBeGreaterThan(before);
      });
      expect(got).toEqual(plain);
    } finally {
      w.free();
    }
  });
});
