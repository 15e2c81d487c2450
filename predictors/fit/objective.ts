// L2P's training objective (official predictor/train.py), computed from the Gram matrix alone.
//
// Official: loss = mean( (W x)[:, :-1] - x[:, 1:] )^2 over runs, steps and elements, with the TRUE
// history x as input (teacher forcing): row r of W forecasts step r + 1 from the real outputs 0..r.
// With G = sum_b F_b F_b^T (see gram.ts) and n = B (S-1) D the number of squared errors,
//
//   loss(W) = (1/n) sum_{r<S-1} [ w_r^T G w_r - 2 w_r^T G[:, r+1] + G[r+1][r+1] ]      (w_r = row r, j <= r)
//   dloss/dW[r][j] = (2/n) ( (G w_r)[j] - G[j][r+1] )       for r < S-1, j <= r; 0 elsewhere
//
// which is exactly what autograd gives through the official mask (upper triangle: zero gradient) and
// slice (the last row never forecasts anything: zero gradient). Each row is an independent problem.

import type { Weights } from '../l2p.js';
import type { Gram } from './gram.js';

/** The number of squared errors the official mean divides by: B (S - 1) D. */
export function errorCount(batch: number, steps: number, size: number): number {
  return batch * (steps - 1) * size;
}

/** The teacher-forced squared error of row r (forecasting step r + 1), summed over runs and elements. */
function rowSquaredError(g: Gram, steps: number, w: ArrayLike<number>, r: number): number {
  const S = steps, t = r + 1;
  let quad = 0, lin = 0;
  for (let j = 0; j <= r; j++) {
    const wj = w[j]!;
    if (wj === 0) continue;
    let gw = 0;
    for (let k = 0; k <= r; k++) gw += g[j * S + k]! * w[k]!;
    quad += wj * gw;
    lin += wj * g[j * S + t]!;
  }
  return quad - 2 * lin + g[t * S + t]!;
}

/** The official loss of W. */
export function teacherForcedLoss(g: Gram, steps: number, w: Weights, n: number): number {
  let total = 0;
  for (let r = 0; r < steps - 1; r++) total += rowSquaredError(g, steps, w[r]!, r);
  return total / n;
}

/** The gradient of the official loss with respect to W (same layout as W). */
export function teacherForcedGradient(g: Gram, steps: number, w: Weights, n: number): number[][] {
  const S = steps;
  const grad = Array.from({ length: S }, () => new Array<number>(S).fill(0));
  for (let r = 0; r < S - 1; r++) {
    const row = w[r]!, t = r + 1;
    for (let j = 0; j <= r; j++) {
      let gw = 0;
      for (let k = 0; k <= r; k++) gw += g[j * S + k]! * row[k]!;
      grad[r]![j] = (2 / n) * (gw - g[j * S + t]!);
    }
  }
  return grad;
}
