// `ditto bench cache`: how much faster and how faithful each forecasting method is, like the paper's
// tables. On evaluation seeds disjoint from the calibration seeds it samples the full-compute
// reference, then every method x interval on its official schedule, and every searched schedule given
// (ditto search), all on the same backend in the same run, and scores each against the reference on
// the 8-bit images (PSNR, SSIM) and on the final samples (relative L2).
//
// Latency: the reference is timed again after each group of rows (one group per interval, one for the
// searched schedules), and each row's speedup divides the mean of the two reference runs around its
// group by its own time. So the machine's load drifting during a long benchmark moves both sides of
// a ratio, and no single noisy reference run makes every ratio.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writePng } from '../models/png.js';
import { UserError } from '../core/errors.js';
import { toImages, type Image8 } from '../models/image.js';
import type { OpenedModel } from '../models/pretrained.js';
import { fitWeights } from '../predictors/fit/fit.js';
import { gramMatrices } from '../predictors/fit/gram.js';
import { errorCount } from '../predictors/fit/objective.js';
import type { Trajectories } from '../predictors/fit/trajectories.js';
import { L2PPredictor, readWeightsFile, type Weights } from '../predictors/l2p.js';
import { defaultScheduleKind, resolveSchedule, scheduledPredictor, type CacheMethod } from '../predictors/methods.js';
import { CALIBRATION_SEED_BASE, generate, type Generated } from '../predictors/pipeline.js';
import type { Predictor } from '../predictors/predictor.js';
import type { LoadedSchedule } from '../predictors/search/schedule-file.js';
import type { Schedule } from '../predictors/schedule.js';
import { fidelity, reference } from './fidelity.js';

export interface CacheBenchOptions {
  model: OpenedModel;
  seeds: number;
  intervals: number[];
  methods: CacheMethod[];
  steps: number;
  cfgScale: number;
  /**
   * Calibration trajectories: fit l2p (the official Adam training) and l2p-direct from them. Without
   * them l2p uses `weights`. Not lstsq: its exact teacher-forced optimum compounds errors through the
   * forecast history and diverges in rollout, where Adam's early stop from plain reuse stays stable.
   */
  trajectories?: Trajectories;
  weights?: string;
  /** With trajectories: also score l2p fitted on the first n runs, for each n (the paper's data ablation). */
  ablation?: number[];
  /** Searched schedules (ditto search), each scored with its own method: file path -> schedule. */
  schedules?: { path: string; loaded: LoadedSchedule }[];
  saveImages?: string;
  /** Time the full-compute reference again after each group of rows (default true; off: the first run is the baseline). */
  repeatReference?: boolean;
  /** Receives each run's images: "full" for the reference, then "<method>-<interval>". */
  onImages?: (run: string, images: Image8[]) => void;
  onProgress?: (line: string) => void;
}

export interface CacheRow {
  method: string;
  /** the official schedule's N; null for a searched schedule */
  interval: number | null;
  /** which schedule: 'paper' or 'taylorseer' (the official ones) or the schedule file given */
  schedule: string;
  full_steps: number[];
  flops_speedup: number;
  latency_speedup: number;
  psnr: number;
  ssim: number;
  rel_l2: number;
  seconds: number;
  calibration_runs?: number;
}

export interface CacheBenchResult {
  model: string;
  backend: string;
  seeds: number[];
  classes: number[];
  steps: number;
  cfg_scale: number;
  ssim: string;
  /** Mean of the reference runs (before the first group and after each one, unless repeatReference is off). */
  reference_seconds: number;
  reference_runs_seconds: number[];
  rows: CacheRow[];
}

function mean(xs: number[]): number {
  return xs.reduce((a, x) => a + x, 0) / xs.length;
}

