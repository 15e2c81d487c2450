// One model forward, timed: what `ditto bench forward` reports and what scripts (and the other
// benchmarks) build on. The model is any class-conditional model (a DiT or a class-prompted FLUX
// checkpoint) or a DiT preset with seeded random weights; loading is not timed. Each run is one call of
// the model on a batch of seeded noise at mid-schedule (model time 500) with labels 0, 1, 2, ..., and
// the read-back of its output: what a sampling step costs, with the wait for the device included.

import type { ClassModel } from '../models/class-model.js';
import { batchNoise } from '../models/noise.js';
import { median } from './timing.js';

export interface ForwardBenchOptions {
  model: ClassModel;
  /** What the report calls the model: a preset's name or the checkpoint's path. */
  name: string;
  batch: number;
  runs: number;
  /** Untimed runs first: JIT compilation, pipeline creation, buffer pools. */
  warmup?: number;
}

export interface ForwardBenchResult {
  model: string;
  backend: string;
  batch: number;
  median_s: number;
  runs_s: number[];
}

export async function runForwardBench(o: ForwardBenchOptions): Promise<ForwardBenchResult> {
  const { model } = o;
  const { channels, height, width, numClasses } = model.info;
  const size = channels * height * width;
  const noise = batchNoise(Array.from({ length: o.batch }, (_, i) => i), size);
  const t = new Array<number>(o.batch).fill(500);
  const y = Array.from({ length: o.batch }, (_, i) => i % numClasses);
  const once = async () => {
    const x = model.backend.upload(noise, [o.batch, channels, height, width], 'f32');
    const out = model.predict(x, t, y);
    await out.read();
    out.dispose();
    x.dispose();
  };
  for (let i = 0; i < (o.warmup ?? 1); i++) await once();
  const runs: number[] = [];
  for (let i = 0; i < o.runs; i++) {
    const start = performance.now();
    await once();
    runs.push((performance.now() - start) / 1000);
  }
  return { model: o.name, backend: model.backend.name, batch: o.batch, median_s: median(runs), runs_s: runs };
}
