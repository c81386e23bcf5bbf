#!/bin/sh
# Red team 13, from outside: pack this worktree, install the tarball offline into a fresh consumer
# project under /tmp and run nchw.mjs: setThreads(2), NCHW [2, 5, 33, 47] crossEntropy on wasmArrays
# with Uint8Array targets (plain, out = a wasmArray, out = input, input through an older
# SharedArrayBuffer object of the same memory) against plain arrays on 1 thread (same bits).
# Usage: sh tests/redteam13/run.sh
set -e
here=$(cd "$(dirname "$0")" && pwd)
rm -rf /tmp/rt13pack && mkdir -p /tmp/rt13pack
(cd "$here/../.." && npm pack --silent --pack-destination /tmp/rt13pack >/dev/null)
dir=$(mktemp -d /tmp/wasm-xent-rt13.XXXXXX)
cd "$dir" && npm init -y >/dev/null && npm pkg set type=module >/dev/null
npm install --no-audit --no-fund --offline /tmp/rt13pack/wasm-xent-*.tgz >/dev/null 2>&1
cp "$here/nchw.mjs" . && timeout 120 node nchw.mjs
