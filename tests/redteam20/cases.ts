// Red team 20: runs a case of tests/redteam20/cases.json (written by generate.py from PyTorch 1.13)
// through wasm-xent and measures each output against torch in ulps of the call's float type.
// f32 calls: the distance is the smaller of the distances to torch float32 (t32) and to torch
// float64 on the same float32 inputs, rounded to float32 (t64): the README promises float64 maths
// for klDiv / sigmoidFocalLoss / ctcLoss and float64 accumulation everywhere, so either is a
// legitimate PyTorch answer for a float32 call. f64 calls: the distance to torch float64.
import { ulps, jsonNumber } from '../helpers/same';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
export type Case = { name: string; op: string; dtype: 'f32' | 'f64'; spec: Any; t32?: Record<string, Any>; t64: Record<string, Any>; scale?: Record<string, Any>; ref?: Record<string, Any>; skip?: Record<string, number[]> };

export const nums = (a: unknown[]): number[] => a.map(jsonNumber);

/** The library call for a case; returns its outputs by torch's names. */
export function runCase(X: Any, c: Case, opts: { out?: 'alias' | 'fresh'; wasm?: boolean } = {}): Record<string, ArrayLike<number> | number> {
  const T = c.dtype === 'f32' ? Float32Array : Float64Array;
  const arr = (v: unknown[]) => {
    const data = T.from(nums(v));
    if (!opts.wasm) return data;
    const w = X.wasmArray(T, data.length);
    w.array.set(data);
    return w.array;
  };
  const s = c.spec;
  const o: Any = { ...(s.options ?? {}) };
  if (o.weight) o.weight = T.from(nums(o.weight));
  if (Array.isArray(o.gradOutput)) o.gradOutput = T.from(nums(o.gradOutput));
  const input = s.input ? { data: arr(s.input), shape: s.shape } : undefined;
  if (opts.out === 'alias' && input) o.out = input.data;
  if (opts.out === 'fresh' && input) o.out = new T(input.data.length);
  switch (c.op) {
    case 'klDiv':
      return pick(X.klDiv(input, { data: arr(s.target), shape: s.shape }, o));
    case 'sigmoidFocalLoss':
      return pick(X.sigmoidFocalLoss(input, { data: arr(s.target), shape: s.shape }, o));
    case 'focalLoss':
      return pick(X.focalLoss(input, { data: Int32Array.from(s.target), shape: s.tshape }, o));
    case 'nllLoss':
      return pick(X.nllLoss(input, { data: Int32Array.from(s.target), shape: s.tshape }, o));
    case 'ctcLoss': {
      const tg = s.tshape.length === 2 ? { data: Int32Array.from(s.targets), shape: s.tshape } : s.targets;
      return pick(X.ctcLoss(input, tg, s.il, s.tl, o));
    }
    case 'softmax': {
      const sh = s.shape, dim = s.dim;
      const r: Record<string, ArrayLike<number>> = {
        softmax: X.softmax({ data: arr(s.input), shape: sh }, { dim }),
        logSoftmax: X.logSoftmax({ data: arr(s.input), shape: sh }, { dim }),
      };
      if (s.g) {
        // torch's forward outputs of this dtype, so both sides differentiate the same numbers
        r.softmaxBackward = X.softmaxBackward({ data: arr(s.g), shape: sh }, { data: arr(s.y), shape: sh }, { dim });
        r.logSoftmaxBackward = X.logSoftmaxBackward({ data: arr(s.g), shape: sh }, { data: arr(s.ly), shape: sh }, { dim });
      }
      return r;
    }
    case 'tokenScores': {
      const res = X.tokenScores(input, s.target ? { data: Int32Array.from(s.target), shape: s.tshape } : undefined, s.options);
      const r: Record<string, ArrayLike<number>> = { lse: res.lse, entropy: res.entropy };
      if (res.logProb) r.logProb = res.logProb;
      if (res.rank) r.rank = Float64Array.from(res.rank);
      return r;
    }
    case 'linearCrossEntropy': {
      const lo: Any = { ...s.options };
      if (lo.weight) lo.weight = T.from(nums(lo.weight));
      if (Array.isArray(lo.gradOutput)) lo.gradOutput = T.from(nums(lo.gradOutput));
      if (s.b) lo.linearBias = T.from(nums(s.b));
      const lead: number[] = s.lead ?? [s.N];
      const target = s.ptarget ? { data: T.from(nums(s.ptarget)), shape: [...lead, s.C] } : { data: Int32Array.from(s.target), shape: lead };
      const res = X.linearCrossEntropy({ data: arr(s.input), shape: [...lead, s.D] }, { data: arr(s.W), shape: [s.C, s.D] }, target, lo);
      const r: Record<string, ArrayLike<number> | number> = { loss: res.loss, gradInput: res.gradInput, gradWeight: res.gradWeight, lse: res.lse };
      if (res.gradBias) r.gradBias = res.gradBias;
      return r;
    }
  }
  throw new Error(`unknown op ${c.op}`);
}

