// Which steps run the full model. Every other step is forecast by a predictor.
//
// Three kinds of schedule:
//  - the L2P paper's hand-tuned 50-step schedules, one per label N in {5, 6, 7, 8, 10, 16}. N is a
//    label, not a gap: the gaps grow from 1 to 9 or more because the model's output changes fastest
//    in the first steps. Step 49 is never computed.
//  - TaylorSeer's: the first 3 steps full (its derivative estimates need them), then every N-th
//    (the official cal_type: a counter that fires every N steps after step 2, so 0 1 2, 2+N, 2+2N...).
//  - any explicit list of full steps.
// Every schedule starts at step 0: with no output yet there is nothing to forecast from.

import { UserError } from '../core/errors.js';

export interface Schedule {
  /** total sampling steps */
  readonly steps: number;
  /** the full-compute steps, ascending, starting at 0 */
  readonly fullSteps: readonly number[];
  /** how it was made, for reports: "paper N=5", "taylorseer N=4", "explicit" */
  readonly label: string;
  isFull(step: number): boolean;
}

/** The official FULL_STEP_SCHEDULES of Aredstone/L2P-Cache (src/flux/model.py), for 50 steps. */
export const PAPER_SCHEDULES: Readonly<Record<number, readonly number[]>> = {
  5: [0, 1, 2, 4, 6, 9, 14, 23, 30, 37, 44],
  6: [0, 1, 2, 4, 7, 14, 23, 31, 38, 45],
  7: [0, 1, 2, 4, 9, 17, 26, 35, 43],
  8: [0, 1, 2, 4, 10, 20, 31, 41],
  10: [0, 1, 2, 4, 12, 24, 38],
  16: [0, 1, 2, 4, 16, 32],
};

/** The step count the paper's schedules are made for. */
export const PAPER_STEPS = 50;

function make(steps: number, fullSteps: readonly number[], label: string): Schedule {
  const set = new Set(fullSteps);
  return { steps, fullSteps, label, isFull: (s) => set.has(s) };
}

function checkSteps(steps: number): void {
  if (!Number.isInteger(steps) || steps < 1) throw new UserError(`the step count must be a positive integer, got ${steps}`);
}

/** The paper's schedule for label N. They exist for 50 steps only. */
export function paperSchedule(n: number, steps = PAPER_STEPS): Schedule {
  const list = PAPER_SCHEDULES[n];
  if (!list) {
    throw new UserError(`no paper schedule for N=${n}: the supported ones are N = ${Object.keys(PAPER_SCHEDULES).join(', ')} (or pass --full-steps)`);
  }
  if (steps !== PAPER_STEPS) {
    throw new UserError(`the paper's schedules are for ${PAPER_STEPS} steps, not ${steps}: pass --full-steps for other step counts (or --schedule taylorseer)`);
  }
  return make(steps, list, `paper N=${n}`);
}

/** TaylorSeer's schedule: steps 0, 1, 2 full, then every n-th step (2 + n, 2 + 2n, ...). */
export function taylorSeerSchedule(n: number, steps: number, firstFull = 3): Schedule {
  checkSteps(steps);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`the interval N must be a positive integer, got ${n}`);
  const list: number[] = [];
  for (let s = 0; s < Math.min(firstFull, steps); s++) list.push(s);
  for (let s = firstFull - 1 + n; s < steps; s += n) list.push(s);
  return make(steps, list, `taylorseer N=${n}`);
}

/** An explicit list of full steps: starts at 0, strictly increasing, all below the step count. */
export function explicitSchedule(fullSteps: readonly number[], steps: number): Schedule {
  checkSteps(steps);
  if (fullSteps.length === 0 || fullSteps[0] !== 0) {
    throw new UserError(`the full steps must start at step 0 (there is nothing to forecast from before the first output), got ${fullSteps.join(',') || 'an empty list'}`);
  }
  for (let i = 0; i < fullSteps.length; i++) {
    const s = fullSteps[i]!;
    if (!Number.isInteger(s)) throw new UserError(`full step "${s}" is not an integer`);
    if (s >= steps) throw new UserError(`full step ${s} is outside the ${steps} steps (0..${steps - 1})`);
    if (i > 0 && s <= fullSteps[i - 1]!) throw new UserError(`the full steps must be strictly increasing, got ${fullSteps[i - 1]} then ${s}`);
  }
  return make(steps, [...fullSteps], 'explicit');
}

/** Every step full: the reference run. */
export function fullSchedule(steps: number): Schedule {
  checkSteps(steps);
  return make(steps, Array.from({ length: steps }, (_, i) => i), 'full');
}

/** "0,1,2,4" -> [0, 1, 2, 4], with a one-line error for anything else. */
export function parseStepList(text: string, what = '--full-steps'): number[] {
  const parts = text.split(',').map((p) => p.trim());
  return parts.map((p) => {
    if (!/^\d+$/.test(p)) throw new UserError(`${what} must be a comma-separated list of step numbers, got "${text}"`);
    // Steps are exact integers everywhere (the analyzer turns them into fractions): no rounding allowed.
    if (!Number.isSafeInteger(Number(p))) throw new UserError(`${what}: step ${p} is larger than ${Number.MAX_SAFE_INTEGER}, the largest exact step number`);
    return Number(p);
  });
}

/** The FLOP saving of a schedule: steps / full steps (50/11 = 4.55x for paper N=5). */
export function speedup(schedule: Schedule): number {
  return schedule.steps / schedule.fullSteps.length;
}

/** The schedule as one character a step, '#' where the model runs and '.' where it is forecast. */
export function strip(schedule: Schedule): string {
  return Array.from({ length: schedule.steps }, (_, s) => (schedule.isFull(s) ? '#' : '.')).join('');
}
