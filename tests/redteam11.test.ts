// Red team 11 (a session that did not write the code): crossEntropy with class-index targets on
// NCHW-style inputs (outer, C, inner) whose slices src/stream.ts now cuts into two chunks of
// ceil(inner / 8) * 4 + 8 positions and the rest (inner >= 2048, inner * bytes a multiple of 512,
// slice <= 512 KiB), or whose over-512-KiB chunk width gets 8 more positions (C = 16 / 32 float32).
// Attacked from outside on the build under test (WASM_XENT_BUILD=simd or scalar):
// - against the float64 reference (tests/reference.ts) for every option;
// - bit for bit against crossEntropy on each chunk's positions alone (a [1, C, width] tensor, which
//   is one chunk): 'none' losses, gradients and lse the same bits, and 'sum' the chunk sums added
//   in chunk order;
// - 1, 2 and 4 threads the same bits; wasmArray input / out / exact alias, Uint8 / Int32 / BigInt64
//   targets and half input (against its float32 decoding) the same bits as plain arrays;
// - nllLoss(logSoftmax(x)) as a cross-check through another path;
// - option getters that free or allocate wasmArrays (memory growth) while arguments are read.
// Probes that held are table rows; the probe that found a problem (fixed) says "found by red team 11".
import * as X from '../src';
import * as R from './reference';
import { ints, normals, rng } from './helpers/random';
import { expectSame } from './helpers/same';

jest.setTimeout(120000);

type F = Float32Array | Float64Array;
type FCtor = typeof Float32Array | typeof Float64Array;
const EPS = { Float32Array: 2 ** -23, Float64Array: 2 ** -52 } as const;
const IGNORE = -7;

/** Byte equality (NaN payloads and -0 included); on a difference expectSame names the element. */
function sameBytes(what: string, a: F, b: F): void {
  const bytes = (v: F) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (a.constructor === b.constructor && a.length === b.length && bytes(a).equals(bytes(b))) return;
  expectSame(what, a, b);
  throw new Error(`${what}: same numbers but different bits`);
}

/** The chunk widths src/stream.ts is documented to use for (T, C, inner) (see the brief / stream.ts
 *  comments), or [inner] when a slice is one chunk; used to cut the independent per-chunk calls. */
function widths(T: FCtor, C: number, inner: number): number[] {
  const b = T.BYTES_PER_ELEMENT;
  const slice = C * b * inner;
  let w = inner;
  if (slice <= 1 << 19 && inner >= 2048 && (inner * b) % 512 === 0) w = Math.ceil(inner / 8) * 4 + 8;
  else if (slice > 1 << 19 && inner > 32) {
    w = Math.min(inner, Math.max(32, Math.floor((1 << 19) / (C * b) / 4) * 4));
    if (w < inner && (w * b) % 512 === 0) w += 8;
  }
  const out: number[] = [];
  for (let i0 = 0; i0 < inner; i0 += w) out.push(Math.min(w, inner - i0));
  return out;
}

/** Normal samples (Box-Muller, as helpers/random's normals) with Math hoisted: jest's global
 *  lookups made generating the data cost more than the calls. */
function gaussians(T: FCtor, r: () => number, n: number, scale: number): F {
  const { sqrt, log, cos, max, PI } = Math;
  const out = new T(n);
  for (let i = 0; i < n; i++) out[i] = scale * sqrt(-2 * log(max(r(), 1e-12))) * cos(2 * PI * r());
  return out;
}

interface Case { T: FCtor; outer: number; C: number; inner: number; x: F; t: Int32Array }

/** Random logits (scale 3) and targets, with ignored positions at every chunk's first and last
 *  position (and a few random ones) when `ignore` is set. */
function makeCase(seed: number, T: FCtor, outer: number, C: number, inner: number, ignore: boolean): Case {
  const r = rng(seed);
  const x = gaussians(T, r, outer * C * inner, 3);
  const t = ints(r, outer * inner, C);
  if (ignore) {
    for (let o = 0; o < outer; o++) {
      let i0 = 0;
      for (const w of widths(T, C, inner)) {
        t[o * inner + i0] = IGNORE;
        t[o * inner + i0 + w - 1] = IGNORE;
        i0 += w;
      }
      for (let k = 0; k < 5; k++) t[o * inner + Math.floor(r() * inner)] = IGNORE;
    }
  }
  return { T, outer, C, inner, x, t };
}

