// Bit-for-bit comparison of op results (threads: every thread count must give the same bits).

/** Bit-for-bit equality of numbers, typed arrays and objects of them (Object.is per element, so
 *  -0 and NaN count), naming the first difference. */
export function expectSame(what: string, a: unknown, b: unknown): void {
  if (typeof a === 'number' || typeof b === 'number') {
    if (!Object.is(a, b)) throw new Error(`${what}: ${String(a)} vs ${String(b)}`);
    return;
  }
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const x = a as unknown as ArrayLike<number>;
    const y = b as unknown as ArrayLike<number>;
    if (x.length !== y.length) throw new Error(`${what}: length ${x.length} vs ${y.length}`);
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) throw new Error(`${what}[${i}]: ${x[i]} vs ${y[i]}`);
    return;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = Object.keys(a as object).sort();
    expect(Object.keys(b as object).sort()).toEqual(keys);
    for (const k of keys) expectSame(`${what}.${k}`, (a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]);
    return;
  }
  expect(a).toEqual(b);
}

/** Relative closeness, |got - want| <= tol (1 + |want|), of numbers or arrays of them; values that
 *  are Object.is-equal (NaN, infinities) pass. Names the first element that is not. */
export function expectClose(what: string, got: ArrayLike<number> | number, want: ArrayLike<number> | number, tol: number): void {
  const g = typeof got === 'number' ? [got] : Array.from(got);
  const w = typeof want === 'number' ? [want] : Array.from(want);
  if (g.length !== w.length) throw new Error(`${what}: length ${g.length} vs ${w.length}`);
  for (let i = 0; i < g.length; i++) {
    if (Object.is(g[i], w[i])) continue;
    if (!(Math.abs(g[i] - w[i]) <= tol * (1 + Math.abs(w[i])))) throw new Error(`${what}[${i}]: ${g[i]} vs reference ${w[i]}`);
  }
}

/** One float32 ulp of |v| (the subnormal spacing below the smallest normal number). */
export function ulp32(v: number): number {
  const a = Math.abs(v);
  if (a < 1.1754943508222875e-38) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

/** |got - want| in units of the last place of max(|scale|, |want|) (f32 or f64), 0 for the same
 *  value, infinity or NaN; Infinity where only one side is finite. */
export function ulps(got: number, want: number, f32: boolean, scale = want): number {
  if (Object.is(got, want) || got === want || (Number.isNaN(got) && Number.isNaN(want))) return 0;
  if (!Number.isFinite(got) || !Number.isFinite(want)) return Infinity;
  const s = Math.max(Math.abs(scale), Math.abs(want));
  const unit = f32 ? ulp32(s) : Math.max(2 ** (Math.floor(Math.log2(Math.max(s, 2.2250738585072014e-308))) - 52), 5e-324);
  return Math.abs(got - want) / unit;
}

/** A number from a JSON fixture, where non-finite values are written as strings. */
export const jsonNumber = (v: unknown): number => (v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v === 'NaN' ? NaN : (v as number));

/** float32's largest finite value. */
export const FLT_MAX = 3.4028234663852886e38;

/** Error of a float32 result in float32 ulps of a float64 value (the red teams' measure): 0 when
 *  equal or both NaN; below 2 FLT_MIN (the SIMD builds' flush class) 0 within FLT_MIN, else 1e9;
 *  where the value rounds beyond float32's max, 0 for its signed infinity, else Infinity. */
export function f32Err(got: number, want: number): number {
  const tiny = 2 ** -126;
  if (Object.is(got, want) || (Number.isNaN(got) && Number.isNaN(want))) return 0;
  if (Math.abs(want) >= FLT_MAX * (1 + 2 ** -24)) return got === Math.sign(want) * Infinity ? 0 : Infinity;
  if (Math.abs(want) < 2 * tiny) return Math.abs(got - want) < tiny ? 0 : 1e9;
  return ulps(got, want, true);
}

/** Entries of `want` (float64) that round to a finite float32 well inside its range, compared in
 *  float32 ulps (at most `bound`; below the smallest normal number, within its spacing); those far
 *  beyond it must be the infinity of their sign; the band within 2^-20 of the max, where a kernel's
 *  few ulps decide, is skipped. */
export function checkNearMax(got: ArrayLike<number>, want: ArrayLike<number>, bound: number): void {
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const a = Math.abs(want[i]);
    if (a <= FLT_MAX * (1 - 2 ** -20) || Number.isNaN(want[i])) {
      if (a < 2 ** -126 && Math.abs(got[i] - want[i]) <= 2 ** -126) continue;
      const u = ulps(got[i], want[i], true);
      if (u > worst) [worst, at] = [u, i];
    } else if (a >= FLT_MAX * (1 + 2 ** -20)) {
      if (got[i] !== (want[i] > 0 ? Infinity : -Infinity)) throw new Error(`[${i}]: ${got[i]} for ${want[i]} (beyond float32's max)`);
    }
  }
  if (worst > bound) throw new Error(`[${at}]: ${got[at]} vs ${want[at]}, ${worst.toPrecision(3)} ulps (bound ${bound})`);
}
