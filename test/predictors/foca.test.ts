import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { float64 } from '../../predictors/field.js';
import { FocaPredictor, focaWeights } from '../../predictors/foca.js';
import { rollout } from '../../predictors/rollout.js';
import { maxRelError, officialRollout, OfficialFoca, smoothFeatures } from './official.js';
import { testSchedules } from './schedules.js';

const arr = (m: Map<number, number>, anchors: number[]) => anchors.map((a) => m.get(a) ?? 0);
const close = (a: number[], b: number[], tol = 1e-12) => a.every((v, i) => Math.abs(v - b[i]!) <= tol);

test('even gaps one gap ahead: (7/3, -5/3, 1/3)', () => {
  for (const gap of [1, 2, 5]) {
    const anchors = [30, 30 - gap, 30 - 2 * gap];
    assert.ok(close(arr(focaWeights(float64, anchors, 30 + gap), anchors), [7 / 3, -5 / 3, 1 / 3]), `gap ${gap}`);
  }
});

test('uneven gaps: weights sum to 1 and forecast straight lines exactly, not parabolas', () => {
  const anchors = [44, 37, 30];
  for (const target of [45, 47, 51]) {
    const w = focaWeights(float64, anchors, target);
    const apply = (f: (t: number) => number) => anchors.reduce((a, s) => a + w.get(s)! * f(s), 0);
    assert.ok(Math.abs(apply(() => 1) - 1) < 1e-12);
    assert.ok(Math.abs(apply((t) => 3 * t - 2) - (3 * target - 2)) < 1e-9);
    assert.ok(Math.abs(apply((t) => t * t) - target * target) > 1e-3);
  }
});

test('fewer anchors: reuse, then linear extrapolation', () => {
  assert.equal([...focaWeights(float64, [3], 5)], [[3, 1]]);
  assert.equal([...focaWeights(float64, [4, 2], 7)], [[4, 2.5], [2, -1.5]]);
});

test('rollouts equal the BDF2 forecast done the long way on arrays, on uneven schedules', () => {
  for (const schedule of testSchedules()) {
    const features = smoothFeatures(schedule.steps, 29, 11);
    const ours = rollout(features, schedule, new FocaPredictor()).outputs;
    const err = maxRelError(ours, officialRollout(new OfficialFoca(), features, schedule.isFull));
    assert.ok(err < 1e-6, `${schedule.label}: ${err}`);
  }
});

test.run();