function pick(r: Any): Record<string, ArrayLike<number> | number> {
  const o: Record<string, ArrayLike<number> | number> = { loss: r.loss };
  if (r.grad) o.grad = r.grad;
  return o;
}

const f32 = (v: number) => Math.fround(v);

/** Per output, the worst element: { key, index, got, t32, t64, ulps }. A NaN where torch has a
 *  number (or the reverse) counts as Infinity, a zero of the other sign as 0.5 ulp. Distances are
 *  in ulps of max(|torch|, scale) where the case gives an error scale for that output (the size of
 *  the terms that cancel in it: see generate.py), and a finite value may also match `ref` (an
 *  independent 60-digit reference, where torch's own formula loses digits). */
export function compare(c: Case, got: Record<string, ArrayLike<number> | number>) {
  const isF32 = c.dtype === 'f32';
  const worst: { key: string; i: number; got: number; t32?: number; t64: number; ulps: number }[] = [];
  for (const key of Object.keys(c.t64)) {
    const g = got[key];
    if (g === undefined) { worst.push({ key, i: -1, got: NaN, t64: NaN, ulps: Infinity }); continue; }
    const w64raw = c.t64[key], w32raw = c.t32?.[key];
    const ga = typeof g === 'number' ? [g] : Array.from(g);
    const w64 = typeof w64raw === 'object' ? nums(w64raw) : [jsonNumber(w64raw)];
    const w32 = w32raw === undefined ? undefined : typeof w32raw === 'object' ? nums(w32raw) : [jsonNumber(w32raw)];
    const sc = c.scale?.[key] ? nums(c.scale[key]) : undefined;
    const rf = c.ref?.[key] === undefined ? undefined : typeof c.ref[key] === 'object' ? nums(c.ref[key]) : [jsonNumber(c.ref[key])];
    if (ga.length !== w64.length) { worst.push({ key, i: -2, got: ga.length, t64: w64.length, ulps: Infinity }); continue; }
    let best = { key, i: -1, got: 0, t64: 0, ulps: 0 } as { key: string; i: number; got: number; t32?: number; t64: number; ulps: number };
    const skip = new Set(c.skip?.[key] ?? []);
    const minNormal = isF32 ? 2 ** -126 : 2 ** -1022;
    for (let i = 0; i < ga.length; i++) {
      if (skip.has(i)) continue;
      // README (Numerics): final outputs below the smallest normal number may come back as 0 from the SIMD builds
      if (ga[i] === 0 && Math.abs(isF32 ? f32(w64[i]) : w64[i]) < minNormal) continue;
      const want64 = isF32 ? f32(w64[i]) : w64[i];
      const d = (want: number) => {
        if (Number.isNaN(want) !== Number.isNaN(ga[i])) return Infinity;
        if (ga[i] === 0 && want === 0 && !Object.is(ga[i], want)) return 0.5; // sign of zero: flagged, half an ulp
        const scale = sc && Number.isFinite(sc[i]) ? Math.max(sc[i], Math.abs(want)) : want;
        return ulps(ga[i], want, isF32, scale);
      };
      let u = d(want64);
      if (w32) u = Math.min(u, d(w32[i]));
      if (rf && Number.isFinite(rf[i]) && Number.isFinite(ga[i])) u = Math.min(u, d(isF32 ? f32(rf[i]) : rf[i]));
      if (u > best.ulps) best = { key, i, got: ga[i], t32: w32?.[i], t64: w64[i], ulps: u };
    }
    worst.push(best);
  }
  return worst;
}
