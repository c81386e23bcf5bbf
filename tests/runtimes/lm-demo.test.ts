// The language-model demo (examples/lm, issue 10) in Debian's Chromium (/usr/bin/chromium, through
// playwright-core, like browser.test.ts): built with Vite, it fine-tunes the output layer of a
// word-level model of a frozen copy of README.md (examples/lm/corpus.md) with linearCrossEntropy; the loss must fall well below log V (the
// uniform model's loss), and the page must report tokens/s and wasm memory. The screenshot is saved
// to build/lm-demo-screenshot.png (docs/lm-demo.png is a copy). Lives in tests/runtimes, which the
// scalar pass of `npm test` skips. Without Chromium this test fails.
import { mkdirSync } from 'fs';
import { join } from 'path';
import type { Browser } from 'playwright-core';
import { launchChromium, openDemo } from './chromium';

const root = join(__dirname, '..', '..');
const SCREENSHOT = join(root, 'build', 'lm-demo-screenshot.png');

jest.setTimeout(300_000);

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

test('the LM demo fine-tunes the output layer with linearCrossEntropy: the loss falls (screenshot saved)', async () => {
  await openDemo(browser, 'lm', { width: 1240, height: 500 }, async (p, errors) => {
    await p.waitForFunction(() => (window as any).demo?.done === true, undefined, { timeout: 240_000 });
    const d = await p.evaluate(() => { const s = (window as any).demo; return { V: s.V as number, losses: s.losses as number[], tps: s.tokensPerSecond as number, mem: s.memoryBytes as number, sample: s.sample as string }; });
    mkdirSync(join(root, 'build'), { recursive: true });
    await p.screenshot({ path: SCREENSHOT });
    const first = d.losses[0], last = d.losses[d.losses.length - 1];
    console.log(`LM demo: V = ${d.V}, loss ${first.toFixed(3)} -> ${last.toFixed(3)} in ${d.losses.length} steps, ${Math.round(d.tps)} tokens/s, wasm memory ${(d.mem / 2 ** 20).toFixed(1)} MiB; sample: ${d.sample}`);
    expect(d.V).toBeGreaterThan(1000);
    expect(d.losses.length).toBe(300);
    // the zero-initialised output layer starts at the uniform model's loss, log V, plus the
    // z-loss 1e-4 lse^2 with lse = log V
    const logV = Math.log(d.V);
    expect(Math.abs(first - (logV + 1e-4 * logV * logV))).toBeLessThan(1e-4 * logV);
    expect(last).toBeLessThan(0.6 * first);
    expect(d.tps).toBeGreaterThan(0);
    expect(d.mem).toBeGreaterThan(0);
    expect(await p.textContent('#status')).toContain('tokens/s');
    expect(errors).toEqual([]);
  });
});
