// Timing helpers shared by the benchmarks. Medians, because this machine is shared and noisy; a lone
// mean would report the neighbours' load.
//
// benchmark() is how the CPU-side and end-to-end timings are taken (bench cpu, bench forward):
// Benchmark.js, deferred so that sync and async functions (a GPU forward resolves later, a peer in
// another process answers later) are timed alike, and the margin of error of its samples' mean at 95%
// (Student's t) reported next to their median, so that a reader sees how far one number can be trusted.
// timeMs() is the plain median of N wall-clock runs, for the benchmarks that keep it. marginPct() is
// that same margin for samples timed some other way (bench kernels: GPU timestamps).

import Benchmark from 'benchmark';

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Two-tailed critical values of Student's t at 95% for 1..30 degrees of freedom: Benchmark.js's own table
 * (node_modules/benchmark/benchmark.js, tTable), 1.96 beyond 30, so that marginPct() gives its numbers.
 */
const T_TABLE = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];
const T_INFINITY = 1.96;

/**
 * The relative margin of error of the samples' mean at 95%, in percent: exactly Benchmark.js's
 * stats.rme (sample standard deviation with n - 1, sem = sd / sqrt(n), Student's t for n - 1 degrees
 * of freedom from its table, rme = t * sem / mean * 100), so a margin next to a median means the same
 * in every benchmark. The samples' unit does not matter.
 *
 * Fewer than 2 samples give NaN: one sample has no spread to estimate a margin from (Benchmark.js
 * reports 0 there, which would read as an exact time); callers show no margin then (JSON: null).
 */
export function marginPct(samples: readonly number[]): number {
  const n = samples.length;
  if (n < 2) return NaN;
  // In Benchmark.js's order of operations, so that the result is the same to the last bit.
  let sum = 0;
  for (const x of samples) sum += x;
  const mean = sum / n;
  let squares = 0;
  for (const x of samples) squares += Math.pow(x - mean, 2);
  const sem = Math.sqrt(squares / (n - 1)) / Math.sqrt(n);
  const critical = T_TABLE[n - 2] ?? T_INFINITY;
  return ((sem * critical) / mean) * 100 || 0;
}

/** Median milliseconds of `runs` calls of fn after `warmup` calls. fn may be async. */
export async function timeMs(fn: () => unknown, runs: number, warmup = 2): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

export interface Timed {
  /** Median seconds per call over the samples. */
  median_s: number;
  /** Benchmark.js's relative margin of error of the mean, in percent (95% confidence). */
  margin_pct: number;
  /** Seconds per call of each sample. */
  runs_s: number[];
}

/**
 * Benchmark.js statistics of fn (sync or async): at least `runs` samples, no time target beyond them.
 * A sample is one call when a call takes 50 ms or more; Benchmark.js packs faster calls into samples
 * of about 50 ms and reports their mean per call, so that the timer's resolution does not matter.
 * The caller warms up first. A failing call rejects with its error.
 */
export function benchmark(name: string, fn: () => unknown, runs: number): Promise<Timed> {
  return new Promise((resolve, reject) => {
    let failure: unknown = null;
    const bench = new Benchmark(name, {
      defer: true,
      initCount: 1,
      minSamples: runs,
      maxTime: 0,
      fn: (deferred: Benchmark.Deferred) => {
        Promise.resolve().then(fn).then(() => deferred.resolve(), (e: unknown) => {
          failure = e;
          bench.abort();
        });
      },
    });
    bench.on('complete', () => (failure ? reject(failure) : resolve({ median_s: median(bench.stats.sample), margin_pct: bench.stats.rme, runs_s: bench.stats.sample })));
    bench.on('abort', () => reject(failure ?? new Error('benchmark aborted')));
    bench.run({ async: true });
  });
}
