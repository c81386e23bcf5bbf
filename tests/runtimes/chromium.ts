// Debian's Chromium (/usr/bin/chromium, or CHROMIUM_PATH) through playwright-core, for the browser
// tests: no browser download, no network. `openDemo` builds one of examples/ with Vite, serves it on
// 127.0.0.1 and opens it in a fresh context that refuses every other host (a request elsewhere is
// recorded as an error, like an uncaught page error).
import { execFileSync } from 'child_process';
import { existsSync, mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { chromium, Browser, Page } from 'playwright-core';
import { serve } from './server';

const root = join(__dirname, '..', '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Builds examples/<example> with Vite and runs `use` on its page; `errors` collects page errors
 *  and requests to any host but the local server. Everything is torn down afterwards. */
export async function openDemo(browser: Browser, example: string, viewport: { width: number; height: number }, use: (page: Page, errors: string[]) => Promise<void>): Promise<void> {
  const out = mkdtempSync(join(tmpdir(), `wasm-xent-${example}-`));
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', `examples/${example}`, '--outDir', out, '--emptyOutDir', '--logLevel', 'warn'], { cwd: root, stdio: 'pipe' });
    const demo = await serve(out);
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.route('**/*', (route) => (new URL(route.request().url()).hostname === '127.0.0.1' ? route.continue() : (errors.push(route.request().url()), route.abort())));
    try {
      await page.goto(demo.url + '/');
      await use(page, errors);
    } finally {
      await context.close();
      await demo.close();
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
