#!/usr/bin/env bash
# x86 instructions per element of one kernel, counted by valgrind (callgrind): repeatable whatever
# else the machine runs, unlike times. Runs bench/instructions.mjs twice (0 and 400 timed calls
# after the same warm-up, TurboFan only) and divides the difference by 400 calls x 64,000 elements
# (V8 background work still moves single counts by a few per cent: compare medians of runs).
#   bench/instructions.sh cefg|cef|ls|lsc|smc|nchw|nchww|c2|c2s|nchws|bce|ctcfg|ctcf|tok5|tok0|tokt|nchwtok|fc2|fnchw  (npm run build first)
#   WASM=build/xent-relaxed.wasm bench/instructions.sh cefg          (the relaxed-SIMD build)
set -euo pipefail
cd "$(dirname "$0")/.."
# Node 20 validates relaxed SIMD only with this flag (harmless for the other builds)
flags=(--single-threaded --no-liftoff)
if [[ "${WASM:-}" == *relaxed* ]]; then flags+=(--experimental-wasm-relaxed-simd); fi
count() {
  valgrind --tool=callgrind --smc-check=all --callgrind-out-file=/dev/null \
    node "${flags[@]}" bench/instructions.mjs "$1" "$2" 2>&1 | grep -o 'Collected : [0-9]*' | grep -o '[0-9]*'
}
a=$(count "$1" 0)
b=$(count "$1" 400)
node -e "console.log('$1', ((${b} - ${a}) / 400 / 64000).toFixed(2), 'instructions per element')"
