import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Predictor } from '../../predictors/predictor.js';
import { combine, meanSquaredError, relativeL2, rollout } from '../../predictors/rollout.js';
import { explicitSchedule } from '../../predictors/schedule.js';

test('combine sums weighted history entries in float64 and returns float32', () => {
  const h = [Float32Array.from([1, 2]), Float32Array.from([10, 20])];
  assert.equal(Array.from(combine([{ step: 0, weight: 0.5 }, { step: 1, weight: 2 }], h, 2)), [20.5, 41]);
  assert.equal(Array.from(combine([{ step: 1, weight: -1 }], new Map([[1, h[1]!]]), 2)), [-10, -20]);
  assert.throws(() => combine([{ step: 3, weight: 1 }], h, 2), /entry 3 is missing/);
});

test('rollout: features at full steps, forecasts elsewhere, every output joins the history', () => {
  const seen: [number, boolean][] = [];
  // forecasts the previous output doubled: the history must hold forecasts too
  const doubling: Predictor = {
    name: 'double', live: () => [],
    observe: (s, full) => void seen.push([s, full]),
    forecast: (s) => [{ step: s - 1, weight: 2 }],
  };
  const f = [0, 1, 2, 3, 4].map((v) => Float32Array.from([v]));
  const { outputs, terms } = rollout(f, explicitSchedule([0, 3], 5), doubling);
  assert.equal(outputs.map((o) => o[0]), [0, 0, 0, 3, 6]);
  assert.equal(seen, [[0, true], [1, false], [2, false], [3, true], [4, false]]);
  assert.is(terms[0], undefined);
  assert.equal(terms[4], [{ step: 3, weight: 2 }]);
});

test('error measures', () => {
  assert.is(relativeL2([3, 4], [0, 0]), 5);
  assert.ok(Math.abs(relativeL2([1, 1], [1, 2]) - 1 / Math.sqrt(5)) < 1e-15);
  assert.is(meanSquaredError([1, 3], [1, 1]), 2);
});

test.run();
