// The packed package as users consume it. `npm pack` makes the tarball; a consumer project
// (build/consumers/app, inside the repository so the bundlers and runners come from its
// node_modules) installs it with `npm install --offline` and builds tests/consumers/app/main.js,
// unchanged and with no configuration, with each bundler; Chromium (playwright-core) loads the
// browser bundles and Node runs the node-platform ones from a directory with no node_modules.
// Jest (jsdom, node) and Vitest (jsdom, node) run a user's test against the installed package,
// a strict tsc consumer and every JavaScript block of README.md are type-checked, attw and publint
// lint the tarball, and a clone of the repository installed from a git URL builds (prepare) and
// runs. Every result is compared with the float64 reference: loss 0.4076 and its gradient.
import { execFile, execFileSync } from 'child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';
import { gzipSync } from 'zlib';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../runtimes/chromium';
import { serve, StaticServer } from '../runtimes/server';
import { crossEntropyRef, maxAbsDiff } from '../runtimes/reference';

jest.setTimeout(300_000);

const root = join(__dirname, '..', '..');
const work = join(root, 'build', 'consumers');
const app = join(work, 'app');
const out = join(app, 'out');
const bin = (name: string) => join(root, 'node_modules', '.bin', name);
const run = promisify(execFile);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const tarball = join(work, `wasm-xent-${pkg.version}.tgz`);
const ref = crossEntropyRef([1, 2, 3].map(Math.fround), [1, 3], [2]);
const BUDGET = 64 * 1024;
const npm = (args: string[], cwd: string) => run('npm', [...args, '--no-audit', '--no-fund'], { cwd, maxBuffer: 1 << 26 });

function expectSeed(r: { loss: number; grad: number[]; error?: string }) {
  expect(r.error).toBeUndefined();
  expect(Math.abs(r.loss - ref.loss)).toBeLessThan(1e-6);
  expect(maxAbsDiff(r.grad, ref.grad)).toBeLessThan(1e-6);
}

/** gzip -9 size of every file under `dir`, each compressed on its own (as a server sends them). */
function gzipTotal(dir: string): number {
  return gzipFiles(dir, readdirSync(dir, { recursive: true }).map(String).filter((f) => statSync(join(dir, f)).isFile() && !f.endsWith('.html') && !f.endsWith('.map')));
}

/** The gzip -9 sizes of `files` (paths under `dir`, each counted once), summed. */
function gzipFiles(dir: string, files: string[]): number {
  return [...new Set(files)].reduce((total, f) => total + gzipSync(readFileSync(join(dir, f)), { level: 9 }).length, 0);
}

let gitInstall: Promise<unknown>;
const gitApp = join(work, 'git-app');

beforeAll(async () => {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  // From a git URL: a clone of the committed tree, installed while the bundlers run (npm installs
  // the clone's devDependencies and runs `prepare`, which builds dist/).
  const clone = join(work, 'clone');
  execFileSync('git', ['clone', '--quiet', '--no-hardlinks', root, clone]);
  mkdirSync(gitApp);
  writeFileSync(join(gitApp, 'package.json'), '{ "name": "consumer-git", "private": true }\n');
  gitInstall = npm(['install', '--prefer-offline', `git+file://${clone}`], gitApp);
  gitInstall.catch(() => undefined); // awaited (and reported) by its test
  // The tarball: built already by `npm test`; --ignore-scripts so packing does not build again.
  execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', work], { cwd: root, stdio: 'ignore' });
  cpSync(join(__dirname, 'app'), app, { recursive: true });
  for (const d of ['jest-jsdom', 'jest-node', 'vitest', 'tsc', 'tsc-tfjs']) cpSync(join(__dirname, d), join(app, d), { recursive: true });
  writeFileSync(join(app, 'package.json'), '{ "name": "consumer-app", "private": true, "type": "module" }\n');
  await npm(['install', '--offline', tarball], app);
});

afterAll(async () => {
  await gitInstall?.catch(() => undefined);
});

