// Red team 23: runs a case of tests/redteam23/cases.json (generate.py: PyTorch 1.13 float64 autograd
// on the call's inputs) through wasm-xent and measures each output in ulps of the call's type, in
// units of max(|want|, the output's largest |want|) ('global' scale: gradients are measured
// against the largest entry of the whole gradient, the loss against the largest loss).
import { ulps, jsonNumber } from '../helpers/same';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
export type Case = { name: string; op: string; dtype: 'f32' | 'f64'; spec: Any; want: Record<string, Any[]> };
export const nums = (a: unknown): number[] => (Array.isArray(a) ? a.map(jsonNumber) : [jsonNumber(a)]);

/** generate.py's det(): multiples of 1/512 in [-2, 2), exact in both languages. */
function det(n: number, k: number, T: Float32ArrayConstructor | Float64ArrayConstructor): Float32Array | Float64Array {
  const a = new T(n);
  for (let i = 0; i < n; i++) a[i] = (((i * 7919 + k * 104729) % 2048) - 1024) / 512;
  return a;
}

export function runCase(X: Any, c: Case): Record<string, number[]> {
  const T = c.dtype === 'f32' ? Float32Array : Float64Array;
  const s = c.spec;
  const o: Any = {};
  for (const [k, v] of Object.entries(s.options ?? {})) if (v !== null && v !== undefined) o[k] = v;
  if (Array.isArray(o.gradOutput)) o.gradOutput = T.from(nums(o.gradOutput)); else if (o.gradOutput !== undefined) o.gradOutput = jsonNumber(o.gradOutput);
  const out: Record<string, number[]> = {};
  const put = (k: string, v: Any) => { if (v !== undefined && v !== null) out[k] = typeof v === 'number' ? [v] : Array.from(v as ArrayLike<number>); };
  let r: Any;
  switch (c.op) {
    case 'ctc': {
      const lp = { data: T.from(nums(s.lp)), shape: s.shape };
      r = X.ctcLoss(lp, { data: Int32Array.from(s.targets), shape: [s.shape[1], s.S] }, s.ilens, s.tlens, { ...o, grad: true });
      break;
    }
    case 'focal':
      r = X.focalLoss({ data: T.from(nums(s.input)), shape: s.shape }, Int32Array.from(s.target), { ...o, grad: true });
      break;
    case 'sfocal':
      r = X.sigmoidFocalLoss({ data: T.from(nums(s.input)), shape: s.shape }, { data: T.from(nums(s.target)), shape: s.shape }, { ...o, grad: true });
      break;
    case 'bce':
      if (o.weight) o.weight = { data: o.weight.data, shape: o.weight.shape };
      r = X.binaryCrossEntropy({ data: T.from(nums(s.input)), shape: s.shape }, { data: T.from(nums(s.target)), shape: s.shape }, { ...o, grad: true });
      break;
    case 'bcel':
      r = X.binaryCrossEntropyWithLogits({ data: T.from(nums(s.input)), shape: s.shape }, { data: T.from(nums(s.target)), shape: s.shape }, { ...o, grad: true });
      break;
    case 'nll':
      r = X.nllLoss({ data: T.from(nums(s.input)), shape: s.shape }, { data: Int32Array.from(s.target), shape: s.tshape }, { ...o, grad: true });
      break;
    case 'smb': {
      const g = { data: T.from(nums(s.go)), shape: s.shape };
      const y = { data: T.from(nums(s.out)), shape: s.shape };
      put('grad', s.log ? X.logSoftmaxBackward(g, y, { dim: s.dim }) : X.softmaxBackward(g, y, { dim: s.dim }));
      return out;
    }
    case 'lce': {
      if (s.b) o.linearBias = T.from(nums(s.b));
      if (s.detw && s.bias) o.linearBias = det(s.C, 2, T);
      const W = s.detw ? det(s.C * s.D, 1, T) : T.from(nums(s.W));
      const r2 = X.linearCrossEntropy({ data: T.from(nums(s.input)), shape: [s.N, s.D] }, { data: W, shape: [s.C, s.D] },
        { data: Int32Array.from(s.target), shape: [s.N] }, { ...o, grad: true });
      put('loss', r2.loss); put('gradInput', r2.gradInput); put('gradBias', r2.gradBias); put('refGradInput', r2.gradInput);
      const gw: number[] = [];
      for (const row of s.rows as number[]) for (let d = 0; d < s.D; d++) gw.push(r2.gradWeight[row * s.D + d]);
      out.gradWeightRows = gw;
      return out;
    }
    default: throw new Error(`unknown op ${c.op}`);
  }
  put('loss', r.loss); put('grad', r.grad);
  return out;
}

export type Worst = { key: string; i: number; got: number; want: number; ulps: number };
export function compare(c: Case, got: Record<string, number[]>): Worst[] {
  const f32 = c.dtype === 'f32';
  const res: Worst[] = [];
  for (const [key, wantRaw] of Object.entries(c.want)) {
    const want = nums(wantRaw);
    const g = got[key.replace(/^mp(.)/, (_m, a: string) => a.toLowerCase())];
    if (!g || g.length !== want.length) { res.push({ key, i: -1, got: NaN, want: NaN, ulps: Infinity }); continue; }
    const scale = Math.max(0, ...want.filter(Number.isFinite).map(Math.abs));
    let w: Worst = { key, i: -1, got: 0, want: 0, ulps: 0 };
    for (let i = 0; i < want.length; i++) {
      const u = ulps(g[i], want[i], f32, scale);
      if (u > w.ulps || Number.isNaN(u)) w = { key, i, got: g[i], want: want[i], ulps: Number.isNaN(u) ? Infinity : u };
    }
    res.push(w);
  }
  return res;
}
