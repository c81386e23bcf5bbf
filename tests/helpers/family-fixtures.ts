// Runs the golden cases of one family fixture file (klDiv.json, focal.json: written by
// tests/fixtures/generate.py from PyTorch 1.13 / torchvision 0.14) through a loss function,
// with the tolerances of tests/fixtures.test.ts:
//   float32: |actual - expected| <= 1e-5  * (1 + |expected|)
//   float64: |actual - expected| <= 1e-10 * (1 + |expected|)
// NaN must be NaN, +-Infinity must match exactly. The largest error per dtype is printed.
import * as fs from 'fs';
import * as path from 'path';

export type JNum = number | string;
export interface JTensor {
  data: JNum[];
  shape: number[];
  type?: string;
}
export interface FamilyCase {
  name: string;
  fn: string;
  dtype: 'float32' | 'float64';
  input: JTensor;
  target: JTensor;
  gradOutput?: JTensor;
  options: Record<string, unknown>;
  expected: { loss: JNum | JTensor; grad: JTensor };
}

type LossFn = (input: { data: Float32Array | Float64Array; shape: number[] }, target: unknown, options: Record<string, unknown>) => { loss: unknown; grad?: unknown };

export const dec = (v: JNum): number => (typeof v === 'number' ? v : v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : NaN);
const CTOR = { float32: Float32Array, float64: Float64Array } as const;

/** The entries of `actual` out of tolerance against `expected` (relative to 1 + |expected|; NaN
 *  must be NaN and +-Infinity exact), as messages; `worst` keeps the largest error seen. */
export function mismatches(what: string, actual: ArrayLike<number>, expected: JNum[], tol: number, worst: { err: number; where: string }): string[] {
  const abs = Math.abs; // hoisted: global lookups in jest's vm context are slow
  const bad: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    const e = dec(expected[i]);
    let ok: boolean;
    if (Number.isNaN(e)) ok = Number.isNaN(actual[i]);
    else if (!Number.isFinite(e)) ok = actual[i] === e;
    else {
      const err = abs(actual[i] - e) / (1 + abs(e));
      ok = err <= tol;
      if (err > worst.err) [worst.err, worst.where] = [err, `${what}[${i}]`];
    }
    if (!ok) bad.push(`${what}[${i}]: got ${actual[i]}, expected ${e}`);
  }
  return bad;
}
const TOL = { float32: 1e-5, float64: 1e-10 } as const;

export function loadCases(file: string): FamilyCase[] {
  return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', file), 'utf8')) as { cases: FamilyCase[] }).cases;
}

export function fixtureRunner(label: string) {
  const worst = { float32: { err: 0, where: '' }, float64: { err: 0, where: '' } };

  function compare(c: FamilyCase, what: string, actual: unknown, expected: JNum[]): void {
    if (what !== 'loss (number)' && !(actual instanceof CTOR[c.dtype])) throw new Error(`${c.name}: ${what} is not a ${CTOR[c.dtype].name}`);
    const a = actual as ArrayLike<number>;
    expect(a.length).toBe(expected.length);
    const bad = mismatches(`${c.name} ${what}`, a, expected, TOL[c.dtype], worst[c.dtype]);
    if (bad.length) throw new Error(`${c.name}: ${bad.length} values out of tolerance:\n  ${bad.slice(0, 8).join('\n  ')}`);
  }

  function run(c: FamilyCase, fn: LossFn): void {
    const floats = (t: JTensor) => CTOR[c.dtype].from(t.data.map(dec));
    const input = { data: floats(c.input), shape: c.input.shape };
    const target = c.target.type === 'float' ? { data: floats(c.target), shape: c.target.shape } : { data: Int32Array.from(c.target.data.map(dec)), shape: c.target.shape };
    const options: Record<string, unknown> = { ...c.options, grad: true };
    for (const k of ['weight']) if (Array.isArray(options[k])) options[k] = (options[k] as JNum[]).map(dec);
    if (typeof options.gradOutput === 'string') options.gradOutput = dec(options.gradOutput);
    if (c.gradOutput) options.gradOutput = floats(c.gradOutput);
    const res = fn(input, target, options);
    if (typeof c.expected.loss === 'object') compare(c, 'loss', res.loss, c.expected.loss.data);
    else {
      expect(typeof res.loss).toBe('number');
      compare(c, 'loss (number)', [res.loss], [c.expected.loss]);
    }
    compare(c, 'grad', res.grad, c.expected.grad.data);
  }

  function report(count: number): void {
    const fmt = (d: 'float32' | 'float64') => `${d} ${worst[d].err.toExponential(3)} (${worst[d].where})`;
    // eslint-disable-next-line no-console
    console.log(`${label} fixtures: ${count} cases; largest |actual - expected| / (1 + |expected|): ${fmt('float32')}, ${fmt('float64')}`);
  }

  return { run, report };
}