/** The positions i0 .. i0 + w of outer index o: (C, w) as a [1, C, w] tensor, and its targets. */
function block(c: Case, o: number, i0: number, w: number): { x: F; t: Int32Array } {
  const { C, inner } = c;
  const x = new c.T(C * w);
  for (let k = 0; k < C; k++) x.set(c.x.subarray((o * C + k) * inner + i0, (o * C + k) * inner + i0 + w), k * w);
  return { x, t: c.t.slice(o * inner + i0, o * inner + i0 + w) };
}

type Opts = Record<string, unknown>;
const ce = (c: Case, o: Opts, x: F = c.x, t: unknown = c.t) =>
  X.crossEntropy({ data: x, shape: [c.outer, c.C, c.inner] }, t as Int32Array, { ignoreIndex: IGNORE, ...o } as never) as { loss: number | F; grad?: F; lse?: F };

function weightOf(C: number): Float64Array {
  const w = new Float64Array(C);
  for (let k = 0; k < C; k++) w[k] = 0.25 + ((k * 7) % 5) / 4;
  return w;
}

/** Checks one result against the float64 reference (crossEntropyIndex + zLossTerm). Bounds: per
 *  position 64 eps (1 + |lse| + max|x|) times the largest weight; reductions 64 eps times the sum of
 *  the absolute per-position terms (over the denominator for 'mean'); gradients 64 eps times the
 *  largest gradient entry of the position's column plus its own magnitude. */
function checkRef(what: string, c: Case, o: Opts, got: { loss: number | F; grad?: F; lse?: F }): void {
  const { T, outer, C, inner, x, t } = c;
  const eps = EPS[T.name as keyof typeof EPS];
  const abs = Math.abs;
  const ro = { ...o, ignoreIndex: IGNORE, weight: o.weight as Float64Array | undefined } as R.ClassLossOptions;
  const shape = [outer, C, inner];
  const ref = R.crossEntropyIndex({ data: x, shape }, t, ro);
  const z = (o.zLoss as number) ?? 0;
  const zr = R.zLossTerm({ data: x, shape }, t, z, ro);
  let maxAbs = 0;
  for (let k = 0; k < x.length; k++) if (abs(x[k]) > maxAbs) maxAbs = abs(x[k]);
  const wmax = o.weight ? Math.max(...(o.weight as Float64Array)) : 1;
  const perTol = 64 * eps * (1 + 2 * maxAbs + 8) * (wmax + z * 4 * (maxAbs + 8) * (maxAbs + 8));
  const reduction = (o.reduction as string) ?? 'mean';
  if (reduction === 'none') {
    const g = got.loss as F, a = ref.loss as Float64Array, b = zr.loss as Float64Array;
    for (let p = 0; p < g.length; p++) {
      const w = a[p] + b[p];
      if (!(abs(g[p] - w) <= perTol)) throw new Error(`${what}: loss[${p}] ${g[p]}, float64 reference ${w} (bound ${perTol})`);
    }
  } else {
    const w = (ref.loss as number) + (zr.loss as number);
    let den = 1;
    if (reduction === 'mean') {
      den = 0;
      for (let p = 0; p < t.length; p++) if (t[p] !== IGNORE) den += o.weight ? (o.weight as Float64Array)[t[p]] : 1;
    }
    const tol = (perTol * t.length) / den;
    if (!(abs((got.loss as number) - w) <= tol)) throw new Error(`${what}: loss ${got.loss}, float64 reference ${w} (bound ${tol})`);
  }
  if (got.grad) {
    const gr = ref.grad, gz = zr.grad;
    let den = 0;
    for (let p = 0; p < t.length; p++) if (t[p] !== IGNORE) den += o.weight ? (o.weight as Float64Array)[t[p]] : 1;
    const go = o.gradOutput as F | undefined;
    for (let a = 0; a < outer; a++) {
      for (let i = 0; i < inner; i++) {
        // The position's upstream factor: a rounding of a probability near 1 (or of exp near 0)
        // is eps of it, however small the entry that results (p - 1 cancels).
        const up = reduction === 'mean' ? 1 / den : go ? abs(go[a * inner + i]) : 1;
        let m = up * (wmax + z * 4 * (maxAbs + 8));
        for (let k = 0; k < C; k++) m = Math.max(m, abs(gr[(a * C + k) * inner + i] + gz[(a * C + k) * inner + i]));
        for (let k = 0; k < C; k++) m = Math.max(m, abs(gr[(a * C + k) * inner + i] + gz[(a * C + k) * inner + i]));
        for (let k = 0; k < C; k++) {
          const q = (a * C + k) * inner + i, w = gr[q] + gz[q];
          const tol = 64 * eps * (m + abs(w)) * (1 + maxAbs);
          if (!(abs(got.grad[q] - w) <= tol)) throw new Error(`${what}: grad[${a}, ${k}, ${i}] ${got.grad[q]}, float64 reference ${w} (bound ${tol})`);
        }
      }
    }
  }
  if (got.lse) {
    for (let p = 0; p < got.lse.length; p++) {
      if (!(abs(got.lse[p] - zr.lse[p]) <= 16 * eps * (1 + abs(zr.lse[p])))) throw new Error(`${what}: lse[${p}] ${got.lse[p]}, reference ${zr.lse[p]}`);
    }
  }
}

