// `ditto bench models`: whole full-size models, end to end, on each of our backends and in PyTorch in
// the same run: one DiT-XL/2 forward at 256x256 (batch 2, 4x32x32 latents, 237 GFLOP), with random
// weights made at run time (values do not change the work). Kernel benchmarks say how fast an op is;
// this says what a user waits for.
//
// Each backend holds the full weights (2.7 GB in f32 for DiT-XL/2) only while it is timed; they are
// released before the next one loads.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../core/backend.js';
import { CpuBackend } from '../core/cpu/backend.js';
import { Tensor } from '../core/tensor.js';
import { createWebGpuBackend } from '../core/webgpu/index.js';
import { macsPerSample, preset } from '../models/dit/config.js';
import { DiT } from '../models/dit/dit.js';
import { randomWeights } from '../models/dit/weights.js';
import { timeMs } from './timing.js';

export interface ModelBenchOptions {
  /** Timed runs per backend (median reported), after one warm-up run. */
  runs: number;
  /** Time PyTorch too (tools/time_dit.py). */
  torch: boolean;
  /** The DiT preset (default XL/2; tests use a small one). */
  model?: string;
  onProgress?: (line: string) => void;
}

export interface ModelBenchRow {
  task: string;
  backend: 'ditto cpu' | 'ditto webgpu' | 'pytorch';
  /** Median seconds, or null with the reason. */
  seconds: number | null;
  unavailable?: string;
  /** Adapter, PyTorch version and threads, ... */
  detail?: string;
}

export interface ModelBenchResult {
  runs: number;
  tasks: { task: string; gflop: number }[];
  rows: ModelBenchRow[];
}

/** Every tensor reachable from `value` (a weights object), disposed. */
function disposeAll(value: unknown): void {
  if (value instanceof Tensor) value.dispose();
  else if (Array.isArray(value)) value.forEach(disposeAll);
  else if (value && typeof value === 'object') Object.values(value).forEach(disposeAll);
}

/** Deterministic latents in [-0.5, 0.5]. */
function latents(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + 3) * 0.5);
}

/** PyTorch's forward time from tools/time_dit.py, or why there is none. */
function torchForward(model: string, runs: number): { seconds: number; detail: string } | { unavailable: string } {
  // dist/bench/models.js -> tools/time_dit.py at the package root (the package ships it).
  const script = fileURLToPath(new URL('../../tools/time_dit.py', import.meta.url));
  if (!existsSync(script)) return { unavailable: `${script} is missing (it comes with ditto: reinstall it)` };
  const python = process.env.DITTO_PYTHON ?? '/usr/bin/python3';
  const r = spawnSync(python, [script, '--json-only', '--model', `DiT-${model}`, '--runs', String(runs), '--warmup', '1'], { encoding: 'utf8' });
  if (r.error) return { unavailable: `${python} not found (${r.error.message})` };
  if (r.status !== 0) return { unavailable: (r.stderr.trim().split('\n').at(-1) ?? 'failed') + ' (apt-get install python3-torch)' };
  const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { median_s: number; torch: string; threads: number };
  return { seconds: res.median_s, detail: `torch ${res.torch}, ${res.threads} threads` };
}

export async function runModelBench(o: ModelBenchOptions): Promise<ModelBenchResult> {
  const progress = o.onProgress ?? (() => {});
  const name = o.model ?? 'XL/2';
  const config = preset(name);
  const task = `DiT-${name} forward, batch 2, ${config.inChannels}x${config.inputSize}x${config.inputSize}`;
  const rows: ModelBenchRow[] = [];
  const report = (row: ModelBenchRow) => {
    rows.push(row);
    progress(`${row.task} on ${row.backend}: ${row.seconds === null ? `unavailable (${row.unavailable})` : `${row.seconds.toFixed(3)} s`}`);
  };

  /** Median seconds of one forward including its read-back (a GPU backend only records until then). */
  const forward = async (b: Backend) => {
    const weights = randomWeights(config, b, 0);
    const model = new DiT(config, weights);
    const x = b.upload(latents(2 * config.inChannels * config.inputSize ** 2), [2, config.inChannels, config.inputSize, config.inputSize], 'f32');
    try {
      return (await timeMs(async () => {
        const y = model.forward(x, [999, 500], [1, 207]);
        await y.read();
        y.dispose();
      }, o.runs, 1)) / 1000;
    } finally {
      x.dispose();
      disposeAll(weights);
    }
  };

  const cpu = new CpuBackend();
  try {
    report({ task, backend: 'ditto cpu', seconds: await forward(cpu), detail: `${cpu.pool.threads} threads` });
  } finally {
    await cpu.pool.close();
  }
  const gpu = await createWebGpuBackend();
  if (gpu.backend) {
    try {
      report({ task, backend: 'ditto webgpu', seconds: await forward(gpu.backend), detail: gpu.backend.describe() });
    } finally {
      gpu.backend.dispose();
    }
  } else {
    report({ task, backend: 'ditto webgpu', seconds: null, unavailable: gpu.reason });
  }
  const torch = o.torch ? torchForward(name, o.runs) : { unavailable: 'skipped (--no-torch)' };
  report('seconds' in torch ? { task, backend: 'pytorch', seconds: torch.seconds, detail: torch.detail } : { task, backend: 'pytorch', seconds: null, unavailable: torch.unavailable });

  // Two FLOPs per multiply-accumulate, two images.
  return { runs: o.runs, tasks: [{ task, gflop: (2 * 2 * macsPerSample(config)) / 1e9 }], rows };
}
