// Timing one op (or a short sequence of ops) on the GPU, for kernel benchmarks.
//
// With the 'timestamp-query' feature, each run is recorded in its own compute pass that writes a GPU
// timestamp when it starts and when it ends: the difference is the GPU's time alone, without the CPU
// recording, submit and readback around it. Without it, we fall back to wall time from submit to
// onSubmittedWorkDone, which includes the driver's overhead (so it over-reports for short kernels).
// Warm-up runs come first: the first run of a shape compiles its pipeline, and the first touches of
// fresh buffers are slow on most drivers.

import type { Tensor } from '../tensor.js';
import type { WebGpuBackend } from './backend.js';

export interface OpTiming {
  /** Median over the timed runs, in milliseconds. */
  medianMs: number;
  minMs: number;
  /** Every timed run, in milliseconds, in order. */
  timesMs: number[];
  method: 'timestamp' | 'wall';
}

export type OpResult = Tensor | readonly Tensor[] | void;

function disposeResult(r: OpResult): void {
  if (!r) return;
  for (const t of Array.isArray(r) ? r : [r as Tensor]) t.dispose();
}

/**
 * Times `fn`, which must only record ops on `backend` (no upload or read inside); whatever tensors it
 * returns are disposed after each run. FLOP/s for a kernel = its FLOPs / (medianMs / 1000).
 */
export async function timeOp(
  backend: WebGpuBackend, fn: () => OpResult, opts: { runs?: number; warmup?: number; wallTime?: boolean } = {},
): Promise<OpTiming> {
  const runs = opts.runs ?? 10;
  const warmup = opts.warmup ?? 2;
  for (let i = 0; i < warmup; i++) disposeResult(fn());
  await backend.sync();

  const timesMs: number[] = [];
  let method: OpTiming['method'];
  if (backend.adapter.timestamps && !opts.wallTime) {
    method = 'timestamp';
    const querySet = backend.device.createQuerySet({ type: 'timestamp', count: 2 * runs });
    for (let i = 0; i < runs; i++) disposeResult(backend.recordTimed(fn, querySet, 2 * i));
    const stamps = await backend.readTimestamps(querySet, 2 * runs);
    querySet.destroy();
    for (let i = 0; i < runs; i++) timesMs.push(Number(stamps[2 * i + 1] - stamps[2 * i]) / 1e6);
  } else {
    method = 'wall';
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      disposeResult(fn());
      await backend.sync();
      timesMs.push(performance.now() - start);
    }
  }
  const sorted = [...timesMs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const medianMs = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { medianMs, minMs: sorted[0], timesMs, method };
}
