// The range check of class-index targets (src/ops/class_targets.ts), in wasm: V8 runs the plain
// JS loop at about 1.25 ns per target, a sixth of crossEntropy [524288, 2] float32 into `out`;
// here four targets take one unsigned compare and one equality, about a tenth of that with the
// copy into TARGET_BLOCK.

/** Bytes of TARGET_BLOCK: the caller's targets come through it a block at a time, converted to
 *  i32 by Int32Array.set. A static block, not workspace memory: reserving that before the stream
 *  could grow memory and detach the call's wasmArray arguments. */
export const TARGET_BLOCK_BYTES: i32 = 16384;
const TARGET_BLOCK = memory.data(TARGET_BLOCK_BYTES, 16);

export function targetBlock(): usize { return TARGET_BLOCK; }

/** Checks the n i32 targets at p against C classes and ignore_index (`hasIgnore` false when
 *  ignore_index is outside i32, so that no target can equal it). Returns how many equal
 *  ignore_index when every target is a class (0..C-1) or ignore_index, else -1 - the index of the
 *  first that is neither (the host reports it). */
export function checkTargets(p: usize, n: i32, C: i32, ignoreIndex: i32, hasIgnore: bool): i32 {
  let ignored = 0;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const c = i32x4.splat(C);
    const ign = i32x4.splat(ignoreIndex);
    const use = hasIgnore ? v128.splat<i32>(-1) : v128.splat<i32>(0);
    let count = i32x4.splat(0); // minus the lanes that equal ignore_index (a true lane is -1)
    for (; i + 4 <= n; i += 4) {
      const t = v128.load(p + (<usize>i << 2));
      const isIgnored = v128.and(i32x4.eq(t, ign), use);
      // (a negative target is above C unsigned)
      if (!v128.any_true(v128.andnot(i32x4.ge_u(t, c), isIgnored))) {
        count = i32x4.sub(count, isIgnored);
        continue;
      }
      break; // the scalar loop below finds which
    }
    ignored = i32x4.extract_lane(count, 0) + i32x4.extract_lane(count, 1) + i32x4.extract_lane(count, 2) + i32x4.extract_lane(count, 3);
  }
  for (; i < n; i++) {
    const t = load<i32>(p + (<usize>i << 2));
    if (<u32>t < <u32>C) continue;
    if (hasIgnore && t == ignoreIndex) {
      ignored++;
      continue;
    }
    return -1 - i;
  }
  return ignored;
}
