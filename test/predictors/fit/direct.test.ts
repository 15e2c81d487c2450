import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fitDirect } from '../../../predictors/fit/direct.js';
import { gramMatrices } from '../../../predictors/fit/gram.js';
import { fitLstsq } from '../../../predictors/fit/lstsq.js';
import { readTrajectories, stepOutput } from '../../../predictors/fit/trajectories.js';
import { L2PPredictor, type Weights } from '../../../predictors/l2p.js';
import { rollout } from '../../../predictors/rollout.js';
import { explicitSchedule, taylorSeerSchedule } from '../../../predictors/schedule.js';
import { rolloutErrorsFromGram, unroll } from '../../../predictors/unroll.js';
import { fixture } from '../../backends.js';

const t = readTrajectories(fixture('l2p-adam.safetensors'));
const S = t.steps;
const { total: g } = gramMatrices(t);
const schedules = [taylorSeerSchedule(5, S), explicitSchedule([0, 1, 3, 4, 9, 11, 16], S)];

const meanRolloutError = (w: Weights, schedule: (typeof schedules)[number]) => {
  const e = rolloutErrorsFromGram(unroll(new L2PPredictor(w), schedule), g, S).filter((_, s) => !schedule.isFull(s));
  return e.reduce((a, x) => a + x, 0) / e.length;
};

test('weights sit on full steps only, so the rollout is the regression itself', () => {
  for (const schedule of schedules) {
    const w = fitDirect(g, S, schedule);
    for (let r = 0; r < S - 1; r++) for (let j = 0; j < S; j++) if (w[r]![j] !== 0) assert.ok(schedule.isFull(j), `${schedule.label}: W[${r}][${j}]`);
    // rolling out on real data uses exactly row s-1 on the full steps
    const features = Array.from({ length: S }, (_, s) => stepOutput(t, 0, s));
    const { terms } = rollout(features, schedule, new L2PPredictor(w));
    terms.forEach((ts, s) => ts && assert.equal(ts, w[s - 1]!.flatMap((v, j) => (v !== 0 ? [{ step: j, weight: v }] : []))));
  }
});

test('each skipped step is the least-squares fit on the full steps before it (perturbing raises its error)', () => {
  for (const schedule of schedules) {
    const w = fitDirect(g, S, schedule);
    const base = rolloutErrorsFromGram(unroll(new L2PPredictor(w), schedule), g, S);
    for (let s = 1; s < S; s++) {
      if (schedule.isFull(s)) continue;
      for (const a of schedule.fullSteps.filter((x) => x < s)) {
        const p = w.map((row) => [...row]);
        p[s - 1]![a] += 1e-3;
        const e = rolloutErrorsFromGram(unroll(new L2PPredictor(p), schedule), g, S);
        assert.ok(e[s]! > base[s]!, `${schedule.label} step ${s} anchor ${a}`);
      }
    }
  }
});

test("on its schedule it beats the teacher-forced optimum's rollout (no compounding)", () => {
  for (const schedule of schedules) {
    assert.ok(meanRolloutError(fitDirect(g, S, schedule), schedule) < meanRolloutError(fitLstsq(g, S).weights, schedule), schedule.label);
  }
});

test.run();
