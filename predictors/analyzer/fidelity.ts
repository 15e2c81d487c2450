// Projection fidelity, the L2P paper's motivation: how much of each step's output already lies in the
// span of the outputs before it,
//
//   fidelity(t) = 1 - ||F(t) - Proj_{V_t} F(t)|| / ||F(t)||,     V_t = span{F(0), ..., F(t-1)}.
//
// If it is close to 1, SOME linear combination of the history forecasts step t almost perfectly:
// a linear predictor is the right model class, and the question is only which weights.
// Computed per run from that run's Gram matrix (the residual norms are the diagonal of its Cholesky
// factor, linalg.ts), in float64; step 0 has an empty history and fidelity 0.

import type { Trajectories } from '../fit/trajectories.js';
import { trajectoryGram } from '../fit/gram.js';
import { projectionResiduals } from '../fit/linalg.js';

export interface FidelityReport {
  /** per step: mean, min and max over runs */
  mean: number[];
  min: number[];
  max: number[];
  /** the share of steps whose mean fidelity exceeds `threshold` */
  above: number;
  threshold: number;
}

/** fidelity(t) of one run from its Gram matrix. */
export function fidelityFromGram(g: Float64Array, steps: number): number[] {
  const res = projectionResiduals(g, steps);
  return Array.from(res, (r, t) => {
    const norm = Math.sqrt(g[t * steps + t]!);
    return norm === 0 ? 1 : 1 - r / norm;
  });
}

export function projectionFidelity(t: Trajectories, threshold = 0.95, onRun?: (b: number) => void): FidelityReport {
  const S = t.steps;
  const mean = new Array<number>(S).fill(0), min = new Array<number>(S).fill(Infinity), max = new Array<number>(S).fill(-Infinity);
  for (let b = 0; b < t.batch; b++) {
    const f = fidelityFromGram(trajectoryGram(t, b), S);
    f.forEach((v, s) => {
      mean[s] += v / t.batch;
      min[s] = Math.min(min[s]!, v);
      max[s] = Math.max(max[s]!, v);
    });
    onRun?.(b);
  }
  return { mean, min, max, threshold, above: mean.filter((v) => v > threshold).length / S };
}
