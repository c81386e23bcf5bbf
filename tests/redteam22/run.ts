// Red team 22: runs a case of tests/redteam22/cases.json (generate.py: PyTorch 1.13 autograd, mpmath)
// through wasm-xent and measures each output against the references in ulps of the call's type.
import { ulps, jsonNumber } from '../helpers/same';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
export type Case = { name: string; op: 'ce' | 'kl' | 'lce' | 'ts'; dtype: 'f32' | 'f64'; spec: Any; t64: Record<string, Any>; t32?: Record<string, Any>; scale?: Record<string, Any> };
export const nums = (a: unknown): number[] => (Array.isArray(a) ? a.map(jsonNumber) : [jsonNumber(a)]);

export function runCase(X: Any, c: Case): Record<string, number[]> {
  const T = c.dtype === 'f32' ? Float32Array : Float64Array;
  const s = c.spec;
  const o: Any = {};
  for (const [k, v] of Object.entries(s.options ?? {})) if (v !== null && v !== undefined) o[k] = v;
  if (o.weight) o.weight = T.from(nums(o.weight));
  if (Array.isArray(o.gradOutput)) o.gradOutput = T.from(nums(o.gradOutput));
  else if (o.gradOutput !== undefined) o.gradOutput = jsonNumber(o.gradOutput);
  const out: Record<string, number[]> = {};
  const put = (k: string, v: Any) => { if (v !== undefined && v !== null) out[k] = typeof v === 'number' ? [v] : Array.from(v as ArrayLike<number>); };
  switch (c.op) {
    case 'ce': {
      const input = { data: T.from(nums(s.input)), shape: s.shape };
      const lead = [s.shape[0], ...s.shape.slice(2)];
      const target = s.probs ? { data: T.from(nums(s.probs)), shape: s.shape } : { data: Int32Array.from(s.target), shape: lead };
      if (s.probs) delete o.ignoreIndex;
      const r = X.crossEntropy(input, target, { ...o, grad: true });
      put('grad', r.grad); put('lse', r.lse);
      break;
    }
    case 'kl': {
      if (o.logTarget === false) delete o.logTarget;
      const r = X.klDiv({ data: T.from(nums(s.input)), shape: s.shape }, { data: T.from(nums(s.target)), shape: s.shape }, { ...o, grad: true });
      put('loss', r.loss); put('grad', r.grad);
      break;
    }
    case 'lce': {
      if (o.softcap === null) delete o.softcap;
      if (s.b) o.linearBias = T.from(nums(s.b));
      if (s.probs) delete o.ignoreIndex;
      const target = s.probs ? { data: T.from(nums(s.probs)), shape: [s.N, s.C] } : { data: Int32Array.from(s.target), shape: [s.N] };
      const r = X.linearCrossEntropy({ data: T.from(nums(s.input)), shape: [s.N, s.D] }, { data: T.from(nums(s.W)), shape: [s.C, s.D] }, target,
        { ...o, grad: true, returnLse: true });
      put('loss', r.loss); put('gradInput', r.gradInput); put('gradWeight', r.gradWeight); put('gradBias', r.gradBias); put('lse', r.lse);
      break;
    }
    case 'ts': {
      const r = X.tokenScores({ data: T.from(nums(s.input)), shape: s.shape }, { data: Int32Array.from(s.target), shape: s.tshape }, { dim: s.dim });
      put('entropy', r.entropy); put('lse', r.lse); put('logProb', r.logProb);
      break;
    }
  }
  return out;
}

export type Worst = { key: string; i: number; got: number; want: number; ulps: number };
/** Per output the worst element, in ulps of max(|want|, scale) (scale: the case's per-element
 *  scale, e.g. the position's largest gradient, or `global`: that output's largest |value|). */
export function compare(c: Case, got: Record<string, number[]>, scaleMode: 'elem' | 'global' = 'elem'): Worst[] {
  const f32 = c.dtype === 'f32';
  const res: Worst[] = [];
  for (const key of Object.keys(c.t64)) {
    const g = got[key];
    const w64 = nums(c.t64[key]).map((v) => (f32 ? Math.fround(v) : v));
    const w32 = c.t32?.[key] !== undefined ? nums(c.t32[key]) : undefined;
    if (!g || g.length !== w64.length) { res.push({ key, i: -1, got: g ? g.length : NaN, want: w64.length, ulps: Infinity }); continue; }
    const sc = c.scale?.[key] ? nums(c.scale[key]) : undefined;
    const gmax = Math.max(0, ...w64.filter(Number.isFinite).map(Math.abs));
    let worst: Worst = { key, i: -1, got: 0, want: 0, ulps: 0 };
    for (let i = 0; i < g.length; i++) {
      const d = (want: number) => {
        if (Number.isNaN(want) !== Number.isNaN(g[i])) return Infinity;
        // (a scale beyond the type's largest value, an entry that overflows it, counts as that value)
        const s = Math.min(scaleMode === 'global' ? gmax : sc ? sc[i] : Math.abs(want), f32 ? 3.4028234663852886e38 : Number.MAX_VALUE);
        return ulps(g[i], want, f32, Math.max(Math.abs(want), Number.isFinite(s) ? s : 0));
      };
      let u = d(w64[i]);
      if (w32) u = Math.min(u, d(w32[i]));
      if (u > worst.ulps) worst = { key, i, got: g[i], want: w64[i], ulps: u };
    }
    res.push(worst);
  }
  return res;
}
