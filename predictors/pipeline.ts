// Text-free "text to image" for class-conditional DiTs: noise from seeds, the model card's sampler,
// optional classifier-free guidance, and the cached sampling loop with any predictor. Everything that
// makes images (sample, calibrate, bench cache, demo) goes through here, so they all sample the
// same way and a (class, seed) pair means the same image everywhere.

import type { Tensor } from '../core/tensor.js';
import { batchNoise } from '../models/noise.js';
import { samplerFor, type OpenedModel } from '../models/pretrained.js';
import type { Predictor } from './predictor.js';
import { ForaPredictor } from './fora.js';
import { ditFlopsPerForward, ditModelFn, sampleCached, type SamplingStats, type StepInfo } from './sampling.js';
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
  /** Forecasts the skipped steps; unused when every step is full. */
  predictor?: Predictor;
  onStep?: (info: StepInfo) => void;
  /** Wait for the backend at every step, so that onStep reports steps as they finish (see sampleCached). */
  timing?: boolean;
  /** Also return every step's model output (the guided one), e.g. as calibration trajectories. */
  keepOutputs?: boolean;
}

export interface Generated {
  /** [N, C, H, W] final samples, row-major. */
  samples: Float32Array;
  shape: number[];
  stats: SamplingStats;
  /** With keepOutputs: outputs[s] is step s's output [N, C, H, W]. */
  outputs?: Float32Array[];
}

export async function generate(o: GenerateOptions): Promise<Generated> {
  const { dit, card } = o.model;
  const c = dit.config;
  if (o.classes.length !== o.seeds.length) throw new Error('generate: one seed per class entry');
  const n = o.classes.length;
  const shape = [n, c.inChannels, c.inputSize, c.inputSize];
  const size = c.inChannels * c.inputSize * c.inputSize;
  const guided = o.cfgScale > 1;
  const noise = batchNoise(o.seeds, size);
  // With guidance the batch is [x; x] with labels [y; null]: forwardWithCfg guides the first half
  // and returns it twice, so both halves follow the same path and the first half is the sample.
  const backend = dit.backend;
  const x: Tensor = guided
    ? backend.upload(Float32Array.from([...noise, ...noise]), [2 * n, ...shape.slice(1)], 'f32')
    : backend.upload(noise, shape, 'f32');
  const labels = guided ? [...o.classes, ...new Array<number>(n).fill(c.numClasses)] : [...o.classes];
  const schedule = o.schedule ?? fullSchedule(o.steps);
  const result = await sampleCached({
    model: ditModelFn(dit, guided ? { cfgScale: o.cfgScale } : {}),
    sampler: samplerFor(card, dit, o.steps),
    schedule,
    predictor: o.predictor ?? new ForaPredictor(),
    x,
    labels,
    flopsPerForward: ditFlopsPerForward(dit, guided ? 2 * n : n),
    onStep: o.onStep,
    timing: o.timing,
    keepOutputs: o.keepOutputs,
  });
  x.dispose();
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
  return { samples, shape, stats: result.stats, outputs };
}
