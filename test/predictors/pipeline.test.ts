// The generation pipeline on the bundled models, a few steps only: seeds and labels mean the same
// thing everywhere, guidance runs the official forward_with_cfg, outputs are what the sampler used, and
// the FLUX model samples what the official FLUX code samples.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { maxRelErr } from '../../core/accuracy.js';
import { readSafetensorsF32 } from '../../core/safetensors.js';
import { CpuBackend } from '../../core/cpu/backend.js';
import { WebGpuBackend } from '../../core/webgpu/backend.js';
import { openDevice } from '../../core/webgpu/device.js';
import { gaussian } from '../../models/noise.js';
import type { DiT } from '../../models/dit/dit.js';
import { BUNDLED_FLUX_MODEL, openModel, samplerFor } from '../../models/pretrained.js';
import { ForaPredictor } from '../../predictors/fora.js';
import { calibrationPair, CALIBRATION_SEED_BASE, generate, imagesPerChunk, type GenerateStepInfo } from '../../predictors/pipeline.js';
import { explicitSchedule } from '../../predictors/schedule.js';
import { TaylorSeerPredictor } from '../../predictors/taylorseer.js';
import { fixture, testWebGpu } from '../backends.js';

const model = openModel(undefined, new CpuBackend());
const { card } = model;
const dit = model.model as DiT;
const size = dit.config.inChannels * dit.config.inputSize ** 2;

test('the same (class, seed) gives the same sample, alone or in a batch', async () => {
  const alone = await generate({ model, classes: [7], seeds: [3], steps: 4, cfgScale: card.cfgScale });
  const batch = await generate({ model, classes: [2, 7], seeds: [9, 3], steps: 4, cfgScale: card.cfgScale });
  const diff = alone.samples.reduce((m, v, i) => Math.max(m, Math.abs(v - batch.samples[size + i])), 0);
  assert.ok(diff < 1e-5, `difference ${diff}`);
});

test('step 0 output is the guided model output on the seed noise; the sample follows the sampler', async () => {
  const steps = 3;
  const g = await generate({ model, classes: [5], seeds: [11], steps, cfgScale: 2.5, keepOutputs: true });
  const noise = gaussian(size, 11);
  const backend = dit.backend;
  const sampler = samplerFor(card, dit, steps);
  // An independent loop: forward_with_cfg on [x; x], [y; null], Euler/DDIM by the sampler's coefficients.
  let x = Float32Array.from(noise);
  for (let s = 0; s < steps; s++) {
    const { modelTime, xCoef, outCoef } = sampler.step(s);
    const both = backend.upload(Float32Array.from([...x, ...x]), [2, dit.config.inChannels, dit.config.inputSize, dit.config.inputSize], 'f32');
    const out = (await dit.forwardWithCfg(both, [modelTime, modelTime], [5, dit.config.numClasses], 2.5).read()).subarray(0, size);
    const recorded = g.outputs![s];
    // The loop's x is rounded from f64, the pipeline's computed in f32: from step 1 on the inputs differ
    // in the last bits, and the outputs by the f32 noise of a forward (the project's relative measure).
    const err = maxRelErr(recorded, out);
    assert.ok(err <= 1e-5, `output of step ${s}: relative error ${err.toExponential(2)}`);
    x = x.map((v, i) => xCoef * v + outCoef * out[i]);
  }
  assert.ok(g.samples.every((v, i) => Math.abs(v - x[i]) < 1e-4), 'final sample');
});

test('a schedule with every step full reproduces the uncached run exactly', async () => {
  const plain = await generate({ model, classes: [1], seeds: [0], steps: 4, cfgScale: 1 });
  const cached = await generate({ model, classes: [1], seeds: [0], steps: 4, cfgScale: 1, schedule: explicitSchedule([0, 1, 2, 3], 4), predictor: new ForaPredictor() });
  assert.equal(Array.from(cached.samples), Array.from(plain.samples));
  assert.is(cached.stats.forwards, 4);
});

