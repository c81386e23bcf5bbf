// Builds the consumer app (its main.js, unchanged) with every bundler, each with no configuration
// beyond naming the entry and the output: `node build.mjs <app dir>`. Run by consumers.test.ts in
// a child process (the bundlers are ES modules); prints what it built as JSON.
import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { rollup } from 'rollup';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import webpack from 'webpack';
import { build as viteBuild } from 'vite';
import { Parcel } from '@parcel/core';

const app = resolve(process.argv[2]);
const out = join(app, 'out');
const entry = join(app, 'main.js');
const builds = {};
const script = (file, module) => `<script${module ? ' type="module"' : ''} src="/${relative(app, file)}"></script>`;

for (const format of ['esm', 'iife']) {
  for (const platform of ['browser', 'node']) {
    const dir = join(out, `esbuild-${format}-${platform}`);
    const file = join(dir, format === 'esm' ? 'main.mjs' : 'main.cjs');
    await esbuild.build({ entryPoints: [entry], bundle: true, format, platform, outfile: file, logLevel: 'error' });
    builds[`esbuild ${format} --platform=${platform}`] = platform === 'browser' ? { dir, page: script(file, format === 'esm') } : { dir, node: file };
  }
}

const bundle = await rollup({ input: entry, plugins: [nodeResolve()], onwarn: () => undefined });
await bundle.write({ dir: join(out, 'rollup'), format: 'es' });
builds['Rollup 4 + node-resolve'] = { dir: join(out, 'rollup'), page: script(join(out, 'rollup', 'main.js'), true) };

await new Promise((resolve, reject) =>
  webpack({ mode: 'production', context: app, entry: './main.js', output: { path: join(out, 'webpack') } }, (err, stats) =>
    err || stats.hasErrors() ? reject(err ?? new Error(stats.toString('errors-only'))) : resolve()));
builds['webpack 5'] = { dir: join(out, 'webpack'), page: script(join(out, 'webpack', 'main.js'), false) };

await viteBuild({ root: app, configFile: false, logLevel: 'error', base: '/out/vite/', build: { outDir: join(out, 'vite'), emptyOutDir: true } });
builds.Vite = { dir: join(out, 'vite'), page: readFileSync(join(out, 'vite', 'index.html'), 'utf8') };

const parcel = new Parcel({
  entries: join(app, 'index.html'), defaultConfig: '@parcel/config-default', mode: 'production', shouldDisableCache: true,
  cacheDir: join(app, '.parcel-cache'), defaultTargetOptions: { distDir: join(out, 'parcel'), publicUrl: '/out/parcel/' },
});
await parcel.run();
builds['Parcel 2'] = { dir: join(out, 'parcel'), page: readFileSync(join(out, 'parcel', 'index.html'), 'utf8') };

// wasm-xent/tfjs with tfjs itself (from node_modules): a page that trains a model (tfjs.js).
await esbuild.build({ entryPoints: [join(app, 'tfjs.js')], bundle: true, format: 'esm', platform: 'browser', outfile: join(out, 'tfjs', 'tfjs.mjs'), logLevel: 'error' });
builds['tfjs page'] = { dir: join(out, 'tfjs'), page: script(join(out, 'tfjs', 'tfjs.mjs'), true) };

console.log(JSON.stringify(builds));
