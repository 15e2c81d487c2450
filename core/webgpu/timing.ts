// Timing one op (or a short sequence of ops) on the GPU, for kernel benchmarks; and every dispatch of a
// longer run (a model forward), for profiles.
//
// With the 'timestamp-query' feature, each run is recorded in its own compute pass that writes a GPU
// timestamp when it starts and when it ends: the difference is the GPU's time alone, without the CPU
// recording, submit and readback around it. Without it, we fall back to wall time from submit to
// onSubmittedWorkDone, which includes the driver's overhead (so it over-reports for short kernels).
// Warm-up runs come first: the first run of a shape compiles its pipeline, and the first touches of
// fresh buffers are slow on most drivers.

import type { Tensor } from '../tensor.js';
import type { WebGpuBackend } from './backend.js';
import { gentle } from './polling.js';

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

/** One dispatch of a profiled run: its kernel's key and its time. */
export interface DispatchTime {
  key: string;
  ms: number;
}

export interface DispatchProfile {
  /** 'timestamp': GPU time of each dispatch in the run itself; 'wall': each dispatch replayed alone afterwards, submit to done. */
  method: 'timestamp' | 'wall';
  dispatches: DispatchTime[];
}

/** Dispatches per query set: WebGPU caps a set at 4096 queries, and each dispatch writes two. */
const SET_DISPATCHES = 2048;

/**
 * Runs `fn` (which records ops on `backend` and may read back) and times each of its dispatches. With
 * 'timestamp-query', every dispatch runs in a compute pass of its own that writes a timestamp as it
 * begins and ends: the GPU's time for that dispatch, in the run itself. Without it (or with
 * `wallTime`), the dispatches are captured and, after `fn`, replayed one at a time, each submitted
 * alone and waited for: the driver's overhead included, and on the buffers as they are by then, which
 * hold the same intermediates except where the pool has reused an uploaded input's buffer since.
 */
export async function profileDispatches(backend: WebGpuBackend, fn: () => Promise<void>, opts: { wallTime?: boolean } = {}): Promise<DispatchProfile> {
  await backend.sync();
  const keys: string[] = [];
  if (backend.adapter.timestamps && !opts.wallTime) {
    const sets: GPUQuerySet[] = [];
    backend.profiler = (kernel) => {
      const slot = keys.length % SET_DISPATCHES;
      if (slot === 0) sets.push(backend.device.createQuerySet({ type: 'timestamp', count: 2 * SET_DISPATCHES }));
      keys.push(kernel.key);
      return { querySet: sets[sets.length - 1], beginningOfPassWriteIndex: 2 * slot, endOfPassWriteIndex: 2 * slot + 1 };
    };
    try {
      await fn();
      const dispatches: DispatchTime[] = [];
      for (const [s, set] of sets.entries()) {
        const first = s * SET_DISPATCHES, count = Math.min(SET_DISPATCHES, keys.length - first);
        const stamps = await backend.readTimestamps(set, 2 * count);
        for (let i = 0; i < count; i++) dispatches.push({ key: keys[first + i], ms: Number(stamps[2 * i + 1] - stamps[2 * i]) / 1e6 });
      }
      return { method: 'timestamp', dispatches };
    } finally {
      backend.profiler = null;
      for (const set of sets) set.destroy();
    }
  }
  const records: ((pass: GPUComputePassEncoder) => void)[] = [];
  backend.profiler = (kernel, record) => {
    keys.push(kernel.key);
    records.push(record);
    return undefined;
  };
  try {
    await fn();
  } finally {
    backend.profiler = null;
  }
  const dispatches: DispatchTime[] = [];
  for (const [i, record] of records.entries()) {
    const encoder = backend.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    record(pass);
    pass.end();
    const start = performance.now();
    backend.device.queue.submit([encoder.finish()]);
    await gentle(backend.device.queue.onSubmittedWorkDone());
    dispatches.push({ key: keys[i], ms: performance.now() - start });
  }
  await backend.sync();
  return { method: 'wall', dispatches };
}
