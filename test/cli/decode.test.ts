// `ditto decode` end to end: both checkpoint layouts against the official decoder's images, latents
// named as ditto sample writes them, a PNG grid, and every mistake refused in one line before any work.

import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeBackend } from '../../cli/decode.js';
import { main } from '../../cli/main.js';
import type { Backend } from '../../core/backend.js';
import { CpuBackend } from '../../core/cpu/backend.js';
import { UserError } from '../../core/errors.js';
import { inspectVae } from '../../models/vae/weights.js';
import { maxRelErr } from '../../core/accuracy.js';
import { readSafetensorsF32, writeSafetensors } from '../../core/safetensors.js';
import { toImages } from '../../models/image.js';
import { readGrayPng } from '../../models/png.js';
import { fixture } from '../backends.js';
import { DIFFUSERS, EXPECTED, LDM } from '../models/vae/checkpoints.js';
import { capture, expectUserErrors } from './harness.js';

const dir = fs.mkdtempSync(join(tmpdir(), 'ditto-decode-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
const tmp = (name: string) => join(dir, name);

const expected = readSafetensorsF32(EXPECTED).tensors;
const latents = expected.get('latents')!, images = expected.get('images')!;

/** A latents file with these tensors (F32 unless given). */
function latentsFile(name: string, tensors: Record<string, { shape: number[]; data: Float32Array; dtype?: 'F32' | 'I32' }>): string {
  const path = tmp(name);
  writeSafetensors(path, Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.dtype === 'I32'
    ? { dtype: 'I32' as const, shape: t.shape, data: Int32Array.from(t.data) }
    : { dtype: 'F32' as const, shape: t.shape, data: t.data }])));
  return path;
}

async function run(argv: string[]): Promise<string[]> {
  const { io, out, err } = capture();
  assert.is(await main(argv, io), 0, err.join('\n'));
  return out;
}

test('both layouts decode like the official code, unclamped, with a JSON summary', async () => {
  for (const vae of [LDM, DIFFUSERS]) {
    const out = tmp('images.safetensors');
    const [summary] = await run(['decode', '--vae', vae, '--latents', EXPECTED, '--out', out, '--backend', 'cpu', '--json']);
    const s = JSON.parse(summary);
    assert.equal([s.images, s.scale, s.backend, s.layout], [[2, 3, 12, 16], 0.18215, 'cpu', vae === LDM ? 'latent-diffusion' : 'diffusers']);
    const got = readSafetensorsF32(out).tensors.get('images')!;
    assert.equal(got.shape, images.shape);
    assert.ok(maxRelErr(got.data, images.data) < 1e-4);
    assert.ok(got.data.some((v) => Math.abs(v) > 1), 'not clamped');
  }
});

test('latents named samples (ditto sample\'s output) and a PNG grid clamped from [-1, 1]', async () => {
  const samples = latentsFile('samples.safetensors', { samples: latents });
  const out = tmp('grid.png');
  const [line] = await run(['decode', '--vae', LDM, '--latents', samples, '--out', out, '--backend', 'cpu']);
  assert.match(line, /wrote .*grid\.png: 2 images of 12x16 \(latent-diffusion VAE, scale 0\.18215\)/);
  const png = readGrayPng(out);
  // Two 16 x 12 images side by side with a 2-pixel border.
  assert.equal([png.width, png.height], [2 * 18 + 2, 14 + 2]);
  const first = toImages(images.data, images.shape)[0];
  let close = 0;
  for (let y = 0; y < 12; y++) for (let x = 0; x < 16; x++) close += Math.abs(png.data[(2 + y) * png.width + 2 + x] - first.data[(y * 16 + x) * 3]) <= 1 ? 1 : 0;
  assert.is(close, 12 * 16);
});

test('--scale divides the latents: scaling them by 2 and --scale 2 * 0.18215 decode alike', async () => {
  const doubled = latentsFile('doubled.safetensors', { latents: { shape: latents.shape, data: latents.data.map((v) => 2 * v) } });
  const out = tmp('scaled.safetensors');
  await run(['decode', '--vae', LDM, '--latents', doubled, '--out', out, '--scale', String(2 * 0.18215), '--backend', 'cpu']);
  assert.ok(maxRelErr(readSafetensorsF32(out).tensors.get('images')!.data, images.data) < 1e-4);
});

