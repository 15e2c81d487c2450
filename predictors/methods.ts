// The caching methods by name, and the schedule each uses by default: what the commands and the
// benchmarks build predictors from.

import { UserError } from '../core/errors.js';
import { FocaPredictor } from './foca.js';
import { ForaPredictor } from './fora.js';
import { fitDirect } from './fit/direct.js';
import type { Gram } from './fit/gram.js';
import { L2PPredictor, requireForecastRows, validateWeights, type Weights } from './l2p.js';
import type { Predictor } from './predictor.js';
import { explicitSchedule, paperSchedule, PAPER_SCHEDULES, PAPER_STEPS, taylorSeerSchedule, type Schedule } from './schedule.js';
import { TaylorSeerPredictor } from './taylorseer.js';

export const METHODS = ['fora', 'taylorseer', 'foca', 'l2p'] as const;
export type Method = (typeof METHODS)[number];

/** TaylorSeer's order when none is given (the L2P code's cache_init default, max_order = 2). */
export const DEFAULT_TAYLORSEER_ORDER = 2;
/** The highest order any command accepts: beyond it the factorials and differences are pure noise. */
export const MAX_TAYLORSEER_ORDER = 16;

export function parseMethod(value: string, allowed: readonly string[] = METHODS): Method {
  if (!allowed.includes(value)) throw new UserError(`unknown method "${value}": use one of ${allowed.join(', ')}`);
  return value as Method;
}

interface PredictorSpec {
  method: Method;
  /** TaylorSeer's maximum order */
  order?: number;
  /** L2P's matrix */
  weights?: Weights;
}

/** A fresh predictor (predictors keep per-run state: make one per sampling run). */
export function createPredictor(spec: PredictorSpec, steps: number): Predictor {
  if (spec.order !== undefined && spec.method !== 'taylorseer') {
    throw new UserError(`--order applies to taylorseer only (${spec.method} has a fixed form)`);
  }
  if (spec.weights !== undefined && spec.method !== 'l2p') throw new UserError(`--weights applies to l2p only, not ${spec.method}`);
  switch (spec.method) {
    case 'fora':
      return new ForaPredictor();
    case 'taylorseer': {
      const order = spec.order ?? DEFAULT_TAYLORSEER_ORDER;
      if (!Number.isInteger(order) || order < 0 || order > MAX_TAYLORSEER_ORDER) throw new UserError(`--order must be an integer from 0 to ${MAX_TAYLORSEER_ORDER}, got ${order}`);
      return new TaylorSeerPredictor(order);
    }
    case 'foca':
      return new FocaPredictor();
    case 'l2p':
      if (!spec.weights) throw new UserError('l2p needs its weight matrix: pass --weights W.json (make one with ditto fit)');
      return new L2PPredictor(validateWeights(spec.weights, 'L2P weights', steps));
  }
}

export interface MethodPlan {
  schedule: Schedule;
  predictor: Predictor;
}

/**
 * `method` on `schedule` (default: its usual kind at interval 5), what `sample` and the web page run:
 * an L2P matrix must give every step the schedule skips a row with some weight.
 */
export function planMethod(method: Method, steps: number, o: { schedule?: Schedule; order?: number; weights?: Weights; weightsSource?: string } = {}): MethodPlan {
  const schedule = o.schedule ?? resolveSchedule({ steps, interval: 5 }, defaultScheduleKind(method));
  if (o.weights) requireForecastRows(o.weights, schedule, o.weightsSource ?? 'L2P weights');
  return { schedule, predictor: createPredictor({ method, order: o.order, weights: o.weights }, steps) };
}

/**
 * The methods the cache benchmark and the schedule search compare: the sampling methods, plus
 * l2p-direct (ours): an L2P matrix refitted in closed form for each schedule (fit/direct.ts).
 */
export const CACHE_METHODS = [...METHODS, 'l2p-direct'] as const;
export type CacheMethod = (typeof CACHE_METHODS)[number];

/** What a method's predictor is made from besides the schedule: L2P's matrix, l2p-direct's Gram matrix. */
export interface MethodData {
  weights?: Weights;
  gram?: Gram;
}

/** The L2P matrix `method` forecasts with on `schedule`; none for the fixed formulas. */
export function scheduledWeights(method: CacheMethod, schedule: Schedule, data: MethodData): Weights | undefined {
  if (method === 'l2p-direct') {
    if (!data.gram) throw new Error('l2p-direct: no Gram matrix to fit from');
    return fitDirect(data.gram, schedule.steps, schedule);
  }
  return method === 'l2p' ? data.weights : undefined;
}

/** A fresh predictor of `method` for one run on `schedule` (l2p-direct fits its matrix to the schedule). */
export function scheduledPredictor(method: CacheMethod, schedule: Schedule, data: MethodData): Predictor {
  return createPredictor({ method: method === 'l2p-direct' ? 'l2p' : method, weights: scheduledWeights(method, schedule, data) }, schedule.steps);
}

export type ScheduleKind = 'paper' | 'taylorseer';

/** L2P was tuned on the paper's schedules; the fixed formulas come with TaylorSeer's. */
export function defaultScheduleKind(method: Method | CacheMethod): ScheduleKind {
  return method === 'l2p' || method === 'l2p-direct' ? 'paper' : 'taylorseer';
}

/**
 * The official schedule of `method`'s kind with exactly `fullSteps` full steps, if there is one: the
 * baseline a searched schedule must beat (paper N=5/7/10: 11/9/7 full steps; TaylorSeer N=5/7/10 at 50
 * steps: 12/9/7).
 */
export function officialSchedule(method: CacheMethod, fullSteps: number, steps: number): Schedule | undefined {
  if (defaultScheduleKind(method) === 'paper') {
    if (steps !== PAPER_STEPS) return undefined;
    const n = Object.keys(PAPER_SCHEDULES).map(Number).find((k) => PAPER_SCHEDULES[k]!.length === fullSteps);
    return n === undefined ? undefined : paperSchedule(n, steps);
  }
  for (let n = 1; n < steps; n++) {
    const s = taylorSeerSchedule(n, steps);
    if (s.fullSteps.length === fullSteps) return s;
  }
  return undefined;
}

interface ScheduleChoice {
  steps: number;
  /** --interval N */
  interval?: number;
  /** --full-steps a,b,c */
  fullSteps?: number[];
  /** --schedule paper|taylorseer (with --interval) */
  kind?: string;
}

/** Exactly one of --interval and --full-steps; --schedule only with --interval. */
export function resolveSchedule(choice: ScheduleChoice, defaultKind: ScheduleKind): Schedule {
  const { steps, interval, fullSteps, kind } = choice;
  if ((interval === undefined) === (fullSteps === undefined)) {
    throw new UserError('give the schedule as either --interval N or --full-steps a,b,c (one of them)');
  }
  if (fullSteps !== undefined) {
    if (kind !== undefined) throw new UserError('--schedule goes with --interval, not with --full-steps');
    return explicitSchedule(fullSteps, steps);
  }
  const k = kind ?? defaultKind;
  if (k === 'paper') return paperSchedule(interval!, steps);
  if (k === 'taylorseer') return taylorSeerSchedule(interval!, steps);
  throw new UserError(`unknown --schedule "${k}": use paper or taylorseer`);
}