/** Bit-for-bit check against crossEntropy on each chunk alone ([1, C, width], one chunk): 'none'
 *  losses, gradients and lse concatenated, and 'sum' the chunk sums added in chunk order (not for
 *  zLoss, whose z term is added once over all chunks). gradOutput per position is cut alike. */
function checkChunks(what: string, c: Case, o: Opts, got: { loss: number | F; grad?: F; lse?: F }): void {
  const { T, outer, C, inner } = c;
  const reduction = (o.reduction as string) ?? 'mean';
  if (reduction === 'mean') return;
  const loss = reduction === 'none' ? new T(outer * inner) : null;
  const grad = got.grad ? new T(outer * C * inner) : null;
  const lse = got.lse ? new T(outer * inner) : null;
  let sum = 0;
  for (let a = 0; a < outer; a++) {
    let i0 = 0;
    for (const w of widths(T, C, inner)) {
      const b = block(c, a, i0, w);
      const go = o.gradOutput as F | undefined;
      const sub = { ...o, ...(go ? { gradOutput: go.slice(a * inner + i0, a * inner + i0 + w) } : {}) };
      const r = X.crossEntropy({ data: b.x, shape: [1, C, w] }, b.t, { ignoreIndex: IGNORE, ...sub } as never) as { loss: number | F; grad?: F; lse?: F };
      if (loss) loss.set(r.loss as F, a * inner + i0);
      else sum += r.loss as number;
      if (lse) lse.set(r.lse!, a * inner + i0);
      if (grad) for (let k = 0; k < C; k++) grad.set(r.grad!.subarray(k * w, (k + 1) * w), (a * C + k) * inner + i0);
      i0 += w;
    }
  }
  if (loss) sameBytes(`${what} none losses vs per-chunk calls`, got.loss as F, loss);
  // (a slice that is one chunk shares it with other outer indices: its sum is not per outer index)
  else if (!o.zLoss && widths(T, C, inner).length > 1) expectSame(`${what} sum vs per-chunk sums in chunk order`, got.loss, sum);
  if (grad) sameBytes(`${what} grad vs per-chunk calls`, got.grad!, grad);
  if (lse) sameBytes(`${what} lse vs per-chunk calls`, got.lse!, lse);
}

/** Option sets: every option at least once, with and without gradients. */
function optionSets(c: Case): [string, Opts][] {
  const r = rng(c.outer * 131 + c.C * 7 + c.inner);
  const go = c.T.from(normals(r, c.outer * c.inner));
  return [
    ['none gradOutput', { reduction: 'none', grad: true, gradOutput: go }],
    ['sum weight smoothing', { reduction: 'sum', grad: true, weight: weightOf(c.C), labelSmoothing: 0.1 }],
    ['mean weight smoothing zLoss lse', { reduction: 'mean', grad: true, weight: weightOf(c.C), labelSmoothing: 0.2, zLoss: 1e-3, returnLse: true }],
    ['none zLoss lse gradOutput', { reduction: 'none', grad: true, zLoss: 1e-2, returnLse: true, gradOutput: go }],
  ];
}

