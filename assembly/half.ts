// Half-precision logits: 16-bit floats (the raw bits WebGPU inference and ONNX fp16 models hand
// back) decoded into float32 in the workspace, chunk by chunk, before the float32 kernels run.
// Every 16-bit value is exactly representable in float32, so the decode is exact and the maths
// after it is the float32 kernels' own.
//
// bfloat16 is the high half of a float32: f32 bits = h << 16 (inf, NaN and subnormals included).
//
// float16 (IEEE binary16: 1 sign, 5 exponent bits with bias 15, 10 mantissa bits), by the
// magnitude bits em = h & 0x7fff, then the sign h & 0x8000 moved to bit 31:
//   normal (0x0400 <= em < 0x7c00): the fields line up once shifted by 13; only the exponent bias
//     differs (127 - 15 = 112), so f32 bits = (em << 13) + (112 << 23), an integer add;
//   subnormal and zero (em < 0x0400): the value is em * 2^-24. The float with bits
//     0x3f000000 | em is 0.5 + em * 2^-24 (2^-24 is one unit in the last place of [0.5, 1)), so
//     subtracting 0.5 leaves em * 2^-24 exactly (Sterbenz), with no subnormal operand (XNNPACK's
//     "magic bias" trick, which avoids the slow subnormal path of x86 multipliers);
//   inf and NaN (em >= 0x7c00): exponent all ones, mantissa shifted: (em << 13) | 0x7f800000, an
//     integer operation, so a NaN keeps its payload bits (signalling or quiet) exactly.
// tests/half.test.ts checks all 65,536 bit patterns of both formats against an independent decode.

/** Constants of the float16 decode, loaded with splat loads before the loop (see simd.ts). */
const F16 = memory.data<u32>([
  0x00008000, // 0 sign bit of a half
  0x00007fff, // 1 magnitude bits
  0x38000000, // 2 (127 - 15) << 23: the exponent bias difference
  0x3f000000, // 3 bits of 0.5
  0x00000400, // 4 smallest normal half's magnitude
  0x00007c00, // 5 infinity's magnitude
  0x7f800000, // 6 float32 exponent all ones
], 16);

/** dst[i] := float32 of the float16 bits src[i], for i < n (src: u16, dst: f32, not overlapping). */
export function decodeFloat16(src: usize, dst: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const sign = v128.load32_splat(F16);
    const mag = v128.load32_splat(F16 + 4);
    const bias = v128.load32_splat(F16 + 8);
    const half = v128.load32_splat(F16 + 12);
    const minNormal = v128.load32_splat(F16 + 16);
    const inf = v128.load32_splat(F16 + 20);
    const ones = v128.load32_splat(F16 + 24);
    for (; i + 8 <= n; i += 8) {
      const h = v128.load(src + (<usize>i << 1));
      const p = dst + (<usize>i << 2);
      v128.store(p, float16x4(i32x4.extend_low_i16x8_u(h), sign, mag, bias, half, minNormal, inf, ones));
      v128.store(p, float16x4(i32x4.extend_high_i16x8_u(h), sign, mag, bias, half, minNormal, inf, ones), 16);
    }
  }
  for (; i < n; i++) store<u32>(dst + (<usize>i << 2), float16Bits(<u32>load<u16>(src + (<usize>i << 1))));
}

/** Four halves (one per u32 lane) to float32 bits: the three cases of the header, selected by masks. */
// @ts-ignore: decorator
@inline function float16x4(h: v128, sign: v128, mag: v128, bias: v128, half: v128, minNormal: v128, inf: v128, ones: v128): v128 {
  const em = v128.and(h, mag);
  const shifted = i32x4.shl(em, 13);
  const normal = i32x4.add(shifted, bias);
  const subnormal = f32x4.sub(v128.or(em, half), half);
  const special = v128.or(shifted, ones);
  let r = v128.bitselect(subnormal, normal, i32x4.lt_s(em, minNormal));
  r = v128.bitselect(special, r, i32x4.ge_s(em, inf));
  return v128.or(r, i32x4.shl(v128.and(h, sign), 16));
}

/** One half to float32 bits (the scalar build and the tail). */
// @ts-ignore: decorator
@inline function float16Bits(h: u32): u32 {
  const em = h & 0x7fff;
  let r: u32;
  if (em < 0x0400) r = reinterpret<u32>(reinterpret<f32>(em | 0x3f000000) - 0.5);
  else if (em < 0x7c00) r = (em << 13) + 0x38000000;
  else r = (em << 13) | 0x7f800000;
  return r | ((h & 0x8000) << 16);
}

/** dst[i] := float32 of the bfloat16 bits src[i], for i < n: the bits shifted into the high half. */
export function decodeBfloat16(src: usize, dst: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 8 <= n; i += 8) {
      const h = v128.load(src + (<usize>i << 1));
      const p = dst + (<usize>i << 2);
      v128.store(p, i32x4.shl(i32x4.extend_low_i16x8_u(h), 16));
      v128.store(p, i32x4.shl(i32x4.extend_high_i16x8_u(h), 16), 16);
    }
  }
  for (; i < n; i++) store<u32>(dst + (<usize>i << 2), <u32>load<u16>(src + (<usize>i << 1)) << 16);
}
