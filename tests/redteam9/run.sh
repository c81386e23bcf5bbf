#!/bin/sh
# Red team 9, from outside: pack this worktree, install the tarball into a fresh directory and run the
# README's segmentation example through wasmArrays (NCHW [4, 21, 128, 128], a Uint8Array mask, class
# weights) on 1 and 2 threads: the same bits each time and as ordinary arrays, and the process exits
# by itself with the worker pool still up. Usage: sh tests/redteam9/run.sh
set -e
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/wasm-xent-rt9.XXXXXX)
(cd "$here/../.." && npm pack --silent --pack-destination "$dir" >/dev/null)
cd "$dir" && npm init -y >/dev/null && npm install --no-audit --no-fund --offline ./wasm-xent-*.tgz >/dev/null 2>&1
cp "$here/seg.mjs" . && timeout 120 node seg.mjs
