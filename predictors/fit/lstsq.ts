// `fit lstsq`: the optimum of L2P's official objective in closed form, no iterations.
//
// The loss is a sum of independent rows (objective.ts); row r forecasts step t = r + 1 from steps
// 0..r, an ordinary least-squares problem whose normal equations are
//
//   G[:t, :t] w = G[:t, t].
//
// One Cholesky factorisation of G (plus a small ridge: consecutive outputs are nearly collinear)
// serves every row, because the factor of a leading block is the leading block of the factor. Adam
// from the reuse init (the official training) is an early-stopped walk towards this point.
// The last row forecasts nothing and keeps the official initial value (W[S-1][S-1] = 1).

import { reuseWeights, type Weights } from '../l2p.js';
import type { Gram } from './gram.js';
import { choleskySolve, regularisedCholesky } from './linalg.js';

/** Default ridge, relative to the mean of G's diagonal: far below any real signal, enough for stability. */
export const DEFAULT_RIDGE = 1e-10;

interface LstsqResult {
  weights: Weights;
  /** the ridge finally used (relative), and its absolute value on the diagonal */
  ridge: number;
  lambda: number;
}

export function fitLstsq(g: Gram, steps: number, ridge = DEFAULT_RIDGE): LstsqResult {
  const S = steps;
  const { l, ridge: used, lambda } = regularisedCholesky(g, S, ridge);
  const w = reuseWeights(S);
  for (let t = 1; t < S; t++) {
    const rhs = new Float64Array(t);
    for (let j = 0; j < t; j++) rhs[j] = g[j * S + t]!;
    const row = choleskySolve(l, S, rhs, t);
    const out = w[t - 1]!;
    out.fill(0);
    for (let j = 0; j < t; j++) out[j] = row[j]!;
  }
  return { weights: w, ridge: used, lambda };
}
