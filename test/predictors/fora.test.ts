import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ForaPredictor } from '../../predictors/fora.js';
import { rollout } from '../../predictors/rollout.js';
import { maxRelError, officialRollout, OfficialFora, smoothFeatures } from './official.js';
import { testSchedules } from './schedules.js';

test('FORA puts weight 1 on the last full step', () => {
  const p = new ForaPredictor();
  p.observe(0, true);
  p.observe(1, false);
  p.observe(2, true);
  assert.equal(p.forecast(3), [{ step: 2, weight: 1 }]);
  assert.equal(p.live(), [2]);
});

test('rollouts equal reusing the last computed output', () => {
  for (const schedule of testSchedules()) {
    const features = smoothFeatures(schedule.steps, 16, 5);
    const ours = rollout(features, schedule, new ForaPredictor()).outputs;
    assert.is(maxRelError(ours, officialRollout(new OfficialFora(), features, schedule.isFull)), 0, schedule.label);
  }
});

test.run();
