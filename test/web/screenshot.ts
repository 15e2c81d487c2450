// The README's picture of the page: `node dist/test/web/screenshot.js docs/web-page.png` serves the page
// as `ditto web` does, opens it in headless Chromium (its own WebGPU) with the comparison of class 7,
// seed 3 at interval 5, waits for all three samples and saves the page as a PNG. It prints how long
// the first sample took to appear, the figure the README quotes.

import { existsSync } from 'node:fs';
import { servePage } from '../../cli/web.js';

const out = process.argv[2];
if (!out) throw new Error('usage: node dist/test/web/screenshot.js out.png');
const chromium = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => existsSync(p));
if (!chromium) throw new Error('chromium is not installed: apt-get install --no-install-recommends chromium');

const { default: puppeteer } = await import('puppeteer-core');
const { server, url } = await servePage(0);
const browser = await puppeteer.launch({ executablePath: chromium, args: ['--headless=new', '--no-sandbox', '--enable-unsafe-webgpu'] });
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 760, height: 560 });
  await page.goto(`${url}?class=7&seed=3&interval=5`);
  await page.waitForFunction(() => (window as unknown as { dittoResult?: unknown }).dittoResult, { timeout: 300_000, polling: 200 });
  const first = await page.evaluate(() => (window as unknown as { dittoFirstSampleMs?: number }).dittoFirstSampleMs);
  await page.screenshot({ path: out as `${string}.png`, fullPage: true });
  console.log(`wrote ${out}; the first sample appeared ${((first ?? NaN) / 1000).toFixed(1)} s after navigation`);
} finally {
  await browser.close();
  server.close();
}
