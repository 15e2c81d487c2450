// One model forward, timed: what `ditto bench forward` reports and what scripts (and the other
// benchmarks) build on. The model is any class-conditional model (a DiT or a class-prompted FLUX
// checkpoint) or a DiT preset with seeded random weights; loading is not timed. Each run is one call of
// the model on a batch of seeded noise at mid-schedule (model time 500) with labels 0, 1, 2, ..., and
// the read-back of its output: what a sampling step costs, with the wait for the device included.
//
// Benchmark.js times the runs (bench/timing.ts's benchmark(): at least `runs` samples, one call each at
// these sizes) and reports the margin of error of their mean next to the median, so that a reader sees
// how far one run's number can be trusted on a noisy machine.

import type { ClassModel } from '../models/class-model.js';
import { batchNoise } from '../models/noise.js';
import { benchmark, type Timed } from './timing.js';

export interface ForwardBenchOptions {
  model: ClassModel;
  /** What the report calls the model: a preset's name or the checkpoint's path. */
  name: string;
  batch: number;
  runs: number;
  /** Untimed runs first: JIT compilation, pipeline creation, buffer pools. */
  warmup?: number;
}

export interface ForwardBenchResult extends Timed {
  model: string;
  backend: string;
  batch: number;
}

/** One run as the benchmark times it (and `bench profile` profiles it): predict on seeded noise, read back. */
export function forwardRun(model: ClassModel, batch: number): () => Promise<void> {
  const { channels, height, width, numClasses } = model.info;
  const size = channels * height * width;
  const noise = batchNoise(Array.from({ length: batch }, (_, i) => i), size);
  const t = new Array<number>(batch).fill(500);
  const y = Array.from({ length: batch }, (_, i) => i % numClasses);
  return async () => {
    const x = model.backend.upload(noise, [batch, channels, height, width], 'f32');
    const out = model.predict(x, t, y);
    await out.read();
    out.dispose();
    x.dispose();
  };
}

export async function runForwardBench(o: ForwardBenchOptions): Promise<ForwardBenchResult> {
  const once = forwardRun(o.model, o.batch);
  for (let i = 0; i < (o.warmup ?? 1); i++) await once();
  return { model: o.name, backend: o.model.backend.name, batch: o.batch, ...(await benchmark(o.name, once, o.runs)) };
}
