// One model forward, timed: what `ditto bench forward` reports and what scripts (and the other
// benchmarks) build on. The model is any class-conditional model (a DiT or a class-prompted FLUX
// checkpoint) or a DiT preset with seeded random weights; loading is not timed. Each run is one call of
// the model on a batch of seeded noise at mid-schedule (model time 500) with labels 0, 1, 2, ..., and
// the read-back of its output: what a sampling step costs, with the wait for the device included.
//
// Benchmark.js times the runs (deferred, since a GPU forward resolves later): one call per sample, at
// least `runs` samples, and the margin of error of their mean at 95% (Student's t), reported next to the
// median so that a reader sees how far one run's number can be trusted on a noisy machine.

import Benchmark from 'benchmark';
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
  /** Benchmark.js's relative margin of error of the mean, in percent (95% confidence). */
  margin_pct: number;
  runs_s: number[];
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
  const stats = await timeWithBenchmark(o.name, once, o.runs);
  const runs = stats.sample;
  return { model: o.name, backend: o.model.backend.name, batch: o.batch, median_s: median(runs), margin_pct: stats.rme, runs_s: runs };
}

/** Benchmark.js statistics of an async function, one call per sample and at least `runs` samples. */
function timeWithBenchmark(name: string, fn: () => Promise<void>, runs: number): Promise<Benchmark.Stats> {
  return new Promise((resolve, reject) => {
    let failure: unknown = null;
    const bench = new Benchmark(name, {
      defer: true,
      // One call per sample (the forward is far above the timer's resolution) and no time target:
      // exactly the samples asked for, then stop.
      initCount: 1,
      minSamples: runs,
      maxTime: 0,
      fn: (deferred: Benchmark.Deferred) => {
        fn().then(() => deferred.resolve(), (e: unknown) => {
          failure = e;
          bench.abort();
        });
      },
    });
    bench.on('complete', () => (failure ? reject(failure) : resolve(bench.stats)));
    bench.on('abort', () => reject(failure ?? new Error('benchmark aborted')));
    bench.run({ async: true });
  });
}
