// Class-index targets read where they are (src/ops/class_targets.ts: indexTargetLane). Targets in
// an Int8/Uint8/Int16/Uint16/Int32Array are checked in place and streamed from the caller's memory;
// a non-negative ignore_index that occurs, or targets sharing memory with `out`, go through a
// converted copy instead, as every other kind of target (number[], Uint32Array, BigInt64Array)
// does. Each op that takes class indices is a row: both paths must give the same bits, and the
// float64 reference the same numbers.
import * as X from '../src';
import * as R from './reference';
import { expectClose, expectSame } from './helpers/same';
import { rng, normals, uniforms } from './helpers/random';

beforeAll(() => X.init());

type Call = (x: unknown, t: unknown, o: Record<string, unknown>) => { loss: number | ArrayLike<number>; grad?: ArrayLike<number> };
type Ref = (x: R.RefTensor, t: ArrayLike<number>, o: Record<string, unknown>) => R.RefResult;

/** The ops that take class-index targets, with their float64 reference. */
const OPS: [string, Call, Ref, Record<string, unknown>][] = [
  ['crossEntropy', X.crossEntropy as unknown as Call, R.crossEntropyIndex as unknown as Ref, {}],
  ['crossEntropy smoothed', X.crossEntropy as unknown as Call, R.crossEntropyIndex as unknown as Ref, { labelSmoothing: 0.1 }],
  ['nllLoss', X.nllLoss as unknown as Call, R.nllLoss as unknown as Ref, {}],
  ['focalLoss', X.focalLoss as unknown as Call, R.focalLoss as unknown as Ref, { gamma: 2 }],
];

const KINDS = [Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array];

/** Shapes: row CE (regrouped into columns), NCHW with short and long columns, and a slice over the
 *  chunk size (chunks slice the inner dim, so targets are copied per row run). */
const SHAPES = [[37, 5], [3, 4, 5, 7], [1, 3, 50001]];

/** Targets for `positions` positions of C classes, with `ignore` at every 7th position (if given). */
function targets(seed: number, positions: number, C: number, ignore?: number): number[] {
  const r = rng(seed);
  return Array.from({ length: positions }, (_, p) => (ignore !== undefined && p % 7 === 3 ? ignore : Math.floor(r() * C)));
}

describe.each(OPS)('%s', (_name, call, ref, extra) => {
  for (const shape of SHAPES) {
    const C = shape[1];
    const positionShape = shape.filter((_, i) => i !== 1);
    const positions = positionShape.reduce((a, b) => a * b, 1);
    const n = positions * C;
    // ignore_index: the default (-100), another negative, one inside 0..C-1 and one above it
    // (non-negative ones occur in the targets: the copy that rewrites them), and 0 absent.
    const ignores: [string, number | undefined, number | undefined][] = [
      ['default -100', undefined, -100], ['-1', -1, -1], ['0 present', 0, 0], ['2 present', 2, 2], ['255 present', 255, 255], ['0 absent', 0, undefined],
    ];
    for (const [label, ignoreIndex, present] of ignores) {
      for (const T of [Float32Array, Float64Array]) {
        test(`${JSON.stringify(shape)} ${T.name}, ignoreIndex ${label}: every integer kind gives the bits of number[] targets`, () => {
          const x = { data: T.from(normals(rng(n + C), n, 3)), shape };
          const plain = targets(positions + C, positions, C, present);
          const weight = Array.from(uniforms(rng(C), C, 0.2, 2));
          for (const reduction of ['mean', 'sum', 'none']) {
            for (const w of [undefined, weight]) {
              const o = { ...extra, reduction, weight: w, ignoreIndex, grad: true };
              const want = call(x, { data: plain, shape: positionShape }, o);
              for (const K of KINDS) {
                if (plain.some((t) => K.from([t])[0] !== t)) continue; // -100 or 255 do not fit this kind
                expectSame(`${K.name} ${reduction}${w ? ' weighted' : ''}`, call(x, { data: K.from(plain), shape: positionShape }, o), want);
              }
              if (shape[2] !== 50001) {
                const r = ref({ data: Float64Array.from(x.data), shape }, plain, { ...o, ignoreIndex: ignoreIndex ?? -100 });
                const tol = T === Float32Array ? 2e-5 : 1e-12;
                expectClose(`loss ${reduction}`, want.loss, r.loss, tol);
                expectClose(`grad ${reduction}`, want.grad!, r.grad!, tol);
              }
            }
          }
        });
      }
    }

    test(`${JSON.stringify(shape)}: targets sharing out's memory (beside it, or overlapping it) are read before out is written`, () => {
      const x = Float32Array.from(normals(rng(5), n, 2));
      const plain = targets(7, positions, C, -100);
      const want = call({ data: x, shape }, { data: plain, shape: positionShape }, { ...extra, grad: true });
      // out first, then the targets, in one buffer
      const buffer = new ArrayBuffer(4 * (n + positions));
      const out = new Float32Array(buffer, 0, n);
      const beside = new Int32Array(buffer, 4 * n, positions);
      beside.set(plain);
      expectSame('beside', call({ data: x, shape }, { data: beside, shape: positionShape }, { ...extra, out }), want);
      // the targets over the second half of out: the gradient written there would change them
      const overlapping = new Int32Array(buffer, 4 * Math.floor(n / 2), positions);
      overlapping.set(plain);
      const got = call({ data: x, shape }, { data: overlapping, shape: positionShape }, { ...extra, out });
      expectSame('overlapping loss', got.loss, want.loss);
      expectSame('overlapping grad', Float32Array.from(got.grad!), Float32Array.from(want.grad!));
    });

    test(`${JSON.stringify(shape)}: a bad target read in place is named as in a number[]`, () => {
      const x = { data: Float32Array.from(normals(rng(9), n, 1)), shape };
      for (const [bad, ignoreIndex] of [[C, undefined], [-1, undefined], [-100, -1], [C + 1, 0]] as const) {
        const plain = targets(11, positions, C);
        plain[positions - 2] = bad;
        const message = (t: unknown) => {
          try {
            call(x, { data: t, shape: positionShape }, { ...extra, ignoreIndex });
          } catch (e) {
            return (e as Error).message;
          }
          return 'no error';
        };
        const want = message(plain);
        expect(want).toMatch(new RegExp(`Target ${bad} is out of bounds`));
        for (const K of [Int8Array, Int16Array, Int32Array]) expect(message(K.from(plain))).toBe(want);
      }
    });
  }
});