test('chunks give the same images, outputs and stats as one batch, bit for bit; progress names the chunk', async () => {
  const classes = [3, 1, 4, 1], seeds = [9, 2, 6, 5];
  const schedule = explicitSchedule([0, 1, 3], 4);
  const run = (chunkSize?: number, onStep?: (s: GenerateStepInfo) => void) =>
    generate({ model, classes, seeds, steps: 4, cfgScale: card.cfgScale, schedule, predictor: new TaylorSeerPredictor(2), keepOutputs: true, chunkSize, onStep });
  const whole = await run();
  const progress: string[] = [];
  const chunked = await run(3, (s) => progress.push(`${s.chunk}/${s.chunks}:${s.step}${s.full ? 'f' : ''}`));
  assert.is(whole.chunks, 1);
  assert.is(chunked.chunks, 2);
  assert.equal(Array.from(chunked.samples), Array.from(whole.samples));
  assert.is(chunked.outputs!.length, 4);
  chunked.outputs!.forEach((o, s) => assert.equal(Array.from(o), Array.from(whole.outputs![s]), `output of step ${s}`));
  assert.equal(chunked.shape, whole.shape);
  assert.is(chunked.stats.forwards, 3);
  assert.is(chunked.stats.skipped, 1);
  assert.equal(chunked.stats.flops, whole.stats.flops);
  assert.equal(progress, [0, 1].flatMap((c) => ['0f', '1f', '2', '3f'].map((s) => `${c}/2:${s}`)));
});

test('no images: one empty chunk, empty results', async () => {
  const none = await generate({ model, classes: [], seeds: [], steps: 2, cfgScale: card.cfgScale, keepOutputs: true });
  assert.equal(none.shape, [0, 1, 28, 28]);
  assert.is(none.samples.length, 0);
  assert.equal(none.outputs!.map((o) => o.length), [0, 0]);
  assert.is(none.chunks, 1);
});

test('a chunk holds as many images as keep the largest activation (fc1, [T, 4D] per row) within the backend', () => {
  const perRow = 49 * 4 * 192; // the bundled model: 7x7 tokens, hidden size 192
  const budget = dit.backend.maxTensorElements;
  for (const [cfg, rows] of [[card.cfgScale, 2], [1, 1]]) {
    const images = imagesPerChunk(model, cfg);
    assert.ok(images * rows * perRow <= budget && (images + 1) * rows * perRow > budget, `${images} images at cfg ${cfg}`);
  }
});

test('on WebGPU, a request too large for one buffer binding runs in chunks under it', async () => {
  if (!(await testWebGpu())) return;
  const opened = await openDevice();
  if (!opened.ok) throw new Error(opened.reason);
  // A 1 MiB binding limit: 3 guided images per chunk (the fc1 output of 7 would need 2.1 MiB).
  const small = new WebGpuBackend({ ...opened.context, limits: { ...opened.context.limits, maxStorageBufferBindingSize: 2 ** 20 } });
  const onGpu = openModel(undefined, small);
  const classes = [0, 1, 2, 3, 4, 5, 6], seeds = [0, 1, 2, 3, 4, 5, 6];
  assert.is(imagesPerChunk(onGpu, card.cfgScale), 3);
  const gpu = await generate({ model: onGpu, classes, seeds, steps: 2, cfgScale: card.cfgScale });
  const cpu = await generate({ model, classes, seeds, steps: 2, cfgScale: card.cfgScale });
  assert.is(gpu.chunks, 3);
  assert.ok(maxRelErr(gpu.samples, cpu.samples) < 1e-4, `relative error ${maxRelErr(gpu.samples, cpu.samples)}`);
  small.dispose();
});

// The whole sampling path of a FLUX model (seeded noise, 2x2 packing, class prompts, the official
// get_schedule with its shift, Euler, guidance on every channel, unpacking) against the official
// modules in float64 (tools/make_mnist_flux_fixture.py), on every backend.
for (const backend of [new CpuBackend(), await testWebGpu()]) {
  if (!backend) continue;
  test(`${backend.name}: the bundled FLUX model samples what PyTorch samples with the official FLUX code`, async () => {
    const expected = readSafetensorsF32(fixture('mnist-flux-samples.safetensors'));
    const m = expected.metadata, want = expected.tensors.get('samples')!;
    const flux = openModel(BUNDLED_FLUX_MODEL, backend);
    assert.is(flux.card.architecture, 'flux');
    const list = (s: string) => s.split(',').map(Number);
    const g = await generate({ model: flux, classes: list(m.classes), seeds: list(m.seeds), steps: Number(m.steps), cfgScale: Number(m.cfg_scale) });
    assert.equal(g.shape, want.shape);
    const err = maxRelErr(g.samples, want.data);
    assert.ok(err <= (backend.name === 'cpu' ? 1e-4 : 1e-3), `relative error ${err}`);
  });
}

test('calibration pairs cycle the classes on seeds disjoint from evaluation seeds', () => {
  assert.equal(calibrationPair(0, 10), { cls: 0, seed: CALIBRATION_SEED_BASE });
  assert.equal(calibrationPair(13, 10), { cls: 3, seed: CALIBRATION_SEED_BASE + 13 });
});

test.run();
