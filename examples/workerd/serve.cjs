// Serves examples/workerd/worker.js with Cloudflare's workerd (npm package `workerd`, binary inside
// the package) on 127.0.0.1. `npm run demo:edge` runs it and prints the URL; the tests and
// scripts/load-edge.mjs use startWorkerd(). (CommonJS, so that jest can require it as it is.)
//
// workerd has no node_modules resolution: every module is listed in its config by name. This
// writes a config that lists the package's browser build under node_modules/wasm-xent/ and a module
// named 'wasm-xent' that re-exports the `workerd` export condition's entry, which is what Wrangler
// does when it bundles the worker. The .wasm is declared as a wasm module (workerd compiles it;
// compiling wasm from bytes inside a worker is forbidden).

'use strict';
const { spawn } = require('node:child_process');
const { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { createServer } = require('node:net');
const { tmpdir } = require('node:os');
const { dirname, join } = require('node:path');

const here = __dirname;
const root = join(here, '..', '..');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

// Copies the worker and the package's files into `dir` (workerd embeds files by paths relative to
// its config) and returns the config text.
function config(dir, port, condition) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const entry = pkg.exports['.'][condition].default; // ./dist/browser/workerd.js (or edge-light.js)
  const add = (from, name) => {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    copyFileSync(from, join(dir, name));
    return JSON.stringify(name);
  };
  const modules = [
    `(name = "worker.js", esModule = embed ${add(join(here, 'worker.js'), 'worker.js')})`,
    `(name = "wasm-xent", esModule = "export * from './node_modules/wasm-xent/${entry.slice(2)}';")`,
  ];
  const browser = join(root, 'dist', 'browser');
  for (const f of readdirSync(browser, { recursive: true }).map(String).filter((f) => f.endsWith('.js'))) {
    const name = `node_modules/wasm-xent/dist/browser/${f}`;
    modules.push(`(name = "${name}", esModule = embed ${add(join(browser, f), name)})`);
  }
  const wasm = 'node_modules/wasm-xent/dist/xent.wasm';
  modules.push(`(name = "${wasm}", wasm = embed ${add(join(root, 'dist', 'xent.wasm'), wasm)})`);
  // The edge-light entry imports '../xent.wasm?module' (Vercel's form): the same wasm module.
  modules.push(`(name = "${wasm}?module", wasm = embed "${wasm}")`);
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [
    ${modules.join(',\n    ')}
  ],
  compatibilityDate = "2026-10-01",
);
`;
}

/**
 * Starts workerd; resolves once it answers. `stop()` ends it and removes the config. `condition`
 * picks the package entry the worker gets: 'workerd' (default) or 'edge-light' (Vercel's entry,
 * run here in workerd, which forbids compiling wasm from bytes just as Vercel edge does).
 */
async function startWorkerd({ port, quiet = true, condition = 'workerd' } = {}) {
  port ??= await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'wasm-xent-workerd-'));
  const file = join(dir, 'config.capnp');
  writeFileSync(file, config(dir, port, condition));
  const bin = require('workerd').default;
  const child = spawn(bin, ['serve', file], { stdio: ['ignore', quiet ? 'pipe' : 'inherit', quiet ? 'pipe' : 'inherit'] });
  let log = '';
  child.stdout?.on('data', (d) => (log += d));
  child.stderr?.on('data', (d) => (log += d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`workerd exited with code ${child.exitCode}:\n${log}`);
    try {
      const r = await fetch(`${url}/stats`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`workerd did not answer within 30 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, pid: child.pid, stop, log: () => log };
}

/** Resident and peak resident memory of a process, in bytes (Linux /proc). */
function processMemory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peakRss: kb('VmHWM') };
}

module.exports = { startWorkerd, processMemory };

if (require.main === module) {
  (async () => {
    const port = Number(process.env.PORT) || 8787;
    const w = await startWorkerd({ port, quiet: false });
    console.log(`wasm-xent worker on workerd: ${w.url}  (POST /loss, GET /stats; Ctrl-C stops)`);
    console.log(`try: curl -s -X POST ${w.url}/loss -d '{"input":{"data":[1,2,3],"shape":[1,3]},"target":[2]}'`);
    const end = async () => {
      await w.stop();
      process.exit(0);
    };
    process.on('SIGINT', end);
    process.on('SIGTERM', end);
  })().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