const tableCases: Case[] = [];
let saved: { key: string; loss: number | F; grad?: F; lse?: F }[] = [];

beforeAll(async () => {
  await X.init();
  await X.setThreads(4); // shared memory before any wasmArray
  await X.setThreads(1);
});
afterAll(() => X.setThreads(1));

// [T, outer, C, inner]: at and around the split threshold (inner 2048 / 2047 / 2049 / 2176 / 4096,
// 1024 unsplit; float64 inner multiples of 64 too), slices just under / at / over 512 KiB, and the
// over-512-KiB widths C = 16 / 32 float32 (8192 -> 8200, 4096 -> 4104).
const SHAPES: [FCtor, number, number, number][] = [
  [Float32Array, 3, 1, 2048], [Float32Array, 2, 2, 2048], [Float32Array, 1, 21, 2048], [Float32Array, 1, 21, 2047],
  [Float32Array, 1, 21, 2049], [Float32Array, 2, 3, 2176], [Float32Array, 9, 2, 4096], [Float32Array, 2, 21, 1024],
  [Float32Array, 1, 150, 2048], [Float32Array, 1, 64, 2048], [Float32Array, 1, 65, 2048], [Float32Array, 1, 32, 4096],
  [Float32Array, 1, 31, 4224], [Float32Array, 1, 16, 8192], [Float32Array, 1, 16, 8196], [Float32Array, 1, 16, 8188],
  [Float32Array, 1, 16, 8194],
  [Float32Array, 1, 1024, 264],
  [Float64Array, 3, 1, 2048], [Float64Array, 2, 2, 2112], [Float64Array, 1, 21, 2048], [Float64Array, 2, 5, 2047],
  [Float64Array, 1, 32, 2048], [Float64Array, 1, 33, 2048], [Float64Array, 1, 16, 4096], [Float64Array, 1, 8, 8192], [Float64Array, 1, 512, 264],
];

describe('crossEntropy on NCHW chunks: float64 reference and per-chunk calls bit for bit, every option', () => {
  test.each(SHAPES.map(([T, o, C, i]) => [`${T.name} [${o}, ${C}, ${i}] chunks ${widths(T, C, i).join('+')}`, T, o, C, i] as const))('%s', (_n, T, outer, C, inner) => {
    const c = makeCase(outer * 1000 + C * 10 + inner, T, outer, C, inner, true);
    tableCases.push(c);
    for (const [name, o] of optionSets(c)) {
      const got = ce(c, o);
      const what = `${T.name} [${outer}, ${C}, ${inner}] ${name}`;
      checkRef(what, c, o, got);
      checkChunks(what, c, o, got);
      saved.push({ key: what, ...got });
    }
  });
});

describe('the same calls on 2 and 4 threads: the same bits as on 1', () => {
  test.each([2, 4])('%i threads', async (n) => {
    expect(saved.length).toBe(SHAPES.length * 4);
    await X.setThreads(n);
    try {
      let k = 0;
      for (const [j, [T, outer, C, inner]] of SHAPES.entries()) {
        const c = tableCases[j]; // (the same data: making it again costs more than the calls)
        for (const [name, o] of optionSets(c)) {
          const s = saved[k++];
          if (name === 'sum weight smoothing') continue; // (the other two cover every option)
          const got = ce(c, o);
          expect(s.key).toBe(`${T.name} [${outer}, ${C}, ${inner}] ${name}`);
          if (typeof s.loss === 'number') expectSame(`${s.key} ${n} threads loss`, got.loss, s.loss);
          else sameBytes(`${s.key} ${n} threads loss`, got.loss as F, s.loss);
          if (s.grad) sameBytes(`${s.key} ${n} threads grad`, got.grad!, s.grad);
          if (s.lse) sameBytes(`${s.key} ${n} threads lse`, got.lse!, s.lse);
        }
      }
    } finally {
      await X.setThreads(1);
    }
  });
});

/** Copies `a` into a new wasmArray of its type. */
function wasmCopy(a: F): X.WasmArray {
  const w = X.wasmArray(a.constructor as FCtor, a.length);
  w.array.set(a);
  return w;
}

