// A predictor rolled out over a saved trajectory on host arrays: what `ditto predict` does, and what
// the sampling loop does on tensors (sampling.ts), minus the model and the sampler.
//
// At a full step the output is the saved feature; at a skipped step it is the predictor's weighted
// sum of history entries. Every output joins the history, forecasts included, in float32 as at
// sampling time (the sum itself is accumulated in float64).

import type { Predictor, Term } from './predictor.js';
import type { Schedule } from './schedule.js';

/** sum_i w_i * history[step_i], accumulated in float64, returned in float32. */
export function combine(terms: readonly Term[], history: ReadonlyMap<number, Float32Array> | readonly (Float32Array | undefined)[], size: number): Float32Array {
  const acc = new Float64Array(size);
  for (const { step, weight } of terms) {
    const h = history instanceof Map ? history.get(step) : (history as readonly (Float32Array | undefined)[])[step];
    if (!h) throw new Error(`combine: history entry ${step} is missing`);
    for (let i = 0; i < size; i++) acc[i] += weight * h[i]!;
  }
  return Float32Array.from(acc);
}

interface Rollout {
  /** one output per step: the saved feature at full steps, the forecast elsewhere */
  outputs: Float32Array[];
  /** the weights used at each forecast step (undefined at full steps) */
  terms: (Term[] | undefined)[];
}

/**
 * Rolls `predictor` out over `features` (one array per step, the full-compute output) on `schedule`.
 * Only full steps' features are read.
 */
export function rollout(features: readonly Float32Array[], schedule: Schedule, predictor: Predictor): Rollout {
  if (features.length !== schedule.steps) throw new Error(`rollout: ${features.length} feature steps for a ${schedule.steps}-step schedule`);
  const size = features[0]!.length;
  const outputs: Float32Array[] = [];
  const terms: (Term[] | undefined)[] = [];
  for (let s = 0; s < schedule.steps; s++) {
    if (schedule.isFull(s)) {
      outputs.push(features[s]!);
      terms.push(undefined);
    } else {
      const t = predictor.forecast(s);
      outputs.push(combine(t, outputs, size));
      terms.push(t);
    }
    predictor.observe(s, schedule.isFull(s));
  }
  return { outputs, terms };
}

/** ||a - b|| / ||b|| (0 when both are 0). */
export function relativeL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    const d = a[i]! - b[i]!;
    num += d * d;
    den += b[i]! * b[i]!;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

export function meanSquaredError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < b.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s / b.length;
}
