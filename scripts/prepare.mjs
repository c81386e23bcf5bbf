// npm's `prepare`: builds the package when it is installed from git (or packed, or linked), so
// dist/ exists wherever the package does. Installing from a git URL runs it twice (npm's install of
// the clone, then its packing): the second run finds dist/ newer than every source and skips.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';

const newest = (dir) => readdirSync(dir, { recursive: true }).reduce((t, f) => Math.max(t, statSync(`${dir}/${f}`).mtimeMs), 0);
const built = existsSync('dist/cjs/index.js') ? statSync('dist/cjs/index.js').mtimeMs : 0;
const sources = Math.max(newest('src'), newest('assembly'), statSync('scripts/build-ts.mjs').mtimeMs, statSync('package.json').mtimeMs);
if (built > sources) console.log('prepare: dist/ is newer than the sources; not rebuilding');
else execSync('npm run build', { stdio: 'inherit' });
