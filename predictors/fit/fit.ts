// One entry point for the three ways to fit an L2P matrix, shared by `ditto fit` (from a file of
// trajectories) and `ditto calibrate` (from trajectories it samples itself). All three work on the
// S x S Gram matrix of the trajectories alone.

import { UserError } from '../../core/errors.js';
import { fitAdam } from './adam.js';
import { fitDirect } from './direct.js';
import type { Gram } from './gram.js';
import { DEFAULT_RIDGE, fitLstsq } from './lstsq.js';
import type { Schedule } from '../schedule.js';
import type { Weights } from '../l2p.js';

export const FIT_METHODS = ['adam', 'lstsq', 'direct'] as const;
export type FitMethod = (typeof FIT_METHODS)[number];

interface FitOptions {
  method: FitMethod;
  /** Required by `direct`: the schedule whose skipped steps are regressed on its full steps. */
  schedule?: Schedule;
  /** Adam: steps and learning rate (official: 200 steps at 0.01). */
  adamSteps?: number;
  lr?: number;
  onAdamStep?: (step: number, loss: number) => void;
  /** lstsq and direct: ridge relative to the Gram diagonal. */
  ridge?: number;
}

interface FitResult {
  weights: Weights;
  /** What the method settled on (e.g. the ridge actually used), for summaries. */
  details: Record<string, unknown>;
}

/** g: the Gram matrix of S-step trajectories; n: the number of squared errors the loss averages. */
export function fitWeights(g: Gram, steps: number, n: number, o: FitOptions): FitResult {
  const result = fitWith(g, steps, n, o);
  // A fit that overflowed is the fit's failure, not the output file's: say so before anything is written.
  result.weights.forEach((row, r) => row.forEach((v, j) => {
    if (!Number.isFinite(v)) throw new UserError(`the ${o.method} fit failed: W[${r}][${j}] came out ${v} (the trajectories may be degenerate or huge): check the data, or try another --fit method`);
  }));
  return result;
}

function fitWith(g: Gram, steps: number, n: number, o: FitOptions): FitResult {
  const ridge = o.ridge ?? DEFAULT_RIDGE;
  switch (o.method) {
    case 'adam': {
      const adamSteps = o.adamSteps ?? 200, lr = o.lr ?? 0.01;
      return { weights: fitAdam(g, steps, n, { steps: adamSteps, lr, onStep: o.onAdamStep }).weights, details: { adamSteps, lr } };
    }
    case 'lstsq': {
      const r = fitLstsq(g, steps, ridge);
      return { weights: r.weights, details: { ridge: r.ridge } };
    }
    case 'direct': {
      if (!o.schedule) throw new Error('fitWeights: direct needs a schedule');
      return { weights: fitDirect(g, steps, o.schedule, ridge), details: { ridge, schedule: o.schedule.label, fullSteps: o.schedule.fullSteps } };
    }
  }
}
