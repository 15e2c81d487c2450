import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gramMatrices } from '../../predictors/fit/gram.js';
import { makeTrajectories } from '../../predictors/fit/trajectories.js';
import { FocaPredictor } from '../../predictors/foca.js';
import { L2PPredictor } from '../../predictors/l2p.js';
import { relativeL2, rollout } from '../../predictors/rollout.js';
import { TaylorSeerPredictor } from '../../predictors/taylorseer.js';
import { rolloutErrorsFromGram, unroll } from '../../predictors/unroll.js';
import { maxRelError, randomLowerTriangular, smoothFeatures } from './official.js';
import { testSchedules } from './schedules.js';

test('the unrolled weights on full steps reproduce the rollout (L2P, TaylorSeer, FoCa)', () => {
  for (const schedule of testSchedules()) {
    const f = smoothFeatures(schedule.steps, 19, 3);
    const make = [() => new L2PPredictor(randomLowerTriangular(schedule.steps, 5)), () => new TaylorSeerPredictor(3), () => new FocaPredictor()];
    for (const mk of make) {
      const u = unroll(mk(), schedule);
      for (let s = 0; s < schedule.steps; s++) for (const step of u[s]!.keys()) assert.ok(schedule.isFull(step), 'weights only on full steps');
      const fromWeights = u.map((c) => {
        const out = new Float64Array(19);
        for (const [step, w] of c) f[step]!.forEach((v, i) => (out[i] += w * v));
        return out;
      });
      const err = maxRelError(fromWeights, rollout(f, schedule, mk()).outputs);
      assert.ok(err < 1e-5, `${schedule.label} ${mk().name}: ${err}`);
    }
  }
});

test('rollout errors from the Gram matrix equal errors measured on the data', () => {
  const schedule = testSchedules()[3]!;
  const S = schedule.steps, D = 13, B = 3;
  const runs = [0, 1, 2].map((b) => smoothFeatures(S, D, 40 + b));
  const data = new Float32Array(B * S * D);
  runs.forEach((r, b) => r.forEach((x, s) => data.set(x, (b * S + s) * D)));
  const { total } = gramMatrices(makeTrajectories(data, [B, S, D]));
  const w = randomLowerTriangular(S, 8);
  const fromGram = rolloutErrorsFromGram(unroll(new L2PPredictor(w), schedule), total, S);
  // pooled over runs: sqrt(sum_b ||O_b - F_b||^2 / sum_b ||F_b||^2)
  const outs = runs.map((r) => rollout(r, schedule, new L2PPredictor(w)).outputs);
  for (let s = 0; s < S; s++) {
    let num = 0, den = 0;
    runs.forEach((r, b) => {
      const e = relativeL2(outs[b]![s]!, r[s]!);
      const n2 = r[s]!.reduce((a, v) => a + v * v, 0);
      num += e * e * n2;
      den += n2;
    });
    const want = Math.sqrt(num / den);
    assert.ok(Math.abs(fromGram[s]! - want) <= 1e-4 * Math.max(want, 1e-3), `step ${s}: ${fromGram[s]} vs ${want}`);
  }
});

test.run();
