#!/bin/sh
# Red team 8's consumer probes (not part of npm test: npm pack and a fresh install take a minute):
# packs this worktree, installs the tarball into a fresh directory under /tmp (no network: the
# package has no dependencies), and runs each probe with a 60 s timeout; a probe that does not
# exit by itself (live workers holding the process) shows as rc 124.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dir=$(mktemp -d /tmp/wasm-xent-rt8-XXXXXX)
cd "$root" && tgz=$(npm pack --silent --pack-destination "$dir" | tail -1) || exit 1
cd "$dir" && npm init -y >/dev/null && npm install --offline --no-audit --no-fund "$dir/$tgz" >/dev/null || exit 1
# The second copy: the same files under another name and another version's state key.
cp -r node_modules/wasm-xent node_modules/wasm-xent-other
sed -i 's/"name": "wasm-xent"/"name": "wasm-xent-other"/' node_modules/wasm-xent-other/package.json
grep -rl "VERSION = '0.1.0'" node_modules/wasm-xent-other/dist | xargs sed -i "s/VERSION = '0.1.0'/VERSION = '0.1.0-other'/"
cp "$here"/work.mjs "$here"/esm.mjs "$here"/cjs.cjs "$here"/in-worker.mjs "$here"/two-copies.mjs .
status=0
for probe in esm.mjs cjs.cjs in-worker.mjs two-copies.mjs; do
  start=$(date +%s.%N)
  timeout 60 node "$probe"; rc=$?
  echo "$probe: rc $rc, $(echo "$(date +%s.%N) - $start" | bc) s"
  [ $rc -eq 0 ] || status=1
done
echo "consumer dir: $dir"
exit $status
