#!/bin/sh
# Red team 12, from outside: pack this worktree into /tmp/rt12pack, install the tarball (offline)
# into a fresh consumer project under /tmp and run nchw.mjs: crossEntropy with Uint8Array targets
# on NCHW [2, 21, 64, 64] float32 on 1 and 2 threads (plain, number[] targets, out, out = input,
# wasmArray input: the same bits), and the loss against float64. Usage: sh tests/redteam12/run.sh
set -e
here=$(cd "$(dirname "$0")" && pwd)
rm -rf /tmp/rt12pack && mkdir -p /tmp/rt12pack
(cd "$here/../.." && npm pack --silent --pack-destination /tmp/rt12pack >/dev/null)
dir=$(mktemp -d /tmp/wasm-xent-rt12.XXXXXX)
cd "$dir" && npm init -y >/dev/null && npm pkg set type=module >/dev/null
npm install --no-audit --no-fund --offline /tmp/rt12pack/wasm-xent-*.tgz >/dev/null 2>&1
cp "$here/nchw.mjs" . && timeout 120 node nchw.mjs