describe('bundlers, no configuration', () => {
  const builds: Record<string, { dir: string; page?: string; node?: string }> = {};
  let browser: Browser;
  let server: StaticServer;

  beforeAll(async () => {
    const { stdout } = await run(process.execPath, [join(__dirname, 'build.mjs'), app], { cwd: app, maxBuffer: 1 << 26 });
    Object.assign(builds, JSON.parse(stdout.trim().split('\n').pop()!));
    // No bundler: an import map names the package's browser entry.
    builds['no bundler (import map)'] = {
      dir: join(app, 'node_modules', 'wasm-xent', 'dist', 'browser'),
      page: `<script type="importmap">{ "imports": { "wasm-xent": "/node_modules/wasm-xent/dist/browser/index.js" } }</script>
<script type="module" src="/main.js"></script>`,
    };

    browser = await launchChromium();
    const pages: Record<string, string> = {};
    for (const [name, b] of Object.entries(builds)) if (b.page) pages[`/${name}.html`] = `<!doctype html><meta charset="utf-8">${b.page}`;
    server = await serve(app, pages);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const browserBuilds = ['esbuild esm --platform=browser', 'esbuild iife --platform=browser', 'Rollup 4 + node-resolve', 'webpack 5', 'Vite', 'Parcel 2', 'no bundler (import map)'];
  test.each(browserBuilds)('%s: the bundle computes the seed in Chromium, within the size budget', async (name) => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const before = server.requests.length;
    await page.goto(`${server.url}/${encodeURIComponent(name)}.html`);
    await page.waitForFunction(() => (window as any).RESULT !== undefined, undefined, { timeout: 20_000 });
    const result = await page.evaluate(() => (window as any).RESULT);
    await context.close();
    expect(errors).toEqual([]);
    expectSeed(result);
    expect(result.build).toBe('simd');
    // A bundle: every file it emitted. No bundler: the package files the page requested (the
    // browser loads only what the root entry imports, not wasm-xent/tfjs's tfjs.js nor the
    // workerd / edge-light entries beside it in dist/browser).
    const prefix = '/node_modules/wasm-xent/dist/browser/';
    const requested = server.requests.slice(before).map((r) => r.path.split('?')[0]).filter((p) => p.startsWith(prefix)).map((p) => p.slice(prefix.length));
    if (name === 'no bundler (import map)') expect(requested).toContain('index.js');
    const size = name === 'no bundler (import map)' ? gzipFiles(builds[name].dir, requested) : gzipTotal(builds[name].dir);
    console.log(`${name}: ${size} B gzip emitted`);
    expect(size).toBeLessThan(BUDGET);
  });

  test('wasm-xent/tfjs in Chromium (esbuild bundle, tfjs from node_modules): model.fit gives tfjs\'s own loss curve, minimize takes int32 labels, numTensors flat', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${server.url}/${encodeURIComponent('tfjs page')}.html`);
    await page.waitForFunction(() => (window as any).RESULT !== undefined, undefined, { timeout: 60_000 });
    const r = await page.evaluate(() => (window as any).RESULT);
    await context.close();
    expect(errors).toEqual([]);
    expect(r.error).toBeUndefined();
    const { theirs, ours, steps, stepCounts } = r as { theirs: { curve: number[]; counts: number[] }; ours: { curve: number[]; counts: number[] }; steps: number[]; stepCounts: number[] };
    const diff = Math.max(...theirs.curve.map((v, i) => Math.abs(v - ours.curve[i])));
    console.log(`tfjs page (${r.backend} backend, ${r.build} build): fit loss ${theirs.curve[0].toFixed(4)} -> ${theirs.curve[9].toFixed(4)}, max |tfjs - wasm-xent| ${diff.toExponential(2)}; minimize ${steps[0].toFixed(4)} -> ${steps[9].toFixed(4)}`);
    expect(ours.curve).toHaveLength(10);
    expect(theirs.curve[9]).toBeLessThan(theirs.curve[0] * 0.5);
    expect(diff).toBeLessThan(1e-5);
    expect(ours.counts).toEqual(ours.counts.map(() => ours.counts[0]));
    // The first minimize step starts from zero weights: log(C) with C = 4.
    expect(Math.abs(steps[0] - Math.log(4))).toBeLessThan(1e-6);
    expect(steps[9]).toBeLessThan(steps[0] * 0.8);
    expect(stepCounts).toEqual(stepCounts.map(() => stepCounts[0]));
  });

  test.each(['esbuild esm --platform=node', 'esbuild iife --platform=node'])('%s: the bundle runs in Node from a directory without node_modules', async (name) => {
    const dir = mkdtempSync(join(tmpdir(), 'wasm-xent-bundle-'));
    const file = join(dir, builds[name].node!.split('/').pop()!);
    cpSync(builds[name].node!, file);
    const { stdout } = await run(process.execPath, [file], { cwd: dir });
    rmSync(dir, { recursive: true, force: true });
    expectSeed(JSON.parse(stdout));
  });
});

const seedLines = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '').split('\n').filter((l) => l.trim().startsWith('{"env"')).map((l) => JSON.parse(l.trim()));

test.each(['jest-jsdom', 'jest-node'])('Jest (%s), configured only by its environment', async (dir) => {
  const { stdout, stderr } = await run(process.execPath, [join(root, 'node_modules', 'jest', 'bin', 'jest.js'), '--rootDir', join(app, dir), '--testMatch', '**/*.spec.js', '--useStderr'], { cwd: join(app, dir) }).catch((e) => e);
  const lines = seedLines(stdout + stderr);
  expect(lines.map((l) => l.env)).toEqual([dir === 'jest-jsdom' ? 'jsdom' : 'node']);
  expectSeed(lines[0]);
});

test('Vitest (node and jsdom environments), no configuration file', async () => {
  const { stdout, stderr } = await run(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--root', join(app, 'vitest')], { cwd: join(app, 'vitest') }).catch((e) => e);
  const lines = seedLines(stdout + stderr);
  expect(lines.map((l) => l.env).sort()).toEqual(['jsdom', 'node']);
  lines.forEach(expectSeed);
});

test('a strict tsc consumer (lib es2022, types node, no skipLibCheck) compiles with no casts; README code blocks type-check', () => {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const readmeDir = join(app, 'tsc', 'readme');
  writeReadmeBlocks(readFileSync(join(root, 'README.md'), 'utf8'), readmeDir);
  const result = (project: string) => {
    try {
      return execFileSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8' });
    } catch (e) {
      return (e as { stdout: string }).stdout;
    }
  };
  expect(result(join(app, 'tsc'))).toBe('');
  expect(result(readmeDir)).toBe('');
  // The README's TensorFlow.js blocks, and a TypeScript consumer of wasm-xent/tfjs (both with
  // skipLibCheck: tfjs's own declarations fail a library check, see tsc-tfjs/main.mts).
  expect(result(join(readmeDir, 'tfjs'))).toBe('');
  expect(result(join(app, 'tsc-tfjs'))).toBe('');
});

test('attw --pack and publint --strict: no problems apart from the .wasm subpaths', async () => {
  const attw = await run(bin('attw'), [tarball, '--format', 'json', '--exclude-entrypoints', './xent.wasm', './xent-scalar.wasm', './xent-relaxed.wasm']).catch((e) => e);
  expect(JSON.parse(attw.stdout).analysis.problems).toEqual([]);
  const dir = join(work, 'unpacked');
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['xzf', tarball, '-C', dir]);
  const publint = await run(bin('publint'), ['--strict', '--pack', 'false', join(dir, 'package')]).catch((e) => e);
  expect([publint.code ?? 0, publint.stdout]).toEqual([0, expect.not.stringMatching(/Warnings|Errors/)]);
});

test('installed from a git URL (file:// clone): prepare builds it, and it computes the seed', async () => {
  await gitInstall;
  const dir = join(gitApp, 'node_modules', 'wasm-xent');
  expect(readdirSync(join(dir, 'dist')).sort()).toEqual(['browser', 'browser-cjs', 'cjs', 'esm', 'xent-relaxed.wasm', 'xent-scalar.wasm', 'xent.wasm']);
  const program = "const X = require('wasm-xent'); X.init().then(() => { const r = X.crossEntropy({ data: new Float32Array([1, 2, 3]), shape: [1, 3] }, [2], { grad: true }); console.log(JSON.stringify({ loss: r.loss, grad: Array.from(r.grad) })); });";
  const { stdout } = await run(process.execPath, ['-e', program], { cwd: gitApp });
  expectSeed(JSON.parse(stdout));
});

test('installed from the tarball: CommonJS and ES module entries in Node compute the seed', async () => {
  for (const [flags, program] of [
    [['-e'], "const X = require('wasm-xent'); X.init().then(() => { const r = X.crossEntropy({ data: new Float32Array([1, 2, 3]), shape: [1, 3] }, [2], { grad: true }); console.log(JSON.stringify({ loss: r.loss, grad: Array.from(r.grad) })); });"],
    [['--input-type=module', '-e'], "import { init, crossEntropy } from 'wasm-xent'; await init(); const r = crossEntropy({ data: new Float32Array([1, 2, 3]), shape: [1, 3] }, [2], { grad: true }); console.log(JSON.stringify({ loss: r.loss, grad: Array.from(r.grad) }));"],
  ] as const) {
    const { stdout } = await run(process.execPath, [...flags, program], { cwd: app });
    expectSeed(JSON.parse(stdout));
  }
});

/**
 * Writes every ```js block of the README as a module in `dir`, with a tsconfig that type-checks
 * them (checkJs, strict). A block may be preceded by `<!-- declare: ... -->`, the declarations of
 * the variables it takes from the text around it (hidden when the README is rendered). Blocks
 * that import nothing get the package's exports; `npm:wasm-xent` (Deno) is read as `wasm-xent`.
 */
function writeReadmeBlocks(readme: string, dir: string) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const tfjsFiles: string[] = [];
  const blocks = [...readme.matchAll(/(?:<!-- declare: ([^>]*?) -->\n)?^[ \t]*```(js|ts)\n([^]*?)^[ \t]*```/gm)];
  expect(blocks.length).toBeGreaterThan(20);
  blocks.forEach(([, declare, lang, body], i) => {
    const cjs = !/^import /m.test(body) && /\brequire\(/.test(body);
    const name = `block${String(i).padStart(2, '0')}.${lang === 'ts' ? (cjs ? 'cts' : 'mts') : cjs ? 'cjs' : 'mjs'}`;
    let code = body.replace(/'npm:wasm-xent'/g, "'wasm-xent'");
    if (!/from 'wasm-xent'|require\('wasm-xent'\)/.test(code)) {
      code = `${cjs ? 'const { ' + EXPORTS + " } = require('wasm-xent');" : 'import { ' + EXPORTS + " } from 'wasm-xent';"}\n${code}`;
    }
    const types = declare ? `/** @typedef {import('wasm-xent').Tensor<Float32Array>} Tensor32 */\n${declare.split(';').filter((d) => d.trim()).map((d) => `/** @type {${d.split(':').slice(1).join(':').trim()}} */\nconst ${d.split(':')[0].trim()} = /** @type {any} */ (undefined);`).join('\n')}\n` : '';
    writeFileSync(join(dir, name), `// README.md, js block ${i}\n${types}${code}\n${cjs ? '' : 'export {};\n'}`);
    (/from '@tensorflow\//.test(code) ? tfjsFiles : files).push(name);
  });
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    // JavaScript has no annotations: noImplicitAny off; everything else strict.
    compilerOptions: { strict: true, noImplicitAny: false, allowJs: true, checkJs: true, noEmit: true, module: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], types: ['node'], skipLibCheck: false, noUnusedLocals: false },
    files,
  }));
  const tfjs = join(dir, 'tfjs');
  mkdirSync(tfjs);
  expect(tfjsFiles.length).toBeGreaterThanOrEqual(2);
  writeFileSync(join(tfjs, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, noImplicitAny: false, allowJs: true, checkJs: true, noEmit: true, module: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], types: ['node'], skipLibCheck: true, noUnusedLocals: false },
    files: tfjsFiles.map((f) => `../${f}`),
  }));
}
const EXPORTS = 'init, initSync, wasmBuild, tokenScores, linearCrossEntropy, LinearCrossEntropyLoss, crossEntropy, nllLoss, ctcLoss, CTCLoss, klDiv, KLDivLoss, sigmoidFocalLoss, SigmoidFocalLoss, focalLoss, FocalLoss, logSoftmax, softmax, logSoftmaxBackward, softmaxBackward, binaryCrossEntropy, binaryCrossEntropyWithLogits, oneHot, inverseFrequencyWeights, wasmArray, CrossEntropyLoss, NLLLoss, BCELoss, BCEWithLogitsLoss, LogSoftmax, Softmax';
