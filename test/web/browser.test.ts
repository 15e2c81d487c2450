// The page in a real browser: Debian's chromium, headless, driven by puppeteer-core, on Chromium's own
// WebGPU (SwiftShader here: a software adapter with 256 invocations per workgroup and subgroups of 4,
// unlike Dawn-in-Node on lavapipe). Each sample must be `ditto sample --backend cpu`'s image for the
// same arguments. Without chromium these tests are skipped with one line saying why, unless
// DITTO_REQUIRE_BROWSER=1 (CI, whose .ci/run installs it), where that is an error.
//
// SwiftShader is slow: the samples are few and short (10 steps, or L2P's 11 model calls out of 50).

import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { Browser } from 'puppeteer-core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { psnr } from '../../bench/metrics.js';
import { main } from '../../cli/main.js';
import { servePage } from '../../cli/web.js';
import { readSafetensorsF32 } from '../../core/safetensors.js';
import { toImages } from '../../models/image.js';
import { capture } from '../cli/harness.js';

const CHROMIUM = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => existsSync(p));

interface PageResult { width: number; height: number; pixels: number[]; ms: number; backend: string; adapter: string | null; error?: string }

let browser: Browser;
let server: Server;
let url: string;

/** Loads the page with `query` (optionally without WebGPU) and returns window.dittoResult and the backend line. */
async function runPage(query: string, opts: { noWebGpu?: boolean } = {}): Promise<{ result: PageResult; backendLine: string; status: string }> {
  const page = await browser.newPage();
  try {
    // navigator.gpu is missing where a browser has WebGPU off: the page must fall back to the CPU.
    if (opts.noWebGpu) await page.evaluateOnNewDocument(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
    await page.goto(`${url}${query}`);
    await page.waitForFunction(() => (window as unknown as { dittoResult?: unknown }).dittoResult, { timeout: 120_000, polling: 200 });
    return await page.evaluate(() => ({
      result: (window as unknown as { dittoResult: PageResult }).dittoResult,
      backendLine: document.getElementById('backend')!.textContent!,
      status: document.getElementById('status')!.textContent!,
    }));
  } finally {
    await page.close();
  }
}

/** `ditto sample --backend cpu` for the same arguments, as 8-bit gray pixels. */
async function nodeSample(args: string[]): Promise<Uint8Array> {
  const out = join(tmpdir(), `ditto-browser-${process.pid}.safetensors`);
  assert.is(await main(['sample', '--backend', 'cpu', ...args, '--out', out], capture().io), 0);
  const samples = readSafetensorsF32(out).tensors.get('samples')!;
  return toImages(samples.data, samples.shape, [-1, 1])[0].data;
}

async function expectSame(query: string, args: string[], opts: { noWebGpu?: boolean } = {}): Promise<{ result: PageResult; backendLine: string }> {
  const page = await runPage(query, opts);
  assert.is(page.result.error, undefined, page.result.error);
  const expected = await nodeSample(args);
  const got = Uint8Array.from(page.result.pixels);
  assert.equal([page.result.width, page.result.height], [28, 28]);
  const db = psnr({ width: 28, height: 28, data: got }, { width: 28, height: 28, data: expected });
  assert.ok(db >= 40, `${query}: PSNR ${db.toFixed(1)} dB against ditto sample --backend cpu`);
  return page;
}

if (!CHROMIUM) {
  if (process.env.DITTO_REQUIRE_BROWSER === '1') throw new Error('DITTO_REQUIRE_BROWSER=1 but chromium is not installed: apt-get install --no-install-recommends chromium');
  console.log('browser tests skipped: chromium is not installed (apt-get install --no-install-recommends chromium)');
} else {
  test.before(async () => {
    ({ server, url } = await servePage(0));
    const { default: puppeteer } = await import('puppeteer-core');
    browser = await puppeteer.launch({ executablePath: CHROMIUM, args: ['--headless=new', '--no-sandbox', '--enable-unsafe-webgpu'] });
  });

  test.after(async () => {
    await browser?.close();
    server?.close();
  });

  test('full compute on the browser\'s WebGPU draws ditto sample\'s digit', async () => {
    const { result, backendLine } = await expectSame('?class=7&seed=3&steps=10&cache=none', ['--class', '7', '--seed', '3', '--steps', '10']);
    assert.is(result.backend, 'webgpu');
    assert.match(backendLine, /^webgpu on /);
    assert.ok(result.ms > 0);
  });

  test('L2P at interval 5 (11 model calls of 50) draws ditto sample\'s digit', async () => {
    await expectSame('?class=2&seed=1&cache=l2p&interval=5', ['--class', '2', '--seed', '1', '--cache', 'l2p', '--interval', '5']);
  });

  test('the FLUX model on the browser\'s WebGPU draws ditto sample --model mnist-flux\'s digit', async () => {
    const { result } = await expectSame('?model=mnist-flux&class=6&seed=2&steps=6&cache=none', ['--model', 'mnist-flux', '--class', '6', '--seed', '2', '--steps', '6']);
    assert.is(result.backend, 'webgpu');
  });

  test('without WebGPU the page falls back to the CPU backend and says so', async () => {
    const { result, backendLine } = await expectSame('?class=4&seed=0&steps=4&cache=none', ['--class', '4', '--seed', '0', '--steps', '4'], { noWebGpu: true });
    assert.is(result.backend, 'cpu');
    assert.is(result.adapter, null);
    assert.match(backendLine, /^cpu, single-threaded \(no WebGPU: .*navigator\.gpu is missing/);
  });

  test('a bad query ends in one line on the page and in dittoResult.error', async () => {
    const { result, status } = await runPage('?class=12&steps=2&cache=none');
    assert.match(result.error!, /^class=12: give an integer from 0 to 9$/);
    assert.is(status, `error: ${result.error}`);
  });
}

test.run();
