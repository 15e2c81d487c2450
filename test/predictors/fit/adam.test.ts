// `fit adam` against a PyTorch run of the official training (tools/make_l2p_fixture.py: torch.optim.Adam
// on W with the official masked loss, float32, 200 steps).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SafetensorsFile } from '../../../core/safetensors.js';
import { fitAdam } from '../../../predictors/fit/adam.js';
import { gramMatrices } from '../../../predictors/fit/gram.js';
import { errorCount } from '../../../predictors/fit/objective.js';
import { readTrajectories } from '../../../predictors/fit/trajectories.js';
import { readWeightsFile, reuseWeights } from '../../../predictors/l2p.js';
import { fixture } from '../../backends.js';

const t = readTrajectories(fixture('l2p-adam.safetensors'));
const file = SafetensorsFile.open(fixture('l2p-adam.safetensors'));
const torchLosses = file.readF32('losses');
const meta = file.metadata;
file.close();
const torchW = readWeightsFile(fixture('l2p-adam.weights.json'), t.steps);
const { total: g } = gramMatrices(t);
const result = fitAdam(g, t.steps, errorCount(t.batch, t.steps, t.size), { steps: Number(meta.steps), lr: Number(meta.lr) });

test('every weight matches PyTorch within 1e-3 (in practice ~4e-7, the float32 noise of the reference)', () => {
  let max = 0;
  for (let r = 0; r < t.steps; r++) for (let j = 0; j < t.steps; j++) max = Math.max(max, Math.abs(result.weights[r]![j]! - torchW[r]![j]!));
  assert.ok(max <= 1e-3, `max |W - W_torch| = ${max}`);
  assert.ok(max <= 1e-5, `the match is far tighter than the tolerance: ${max}`);
});

test("the loss before each step matches PyTorch's", () => {
  assert.is(result.losses.length, torchLosses.length);
  result.losses.forEach((l, i) => assert.ok(Math.abs(l - torchLosses[i]!) <= 1e-5 * torchLosses[i]!, `step ${i + 1}: ${l} vs ${torchLosses[i]}`));
});

test('untouched entries stay at the reuse init: upper triangle 0, last row e_{S-1}', () => {
  const S = t.steps;
  for (let r = 0; r < S; r++) for (let j = r + 1; j < S; j++) assert.is(result.weights[r]![j], 0);
  assert.equal(result.weights[S - 1], reuseWeights(S)[S - 1]);
  assert.ok(result.finalLoss < result.losses[0]! / 5);
});

test.run();
