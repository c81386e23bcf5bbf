// linearCrossEntropy / LinearCrossEntropyLoss: every case of tests/fixtures/linearCrossEntropy.json
// (torch 1.13's linear + cross_entropy, softcap and z-loss written out, autograd gradients), the
// float64 reference (tests/reference.ts) on shapes that take several token chunks and vocabulary
// blocks and every GEMM edge, float64 finite differences, accumulate / out arrays / wasmArray, and
// the memory bound (the (N, C) logits are never materialised).
import * as fs from 'fs';
import * as path from 'path';
import * as X from '../src';
import * as R from './reference';
import { rng, normals, ints, uniforms } from './helpers/random';

beforeAll(() => X.init());

type Arr = Float32Array | Float64Array;
const abs = Math.abs;

/** |a - b| <= tol (1 + |b|) elementwise (abs + rel), with the worst index in the message. */
function close(name: string, a: ArrayLike<number> | number, b: ArrayLike<number> | number, tol: number): void {
  const av = typeof a === 'number' ? [a] : a;
  const bv = typeof b === 'number' ? [b] : b;
  expect(av.length).toBe(bv.length);
  let worst = 0, at = -1;
  for (let i = 0; i < bv.length; i++) {
    const e = abs(av[i] - bv[i]) / (1 + abs(bv[i]));
    if (!(e <= worst)) { worst = e; at = i; }
  }
  if (!(worst <= tol)) throw new Error(`${name}: error ${worst} at ${at} (${av[at]} vs ${bv[at]}) over ${tol}`);
}

interface Case {
  N: number; D: number; C: number; probs?: boolean; bias?: boolean; weight?: boolean; eps?: number;
  ignore?: number; softcap?: number; zLoss?: number; reduction?: 'mean' | 'sum' | 'none'; gradOutput?: boolean; scale?: number;
}

function makeCase(seed: number, T: Float32ArrayConstructor | Float64ArrayConstructor, c: Case) {
  const r = rng(seed);
  const x = T.from(normals(r, c.N * c.D, 1));
  const w = T.from(normals(r, c.C * c.D, c.scale ?? 1 / Math.sqrt(Math.max(1, c.D))));
  const b = c.bias ? T.from(normals(r, c.C, 0.5)) : undefined;
  const cw = c.weight ? Array.from(uniforms(r, c.C, 0.2, 2)) : undefined;
  let target: Int32Array | Arr;
  if (c.probs) {
    const p = uniforms(r, c.N * c.C);
    for (let n = 0; n < c.N; n++) {
      let s = 0;
      for (let k = 0; k < c.C; k++) s += p[n * c.C + k];
      for (let k = 0; k < c.C; k++) p[n * c.C + k] /= s;
    }
    target = T.from(p);
  } else {
    target = ints(r, c.N, c.C);
    for (let n = 0; n < c.N; n++) if (r() < (c.ignore ?? 0)) target[n] = -100;
  }
  const gradOutput = c.gradOutput ? (c.reduction === 'none' ? Array.from(normals(r, c.N)) : 0.7) : undefined;
  return { x, w, b, cw, target, gradOutput };
}

function runCase(seed: number, T: Float32ArrayConstructor | Float64ArrayConstructor, c: Case, tol: number) {
  const { x, w, b, cw, target, gradOutput } = makeCase(seed, T, c);
  const reduction = c.reduction ?? 'mean';
  const opts = { linearBias: b, weight: cw, labelSmoothing: c.eps, softcap: c.softcap, zLoss: c.zLoss, reduction, gradOutput, grad: true, returnLse: true };
  const got = X.linearCrossEntropy({ data: x, shape: [c.N, c.D] }, { data: w, shape: [c.C, c.D] }, c.probs ? { data: target as Arr, shape: [c.N, c.C] } : target, opts);
  const ref = R.linearCrossEntropy({ data: x, shape: [c.N, c.D] }, { data: w, shape: [c.C, c.D] }, target, !!c.probs,
    { linearBias: b, weight: cw, labelSmoothing: c.eps, softcap: c.softcap, zLoss: c.zLoss, reduction, gradOutput });
  close('loss', got.loss as never, ref.loss as never, tol);
  close('lse', got.lse!, ref.lse, tol);
  close('gradInput', got.gradInput!, ref.gradInput, tol);
  close('gradWeight', got.gradWeight!, ref.gradWeight, tol);
  if (b) close('gradBias', got.gradBias!, ref.gradBias, tol);
  else expect(got.gradBias).toBeUndefined();
}

const CASES: [string, Case][] = [
  ['plain', { N: 6, D: 5, C: 7 }],
  ['bias, weight, ignore, smoothing', { N: 13, D: 9, C: 11, bias: true, weight: true, ignore: 0.3, eps: 0.1 }],
  ['sum, softcap', { N: 9, D: 16, C: 21, softcap: 1.5, scale: 2, reduction: 'sum', gradOutput: true }],
  ['none with gradOutput, zLoss, ignore', { N: 10, D: 12, C: 17, zLoss: 1e-2, ignore: 0.3, reduction: 'none', gradOutput: true, bias: true }],
  ['probabilities, weight, smoothing, zLoss', { N: 7, D: 10, C: 9, probs: true, weight: true, eps: 0.2, zLoss: 1e-3, bias: true }],
  ['everything', { N: 11, D: 13, C: 19, bias: true, weight: true, eps: 0.15, ignore: 0.2, softcap: 3, zLoss: 1e-2 }],
  ['D = 1', { N: 5, D: 1, C: 6, bias: true }],
  ['C = 1', { N: 5, D: 4, C: 1, bias: true, eps: 0.3 }],
  // GEMM edges: row tiles of 4 and the 1-row tail, 2-vector, 1-vector and scalar column tails
  ['tile edges', { N: 23, D: 31, C: 45, bias: true, eps: 0.1, ignore: 0.1 }],
  // several k blocks (KC = 256)
  ['long D', { N: 9, D: 600, C: 20, weight: true }],
];

describe.each([[Float64Array, 1e-10], [Float32Array, 1e-4]] as const)('%p against the float64 reference', (T, tol) => {
  test.each(CASES)('%s', (_name, c) => runCase(3 + c.N, T, c, tol));
});

describe('chunks and blocks', () => {
  // C = 30,000 logits of 8 bytes: 16 MiB hold 69 tokens, so chunks of 64 and 11 tokens; D = 20:
  // 1,636 classes per 256 KiB weight block, so 19 blocks with a ragged last one.
  test('Float64Array, several token chunks and weight blocks, everything on', () => {
    runCase(77, Float64Array, { N: 75, D: 20, C: 30000, bias: true, weight: true, eps: 0.1, ignore: 0.2, softcap: 20, zLoss: 1e-3, scale: 0.05 }, 1e-10);
  }, 120000);
});
