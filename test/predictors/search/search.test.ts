// The search on a problem whose best schedule is known: a "model" whose output is piecewise constant
// over the steps (it changes at steps 0, 4, 9, 15 of 20), forecast by reuse (FORA). Sampling is then
// exact on the schedule of the change points and on no other, so the search must find it; and a
// stopped search run again asks for the same evaluations in the same order.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ddim } from '../../../models/samplers/ddim.js';
import { gramMatrices } from '../../../predictors/fit/gram.js';
import { makeTrajectories, stepOutput } from '../../../predictors/fit/trajectories.js';
import { ForaPredictor } from '../../../predictors/fora.js';
import { rollout } from '../../../predictors/rollout.js';
import { explicitSchedule } from '../../../predictors/schedule.js';
import { finalSampleError, finalSampleWeights } from '../../../predictors/search/proxy.js';
import { greedyRemoval, searchSchedule, swapDescent, type FullSteps } from '../../../predictors/search/search.js';

const S = 20, CHANGES = [0, 4, 9, 15], D = 6;
const sampler = ddim(S);

function problem() {
  let seed = 7;
  const u = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0), seed / 4294967296 - 0.5);
  const levels = CHANGES.map(() => Array.from({ length: D }, u));
  const data = new Float32Array(S * D);
  for (let s = 0; s < S; s++) data.set(levels[CHANGES.filter((c) => c <= s).length - 1]!, s * D);
  const traj = makeTrajectories(data, [1, S, D]);
  const proxyData = { gram: gramMatrices(traj).total, weights: finalSampleWeights(sampler), elements: D };
  const features = Array.from({ length: S }, (_, s) => stepOutput(traj, 0, s));
  const proxy = (f: FullSteps) => finalSampleError(proxyData, explicitSchedule(f, S), new ForaPredictor());
  // The real score: the sampler on the host with the cached outputs, in dB of the final-sample error.
  const final = (outputs: readonly Float32Array[]) => {
    const x = new Float64Array(D);
    for (let i = 0; i < S; i++) {
      const { xCoef, outCoef } = sampler.step(i);
      for (let d = 0; d < D; d++) x[d] = xCoef * x[d]! + outCoef * outputs[i]![d]!;
    }
    return x;
  };
  const reference = final(features);
  const calls: string[] = [];
  const evaluate = async (f: FullSteps) => {
    calls.push(f.join(','));
    const x = final(rollout(features, explicitSchedule(f, S), new ForaPredictor()).outputs);
    const mse = x.reduce((a, v, d) => a + (v - reference[d]!) ** 2, 0) / D;
    return -10 * Math.log10(mse);
  };
  return { proxy, evaluate, calls };
}

test('greedy removal and swap descent reach the change points on the proxy', () => {
  const { proxy } = problem();
  assert.equal(swapDescent(greedyRemoval(S, 4, proxy), S, proxy), CHANGES);
  assert.equal(swapDescent([0, 1, 2, 3], S, proxy), CHANGES);
});

test('the search returns the known best schedule, scored above the official one it started from', async () => {
  const { proxy, evaluate, calls } = problem();
  const official = [0, 5, 10, 15];
  const r = await searchSchedule({ steps: S, fullSteps: 4, proxy, evaluate, official, evaluations: 12 });
  assert.equal(r.best.fullSteps, CHANGES);
  assert.equal(r.evaluations[0]!.fullSteps, official);
  // Exact: the final sample equals full compute's (an infinite PSNR); the official schedule's is not.
  assert.is(r.best.score, Infinity);
  assert.ok(Number.isFinite(r.evaluations[0]!.score));
  assert.ok(calls.length <= 12 && new Set(calls).size === calls.length, 'each candidate sampled once, within the budget');
});

test('with a budget of one evaluation the official schedule is the answer; a rerun repeats the same evaluations', async () => {
  const a = problem();
  const one = await searchSchedule({ steps: S, fullSteps: 4, proxy: a.proxy, evaluate: a.evaluate, official: [0, 5, 10, 15], evaluations: 1 });
  assert.equal(one.best.fullSteps, [0, 5, 10, 15]);
  const b = problem(), c = problem();
  await searchSchedule({ steps: S, fullSteps: 4, proxy: b.proxy, evaluate: b.evaluate, official: [0, 6, 12, 18], evaluations: 8 });
  await searchSchedule({ steps: S, fullSteps: 4, proxy: c.proxy, evaluate: c.evaluate, official: [0, 6, 12, 18], evaluations: 8 });
  assert.equal(b.calls, c.calls);
});

test.run();
