// `ditto bench cache`: how much faster and how faithful each forecasting method is, like the paper's
// tables. On evaluation seeds disjoint from the calibration seeds it samples the full-compute
// reference, then every method x interval, all on the same backend in the same run, and scores each
// against the reference on the 8-bit images (PSNR, SSIM) and on the final samples (relative L2).

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
import { createPredictor, defaultScheduleKind, resolveSchedule, type Method } from '../predictors/methods.js';
import { CALIBRATION_SEED_BASE, generate, type Generated } from '../predictors/pipeline.js';
import type { Predictor } from '../predictors/predictor.js';
import { relativeL2 } from '../predictors/rollout.js';
import type { Schedule } from '../predictors/schedule.js';
import { psnr, ssim } from './metrics.js';

/** The methods of the table: the fixed formulas, the official L2P, and ours (per-schedule direct fit). */
export const CACHE_METHODS = ['fora', 'taylorseer', 'foca', 'l2p', 'l2p-direct'] as const;
export type CacheMethod = (typeof CACHE_METHODS)[number];

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
  saveImages?: string;
  /** Time the full-compute reference again at the end and use the mean as the latency baseline (default true). */
  repeatReference?: boolean;
  /** Receives each run's images: "full" for the reference, then "<method>-<interval>". */
  onImages?: (run: string, images: Image8[]) => void;
  onProgress?: (line: string) => void;
}

export interface CacheRow {
  method: string;
  interval: number | null;
  schedule: string;
  full_steps: number;
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
  /** Mean of the reference runs (first, and last unless repeatReference is off): the latency baseline. */
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
  const reference = await run();
  const refImages = images(reference);
  save('full', refImages);
  const fullFlops = reference.stats.flops.model;

  if (o.trajectories && o.trajectories.steps !== o.steps) {
    throw new UserError(`the calibration trajectories have ${o.trajectories.steps} steps but the benchmark samples ${o.steps}: use --steps ${o.trajectories.steps}`);
  }
  const g = o.trajectories ? gramMatrices(o.trajectories).total : null;
  const n = o.trajectories ? errorCount(o.trajectories.batch, o.trajectories.steps, o.trajectories.size) : 0;
  const subsetGram = (runs: number) => gramMatrices({ ...o.trajectories!, batch: runs, data: o.trajectories!.data.subarray(0, runs * o.trajectories!.steps * o.trajectories!.size) }).total;
  const calibrated: Weights | null = !o.methods.includes('l2p') ? null : g ? fitWeights(g, o.steps, n, { method: 'adam' }).weights : o.weights ? readWeightsFile(o.weights, o.steps) : card.l2pWeights ? readWeightsFile(card.l2pWeights, o.steps) : null;

  const rows: CacheRow[] = [];
  const score = async (method: string, interval: number | null, schedule: Schedule, predictor: Predictor, dir: string, extra: Partial<CacheRow> = {}) => {
    o.onProgress?.(`${method}${interval === null ? '' : ` N=${interval}`}${extra.calibration_runs ? ` (${extra.calibration_runs} calibration runs)` : ''}: ${schedule.fullSteps.length}/${o.steps} full steps`);
    const out = await run(schedule, predictor);
    const imgs = images(out);
    save(dir, imgs);
    const gray = (img: Image8) => ({ width: img.width, height: img.height, data: img.data.filter((_, i) => i % img.channels === 0) });
    const size = out.samples.length / seeds.length;
    const s = out.stats;
    rows.push({
      method, interval, schedule: schedule.label, full_steps: s.forwards,
      flops_speedup: fullFlops / (s.flops.model + s.flops.predictor),
      latency_speedup: 0, // set at the end, once the reference has run twice
      psnr: mean(imgs.map((img, i) => psnr(gray(img), gray(refImages[i])))),
      ssim: mean(imgs.map((img, i) => ssim(gray(img), gray(refImages[i])))),
      rel_l2: mean(seeds.map((_, i) => relativeL2(out.samples.subarray(i * size, (i + 1) * size), reference.samples.subarray(i * size, (i + 1) * size)))),
      seconds: s.seconds,
      ...extra,
    });
  };

  for (const interval of o.intervals) {
    for (const method of o.methods) {
      const base: Method = method === 'l2p-direct' ? 'l2p' : method;
      const schedule = resolveSchedule({ steps: o.steps, interval }, defaultScheduleKind(base));
      if (method === 'l2p') {
        if (!calibrated) throw new UserError(`l2p needs weights: pass --trajectories T.safetensors (from ditto calibrate --save-trajectories) or --weights W.json`);
        await score(method, interval, schedule, new L2PPredictor(calibrated), `l2p-${interval}`);
        for (const runs of o.ablation ?? []) {
          if (runs > o.trajectories!.batch) throw new UserError(`--ablation ${runs}: only ${o.trajectories!.batch} calibration trajectories`);
          const w = fitWeights(subsetGram(runs), o.steps, errorCount(runs, o.steps, o.trajectories!.size), { method: 'adam' }).weights;
          await score(method, interval, schedule, new L2PPredictor(w), `l2p-${interval}-cal${runs}`, { calibration_runs: runs });
        }
      } else if (method === 'l2p-direct') {
        if (!g) throw new UserError('l2p-direct fits each schedule from calibration data: pass --trajectories T.safetensors');
        await score(method, interval, schedule, new L2PPredictor(fitWeights(g, o.steps, n, { method: 'direct', schedule }).weights), `l2p-direct-${interval}`);
      } else {
        await score(method, interval, schedule, createPredictor({ method: base }, o.steps), `${method}-${interval}`);
      }
    }
  }
  // The reference runs again at the end, and latency speedups divide by the mean of both runs, so a
  // change in the machine's load during the benchmark does not favour the methods measured late.
  const referenceRuns = [reference.stats.seconds];
  if (o.repeatReference ?? true) {
    o.onProgress?.('reference again, for the latency baseline');
    referenceRuns.push((await run()).stats.seconds);
  }
  const referenceSeconds = mean(referenceRuns);
  for (const row of rows) row.latency_speedup = referenceSeconds / row.seconds;
  return {
    model: card.path, backend: model.model.backend.name, seeds, classes, steps: o.steps, cfg_scale: o.cfgScale,
    ssim: 'Wang et al. 2004: Gaussian 11x11, sigma 1.5, K1 0.01, K2 0.03, L 255, valid region, on the 8-bit gray images',
    reference_seconds: referenceSeconds, reference_runs_seconds: referenceRuns, rows,
  };
}
