// An exact float64 element of binary_cross_entropy_with_logits, for the red-team files that check
// the float32 lanes in ulps (tests/redteam41.test.ts, redteam42.test.ts). Unlike tests/reference.ts,
// which follows PyTorch's backward `(lw sigmoid - pw y) g w` (it cancels where sigmoid rounds to
// 1), both sigmoids come from e = exp(-|x|), so a result made of a tiny e keeps all its digits.

/** Loss w (max(x, 0) (1 - y) + max(-x, 0) pw y + lw log1p(e)), lw = 1 + (pw - 1) y, and gradient
 *  w g ((1 - y) sigmoid(x) - pw y sigmoid(-x)), in float64 from the (float32) inputs. */
export function bceLogitsExact(x: number, y: number, w: number, pw: number, g: number): { loss: number; grad: number } {
  const e = Math.exp(-Math.abs(x));
  const [up, down] = x >= 0 ? [1 / (1 + e), e / (1 + e)] : [e / (1 + e), 1 / (1 + e)];
  const loss = w * (Math.max(x, 0) * (1 - y) + Math.max(-x, 0) * pw * y + (1 + (pw - 1) * y) * Math.log1p(e));
  return { loss, grad: w * (g * ((1 - y) * up - pw * y * down)) };
}
