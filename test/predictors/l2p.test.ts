import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UserError } from '../../core/errors.js';
import { formatWeights, L2PPredictor, parseWeights, readWeightsFile, reuseWeights, validateWeights, writeWeightsFile } from '../../predictors/l2p.js';
import { rollout } from '../../predictors/rollout.js';
import { fixture } from '../backends.js';
import { maxRelError, officialRollout, OfficialL2P, randomLowerTriangular, smoothFeatures } from './official.js';
import { testSchedules } from './schedules.js';

test('row s-1 over the history 0..s-1 forecasts step s', () => {
  const w = reuseWeights(4);
  w[2] = [0.5, -1, 1.5, 0];
  const p = new L2PPredictor(w);
  p.observe(0, true);
  p.observe(1, false);
  p.observe(2, true);
  assert.equal(p.forecast(3), [{ step: 0, weight: 0.5 }, { step: 1, weight: -1 }, { step: 2, weight: 1.5 }]);
});

test('rollouts equal the official predict_with_learnable (forecasts join the history), on uneven schedules', () => {
  for (const schedule of testSchedules()) {
    const w = randomLowerTriangular(schedule.steps, schedule.steps + 3);
    const features = smoothFeatures(schedule.steps, 23, 17);
    const ours = rollout(features, schedule, new L2PPredictor(w)).outputs;
    const err = maxRelError(ours, officialRollout(new OfficialL2P(w), features, schedule.isFull));
    assert.ok(err < 1e-6, `${schedule.label}: ${err}`);
  }
});

test('live() lists exactly the steps a later row still weights', () => {
  const w = reuseWeights(6);
  w[4] = [0.2, 0, 0, 0.3, 0.5, 0]; // step 5 uses 0, 3, 4
  const p = new L2PPredictor(w);
  for (let s = 0; s < 4; s++) p.observe(s, true);
  assert.equal(p.live(), [0, 3]); // row 3 (step 4) uses 3; row 4 uses 0, 3 (and 4, not seen yet)
});

test('the official weight file (a Python repr of a list of lists) reads, and ours round-trips', () => {
  const official = readWeightsFile(fixture('l2p-adam.weights.json'), 20);
  assert.is(official.length, 20);
  const path = join(tmpdir(), `ditto-l2p-${process.pid}.json`);
  writeWeightsFile(path, official);
  assert.equal(readWeightsFile(path), official);
  assert.equal(JSON.parse(readFileSync(path, 'utf8')), official, 'plain JSON');
  assert.ok(formatWeights([[1, 0], [-0, 1]]).includes('[0, 1]'), 'no -0 in files');
});

test('bad matrices are one-line user errors', () => {
  const cases: [unknown, RegExp, number?][] = [
    [[[1, 0.5], [0, 1]], /W\[0\]\[1\] = 0.5 lies above the diagonal: W must be lower-triangular/],
    [[[1, 0], [0, 1, 0]], /row 1 has 3 entries, but W has 2 rows/],
    [[[1, 0], [null, 1]], /W\[1\]\[0\] is null, not a finite number/],
    [[[1, 0], ['x', 1]], /not a finite number/],
    [{ w: 1 }, /expected a list of lists/],
    [[], /expected a list of lists/],
    [reuseWeights(50), /W is 50x50, made for 50 sampling steps, but this run has 20 steps/, 20],
  ];
  for (const [w, pattern, steps] of cases) {
    assert.throws(() => validateWeights(w, 'W.json', steps), (e: Error) => e instanceof UserError && pattern.test(e.message) && !e.message.includes('\n'), String(pattern));
  }
  assert.throws(() => parseWeights('[[1.0, 0.0], [nan, 1.0]]', 'W.json'), (e: Error) => e instanceof UserError && /NaN or Infinity/.test(e.message));
  assert.throws(() => readWeightsFile('/nonexistent/W.json'), (e: Error) => e instanceof UserError && /no such weight file/.test(e.message));
});

test.run();