export async function runCacheBench(o: CacheBenchOptions): Promise<CacheBenchResult> {
  const { model } = o;
  const { card } = model;
  const info = model.model.info;
  if (!card.dataRange) throw new UserError(`${card.path} has no __metadata__.data_range: the cache benchmark scores images and needs a pixel-space model`);
  if (o.seeds >= CALIBRATION_SEED_BASE) throw new UserError(`--seeds must stay below ${CALIBRATION_SEED_BASE}, where the calibration seeds start`);
  for (const { path, loaded } of o.schedules ?? []) {
    if (loaded.schedule.steps !== o.steps) throw new UserError(`${path} was searched for ${loaded.schedule.steps} steps, but the benchmark samples ${o.steps}: pass --steps ${loaded.schedule.steps}`);
  }
  const seeds = Array.from({ length: o.seeds }, (_, i) => i);
  const classes = seeds.map((s) => s % info.numClasses);
  const run = (schedule?: Schedule, predictor?: Predictor) =>
    generate({ model, classes, seeds, steps: o.steps, cfgScale: o.cfgScale, schedule, predictor });
  const images = (g: Generated) => toImages(g.samples, g.shape, card.dataRange!);
  const save = (dir: string, imgs: Image8[]) => {
    o.onImages?.(dir, imgs);
    if (!o.saveImages) return;
    mkdirSync(join(o.saveImages, dir), { recursive: true });
    imgs.forEach((img, i) => writePng(join(o.saveImages!, dir, `${i}.png`), img));
  };

  o.onProgress?.(`reference: ${seeds.length} samples, ${o.steps} steps, full compute`);
  // Untimed warm-up at the full batch size: the first run pays for JIT compilation and pipeline creation.
  await generate({ model, classes, seeds, steps: 2, cfgScale: o.cfgScale });
  const first = await run();
  const ref = reference(first.samples, first.shape, card.dataRange);
  save('full', ref.images);
  const fullFlops = first.stats.flops.model;
  const referenceRuns = [first.stats.seconds];

  if (o.trajectories && o.trajectories.steps !== o.steps) {
    throw new UserError(`the calibration trajectories have ${o.trajectories.steps} steps but the benchmark samples ${o.steps}: use --steps ${o.trajectories.steps}`);
  }
  const g = o.trajectories ? gramMatrices(o.trajectories).total : undefined;
  const n = o.trajectories ? errorCount(o.trajectories.batch, o.trajectories.steps, o.trajectories.size) : 0;
  const subsetGram = (runs: number) => gramMatrices({ ...o.trajectories!, batch: runs, data: o.trajectories!.data.subarray(0, runs * o.trajectories!.steps * o.trajectories!.size) }).total;
  const needsL2P = o.methods.includes('l2p') || (o.schedules ?? []).some((s) => s.loaded.method === 'l2p');
  const calibrated: Weights | undefined = !needsL2P ? undefined : g ? fitWeights(g, o.steps, n, { method: 'adam' }).weights : o.weights ? readWeightsFile(o.weights, o.steps) : card.l2pWeights ? readWeightsFile(card.l2pWeights, o.steps) : undefined;
  const predictorFor = (method: CacheMethod, schedule: Schedule): Predictor => {
    if (method === 'l2p' && !calibrated) throw new UserError(`l2p needs weights: pass --trajectories T.safetensors (from ditto calibrate --save-trajectories) or --weights W.json`);
    if (method === 'l2p-direct' && !g) throw new UserError('l2p-direct fits each schedule from calibration data: pass --trajectories T.safetensors');
    return scheduledPredictor(method, schedule, { weights: calibrated, gram: g });
  };

  const rows: CacheRow[] = [];
  /** Each group's rows, to divide by the reference runs around the group. */
  const groups: CacheRow[][] = [];
  const score = async (method: string, interval: number | null, scheduleName: string, schedule: Schedule, predictor: Predictor, dir: string, extra: Partial<CacheRow> = {}) => {
    o.onProgress?.(`${method}${interval === null ? ` on ${scheduleName}` : ` N=${interval}`}${extra.calibration_runs ? ` (${extra.calibration_runs} calibration runs)` : ''}: ${schedule.fullSteps.length}/${o.steps} full steps`);
    const out = await run(schedule, predictor);
    const imgs = images(out);
    save(dir, imgs);
    const s = out.stats;
    const row: CacheRow = {
      method, interval, schedule: scheduleName, full_steps: [...schedule.fullSteps],
      flops_speedup: fullFlops / (s.flops.model + s.flops.predictor),
      latency_speedup: 0, // set at the end, from the reference runs around this row's group
      ...fidelity(out.samples, imgs, ref),
      seconds: s.seconds,
      ...extra,
    };
    rows.push(row);
    groups.at(-1)!.push(row);
  };
  const endGroup = async () => {
    if (!(o.repeatReference ?? true)) return;
    o.onProgress?.('reference again, for the latency baseline');
    referenceRuns.push((await run()).stats.seconds);
  };

  for (const interval of o.intervals) {
    groups.push([]);
    for (const method of o.methods) {
      const kind = defaultScheduleKind(method);
      const schedule = resolveSchedule({ steps: o.steps, interval }, kind);
      await score(method, interval, kind, schedule, predictorFor(method, schedule), `${method}-${interval}`);
      if (method !== 'l2p') continue;
      for (const runs of o.ablation ?? []) {
        if (runs > o.trajectories!.batch) throw new UserError(`--ablation ${runs}: only ${o.trajectories!.batch} calibration trajectories`);
        const w = fitWeights(subsetGram(runs), o.steps, errorCount(runs, o.steps, o.trajectories!.size), { method: 'adam' }).weights;
        await score(method, interval, kind, schedule, new L2PPredictor(w), `l2p-${interval}-cal${runs}`, { calibration_runs: runs });
      }
    }
    await endGroup();
  }
  if (o.schedules?.length) {
    groups.push([]);
    for (const [i, { path, loaded }] of o.schedules.entries()) {
      await score(loaded.method, null, path, loaded.schedule, predictorFor(loaded.method, loaded.schedule), `searched-${i}-${loaded.method}-${loaded.schedule.fullSteps.length}`);
    }
    await endGroup();
  }
  groups.forEach((group, i) => {
    const around = referenceRuns.length > 1 ? [referenceRuns[i]!, referenceRuns[i + 1]!] : [referenceRuns[0]!];
    for (const row of group) row.latency_speedup = mean(around) / row.seconds;
  });
  return {
    model: card.path, backend: model.model.backend.name, seeds, classes, steps: o.steps, cfg_scale: o.cfgScale,
    ssim: 'Wang et al. 2004: Gaussian 11x11, sigma 1.5, K1 0.01, K2 0.03, L 255, valid region, on the 8-bit gray images',
    reference_seconds: mean(referenceRuns), reference_runs_seconds: referenceRuns, rows,
  };
}
