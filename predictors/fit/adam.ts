// `fit adam`: the official L2P training (Aredstone/L2P-Cache predictor/train.py), reproduced.
//
// W starts as plain reuse (W[r][r] = 1), then full-batch Adam steps on the teacher-forced one-step
// loss (objective.ts) with PyTorch's Adam (lr 0.01, betas 0.9/0.999, eps 1e-8, no weight decay):
//
//   m = b1 m + (1 - b1) g        v = b2 v + (1 - b2) g^2
//   W -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//
// The gradient comes from the Gram matrix, so a step costs O(S^3) however large the data: 200 steps
// on 50x50 take milliseconds, where the official script runs autograd over every element each time.
// Entries with a zero gradient throughout (upper triangle, last row) never move, as in PyTorch.
//
// Note: the official loop is `for epoch in range(201)`, i.e. 201 steps; its weight.txt is the W after
// step 201. `steps` here counts Adam steps; pass 201 to reproduce that file exactly.

import { UserError } from '../../core/errors.js';
import { reuseWeights, type Weights } from '../l2p.js';
import type { Gram } from './gram.js';
import { teacherForcedGradient, teacherForcedLoss } from './objective.js';

interface AdamOptions {
  steps?: number;
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** called after each step with the loss BEFORE it (as the official script prints it) */
  onStep?: (step: number, loss: number) => void;
}

interface AdamResult {
  weights: Weights;
  /** the loss before each step */
  losses: number[];
  /** the loss of the returned W */
  finalLoss: number;
}

/** Adam from reuse on the loss given by Gram matrix g (S x S) and error count n. */
export function fitAdam(g: Gram, steps: number, n: number, opts: AdamOptions = {}): AdamResult {
  const { steps: iterations = 200, lr = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-8 } = opts;
  const S = steps;
  const w = reuseWeights(S);
  const m = Array.from({ length: S }, () => new Float64Array(S));
  const v = Array.from({ length: S }, () => new Float64Array(S));
  const losses: number[] = [];
  for (let t = 1; t <= iterations; t++) {
    const loss = teacherForcedLoss(g, S, w, n);
    if (!Number.isFinite(loss)) {
      throw new UserError(`the Adam fit diverged: the loss is ${loss} at step ${t} of ${iterations} (lr ${lr}): lower --lr, or use --fit lstsq`);
    }
    losses.push(loss);
    const grad = teacherForcedGradient(g, S, w, n);
    const stepSize = lr / (1 - beta1 ** t);
    const bc2 = Math.sqrt(1 - beta2 ** t);
    for (let r = 0; r < S; r++) {
      for (let j = 0; j <= r; j++) {
        const gr = grad[r]![j]!;
        const mr = (m[r]![j] = beta1 * m[r]![j]! + (1 - beta1) * gr);
        const vr = (v[r]![j] = beta2 * v[r]![j]! + (1 - beta2) * gr * gr);
        w[r]![j] -= (stepSize * mr) / (Math.sqrt(vr) / bc2 + eps);
      }
    }
    opts.onStep?.(t, loss);
  }
  return { weights: w, losses, finalLoss: teacherForcedLoss(g, S, w, n) };
}
