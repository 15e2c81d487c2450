// Text-free "text to image" for class-conditional models (DiT, or FLUX with class prompts): noise from seeds, the model card's sampler,
// optional classifier-free guidance, and the cached sampling loop with any predictor. Everything that
// makes images (sample, calibrate, bench cache, demo) goes through here, so they all sample the
// same way and a (class, seed) pair means the same image everywhere.
//
// A request is sampled in chunks of images the backend can hold (imagesPerChunk): on a GPU no tensor
// may outgrow one buffer binding, on the CPU a tensor should stay within a memory budget. Each
// image's noise comes from its own seed and no op mixes the rows of a batch, so a chunked run gives
// the same images as one batch would (bit for bit on the CPU, whose kernels ignore the batch size;
// a GPU kernel may pick another tiling for another batch size and round differently).

import type { Tensor } from '../core/tensor.js';
import { batchNoise } from '../models/noise.js';
import { samplerFor, type OpenedModel } from '../models/card.js';
import type { Predictor, Term } from './predictor.js';
import { ForaPredictor } from './fora.js';
import { classModelFn, flopsPerForward, sampleCached, type SamplingStats, type StepInfo } from './sampling.js';
import { fullSchedule, type Schedule } from './schedule.js';

/**
 * Calibration draws its (class, seed) pairs from seeds at and above this, and benchmarks evaluate on
 * seeds below it, so a learned predictor is never scored on the trajectories it was fitted to.
 */
export const CALIBRATION_SEED_BASE = 1_000_000;

/** The i-th calibration pair: classes in turn, a fresh seed each. */
export function calibrationPair(i: number, numClasses: number): { cls: number; seed: number } {
  return { cls: i % numClasses, seed: CALIBRATION_SEED_BASE + i };
}

export interface CalibrationRuns {
  /** [count, steps, C, H, W]: every step's (guided) model output of each run */
  trajectories: Float32Array;
  /** [count, C, H, W]: each run's final sample */
  samples: Float32Array;
  shape: number[];
}

/**
 * Full-compute runs of the first `count` calibration pairs, `batch` at a time, keeping every step's
 * output: what `calibrate` fits L2P from and what `search` scores schedules against. `onProgress`
 * counts image-steps done, out of count x steps; `onRuns` the runs finished, after each batch.
 */
export async function sampleCalibrationRuns(o: {
  model: OpenedModel; count: number; steps: number; cfgScale: number; batch: number;
  onProgress?: (imageSteps: number) => void; onRuns?: (runs: number) => void;
}): Promise<CalibrationRuns> {
  const c = o.model.model.info;
  const size = c.channels * c.height * c.width;
  const trajectories = new Float32Array(o.count * o.steps * size);
  const samples = new Float32Array(o.count * size);
  const perChunk = imagesPerChunk(o.model, o.cfgScale);
  for (let first = 0; first < o.count; first += o.batch) {
    const pairs = Array.from({ length: Math.min(o.batch, o.count - first) }, (_, i) => calibrationPair(first + i, c.numClasses));
    const run = await generate({
      model: o.model, classes: pairs.map((p) => p.cls), seeds: pairs.map((p) => p.seed), steps: o.steps, cfgScale: o.cfgScale, keepOutputs: true,
      // A batch larger than one chunk runs its chunks one after another.
      onStep: (s) => o.onProgress?.((first + s.chunk * perChunk) * o.steps + (s.step + 1) * Math.min(perChunk, pairs.length - s.chunk * perChunk)),
    });
    run.outputs!.forEach((out, s) => {
      for (let b = 0; b < pairs.length; b++) trajectories.set(out.subarray(b * size, (b + 1) * size), ((first + b) * o.steps + s) * size);
    });
    samples.set(run.samples, first * size);
    o.onRuns?.(first + pairs.length);
  }
  return { trajectories, samples, shape: [o.count, o.steps, c.channels, c.height, c.width] };
}

export interface GenerateOptions {
  model: OpenedModel;
  classes: readonly number[];
  /** One seed per class entry. */
  seeds: readonly number[];
  steps: number;
  /** Classifier-free guidance scale; 1 or less runs the conditional model alone. */
  cfgScale: number;
  /** Which steps run the model; default: all. */
  schedule?: Schedule;
  /** Forecasts the skipped steps; unused when every step is full. Its answers serve every chunk. */
  predictor?: Predictor;
  onStep?: (info: GenerateStepInfo) => void;
  /** Wait for the backend at every step, so that onStep reports steps as they finish (see sampleCached). */
  timing?: boolean;
  /** Also return every step's model output (the guided one), e.g. as calibration trajectories. */
  keepOutputs?: boolean;
  /** At most this many images per chunk; the default, and the cap, is imagesPerChunk. */
  chunkSize?: number;
}

/** A step of one chunk: steps restart at 0 in each chunk. */
export interface GenerateStepInfo extends StepInfo {
  /** The chunk this step belongs to, from 0, and how many chunks the request takes. */
  chunk: number;
  chunks: number;
}

export interface Generated {
  /** [N, C, H, W] final samples, row-major. */
  samples: Float32Array;
  shape: number[];
  /**
   * Over all chunks: forwards and skipped count the schedule's steps (each chunk runs the same ones),
   * flops, step times and seconds add up.
   */
  stats: SamplingStats;
  /** With keepOutputs: outputs[s] is step s's output [N, C, H, W]. */
  outputs?: Float32Array[];
  /** How many chunks the images were sampled in. */
  chunks: number;
}

/**
 * The most images one model call may take on the model's backend: every tensor of the forward stays
 * within backend.maxTensorElements (with guidance each image is two batch rows). At least 1: where
 * one image is already too large, the backend says so when it allocates.
 */
