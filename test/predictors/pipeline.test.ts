// The generation pipeline on the bundled model, a few steps only: seeds and labels mean the same
// thing everywhere, guidance runs the official forward_with_cfg, and outputs are what the sampler used.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../core/cpu/backend.js';
import { gaussian } from '../../models/noise.js';
import { openModel, samplerFor } from '../../models/pretrained.js';
import { ForaPredictor } from '../../predictors/fora.js';
import { calibrationPair, CALIBRATION_SEED_BASE, generate } from '../../predictors/pipeline.js';
import { explicitSchedule } from '../../predictors/schedule.js';

const model = openModel(undefined, new CpuBackend());
const { dit, card } = model;
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
    assert.ok(recorded.every((v, i) => Math.abs(v - out[i]) < 1e-5), `output of step ${s}`);
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

test('calibration pairs cycle the classes on seeds disjoint from evaluation seeds', () => {
  assert.equal(calibrationPair(0, 10), { cls: 0, seed: CALIBRATION_SEED_BASE });
  assert.equal(calibrationPair(13, 10), { cls: 3, seed: CALIBRATION_SEED_BASE + 13 });
});

test.run();
