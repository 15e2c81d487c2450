import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../cli/main.js';
import { readGrayPng } from '../../models/png.js';
import { readSafetensorsF32 } from '../../core/safetensors.js';
import { fixture } from '../backends.js';
import { LDM, variant } from '../models/vae/checkpoints.js';
import { capture, expectUserErrors } from './harness.js';

const tmp = (name: string) => join(tmpdir(), `ditto-sample-${process.pid}-${name}`);

test('a grid PNG, one row per class, and a JSON summary', async () => {
  const { io, out } = capture();
  const path = tmp('grid.png');
  assert.is(await main(['sample', '--class', '3,8', '--per-class', '2', '--steps', '4', '--out', path, '--json'], io), 0);
  const summary = JSON.parse(out[0]);
  assert.equal(summary.classes, [3, 3, 8, 8]);
  assert.equal(summary.seeds, [0, 1, 0, 1]);
  assert.is(summary.full_steps, 4);
  const png = readGrayPng(path);
  // 2 x 2 images of 28 px with a 2 px border, enlarged 4x.
  assert.equal([png.width, png.height], [4 * (2 * 30 + 2), 4 * (2 * 30 + 2)]);
});

test('--cache skips model calls on the schedule and writes samples as safetensors', async () => {
  const { io, out } = capture();
  const path = tmp('s.safetensors');
  assert.is(await main(['sample', '--class', '1', '--steps', '6', '--cache', 'taylorseer', '--full-steps', '0,1,2,4', '--out', path, '--json'], io), 0);
  const summary = JSON.parse(out[0]);
  assert.equal([summary.full_steps, summary.skipped_steps], [4, 2]);
  assert.equal(readSafetensorsF32(path).tensors.get('samples')!.shape, [1, 1, 28, 28]);
});

// A latent DiT (4 x 16 x 16, 5 classes, 4 heads not in its metadata) and the small VAE (f = 2).
const LATENT_MODEL = ['--model', fixture('dit-d1-h64-p8-nosigma.weights.safetensors'), '--heads', '4'];

test('--vae decodes a latent model\'s samples in the same run: a PNG grid, or images beside the samples', async () => {
  const { io, out, err } = capture();
  const png = tmp('vae.png');
  assert.is(await main(['sample', ...LATENT_MODEL, '--vae', LDM, '--class', '0,3', '--per-class', '2', '--steps', '2', '--backend', 'cpu', '--out', png, '--json'], io), 0, err.join('\n'));
  assert.equal(JSON.parse(out[0]).images, [4, 3, 32, 32]);
  const image = readGrayPng(png);
  // One row per class, two 32-pixel images each, 2-pixel borders.
  assert.equal([image.width, image.height], [2 * 34 + 2, 2 * 34 + 2]);

  const st = tmp('vae.safetensors'), decoded = tmp('decoded.safetensors');
  assert.is(await main(['sample', ...LATENT_MODEL, '--vae', LDM, '--scale', '0.5', '--class', '1', '--steps', '2', '--backend', 'cpu', '--out', st], capture().io), 0);
  const written = readSafetensorsF32(st);
  assert.equal(written.tensors.get('samples')!.shape, [1, 4, 16, 16]);
  assert.equal(written.metadata.scale, '0.5');
  // The same images as ditto decode makes of the samples, to the bit.
  assert.is(await main(['decode', '--vae', LDM, '--latents', st, '--scale', '0.5', '--backend', 'cpu', '--out', decoded], capture().io), 0);
  const images = written.tensors.get('images')!;
  assert.equal(images.shape, [1, 3, 32, 32]);
  assert.equal(readSafetensorsF32(decoded).tensors.get('images')!.data, images.data);
});

test('--vae mistakes are one line each, before any work', async () => {
  const s = (...argv: string[]) => ['sample', '--class', '1', '--out', tmp('v.png'), ...argv];
  const wideLatents = variant(LDM, (t) => { t.get('post_quant_conv.weight')!.shape = [4, 8, 1, 1]; });
  await expectUserErrors([
    [s(...LATENT_MODEL), /has no __metadata__\.data_range: it samples latents that need a VAE decoder; pass --vae V, or write them with --out samples\.safetensors/],
    [s(...LATENT_MODEL, '--scale', '0.2'), /--scale is the VAE's scale factor: add --vae V/],
    [s(...LATENT_MODEL, '--vae', LDM, '--scale=-1'), /--scale must be a positive number/],
    [s('--vae', LDM), /--vae decodes latents, but .*mnist-dit\.safetensors samples images \(it has __metadata__\.data_range\): leave --vae out/],
    [s(...LATENT_MODEL, '--vae', wideLatents), /this VAE decodes latents of 8 channels, but .* samples 4: pass the VAE the model was trained with/],
    [s(...LATENT_MODEL, '--vae', tmp('missing.pt')), /no such --vae file/],
  ]);
  assert.not.ok(existsSync(tmp('v.png')));
});

test('user mistakes are one line each', async () => {
  const cases: [string[], RegExp][] = [
    [['sample', '--class', '10', '--out', tmp('x.png')], /"10" is not a class; give integers from 0 to 9/],
    [['sample', '--class', '1', '--out', tmp('x.jpg')], /give a \.png image or a \.safetensors file/],
    [['sample', '--class', '1', '--interval', '5', '--out', tmp('x.png')], /--interval configures a forecasting cache: add --cache/],
    [['sample', '--class', '1', '--cache', 'magic', '--out', tmp('x.png')], /magic/],
    [['sample', '--class', '1', '--cache', 'l2p', '--interval', '5', '--steps', '20', '--out', tmp('x.png')], /the paper's schedules are for 50 steps, not 20/],
    [['sample', '--class', '1', '--model', tmp('missing.safetensors'), '--out', tmp('x.png')], /no such --model file/],
  ];
  for (const [argv, pattern] of cases) {
    const { io, err } = capture();
    assert.is(await main(argv, io), 1, argv.join(' '));
    assert.match(err.at(-1)!, pattern);
    assert.not.ok(existsSync(tmp('x.png')));
  }
});

test.run();
