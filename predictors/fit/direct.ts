// `fit direct` (ours): for a GIVEN schedule, regress each skipped step directly on the outputs of the
// full steps before it, in closed form.
//
// L2P's official objective trains each row on the TRUE history (teacher forcing), but at sampling
// time the history of a skipped step contains earlier forecasts, so errors compound through W. Here
// step s (skipped) solves
//
//   G[A, A] w = G[A, s],        A = the full steps before s,
//
// which is the best forecast from what sampling actually has exact: the full steps.
//
// How it is stored: as an ordinary L2P matrix in the official format, so every L2P consumer runs it
// unchanged. Row s - 1 carries the regression weights on the full-step columns and 0 on every
// forecast entry; the forecast entries then contribute nothing and the rollout is exactly the
// regression. Rows whose target is a full step are never used at sampling time; they reuse the last
// full step before it (FORA), so that every weight in the matrix sits on a full step, and the last row
// keeps the official initial value. The matrix is therefore tied to its schedule: with another
// schedule it would put weight on outputs that were forecast, not computed.

import { reuseWeights, type Weights } from '../l2p.js';
import type { Schedule } from '../schedule.js';
import type { Gram } from './gram.js';
import { choleskySolve, regularisedCholesky, submatrix } from './linalg.js';
import { DEFAULT_RIDGE } from './lstsq.js';

export function fitDirect(g: Gram, steps: number, schedule: Schedule, ridge = DEFAULT_RIDGE): Weights {
  if (schedule.steps !== steps) throw new Error(`fitDirect: a ${schedule.steps}-step schedule for ${steps}-step trajectories`);
  const S = steps;
  const w = reuseWeights(S);
  for (let s = 1; s < S; s++) {
    const anchors = schedule.fullSteps.filter((a) => a < s);
    const row = w[s - 1]!;
    row.fill(0);
    if (schedule.isFull(s)) {
      row[anchors[anchors.length - 1]!] = 1; // unused at sampling time
      continue;
    }
    const { l } = regularisedCholesky(submatrix(g, S, anchors), anchors.length, ridge);
    const coef = choleskySolve(l, anchors.length, anchors.map((a) => g[a * S + s]!));
    anchors.forEach((a, i) => (row[a] = coef[i]!));
  }
  return w;
}
