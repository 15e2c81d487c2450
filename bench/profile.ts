// Where one model forward spends its time: what `ditto bench profile` reports. The forward is the one
// `bench forward` times (bench/forward.ts: predict on seeded noise, read back), run once to warm up,
// then `runs` times profiled; each dispatch keeps the median of its times over those runs (the
// dispatches of a forward are the same every run), and dispatches are grouped by kernel.
//
// On WebGPU a dispatch is one kernel launch, named by its kernel family (the key up to its first '|':
// matmul.subgroup, attention.tiled, layerNorm, permute, ...), timed by GPU timestamps where the
// adapter has them (core/webgpu/timing.ts, profileDispatches). On the CPU a "dispatch" is one backend
// op call, named by the op (linear, attention, layerNorm, ...) and timed by the wall clock: CPU ops
// finish before they return. The unprofiled forward is timed in the same run, so the sum of the
// dispatches can be set against it (the rest is recording, uploads and the read-back).

import type { Backend } from '../core/backend.js';
import { profileDispatches, WebGpuBackend, type DispatchTime } from '../core/webgpu/index.js';
import type { ClassModel } from '../models/class-model.js';
import { forwardRun, runForwardBench } from './forward.js';
import { median } from './timing.js';

export interface ProfileBenchOptions {
  model: ClassModel;
  /** What the report calls the model: a preset's name or the checkpoint's path. */
  name: string;
  batch: number;
  /** Profiled forwards (and unprofiled ones, timed for the total). */
  runs: number;
}

export interface ProfileRow {
  kernel: string;
  /** Dispatches of this kernel in one forward. */
  dispatches: number;
  /** Their time in one forward (the sum of each dispatch's median), milliseconds. */
  ms: number;
  /** Share of all dispatches' time, percent. */
  pct: number;
}

export interface ProfileBenchResult {
  model: string;
  backend: string;
  batch: number;
  runs: number;
  /** 'timestamp': GPU timestamps per dispatch; 'wall': each dispatch replayed alone and waited for; 'op-wall': CPU op calls. */
  timing: 'timestamp' | 'wall' | 'op-wall';
  /** Median of the unprofiled forwards, read-back included, seconds. */
  forward_s: number;
  /** The dispatches' times summed, milliseconds per forward. */
  dispatch_ms: number;
  dispatches: number;
  /** Kernels, the most time first. */
  rows: ProfileRow[];
}

/** The kernel family of a WebGPU kernel key ('matmul.subgroup|...' -> 'matmul.subgroup'). */
export const kernelName = (key: string): string => key.split('|')[0];

/**
 * Groups the dispatches of `runs` profiled forwards (the same sequence each time) into per-kernel
 * rows: each dispatch's median over the runs, summed per kernel name, the most time first.
 */
export function groupDispatches(runs: readonly (readonly DispatchTime[])[], name: (key: string) => string = kernelName): { rows: ProfileRow[]; total: number } {
  const first = runs[0];
  for (const run of runs) {
    if (run.length !== first.length || run.some((d, i) => d.key !== first[i].key)) throw new Error('profile: the profiled forwards dispatched different kernels');
  }
  const byKernel = new Map<string, { dispatches: number; ms: number }>();
  for (const [i, d] of first.entries()) {
    const row = byKernel.get(name(d.key)) ?? { dispatches: 0, ms: 0 };
    row.dispatches++;
    row.ms += median(runs.map((run) => run[i].ms));
    byKernel.set(name(d.key), row);
  }
  const total = [...byKernel.values()].reduce((a, r) => a + r.ms, 0);
  const rows = [...byKernel].map(([kernel, r]) => ({ kernel, ...r, pct: total > 0 ? (100 * r.ms) / total : 0 }));
  return { rows: rows.sort((a, b) => b.ms - a.ms), total };
}

/** The backend's ops (every method that computes), each timed per call while profiling the CPU. */
type OpName = Exclude<keyof Backend, 'name' | 'upload' | 'read' | 'release' | 'sync' | 'throttle' | 'maxTensorElements'>;
const OPS: Record<OpName, true> = {
  linear: true, binary: true, linearCombination: true, unary: true, flagNonFinite: true, layerNorm: true, rmsNorm: true,
  attentionHeads: true, linearGatedResidual: true, softmax: true, attention: true, embedding: true, permute: true, slice: true,
  concat: true, patchify: true, unpatchify: true, conv2d: true, groupNorm: true, upsampleNearest2x: true,
};

/** Runs `fn` with every op of a synchronous backend timed per call (ops called inside an op count as the outer one). */
async function profileOps(backend: Backend, fn: () => Promise<void>): Promise<DispatchTime[]> {
  const times: DispatchTime[] = [];
  const target = backend as unknown as Record<string, (...args: unknown[]) => unknown>;
  let depth = 0;
  for (const op of Object.keys(OPS)) {
    const original = target[op];
    target[op] = (...args: unknown[]) => {
      if (depth > 0) return original.apply(backend, args);
      depth++;
      const start = performance.now();
      try {
        return original.apply(backend, args);
      } finally {
        depth--;
        times.push({ key: op, ms: performance.now() - start });
      }
    };
  }
  try {
    await fn();
  } finally {
    // The wrappers are own properties over the class's methods: deleting them restores the methods.
    for (const op of Object.keys(OPS)) delete target[op];
  }
  return times;
}

export async function runProfileBench(o: ProfileBenchOptions): Promise<ProfileBenchResult> {
  const { backend } = o.model;
  const forward = await runForwardBench({ model: o.model, name: o.name, batch: o.batch, runs: o.runs });
  const once = forwardRun(o.model, o.batch);
  const profiled: DispatchTime[][] = [];
  let timing: ProfileBenchResult['timing'] = 'op-wall';
  for (let i = 0; i < o.runs; i++) {
    if (backend instanceof WebGpuBackend) {
      const p = await profileDispatches(backend, once);
      timing = p.method;
      profiled.push(p.dispatches);
    } else {
      profiled.push(await profileOps(backend, once));
    }
  }
  const { rows, total } = groupDispatches(profiled);
  return {
    model: o.name, backend: backend.name, batch: o.batch, runs: o.runs, timing,
    forward_s: forward.median_s, dispatch_ms: total, dispatches: profiled[0].length, rows,
  };
}
