// L2P, the learnable linear predictor (paper "Beyond Fixed Formulas", code Aredstone/L2P-Cache).
//
// One scalar weight per (target step, history step) pair, shared by every element of the output: a
// lower-triangular S x S matrix W for an S-step sampler. Row r forecasts step r + 1 from the whole
// history 0..r,
//
//   F^(r+1) = sum_{j <= r} W[r][j] F(j),
//
// where the history holds every step's output, forecast ones included: the official
// predict_with_learnable takes row T-1 of W over the T entries it has, whatever made them. So
// L2P is not a fixed-order window: every earlier step may carry weight, and predicted steps feed
// later predictions (errors can compound, which `fit direct` avoids by giving them zero weight).
//
// The weight file is the official one: a JSON (or Python repr) list of S lists of S floats, upper
// triangle 0, the last row unused (it would forecast step S) and left at its initial value.

import { UserError } from '../core/errors.js';
import { readTextFile, writeFileAtomic } from '../core/files.js';
import { StepOrder, type Predictor, type Term } from './predictor.js';
import type { Schedule } from './schedule.js';

export type Weights = number[][];

/** Checks a parsed weight matrix: square, lower-triangular, finite, and (if given) fitting `steps`. */
export function validateWeights(w: unknown, source: string, steps?: number): Weights {
  if (!Array.isArray(w) || w.length === 0 || !w.every((row) => Array.isArray(row))) {
    throw new UserError(`${source}: expected a list of lists of numbers (the official L2P weight format), got ${Array.isArray(w) ? 'a list that is not all lists' : typeof w}`);
  }
  const n = w.length;
  w.forEach((row: unknown[], r) => {
    if (row.length !== n) throw new UserError(`${source}: row ${r} has ${row.length} entries, but W has ${n} rows: W must be square (steps x steps)`);
    row.forEach((v, j) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new UserError(`${source}: W[${r}][${j}] is ${describe(v)}, not a finite number`);
      if (j > r && v !== 0) {
        throw new UserError(`${source}: W[${r}][${j}] = ${v} lies above the diagonal: W must be lower-triangular (row r forecasts step r+1 from steps 0..r only)`);
      }
    });
  });
  if (steps !== undefined && n !== steps) {
    throw new UserError(`${source}: W is ${n}x${n}, made for ${n} sampling steps, but this run has ${steps} steps: fit a W for ${steps} steps (ditto fit)`);
  }
  return w as Weights;
}

/** A bad entry in one short phrase: never the whole (possibly huge or deeply nested) value. */
function describe(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.slice(0, 20))}${v.length > 20 ? '...' : ''}`;
  return v === null ? 'null' : typeof v;
}

/**
 * Every step the schedule forecasts needs a row with some weight: an all-zero row would forecast the
 * model's output as zero, which no fit produces and which silently ruins the sample.
 */
export function requireForecastRows(w: Weights, schedule: Schedule, source: string): void {
  for (let s = 1; s < schedule.steps; s++) {
    if (!schedule.isFull(s) && w[s - 1]!.every((v) => v === 0)) {
      throw new UserError(`${source}: row ${s - 1} of W is all zero, but ${schedule.label} forecasts step ${s} with it: fit W again (ditto fit) or use a schedule that computes step ${s}`);
    }
  }
}

/** Parses the official format. Python's repr of a float list is JSON; nan/inf are not and are refused. */
export function parseWeights(text: string, source: string, steps?: number): Weights {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    const why = e instanceof RangeError ? 'nested too deeply' : (e as Error).message.split('\n')[0];
    throw new UserError(`${source}: not a JSON list of lists (${why}); NaN or Infinity in a weight file are not allowed`);
  }
  return validateWeights(parsed, source, steps);
}

export function readWeightsFile(path: string, steps?: number): Weights {
  return parseWeights(readTextFile(path, 'weight file'), path, steps);
}

/** One row per line, so a 50x50 file stays readable and diffable; JSON.parse and Python's eval read it. */
export function formatWeights(w: Weights): string {
  return `[${w.map((row) => `[${row.map((v) => (Object.is(v, -0) ? 0 : v)).join(', ')}]`).join(',\n ')}]\n`;
}

export function writeWeightsFile(path: string, w: Weights): void {
  validateWeights(w, path);
  writeFileAtomic(path, formatWeights(w));
}

/** Plain reuse, the official initialisation: W[r][r] = 1. */
export function reuseWeights(steps: number): Weights {
  return Array.from({ length: steps }, (_, r) => Array.from({ length: steps }, (_, j) => (j === r ? 1 : 0)));
}

export class L2PPredictor implements Predictor {
  readonly name = 'l2p';
  private order = new StepOrder();

  constructor(readonly weights: Weights) {
    validateWeights(weights, 'L2P weights');
  }

  observe(step: number, _full: boolean): void {
    this.order.observe(step);
  }

  /** Row step-1 of W over history 0..step-1 (exact zeros dropped). */
  forecast(step: number): Term[] {
    this.order.checkForecast(step);
    if (step >= this.weights.length) throw new Error(`l2p: W has ${this.weights.length} rows, no row forecasts step ${step}`);
    const row = this.weights[step - 1]!;
    const terms: Term[] = [];
    for (let j = 0; j < step; j++) if (row[j] !== 0) terms.push({ step: j, weight: row[j]! });
    return terms;
  }

  /** The steps some later row still weights (for a W from `fit direct`, only full steps). */
  live(): readonly number[] {
    const seen = this.order.next;
    const out: number[] = [];
    for (let j = 0; j < seen; j++) {
      for (let r = Math.max(seen - 1, j); r < this.weights.length - 1; r++) {
        if (this.weights[r]![j] !== 0) {
          out.push(j);
          break;
        }
      }
    }
    return out;
  }
}