describe('wasmArray input / out / exact alias, target types, half input: the same bits as plain arrays', () => {
  const shapes: [FCtor, number, number, number][] = [[Float32Array, 2, 21, 2048], [Float64Array, 2, 5, 2048], [Float32Array, 1, 16, 8192], [Float32Array, 1, 32, 4096], [Float32Array, 3, 2, 2047], [Float32Array, 2, 16, 8194]];
  const cases = [1, 2, 4].flatMap((n) => (n === 4 ? shapes.slice(0, 3) : shapes).map(([T, o, C, i]) => [`${n} thread(s) ${T.name} [${o}, ${C}, ${i}]`, n, T, o, C, i] as const));
  test.each(cases)('%s', async (_n, threads, T, outer, C, inner) => {
    await X.setThreads(threads);
    try {
      const c = makeCase(7 + outer + C + inner, T, outer, C, inner, true);
      for (const [name, o] of optionSets(c)) {
        const what = `${threads} thread(s) ${T.name} [${outer}, ${C}, ${inner}] ${name}`;
        const plain = ce(c, o);
        // wasmArray input
        const xin = wasmCopy(c.x);
        try {
          const r1 = ce(c, o, xin.array as F);
          expectSame(`${what} wasmArray input loss`, typeof r1.loss === 'number' ? r1.loss : (r1.loss as F).slice(), typeof plain.loss === 'number' ? plain.loss : plain.loss);
          sameBytes(`${what} wasmArray input grad`, r1.grad!, plain.grad!);
          sameBytes(`${what} wasmArray input unchanged`, xin.array as F, c.x);
          // wasmArray out (the gradient written into wasm memory)
          const out = X.wasmArray(T, c.x.length);
          try {
            const r2 = ce(c, { ...o, grad: undefined, out: out.array });
            sameBytes(`${what} wasmArray out`, out.array as F, plain.grad!);
            sameBytes(`${what} wasmArray out (returned)`, r2.grad!, plain.grad!);
            // wasmArray input and wasmArray out together
            const r3 = ce(c, { ...o, grad: undefined, out: out.array }, xin.array as F);
            sameBytes(`${what} wasmArray input + out`, r3.grad!, plain.grad!);
          } finally {
            out.free();
          }
          // exact alias: out = input, a wasmArray
          const r4 = ce(c, { ...o, grad: undefined, out: xin.array }, xin.array as F);
          expectSame(`${what} alias loss`, r4.loss, plain.loss);
          sameBytes(`${what} alias (wasmArray) grad`, xin.array as F, plain.grad!);
          if (plain.lse) sameBytes(`${what} alias lse`, r4.lse!, plain.lse);
        } finally {
          xin.free();
        }
        // input and out: unaligned views into one wasmArray (offsets 1 and n + 3 elements)
        {
          const n = c.x.length;
          const both = X.wasmArray(T, 2 * n + 3);
          try {
            both.array.set(c.x, 1);
            const r7 = ce(c, { ...o, grad: undefined, out: both.array.subarray(n + 3) }, both.array.subarray(1, n + 1) as F);
            expectSame(`${what} views into one wasmArray loss`, r7.loss, plain.loss);
            sameBytes(`${what} views into one wasmArray grad`, both.array.subarray(n + 3) as F, plain.grad!);
            sameBytes(`${what} views into one wasmArray input unchanged`, both.array.subarray(1, n + 1) as F, c.x);
          } finally {
            both.free();
          }
        }
        // exact alias: out = input, an ordinary array
        const copy = c.x.slice();
        const r5 = ce(c, { ...o, grad: undefined, out: copy }, copy);
        expectSame(`${what} plain alias loss`, r5.loss, plain.loss);
        sameBytes(`${what} plain alias grad`, copy, plain.grad!);
        if (plain.lse) sameBytes(`${what} plain alias lse`, r5.lse!, plain.lse);
        // gradOutput a wasmArray ('none')
        if (o.gradOutput) {
          const g = wasmCopy(o.gradOutput as F);
          try {
            const r6 = ce(c, { ...o, gradOutput: g.array });
            expectSame(`${what} wasmArray gradOutput`, r6, plain);
          } finally {
            g.free();
          }
        }
      }
      // target types
      const c2 = makeCase(99 + inner, T, outer, C, inner, false);
      const base = ce(c2, { reduction: 'none', grad: true });
      if (C <= 255) expectSame('Uint8Array targets', ce(c2, { reduction: 'none', grad: true }, c2.x, Uint8Array.from(c2.t)), base);
      expectSame('BigInt64Array targets', ce(c2, { reduction: 'none', grad: true }, c2.x, BigInt64Array.from(c2.t, BigInt)), base);
      expectSame('number[] targets', ce(c2, { reduction: 'none', grad: true }, c2.x, Array.from(c2.t)), base);
    } finally {
      await X.setThreads(1);
    }
  });
});

