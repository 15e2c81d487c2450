// The schedule search's cheap proxy: how far a cached run's FINAL sample lands from full compute,
// predicted from the full-compute trajectories alone, without sampling.
//
// Both samplers are linear in the model's outputs (samplers/sampler.ts):
//
//   x_S = (prod_i a_i) x_0 + sum_i c_i out_i,        c_i = b_i * prod_{k>i} a_k
//
// with a_i = xCoef and b_i = outCoef of step i. A cached run replaces out_i on every skipped step by a
// forecast, which is a fixed combination of full-step outputs (unroll.ts). If the model, on the full
// steps, returned what it returns on the reference path ("open loop": a forecast's error does not
// change the later model calls), the final sample moves by
//
//   delta = sum_{i skipped} c_i (forecast_i - F(i)) = sum_j e_j F(j),
//
// so ||delta||^2 summed over the calibration runs is e^T G e with G the trajectories' Gram matrix
// (fit/gram.ts): O(S^2) per candidate schedule however large the images, thousands of candidates a
// second. Open loop is an approximation (a drifted x does change the next model call), which is why
// the search only ranks candidates with it and lets real sampling choose among the best.

import type { Sampler } from '../../models/samplers/sampler.js';
import type { Gram } from '../fit/gram.js';
import type { Predictor } from '../predictor.js';
import type { Schedule } from '../schedule.js';
import { unroll } from '../unroll.js';

/** c_i: how much step i's output counts in the final sample. */
export function finalSampleWeights(sampler: Sampler): number[] {
  const c = new Array<number>(sampler.steps);
  let later = 1;
  for (let i = sampler.steps - 1; i >= 0; i--) {
    const { xCoef, outCoef } = sampler.step(i);
    c[i] = outCoef * later;
    later *= xCoef;
  }
  return c;
}

export interface ProxyData {
  /** the Gram matrix of the full-compute trajectories, S x S */
  gram: Gram;
  /** finalSampleWeights of the sampler */
  weights: readonly number[];
  /** elements summed into the Gram matrix: runs x elements per output */
  elements: number;
}

/**
 * The open-loop root-mean-square error of the final sample, per element, when `predictor` forecasts
 * the steps `schedule` skips (0 when nothing is skipped).
 */
export function finalSampleError(data: ProxyData, schedule: Schedule, predictor: Predictor): number {
  const S = schedule.steps;
  if (data.weights.length !== S || data.gram.length !== S * S) throw new Error(`finalSampleError: data for ${data.weights.length} steps, schedule of ${S}`);
  const e = new Float64Array(S);
  unroll(predictor, schedule).forEach((combination, s) => {
    if (schedule.isFull(s)) return;
    const c = data.weights[s]!;
    for (const [j, w] of combination) e[j] += c * w;
    e[s] -= c;
  });
  let q = 0;
  for (let i = 0; i < S; i++) {
    if (e[i] === 0) continue;
    let row = 0;
    for (let j = 0; j < S; j++) row += data.gram[i * S + j]! * e[j]!;
    q += e[i]! * row;
  }
  return Math.sqrt(Math.max(q, 0) / data.elements);
}
