// The flags that several commands share, with one rule each wherever they appear: the schedule
// (--interval / --full-steps / --schedule), the cache (--cache / --order / --weights), classes and
// seeds, step counts, guidance, and the files a command reads and writes. Each check runs before any
// work (and before a device is opened), so a mistake costs the user nothing.
//
// The limits below are not what the engine can technically address but what any real run needs, set
// so that a typo (an extra zero, 1e12) is refused in one line instead of exhausting memory hours later.

import { UserError } from '../core/errors.js';
import { existsSync } from 'node:fs';
import { checkOutput, checkOutputFolder, requireRegularFile, type NamedPath } from '../core/files.js';
import { maxSteps, type ModelCard } from '../models/pretrained.js';
import { readWeightsFile, type Weights } from '../predictors/l2p.js';
import { defaultScheduleKind, MAX_TAYLORSEER_ORDER, parseMethod, planMethod, resolveSchedule, type Method, type ScheduleKind } from '../predictors/methods.js';
import type { Predictor } from '../predictors/predictor.js';
import { readScheduleFile, type LoadedSchedule } from '../predictors/search/schedule-file.js';
import { fullSchedule, parseStepList, speedup, type Schedule } from '../predictors/schedule.js';
import type { Flags } from './flags.js';

/** Schedule intervals: no schedule spans more steps than any sampler takes. */
const MAX_INTERVAL = 10_000;
/** Images in one command (classes x per-class, benchmark seeds). */
export const MAX_IMAGES = 10_000;
/** Host memory a command may plan to hold in one array (calibration trajectories). */
export const MAX_HOST_BYTES = 4 * 2 ** 30;
/** Seeds are 32-bit (models/noise.ts): larger ones would silently repeat smaller ones. */
export const MAX_SEED = 2 ** 32 - 1;

// ---------------------------------------------------------------------------------------------
// Schedules

export const scheduleFlagSpec = {
  interval: { type: 'string' },
  'full-steps': { type: 'string' },
  schedule: { type: 'string' },
} as const;

export function hasScheduleFlags(flags: Flags): boolean {
  return ['interval', 'full-steps', 'schedule'].some((n) => flags.string(n) !== undefined);
}

/** --schedule's named kinds (with --interval); any other value names a schedule file from ditto search. */
const SCHEDULE_KINDS = ['paper', 'taylorseer'];

/** The schedule file --schedule S.json names, if it names one (it is a whole schedule: no --interval or --full-steps). */
export function scheduleFileFromFlags(flags: Flags, steps: number): LoadedSchedule | undefined {
  const value = flags.string('schedule');
  if (value === undefined || SCHEDULE_KINDS.includes(value)) return undefined;
  if (!value.endsWith('.json') && !existsSync(value)) throw new UserError(`unknown --schedule "${value}": use paper or taylorseer (with --interval), or a schedule file from ditto search`);
  const stray = ['interval', 'full-steps'].find((n) => flags.string(n) !== undefined);
  if (stray) throw new UserError(`--schedule ${value} is a whole schedule: leave --${stray} out`);
  return readScheduleFile(value, steps);
}

/** The schedule that --interval / --full-steps / --schedule give for `steps` steps. */
export function scheduleFromFlags(flags: Flags, steps: number, defaultKind: ScheduleKind): Schedule {
  const file = scheduleFileFromFlags(flags, steps);
  if (file) return file.schedule;
  const full = flags.string('full-steps');
  return resolveSchedule({
    steps,
    interval: flags.integer('interval', { max: MAX_INTERVAL }),
    fullSteps: full === undefined ? undefined : parseStepList(full),
    kind: flags.string('schedule'),
  }, defaultKind);
}

// ---------------------------------------------------------------------------------------------
// Caching methods

export const cacheFlagSpec = {
  cache: { type: 'string' },
  order: { type: 'string' },
  weights: { type: 'string' },
  ...scheduleFlagSpec,
} as const;

/** --order: TaylorSeer's maximum order, the same range for every command. */
export function orderFromFlags(flags: Flags): number | undefined {
  return flags.integer('order', { min: 0, max: MAX_TAYLORSEER_ORDER });
}

interface CachePlan {
  method: Method | 'none';
  schedule: Schedule;
  predictor?: Predictor;
  label: string;
}

/** The schedule and predictor a command's --cache / --interval / --order / --weights flags ask for. */
export function cacheFromFlags(flags: Flags, steps: number, card: ModelCard): CachePlan {
  // A schedule file brings its method (l2p-direct's is an L2P matrix it carries) unless --cache says otherwise.
  const file = scheduleFileFromFlags(flags, steps);
  const cache = flags.string('cache') ?? (file ? (file.method === 'l2p-direct' ? 'l2p' : file.method) : 'none');
  if (cache === 'none') {
    const stray = ['interval', 'full-steps', 'schedule', 'order', 'weights'].find((n) => flags.string(n) !== undefined);
    if (stray) throw new UserError(`--${stray} configures a forecasting cache: add --cache ${stray === 'weights' ? 'l2p' : 'taylorseer'} (or leave --${stray} out)`);
    return { method: 'none', schedule: fullSchedule(steps), label: 'none' };
  }
  const method = parseMethod(cache);
  return cachePlan(method, steps, card, {
    schedule: file?.schedule ?? (hasScheduleFlags(flags) ? scheduleFromFlags(flags, steps, defaultScheduleKind(method)) : undefined),
    order: orderFromFlags(flags),
    weightsPath: flags.string('weights'),
    weights: file?.weights,
  });
}