/** float32 -> bfloat16 bits by truncation (exact values in both), and back. */
function toBf16(x: Float32Array): { bits: Uint16Array; f32: Float32Array } {
  const u = new Uint32Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
  const bits = Uint16Array.from(u, (v) => v >>> 16);
  const f32 = new Float32Array(Uint32Array.from(bits, (b) => b << 16).buffer);
  return { bits, f32 };
}

describe('half input (bfloat16 bits) on split shapes: the same bits as its float32 decoding', () => {
  test.each([[2, 21, 2048], [1, 16, 8192], [3, 1, 4096], [2, 5, 2047]])('[%i, %i, %i]', async (outer, C, inner) => {
    for (const threads of [1, 2]) {
      await X.setThreads(threads);
      try {
        const c = makeCase(5 + inner, Float32Array, outer, C, inner, true);
        const { bits, f32 } = toBf16(c.x as Float32Array);
        for (const [name, o] of optionSets({ ...c, x: f32 })) {
          const want = ce(c, o, f32);
          const got = X.crossEntropy({ data: bits, shape: [outer, C, inner], dtype: 'bfloat16' } as never, c.t, { ignoreIndex: IGNORE, ...o } as never);
          expectSame(`${threads} thread(s) [${outer}, ${C}, ${inner}] ${name} bfloat16`, got, want);
        }
      } finally {
        await X.setThreads(1);
      }
    }
  });
});

describe('nllLoss(logSoftmax(x)) agrees within float bounds (another path)', () => {
  test.each([[Float32Array, 2, 21, 2048], [Float64Array, 1, 5, 4096], [Float32Array, 1, 16, 8192]] as const)('%p [%i, %i, %i]', (T, outer, C, inner) => {
    const c = makeCase(3 + inner, T, outer, C, inner, true);
    const eps = EPS[T.name as keyof typeof EPS];
    for (const reduction of ['none', 'sum', 'mean'] as const) {
      const o = { reduction, weight: weightOf(C), ignoreIndex: IGNORE };
      const a = ce(c, o);
      const lp = X.logSoftmax({ data: c.x, shape: [outer, C, inner] }, { dim: 1 });
      const b = X.nllLoss({ data: lp, shape: [outer, C, inner] }, c.t, o as never) as { loss: number | F };
      if (typeof a.loss === 'number') {
        expect(Math.abs(a.loss - (b.loss as number))).toBeLessThanOrEqual(64 * eps * outer * inner * 20);
      } else {
        const x = a.loss as F, y = b.loss as F;
        for (let p = 0; p < x.length; p++) if (!(Math.abs(x[p] - y[p]) <= 64 * eps * (1 + Math.abs(y[p])))) throw new Error(`none[${p}]: ${x[p]} vs ${y[p]}`);
      }
    }
  });
});

/** Runs `call`; returns its result, or the error's message when it threw (never a wasm trap). */
function outcome(call: () => unknown): { ok: unknown } | { error: string } {
  try {
    return { ok: call() };
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) throw e;
    return { error: String(e) };
  }
}

