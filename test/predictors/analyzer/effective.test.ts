import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { effectiveWeights } from '../../../predictors/analyzer/effective.js';
import { reuseWeights } from '../../../predictors/l2p.js';
import { paperSchedule } from '../../../predictors/schedule.js';
import { TaylorSeerPredictor } from '../../../predictors/taylorseer.js';
import { unroll } from '../../../predictors/unroll.js';

const schedule = paperSchedule(7);

test('a W that encodes TaylorSeer on its schedule unrolls to TaylorSeer (distance 0)', () => {
  const ts = unroll(new TaylorSeerPredictor(2), schedule);
  const w = reuseWeights(50);
  for (let s = 1; s < 50; s++) {
    if (schedule.isFull(s)) continue;
    w[s - 1] = new Array(50).fill(0);
    for (const [step, v] of ts[s]!) w[s - 1]![step] = v;
  }
  const eff = effectiveWeights(w, schedule, 2);
  assert.is(eff.length, 50 - schedule.fullSteps.length);
  for (const e of eff) {
    assert.ok(e.toTaylorSeer < 1e-12, `step ${e.step}`);
    assert.ok(Math.abs(e.sum - 1) < 1e-12);
  }
});

test('plain reuse chains through forecasts to FORA: weight 1 on the last full step', () => {
  const eff = effectiveWeights(reuseWeights(50), schedule, 1);
  for (const e of eff) {
    assert.equal(e.l2p, [{ step: e.anchor, weight: 1 }]);
    assert.is(e.toFora, 0);
    assert.is(e.k, e.step - e.anchor);
  }
});

test.run();
