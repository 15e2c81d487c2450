// The page's engine run in Node on the CPU backend: a model read from bytes (not a path) draws the image
// `ditto sample` draws, and a request the command line would refuse is refused with one line.

import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../cli/main.js';
import { CpuBackend } from '../../core/cpu/backend.js';
import { UserError } from '../../core/errors.js';
import { readSafetensorsF32 } from '../../core/safetensors.js';
import { toImages } from '../../models/image.js';
import { BUNDLED_FLUX_MODEL, BUNDLED_MODEL } from '../../models/pretrained.js';
import { drawSample, openPageModel } from '../../web/engine.js';
import { capture } from '../cli/harness.js';

const backend = new CpuBackend();
const model = openPageModel('mnist-dit.safetensors', readFileSync(BUNDLED_MODEL), backend, readFileSync(BUNDLED_MODEL.replace(/\.safetensors$/, '.l2p.json'), 'utf8'));

test('a sample from fetched bytes is ditto sample\'s, bit for bit', async () => {
  const out = join(tmpdir(), `ditto-engine-${process.pid}.safetensors`);
  assert.is(await main(['sample', '--backend', 'cpu', '--class', '5', '--seed', '9', '--steps', '8', '--cache', 'taylorseer', '--interval', '3', '--out', out], capture().io), 0);
  const s = readSafetensorsF32(out).tensors.get('samples')!;
  const page = await drawSample(model, { model: 'mnist-dit', cls: 5, seed: 9, steps: 8, cache: 'taylorseer', interval: 3 });
  assert.equal(page.pixels, toImages(s.data, s.shape, [-1, 1])[0].data);
  assert.is(page.forwards + page.skipped, 8);
  assert.ok(page.flopsSaved > 0 && page.flopsSaved < 1);
});

test('the FLUX model from fetched bytes draws ditto sample --model mnist-flux\'s image, bit for bit', async () => {
  const flux = openPageModel('mnist-flux.safetensors', readFileSync(BUNDLED_FLUX_MODEL), backend, null);
  const out = join(tmpdir(), `ditto-engine-flux-${process.pid}.safetensors`);
  assert.is(await main(['sample', '--model', 'mnist-flux', '--backend', 'cpu', '--class', '4', '--seed', '2', '--steps', '6', '--out', out], capture().io), 0);
  const s = readSafetensorsF32(out).tensors.get('samples')!;
  const page = await drawSample(flux, { model: 'mnist-flux', cls: 4, seed: 2, steps: 6, cache: 'none' });
  assert.equal(page.pixels, toImages(s.data, s.shape, [-1, 1])[0].data);
});

test('requests ditto sample refuses are refused in one line', async () => {
  const cases: [Parameters<typeof drawSample>[1], RegExp][] = [
    [{ model: 'mnist-dit', cls: 10, seed: 0, cache: 'none' }, /^class=10: give an integer from 0 to 9$/],
    [{ model: 'mnist-dit', cls: 1, seed: 0, steps: 0, cache: 'none' }, /^steps=0: give an integer/],
    [{ model: 'mnist-dit', cls: 1, seed: 0, cfg: 0.5, cache: 'none' }, /^cfg=0.5: give a number of at least 1/],
    [{ model: 'mnist-dit', cls: 1, seed: 0, steps: 10, cache: 'l2p', interval: 5 }, /the paper's schedules are for 50 steps, not 10/],
  ];
  for (const [request, pattern] of cases) {
    try {
      await drawSample(model, request);
      assert.unreachable(JSON.stringify(request));
    } catch (e) {
      assert.instance(e, UserError);
      assert.match((e as Error).message, pattern);
      assert.not.match((e as Error).message, /\n/);
    }
  }
});

test('a checkpoint in memory goes through the same strict reader as a file', () => {
  const bytes = new Uint8Array(readFileSync(BUNDLED_MODEL)).slice(0, 4096);
  assert.throws(() => openPageModel('cut.safetensors', bytes, backend, null), /^cut\.safetensors: .*truncated/);
});

test.run();