describe('hostile option getters on split shapes: a clear error or the right result', () => {
  const shape = [2, 21, 2048];
  const T = Float32Array;
  const c = makeCase(11, T, 2, 21, 2048, true);
  const opts = (hook: () => void) => {
    const o: Record<string, unknown> = { reduction: 'none', grad: true, ignoreIndex: IGNORE };
    for (const key of ['labelSmoothing'] as const) Object.defineProperty(o, key, { enumerable: true, get: () => { hook(); return 0.1; } });
    return o;
  };
  test.each(['grow memory', 'free input', 'free input, reallocate in its place', 'free out', 'free out, reallocate in its place'])('%s', async (what) => {
    const want = ce(c, { reduction: 'none', grad: true, labelSmoothing: 0.1 });
    for (const threads of [1, 2]) {
      await X.setThreads(threads);
      const x = wasmCopy(c.x);
      const out = X.wasmArray(T, c.x.length);
      const extra: X.WasmArray[] = [];
      const hook = () => {
        if (what === 'grow memory') extra.push(X.wasmArray(Float64Array, 8 << 20));
        if (what.startsWith('free input')) x.free();
        if (what.startsWith('free out')) out.free();
        if (what.endsWith('its place')) { const w = X.wasmArray(T, c.x.length); w.array.fill(5); extra.push(w); }
      };
      const outView = out.array;
      const r = outcome(() => X.crossEntropy({ data: x.array, shape }, c.t, { ...opts(hook), out: outView } as never));
      try {
        if ('error' in r) {
          expect(r.error).toMatch(/^(TypeError|RangeError|Error): crossEntropy: /);
        } else {
          const res = r.ok as { loss: F; grad: F };
          sameBytes(`${what} ${threads} loss`, res.loss, want.loss as F);
          sameBytes(`${what} ${threads} grad`, res.grad, want.grad!);
        }
        // whatever happened, a wasmArray allocated in the hook is untouched
        for (const w of extra) if (w.array.length === c.x.length) expect(w.array.every((v) => v === 5)).toBe(true);
      } finally {
        [x, out, ...extra].forEach((w) => w.free());
        await X.setThreads(1);
      }
    }
  });
});

// Found by red team 11 (fixed: the nll part is now summed before the kernel runs): with 'mean', labelSmoothing > 0 and class weights whose sum over the kept
// targets is zero (weight [1, -1]), src/ops/cross_entropy.ts recomputes the nll part by calling
// crossEntropy(input, ...) again AFTER the run, when `out` is the input itself (exact alias, allowed)
// and already holds the gradient (NaN rows on this path). The loss comes out NaN where PyTorch 1.13
// (and the same call without the alias) gives -inf / +inf. Checked against torch for [1, 2, 8]
// seed 21: torch.nn.functional.cross_entropy(x, t, weight=[1., -1.], label_smoothing=0.1) = -inf.
describe('found by red team 11: out = input with the zero-weight smoothed mean gave NaN instead of +-inf', () => {
  test.each([[1, 2, 8], [2, 2, 2048]])('[%i, %i, %i]', (outer, C, inner) => {
    const c = makeCase(21, Float32Array, outer, C, inner, false);
    for (let p = 0; p < c.t.length; p++) c.t[p] = p % 2;
    const o = { weight: [1, -1], labelSmoothing: 0.1, reduction: 'mean' };
    const plain = ce(c, { ...o, grad: true });
    const copy = c.x.slice();
    const alias = ce(c, { ...o, out: copy }, copy);
    expectSame('loss with out = input', alias.loss, plain.loss);
    sameBytes('grad with out = input', copy, plain.grad!);
  });
});

describe('workspace limits on split shapes: the same bits with a tight limit, a RangeError below it', () => {
  test.each([[2, 21, 2048], [1, 16, 8192], [3, 2, 4096]])('[%i, %i, %i] on 1 and 2 threads', async (outer, C, inner) => {
    const c = makeCase(31 + inner, Float32Array, outer, C, inner, true);
    const want = ce(c, { reduction: 'sum', grad: true, labelSmoothing: 0.1 });
    const limit = X.getWorkspaceLimit();
    for (const threads of [1, 2]) {
      await X.setThreads(threads);
      try {
        // (a chunk's blocks: input and gradient (C rows of about inner / 2), targets: under 600 KiB here)
        for (const bytes of [600 << 10, 1 << 20]) {
          X.setWorkspaceLimit(bytes);
          expectSame(`limit ${bytes}, ${threads} thread(s)`, ce(c, { reduction: 'sum', grad: true, labelSmoothing: 0.1 }), want);
        }
        X.setWorkspaceLimit(16 << 10);
        expect(() => ce(c, { reduction: 'sum', grad: true })).toThrow(/^crossEntropy: this call needs \d+ bytes of wasm memory, over the workspace limit/);
      } finally {
        X.setWorkspaceLimit(limit);
        await X.setThreads(1);
      }
    }
  });
});
