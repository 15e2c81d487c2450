// A searched schedule on disk (what `ditto search` writes, what `--schedule S.json` reads):
//
//   {"full_steps": [0, 1, 3, ...], "method": "l2p", "steps": 50, "score_db": 31.2, ...}
//
// plus, for l2p and l2p-direct, the weight matrix the score was measured with ("weights", the official
// list-of-lists format), so that `sample --schedule S.json` reproduces the searched run without the
// calibration data; and a record of how the search went (official schedule and score, seeds,
// evaluations). Readers use full_steps, method, steps and weights; the rest is for people.

import { UserError } from '../../core/errors.js';
import { readTextFile, writeFileAtomic } from '../../core/files.js';
import { formatWeights, validateWeights, type Weights } from '../l2p.js';
import { CACHE_METHODS, type CacheMethod } from '../methods.js';
import { explicitSchedule, type Schedule } from '../schedule.js';

export interface ScheduleFile {
  full_steps: number[];
  method: CacheMethod;
  steps: number;
  /** the search's score on its calibration seeds (mean PSNR against full compute) */
  score_db: number;
  weights?: Weights;
  [record: string]: unknown;
}

export interface LoadedSchedule {
  schedule: Schedule;
  method: CacheMethod;
  weights?: Weights;
}

/** Parses and checks a schedule file; `steps` is the run's step count, which the file must match. */
export function parseScheduleFile(text: string, path: string, steps?: number): LoadedSchedule {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new UserError(`${path}: not JSON: a schedule file is what ditto search --out writes`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UserError(`${path}: expected a JSON object with full_steps, method and steps (from ditto search)`);
  const o = raw as Record<string, unknown>;
  const method = o.method;
  if (typeof method !== 'string' || !(CACHE_METHODS as readonly string[]).includes(method)) {
    throw new UserError(`${path}: "method" must be one of ${CACHE_METHODS.join(', ')}, got ${JSON.stringify(method)?.slice(0, 40)}`);
  }
  if (!Number.isSafeInteger(o.steps) || (o.steps as number) < 1) throw new UserError(`${path}: "steps" must be a positive integer, got ${JSON.stringify(o.steps)?.slice(0, 40)}`);
  const fileSteps = o.steps as number;
  if (steps !== undefined && fileSteps !== steps) {
    throw new UserError(`${path} was searched for ${fileSteps} sampling steps, but this run takes ${steps}: pass --steps ${fileSteps}, or search again with --steps ${steps}`);
  }
  if (!Array.isArray(o.full_steps) || !o.full_steps.every((s) => Number.isSafeInteger(s))) {
    throw new UserError(`${path}: "full_steps" must be a list of step numbers`);
  }
  let schedule: Schedule;
  try {
    schedule = explicitSchedule(o.full_steps as number[], fileSteps);
  } catch (e) {
    throw e instanceof UserError ? new UserError(`${path}: ${e.message}`) : e;
  }
  const weights = o.weights === undefined ? undefined : validateWeights(o.weights, `${path} "weights"`, fileSteps);
  return { schedule: { ...schedule, label: `searched (${path})` }, method: method as CacheMethod, weights };
}

export function readScheduleFile(path: string, steps?: number): LoadedSchedule {
  return parseScheduleFile(readTextFile(path, 'schedule file'), path, steps);
}

/** One key per line and one W row per line, so a person can read the file and diff two of them. */
export function writeScheduleFile(path: string, file: ScheduleFile): void {
  const lines = Object.entries(file).filter(([k, v]) => k !== 'weights' && v !== undefined).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  if (file.weights) lines.push(`  "weights": ${formatWeights(file.weights).trimEnd().replace(/\n/g, '\n  ')}`);
  writeFileAtomic(path, `{\n${lines.join(',\n')}\n}\n`);
}
