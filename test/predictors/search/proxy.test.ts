// The proxy against a simulation: the sampler run on host arrays with the forecast outputs and with
// the true ones, from the same start; the proxy must equal the RMS difference of the two final samples.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ddim } from '../../../models/samplers/ddim.js';
import { eulerFlow } from '../../../models/samplers/flow.js';
import type { Sampler } from '../../../models/samplers/sampler.js';
import { gramMatrices } from '../../../predictors/fit/gram.js';
import { makeTrajectories, stepOutput } from '../../../predictors/fit/trajectories.js';
import { ForaPredictor } from '../../../predictors/fora.js';
import { L2PPredictor } from '../../../predictors/l2p.js';
import { createPredictor } from '../../../predictors/methods.js';
import { rollout } from '../../../predictors/rollout.js';
import { explicitSchedule, type Schedule } from '../../../predictors/schedule.js';
import { finalSampleError, finalSampleWeights } from '../../../predictors/search/proxy.js';
import type { Predictor } from '../../../predictors/predictor.js';

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s / 4294967296 - 0.5);
}

/** Runs the sampler from x0 with the given per-step outputs; returns the final sample. */
function simulate(sampler: Sampler, x0: Float64Array, outputs: readonly ArrayLike<number>[]): Float64Array {
  const x = Float64Array.from(x0);
  for (let i = 0; i < sampler.steps; i++) {
    const { xCoef, outCoef } = sampler.step(i);
    for (let d = 0; d < x.length; d++) x[d] = xCoef * x[d]! + outCoef * outputs[i]![d]!;
  }
  return x;
}

test('finalSampleWeights: the final sample is prod(xCoef) x0 + sum_i c_i out_i', () => {
  for (const sampler of [ddim(12), eulerFlow(9, { shiftTokens: 64 })]) {
    const u = random(3);
    const outs = Array.from({ length: sampler.steps }, () => [u()]);
    const c = finalSampleWeights(sampler);
    const fromZero = simulate(sampler, new Float64Array(1), outs)[0]!;
    const expected = outs.reduce((acc, o, i) => acc + c[i]! * o[0]!, 0);
    assert.ok(Math.abs(fromZero - expected) < 1e-12, `${sampler.name}: ${fromZero} vs ${expected}`);
  }
});

test('finalSampleError equals the RMS final-sample difference of an open-loop simulation', () => {
  const B = 3, S = 12, D = 20;
  const u = random(11);
  const data = new Float32Array(B * S * D).map(() => u());
  const traj = makeTrajectories(data, [B, S, D]);
  const gram = gramMatrices(traj).total;
  const sampler = ddim(S);
  const proxyData = { gram, weights: finalSampleWeights(sampler), elements: B * D };
  const w = Array.from({ length: S }, (_, r) => Array.from({ length: S }, (_, j) => (j <= r ? u() : 0)));
  const cases: [Schedule, () => Predictor][] = [
    [explicitSchedule([0, 1, 2, 5, 9], S), () => createPredictor({ method: 'taylorseer' }, S)],
    [explicitSchedule([0, 3, 4, 8], S), () => new L2PPredictor(w)],
    [explicitSchedule([0, 2, 7], S), () => createPredictor({ method: 'foca' }, S)],
  ];
  for (const [schedule, make] of cases) {
    let sq = 0;
    for (let b = 0; b < B; b++) {
      const features = Array.from({ length: S }, (_, s) => stepOutput(traj, b, s));
      const cached = rollout(features, schedule, make()).outputs;
      const x0 = new Float64Array(D).map(() => u());
      const a = simulate(sampler, x0, cached), r = simulate(sampler, x0, features);
      for (let d = 0; d < D; d++) sq += (a[d]! - r[d]!) ** 2;
    }
    const expected = Math.sqrt(sq / (B * D));
    const got = finalSampleError(proxyData, schedule, make());
    // The rollout stores forecasts in float32, as sampling does; the proxy works in float64.
    assert.ok(Math.abs(got - expected) <= 1e-5 * expected, `${schedule.fullSteps}: ${got} vs ${expected}`);
  }
});

test('zero error exactly where the forecast is exact: reuse across piecewise-constant outputs', () => {
  const S = 10, change = [0, 3, 7];
  const u = random(5);
  const levels = change.map(() => Array.from({ length: 4 }, () => u()));
  const data = new Float32Array(S * 4);
  for (let s = 0; s < S; s++) data.set(levels[change.filter((c) => c <= s).length - 1]!, s * 4);
  const gram = gramMatrices(makeTrajectories(data, [1, S, 4])).total;
  const proxyData = { gram, weights: finalSampleWeights(ddim(S)), elements: 4 };
  assert.is(finalSampleError(proxyData, explicitSchedule(change, S), new ForaPredictor()), 0);
  assert.ok(finalSampleError(proxyData, explicitSchedule([0, 4, 7], S), new ForaPredictor()) > 1e-3);
});

test.run();
