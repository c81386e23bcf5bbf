#!/bin/sh
# Red team 10, from outside: pack this worktree, install the tarball into a fresh directory and run
# logSoftmax / softmax over dim 1 of an NCHW [4, 21, 64, 64] float32 tensor (a NaN and a -inf among
# the logits) through wasmArrays on 1 and 2 threads, and on ordinary arrays with and without `out`:
# the same bits each time (NaN signs included, so on the scalar build the NaN entry may differ: NaN
# bits are not part of the promise, README Threads and tests/redteam10.test.ts), a float64 check of
# one position, and the process exits
# by itself with the worker pool still up. Usage: sh tests/redteam10/run.sh [node flags]
set -e
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/wasm-xent-rt10.XXXXXX)
(cd "$here/../.." && npm pack --silent --pack-destination "$dir" >/dev/null)
cd "$dir" && npm init -y >/dev/null && npm pkg set type=module >/dev/null && npm install --no-audit --no-fund --offline ./wasm-xent-*.tgz >/dev/null 2>&1
cp "$here/nchw.mjs" . && timeout 120 node "$@" nchw.mjs