/** A method at a schedule (default: interval 5 of the method's usual kind) for a model. */
function cachePlan(method: Method, steps: number, card: ModelCard, o: { schedule?: Schedule; order?: number; weightsPath?: string; weights?: Weights } = {}): CachePlan {
  if (o.weightsPath !== undefined && method !== 'l2p') throw new UserError(`--weights is L2P's matrix: --cache ${method} takes none (use --cache l2p, or leave --weights out)`);
  if (o.order !== undefined && method !== 'taylorseer') throw new UserError(`--order is TaylorSeer's: ${method} has a fixed form (use --cache taylorseer, or leave --order out)`);
  let weights: Weights | undefined, source: string | undefined;
  if (method === 'l2p') {
    // --weights first, then the matrix a schedule file was searched with, then the model's own.
    const path = o.weightsPath ?? (o.weights ? undefined : card.l2pWeights);
    if (!path && !o.weights) throw new UserError(`l2p needs a weight matrix and ${card.path} has none beside it: run ditto calibrate, then pass --weights W.json`);
    weights = path ? readWeightsFile(path, steps) : o.weights!;
    source = path ?? o.schedule?.label;
  }
  const { schedule, predictor } = planMethod(method, steps, { schedule: o.schedule, order: o.order, weights, weightsSource: source });
  return { method, schedule, predictor, label: `${method}, ${schedule.label}: ${schedule.fullSteps.length}/${steps} full, ${speedup(schedule).toFixed(2)}x fewer model calls` };
}

// ---------------------------------------------------------------------------------------------
// What to sample

/** "3,5,7" -> [3, 5, 7]; every entry an integer class id below `numClasses`. */
export function parseClasses(value: string, numClasses: number): number[] {
  return value.split(',').map((s) => {
    const t = s.trim();
    if (!/^\d+$/.test(t) || Number(t) >= numClasses) {
      throw new UserError(`--class ${value}: ${t === '' ? 'an empty entry' : `"${t}"`} is not a class; give integers from 0 to ${numClasses - 1}, separated by commas`);
    }
    return Number(t);
  });
}

/** How many entries "--class a,b,c" has, before the model is known (for the image-count limit). */
export function classCount(value: string): number {
  return value.split(',').length;
}

/** Refuses more than MAX_IMAGES images in one command. */
export function checkImageCount(images: number, how: string): void {
  if (images > MAX_IMAGES) throw new UserError(`${how} asks for ${images} images; one command draws at most ${MAX_IMAGES}: split the work over several runs`);
}

/** Refuses keeping `count` runs of every step's output when they would not fit MAX_HOST_BYTES. */
export function checkTrajectoryBytes(count: number, steps: number, size: number, flag: string): void {
  const bytes = count * steps * size * 4;
  if (bytes > MAX_HOST_BYTES) {
    throw new UserError(`${flag} ${count} of ${steps} steps would hold ${(bytes / 2 ** 30).toFixed(1)} GiB of outputs; at most ${MAX_HOST_BYTES / 2 ** 30} GiB: use fewer runs (the paper's ablation shows a handful is enough)`);
  }
}

/** --seed s for `count` images drawn from seeds s..s+count-1, all within 32 bits. */
export function seedFromFlags(flags: Flags, count: number): number {
  const seed = flags.integer('seed', { min: 0, max: MAX_SEED }) ?? 0;
  if (seed + count - 1 > MAX_SEED) throw new UserError(`--seed ${seed} with ${count} images runs past the largest seed ${MAX_SEED}: use a smaller --seed`);
  return seed;
}

/** --steps, or the model's own; at most what its sampler takes (DDIM: 1000, Euler: 10,000). */
export function stepsFromFlags(flags: Flags, card: Pick<ModelCard, 'steps' | 'sampler'>): number {
  return flags.integer('steps', { max: maxSteps(card.sampler) }) ?? card.steps;
}

/** --cfg: classifier-free guidance; 1 turns it off, and below 1 is not a scale ditto's samplers run. */
export function cfgFromFlags(flags: Flags, fallback: number): number {
  const cfg = flags.number('cfg') ?? fallback;
  if (cfg < 1) throw new UserError(`--cfg must be at least 1 (1 turns guidance off), got ${cfg}`);
  return cfg;
}

// ---------------------------------------------------------------------------------------------
// Files

/** Every input must be a regular file that exists: checked before any work. */
export function checkInputs(inputs: readonly (NamedPath & { what?: string })[]): void {
  for (const input of inputs) requireRegularFile(input.path, input.what ?? `${input.flag} file`);
}

/** Every output must be writable, distinct from the others, and none of the inputs: checked before any work. */
export function checkOutputs(outputs: readonly NamedPath[], inputs: readonly NamedPath[], folders: readonly NamedPath[] = []): void {
  outputs.forEach((o, i) => {
    checkOutput(o, [...inputs, ...outputs.slice(0, i)]);
  });
  for (const f of folders) checkOutputFolder(f);
}

/** The named paths among `pairs` that were given. */
export function given(pairs: readonly [string, string | undefined][]): NamedPath[] {
  return pairs.filter((p): p is [string, string] => p[1] !== undefined).map(([flag, path]) => ({ flag, path }));
}
