import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../cli/main.js';
import { CpuBackend } from '../../core/cpu/backend.js';
import { readSafetensorsF32 } from '../../core/safetensors.js';
import { openModel } from '../../models/pretrained.js';
import { readWeightsFile } from '../../predictors/l2p.js';
import { calibrationPair, generate } from '../../predictors/pipeline.js';
import { capture } from './harness.js';

const tmp = (name: string) => join(tmpdir(), `ditto-calibrate-${process.pid}-${name}`);

test('records every step of the calibration runs and fits a W for that step count', async () => {
  const { io, out } = capture();
  const w = tmp('w.json'), t = tmp('t.safetensors');
  assert.is(await main(['calibrate', '--trajectories', '3', '--batch', '2', '--steps', '5', '--fit', 'lstsq', '--out', w, '--save-trajectories', t, '--backend', 'cpu', '--json'], io), 0);
  const summary = JSON.parse(out[0]);
  assert.ok(summary.loss <= summary.reuse_loss, 'the fit is no worse than plain reuse on its own data');
  const weights = readWeightsFile(w, 5);
  assert.is(weights.length, 5);
  const traj = readSafetensorsF32(t).tensors.get('trajectories')!;
  assert.equal(traj.shape, [3, 5, 1, 28, 28]);
  // Run 2 (the second batch) recorded exactly what a fresh generate of its (class, seed) produces on
  // the same backend.
  const model = openModel(undefined, new CpuBackend());
  const { cls, seed } = calibrationPair(2, 10);
  const again = await generate({ model, classes: [cls], seeds: [seed], steps: 5, cfgScale: model.card.cfgScale, keepOutputs: true });
  const size = 28 * 28;
  for (let s = 0; s < 5; s++) {
    const recorded = traj.data.subarray((2 * 5 + s) * size, (2 * 5 + s + 1) * size);
    assert.ok(recorded.every((v, i) => Math.abs(v - again.outputs![s][i]) < 1e-5), `step ${s}`);
  }
});

test('--fit direct without a schedule is refused', async () => {
  const { io, err } = capture();
  assert.is(await main(['calibrate', '--fit', 'direct', '--out', tmp('x.json')], io), 1);
  assert.match(err.at(-1)!, /fits one schedule: pass --interval N/);
});

test.run();