export function imagesPerChunk(model: OpenedModel, cfgScale: number): number {
  const c = model.model.info;
  // The attention kernels launch one workgroup row per (image, head): keep that within the grid
  // dimension every WebGPU device supports, whatever its buffer limit would allow.
  const rows = Math.min(Math.floor(model.model.backend.maxTensorElements / c.largestPerRow), Math.floor(MIN_GRID_DIM / c.heads));
  return Math.max(1, Math.floor(rows / (cfgScale > 1 ? 2 : 1)));
}

/** WebGPU's guaranteed maxComputeWorkgroupsPerDimension. */
const MIN_GRID_DIM = 65535;

/**
 * A predictor's answers over one schedule, recorded once and replayed for each chunk. A predictor
 * tracks the steps it has seen, so one instance serves one run; but its answers depend on the schedule
 * alone, never on the data, so every chunk may replay them.
 */
function replayable(predictor: Predictor, schedule: Schedule): () => Predictor {
  const forecasts = new Map<number, Term[]>();
  const live: (readonly number[])[] = [];
  for (let i = 0; i < schedule.steps; i++) {
    const full = schedule.isFull(i);
    if (!full) forecasts.set(i, predictor.forecast(i));
    predictor.observe(i, full);
    live.push([...predictor.live()]);
  }
  return () => {
    let last = -1;
    return {
      name: predictor.name,
      observe: (step) => { last = step; },
      forecast: (step) => forecasts.get(step)!,
      live: () => live[last] ?? [],
    };
  };
}

export async function generate(o: GenerateOptions): Promise<Generated> {
  const c = o.model.model.info;
  if (o.classes.length !== o.seeds.length) throw new Error('generate: one seed per class entry');
  const n = o.classes.length;
  const size = c.channels * c.height * c.width;
  if (o.chunkSize !== undefined && !(Number.isInteger(o.chunkSize) && o.chunkSize >= 1)) throw new Error(`generate: chunkSize must be a positive integer, got ${o.chunkSize}`);
  const perChunk = Math.min(o.chunkSize ?? Infinity, imagesPerChunk(o.model, o.cfgScale));
  // No images is still one (empty) chunk, so an empty request returns what any run returns.
  const chunks = Math.max(1, Math.ceil(n / perChunk));
  const schedule = o.schedule ?? fullSchedule(o.steps);
  const predictor = replayable(o.predictor ?? new ForaPredictor(), schedule);
  const samples = new Float32Array(n * size);
  const outputs = o.keepOutputs ? Array.from({ length: schedule.steps }, () => new Float32Array(n * size)) : undefined;
  let stats: SamplingStats | null = null;
  for (let chunk = 0; chunk < chunks; chunk++) {
    const first = chunk * perChunk, end = Math.min(n, first + perChunk);
    const part = await sampleChunk(o, o.classes.slice(first, end), o.seeds.slice(first, end), schedule, predictor(), (info) => o.onStep?.({ ...info, chunk, chunks }));
    samples.set(part.samples, first * size);
    part.outputs?.forEach((out, s) => outputs![s].set(out, first * size));
    stats = stats ? addStats(stats, part.stats) : part.stats;
  }
  return { samples, shape: [n, c.channels, c.height, c.width], stats: stats!, outputs, chunks };
}

/** One chunk of a request, in one batch. */
async function sampleChunk(
  o: GenerateOptions, classes: readonly number[], seeds: readonly number[], schedule: Schedule, predictor: Predictor, onStep: (info: StepInfo) => void,
): Promise<{ samples: Float32Array; stats: SamplingStats; outputs?: Float32Array[] }> {
  const { model, card } = o.model;
  const c = model.info;
  const n = classes.length;
  const size = c.channels * c.height * c.width;
  const guided = o.cfgScale > 1;
  const noise = batchNoise(seeds, size);
  // With guidance the batch is [x; x] with labels [y; null]: forwardWithCfg guides the first half
  // and returns it twice, so both halves follow the same path and the first half is the sample.
  const rows = guided ? 2 * n : n;
  const init = new Float32Array(rows * size);
  init.set(noise);
  if (guided) init.set(noise, n * size);
  const x: Tensor = model.backend.upload(init, [rows, c.channels, c.height, c.width], 'f32');
  const labels = guided ? [...classes, ...new Array<number>(n).fill(c.numClasses)] : [...classes];
  let result;
  try {
    result = await sampleCached({
      model: classModelFn(model, guided ? o.cfgScale : undefined),
      sampler: samplerFor(card, model, o.steps),
      schedule,
      predictor,
      x,
      labels,
      flopsPerForward: flopsPerForward(model, rows),
      onStep,
      timing: o.timing,
      keepOutputs: o.keepOutputs,
    });
  } finally {
    x.dispose();
  }
  const firstHalf = async (t: Tensor) => (await t.read()).slice(0, n * size) as Float32Array;
  const samples = await firstHalf(result.x);
  result.x.dispose();
  let outputs: Float32Array[] | undefined;
  if (result.outputs) {
    outputs = [];
    for (const t of result.outputs) {
      outputs.push(await firstHalf(t));
      t.dispose();
    }
  }
  return { samples, stats: result.stats, outputs };
}

/** Two chunks' stats as one run's: the same schedule, the work and the time added up. */
function addStats(a: SamplingStats, b: SamplingStats): SamplingStats {
  return {
    steps: a.steps,
    forwards: a.forwards,
    skipped: a.skipped,
    flops: { model: a.flops.model + b.flops.model, saved: a.flops.saved + b.flops.saved, predictor: a.flops.predictor + b.flops.predictor },
    stepSeconds: a.stepSeconds.map((t, i) => t + b.stepSeconds[i]),
    seconds: a.seconds + b.seconds,
  };
}