test('images too large for one GPU buffer decode on the CPU under auto, and are refused under --backend webgpu', () => {
  const { config } = inspectVae(LDM);
  // A GPU that binds 1000 floats: one image of 6 x 8 latents needs 64 channels x 12 x 16.
  const gpu = { name: 'webgpu', maxTensorElements: 1000 } as Backend;
  const lines: string[] = [];
  const picked = decodeBackend(gpu, 'auto', config, [2, 4, 6, 8], (l) => lines.push(l));
  assert.instance(picked, CpuBackend);
  assert.match(lines[0], /^decoding on the cpu backend, \d+ threads: one 12x16 image needs a tensor of 0\.0 MiB, more than this GPU binds/);
  assert.throws(() => decodeBackend(gpu, 'webgpu', config, [2, 4, 6, 8], () => {}), (e: unknown) => e instanceof UserError && /^--backend webgpu: one 12x16 image needs .*: decode with --backend cpu$/.test((e as Error).message));
  const roomy = { name: 'webgpu', maxTensorElements: 64 * 12 * 16 } as Backend;
  assert.is(decodeBackend(roomy, 'webgpu', config, [2, 4, 6, 8], () => {}), roomy);
});

test('mistakes are one line each, before any work, and nothing is written', async () => {
  const out = tmp('never.safetensors');
  const d = (...argv: string[]) => ['decode', ...argv];
  const both = latentsFile('both.safetensors', { latents, samples: latents });
  const none = latentsFile('none.safetensors', { x: latents });
  const wrongChannels = latentsFile('c3.safetensors', { latents: { shape: [2, 3, 8, 8], data: new Float32Array(384) } });
  const ints = latentsFile('ints.safetensors', { latents: { ...latents, dtype: 'I32' } });
  const nan = latentsFile('nan.safetensors', { latents: { shape: [1, 4, 1, 2], data: Float32Array.from([0, 1, 2, 3, 4, NaN, 6, 7]) } });
  await expectUserErrors([
    [d('--latents', EXPECTED, '--out', out), /missing --vae/],
    [d('--vae', LDM, '--out', out), /missing --latents/],
    [d('--vae', LDM, '--latents', EXPECTED, '--out', tmp('x.jpg')), /--out .*x\.jpg: give a \.png image or a \.safetensors file of images/],
    [d('--vae', LDM, '--latents', EXPECTED, '--out', out, '--scale', '0'), /--scale must be a positive number/],
    [d('--vae', LDM, '--latents', EXPECTED, '--out', out, '--scale', 'x'), /--scale must be a number, got "x"/],
    [d('--vae', LDM, '--latents', EXPECTED, '--out', out, '--backend', 'tpu'), /unknown backend "tpu"/],
    [d('--vae', tmp('missing.safetensors'), '--latents', EXPECTED, '--out', out), /no such --vae file/],
    [d('--vae', LDM, '--latents', EXPECTED, '--out', EXPECTED), /--out .* is also --latents: writing it would destroy the input/],
    [d('--vae', fixture('dit-d2-h96-p2.weights.safetensors'), '--latents', EXPECTED, '--out', out), /no tensor named decoder\.up\.\*: is this a Stable Diffusion VAE/],
    [d('--vae', LDM, '--latents', both, '--out', out), /holds both latents and samples: keep the one to decode/],
    [d('--vae', LDM, '--latents', none, '--out', out), /no tensor named latents or samples/],
    [d('--vae', LDM, '--latents', wrongChannels, '--out', out), /latents has shape \[2, 3, 8, 8\], but this VAE decodes latents \[N, 4, h, w\]/],
    [d('--vae', LDM, '--latents', ints, '--out', out), /latents is I32; latents are floating point/],
    [d('--vae', LDM, '--latents', nan, '--out', out), /latents holds NaN at element 5: latents must be finite/],
  ]);
  assert.not.ok(fs.existsSync(out));
});

test.run();