// From WASM_CHECK_MIN (1024) targets on, the range check runs in the module (assembly/targets.ts),
// 4096 targets per block through its static block, or in place for an Int32Array in wasm memory.
// The same errors and the same 'mean' denominators as the number[] path (a JS loop) at the block
// edges, for every kind, and for ignore_index values that no i32 can equal.
describe('targets checked by the module', () => {
  const C = 3;
  const positions = 3 * 4096 + 5;
  const x = { data: Float32Array.from(normals(rng(21), positions * C, 2)), shape: [positions, C] };
  const message = (t: unknown, ignoreIndex?: number) => {
    try {
      X.crossEntropy(x, t as never, { ignoreIndex });
    } catch (e) {
      return (e as Error).message;
    }
    return 'no error';
  };
  /** The targets as an Int32Array view over a wasmArray (read in place), freed after `f`. */
  function inWasm<R>(plain: number[], f: (t: Int32Array) => R): R {
    const a = X.wasmArray(Float32Array, plain.length);
    try {
      const t = new Int32Array(a.array.buffer, a.array.byteOffset, plain.length);
      t.set(plain);
      return f(t);
    } finally {
      a.free();
    }
  }

  test.each([0, 1, 4095, 4096, 4099, 8191, 8192, positions - 1])('a bad target at position %d is named as in a number[]', (at) => {
    for (const [bad, ignoreIndex] of [[C, undefined], [-1, undefined], [-100, -1], [127, -100], [-5, 2 ** 40]] as const) {
      const plain = targets(31, positions, C, ignoreIndex === undefined || ignoreIndex === -100 ? -100 : undefined);
      plain[at] = bad;
      const want = message(plain, ignoreIndex);
      expect(want).toMatch(new RegExp(`Target ${bad} is out of bounds. \\(at position \\[${at}\\]`));
      for (const K of KINDS) if (K.from([bad])[0] === bad && !plain.some((t) => K.from([t])[0] !== t)) expect(message(K.from(plain), ignoreIndex)).toBe(want);
      expect(inWasm(plain, (t) => message(t, ignoreIndex))).toBe(want);
    }
  });

  test.each([[-100, -100], [-1, -1], [-(2 ** 40), undefined], [2 ** 40, undefined], [C + 4, C + 4], [C + 4, undefined]] as const)(
    "ignoreIndex %d (present: %s): 'mean' as with number[] targets, and as the float64 reference", (ignoreIndex, present) => {
      const plain = targets(41, positions, C, present);
      const o = { ignoreIndex, grad: true };
      const want = X.crossEntropy(x, plain, o);
      for (const K of KINDS) if (!plain.some((t) => K.from([t])[0] !== t)) expectSame(K.name, X.crossEntropy(x, K.from(plain), o), want);
      expectSame('in wasm memory', inWasm(plain, (t) => {
        const r = X.crossEntropy(x, t, o);
        return { loss: r.loss, grad: Float32Array.from(r.grad as Float32Array) };
      }), { loss: want.loss, grad: Float32Array.from(want.grad as Float32Array) });
      const r = R.crossEntropyIndex({ data: Float64Array.from(x.data), shape: x.shape }, plain, { ignoreIndex });
      expectClose('loss', want.loss, r.loss, 2e-5);
      expectClose('grad', want.grad!, r.grad!, 2e-5);
    });
});
