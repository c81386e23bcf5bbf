// The package under Deno (npm package `deno`, binary inside the package): by its name (Deno resolves
// it through package.json like Node: the ES module build, reading the .wasm from disk) and through
// the browser build (which reads the file: URL with Deno's fetch). Only --allow-read is granted;
// --no-remote --cached-only keeps Deno off the network.
import { execFileSync } from 'child_process';
import { join } from 'path';
import { pathToFileURL } from 'url';
import { crossEntropyRef, maxAbsDiff, sample } from './reference';

jest.setTimeout(60_000);

const root = join(__dirname, '..', '..');
const deno = join(root, 'node_modules', '.bin', 'deno');
const s1 = sample(31, 6, 7);
const s2 = sample(32, 3, 4);
const cases = [
  { c: { dtype: 'float64', x: s1.x, shape: [6, 7], y: s1.y, options: { labelSmoothing: 0.15 } }, ref: crossEntropyRef(s1.x, [6, 7], s1.y, { labelSmoothing: 0.15 }), tol: 1e-12 },
  { c: { dtype: 'float32', x: s2.x, shape: [3, 4], y: s2.y, options: { weight: [1, 0.5, 2, 1] } }, ref: crossEntropyRef(s2.x.map(Math.fround), [3, 4], s2.y, { weight: [1, 0.5, 2, 1] }), tol: 1e-6 },
];

test.each([
  ["the package by name ('wasm-xent')", []],
  ['the browser build (dist/browser/index.js)', [pathToFileURL(join(root, 'dist', 'browser', 'index.js')).href]],
])('Deno: %s gives the reference losses and gradients', (_name, args) => {
  const out = execFileSync(deno, ['run', '--allow-read', '--no-remote', '--cached-only', join(__dirname, 'deno', 'check.js'), ...args], {
    cwd: root,
    input: JSON.stringify(cases.map((k) => k.c)),
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  const got = JSON.parse(out);
  expect(got.deno).toMatch(/^2\./);
  expect(got.threads).toEqual([1, 1]);
  expect(got.warnings).toEqual(['setThreads: using 1 thread: Deno is not supported for threads yet (its workers are module workers)']);
  got.results.forEach((r: { loss: number; grad: number[] }, i: number) => {
    expect([i, Math.abs(r.loss - cases[i].ref.loss) <= cases[i].tol * Math.max(1, cases[i].ref.loss)]).toEqual([i, true]);
    expect([i, maxAbsDiff(r.grad, cases[i].ref.grad) <= cases[i].tol]).toEqual([i, true]);
  });
});
