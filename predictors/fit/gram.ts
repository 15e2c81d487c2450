// The Gram matrix of a set of trajectories: G[i][j] = sum over runs b of <F_b(i), F_b(j)>.
//
// Every L2P objective here is a quadratic form in the weights whose only data-dependent part is G:
// the squared error of forecasting step t as sum_j w_j F(j) is
//
//   ||sum_j w_j F(j) - F(t)||^2 = w^T G w - 2 w^T G[:, t] + G[t][t]        (summed over runs)
//
// So fitting passes over the (large) data exactly once, to form this S x S matrix, and everything
// after that (Adam's 200 steps, the closed-form solves, the analyzer's projections) costs O(S^3).

import { stepOutput, type Trajectories } from './trajectories.js';

/** S x S, row-major, float64. */
export type Gram = Float64Array;

/** One run's Gram matrix, accumulated in float64. */
export function trajectoryGram(t: Trajectories, b: number): Gram {
  const S = t.steps, D = t.size;
  const g = new Float64Array(S * S);
  const rows = Array.from({ length: S }, (_, s) => stepOutput(t, b, s));
  for (let i = 0; i < S; i++) {
    const xi = rows[i]!;
    for (let j = 0; j <= i; j++) {
      const xj = rows[j]!;
      // Four partial sums: shorter dependency chains, and a little less rounding.
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      let d = 0;
      for (; d + 3 < D; d += 4) {
        s0 += xi[d]! * xj[d]!;
        s1 += xi[d + 1]! * xj[d + 1]!;
        s2 += xi[d + 2]! * xj[d + 2]!;
        s3 += xi[d + 3]! * xj[d + 3]!;
      }
      for (; d < D; d++) s0 += xi[d]! * xj[d]!;
      g[i * S + j] = g[j * S + i] = s0 + s1 + s2 + s3;
    }
  }
  return g;
}

interface Grams {
  /** the sum over runs */
  total: Gram;
  /** each run's own, when asked for (projection fidelity is per run) */
  perRun?: Gram[];
}

export function gramMatrices(t: Trajectories, opts: { perRun?: boolean; onRun?: (b: number) => void } = {}): Grams {
  const S = t.steps;
  const total = new Float64Array(S * S);
  const perRun: Gram[] = [];
  for (let b = 0; b < t.batch; b++) {
    const g = trajectoryGram(t, b);
    for (let i = 0; i < g.length; i++) total[i] += g[i]!;
    if (opts.perRun) perRun.push(g);
    opts.onRun?.(b);
  }
  return opts.perRun ? { total, perRun } : { total };
}
