// A rollout in weights instead of values: what each step's output is, as a combination of the
// outputs of the FULL steps only.
//
// A forecast puts weights on history entries; some of those entries were themselves forecast, i.e.
// combinations of earlier entries, and so on back to the full steps. Substituting all the way down
// gives every output as one fixed linear combination of computed outputs: for TaylorSeer and FoCa
// that is just their forecast (they only weight full steps); for L2P it is the EFFECTIVE predictor its
// matrix amounts to on a schedule, which the analyzer compares with the fixed formulas, and which
// lets a rollout's error be computed from a Gram matrix without touching the data.

import { axpy, float64, type Combination } from './field.js';
import type { Predictor } from './predictor.js';
import type { Schedule } from './schedule.js';

/** For every step, its output as weights on full steps (a full step is {s: 1}). */
export function unroll(predictor: Predictor, schedule: Schedule): Combination<number>[] {
  const out: Combination<number>[] = [];
  for (let s = 0; s < schedule.steps; s++) {
    const full = schedule.isFull(s);
    if (full) {
      out.push(new Map([[s, 1]]));
    } else {
      let c: Combination<number> = new Map();
      for (const { step, weight } of predictor.forecast(s)) c = axpy(float64, c, weight, out[step]!);
      out.push(c);
    }
    predictor.observe(s, full);
  }
  return out;
}

/**
 * ||output(s) - F(s)|| / ||F(s)|| per step, pooled over runs, from the Gram matrix G (S x S) of the
 * true trajectories: with e = unrolled(s) - {s: 1}, the squared error is e^T G e.
 */
export function rolloutErrorsFromGram(unrolled: readonly Combination<number>[], g: Float64Array, steps: number): number[] {
  return unrolled.map((c, s) => {
    const e = new Map(c);
    e.set(s, (e.get(s) ?? 0) - 1);
    let q = 0;
    for (const [i, wi] of e) for (const [j, wj] of e) q += wi * wj * g[i * steps + j]!;
    const norm2 = g[s * steps + s]!;
    return Math.sqrt(Math.max(q, 0) / (norm2 > 0 ? norm2 : 1));
  });
}
