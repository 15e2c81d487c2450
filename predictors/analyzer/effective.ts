// What a learned L2P matrix amounts to on a schedule: its effective weights on the FULL steps.
//
// L2P weights every earlier output, forecast ones included; unrolling the forecasts (unroll.ts) turns
// each skipped step's forecast into one combination of computed outputs, directly comparable with
// TaylorSeer's (which weights only full steps by construction). The distance between the two says how
// far the learned predictor moved from the fixed formula.

import type { Combination } from '../field.js';
import { L2PPredictor, type Weights } from '../l2p.js';
import type { Schedule } from '../schedule.js';
import { TaylorSeerPredictor } from '../taylorseer.js';
import { ForaPredictor } from '../fora.js';
import { unroll } from '../unroll.js';

export interface EffectiveStep {
  step: number;
  /** the most recent full step before it, and how far back */
  anchor: number;
  k: number;
  /** L2P's effective weights on full steps, ascending */
  l2p: { step: number; weight: number }[];
  taylorSeer: { step: number; weight: number }[];
  /** sum of L2P's effective weights (1 if it forecasts a constant exactly) */
  sum: number;
  /** L1 distance of the effective weights to TaylorSeer's and to FORA's */
  toTaylorSeer: number;
  toFora: number;
}

function terms(c: Combination<number>): { step: number; weight: number }[] {
  return [...c].filter(([, w]) => w !== 0).sort(([a], [b]) => a - b).map(([step, weight]) => ({ step, weight }));
}

function l1(a: Combination<number>, b: Combination<number>): number {
  let d = 0;
  for (const s of new Set([...a.keys(), ...b.keys()])) d += Math.abs((a.get(s) ?? 0) - (b.get(s) ?? 0));
  return d;
}

export function effectiveWeights(w: Weights, schedule: Schedule, taylorSeerOrder: number): EffectiveStep[] {
  const l2p = unroll(new L2PPredictor(w), schedule);
  const ts = unroll(new TaylorSeerPredictor(taylorSeerOrder), schedule);
  const fora = unroll(new ForaPredictor(), schedule);
  const out: EffectiveStep[] = [];
  for (let s = 0; s < schedule.steps; s++) {
    if (schedule.isFull(s)) continue;
    const anchor = Math.max(...schedule.fullSteps.filter((a) => a < s));
    let sum = 0;
    for (const v of l2p[s]!.values()) sum += v;
    out.push({
      step: s, anchor, k: s - anchor,
      l2p: terms(l2p[s]!), taylorSeer: terms(ts[s]!), sum,
      toTaylorSeer: l1(l2p[s]!, ts[s]!), toFora: l1(l2p[s]!, fora[s]!),
    });
  }
  return out;
}
