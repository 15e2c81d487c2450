// `ditto bench cpu`: our CPU backend against the peers a user would pick instead, measured in the
// same run. Two parts:
//   1. the linear layer (matmul) at DiT-S/2 shapes vs TensorFlow.js's CPU backend, in GFLOP/s, on the
//      backend's kernels (DITTO_CPU_KERNELS: WebAssembly SIMD by default) and, when those are the SIMD
//      ones, on the TypeScript kernels too (row 'cpu-ts'), with the same threads;
//   2. one DiT-S/2 forward (batch 2, 4x32x32 latent) vs PyTorch (tools/time_dit.py), when python3 with
//      torch is installed, and vs our WebGPU backend where there is an adapter: on a machine without a
//      GPU that is lavapipe on the same cores, whose LLVM-compiled WGSL is the faster CPU path.
// It returns the numbers; the CLI formats them (cli/bench-tables.ts).

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../core/backend.js';
import { CpuBackend } from '../core/cpu/backend.js';
import { matmulVariant } from '../kernels/cpu/wasm/matmul.js';
import { createWebGpuBackend } from '../core/webgpu/index.js';
import * as op from '../core/ops.js';
import { macsPerSample, preset } from '../models/dit/config.js';
import { DiT } from '../models/dit/dit.js';
import { randomWeights } from '../models/dit/weights.js';
import { matmulSampleErr } from './accuracy.js';
import type { Importer } from './peers/peer.js';
import { loadTfjsCpu } from './peers/tfjs-cpu.js';
import { timeMs } from './timing.js';

/** M x K x N of the DiT-S/2 linears at batch 2 (512 tokens): qkv, fc1, fc2. */
export const DIT_S_SHAPES: [number, number, number][] = [[512, 384, 1152], [512, 384, 1536], [512, 1536, 384]];

export interface CpuBenchOptions {
  /** Timed runs per matmul (the median is reported); the forwards take half as many, at least 3. */
  runs: number;
  /** Time PyTorch's forward too (tools/time_dit.py). */
  torch: boolean;
  /** M x K x N of the matmuls (default: DIT_S_SHAPES). */
  shapes?: [number, number, number][];
  /** The DiT preset of the forward (default 'S/2'; PyTorch is timed on DiT-S/2 only). */
  model?: string;
  /** How the peer imports its packages (tests simulate a machine without them). */
  importer?: Importer;
  onProgress?: (line: string) => void;
}

export interface CpuMatmulRow {
  kernel: 'matmul';
  /** 'cpu': the backend's kernels (machine.kernels); 'cpu-ts': its TypeScript kernels, when those differ. */
  backend: 'cpu' | 'cpu-ts' | 'tfjs-cpu';
  m: number;
  k: number;
  n: number;
  gflops: number | null;
  ms: number | null;
  /** Against float64 dot products on a sample of outputs. */
  max_rel_err: number | null;
  /** Why the row has no numbers. */
  skipped?: string;
}

export interface CpuBenchResult {
  machine: { cores: number; threads: number; node: string; kernels: string; peers: { 'tfjs-cpu': string } };
  rows: CpuMatmulRow[];
  dit_forward: {
    model: string;
    batch: number;
    gflop: number;
    ours_s: number;
    webgpu: { seconds: number; adapter: string } | { unavailable: string };
    torch: { seconds: number; version: string; threads: number; /** ours_s / seconds */ ratio: number } | { unavailable: string };
  };
}

function filled(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 12.9898 + seed) * 0.5;
  return a;
}

/** PyTorch's DiT-S/2 forward time from tools/time_dit.py, or why there is none. */
function torchForward(runs: number): { median_s: number; torch: string; threads: number } | { unavailable: string } {
  // dist/bench/cpu.js -> tools/time_dit.py at the package root (the package ships it).
  const script = fileURLToPath(new URL('../../tools/time_dit.py', import.meta.url));
  if (!existsSync(script)) return { unavailable: `${script} is missing (it comes with ditto: reinstall it)` };
  const python = process.env.DITTO_PYTHON ?? '/usr/bin/python3';
  const r = spawnSync(python, [script, '--json-only', '--runs', String(Math.max(5, runs))], { encoding: 'utf8' });
  if (r.error) return { unavailable: `${python} not found (${r.error.message})` };
  if (r.status !== 0) return { unavailable: (r.stderr.trim().split('\n').at(-1) ?? 'failed') + ' (apt-get install python3-torch)' };
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

/** The CPU backend's linear kernels in words: 'ts', 'simd (f32x4 mul+add)' or 'simd (f32x4 relaxed FMA)'. */
function kernelsLabel(kernels: 'ts' | 'simd'): string {
  return kernels === 'ts' ? 'ts' : `simd (f32x4 ${matmulVariant()?.fma ? 'relaxed FMA' : 'mul+add'})`;
}

export async function runCpuBench(o: CpuBenchOptions): Promise<CpuBenchResult> {
  const progress = o.onProgress ?? (() => {});
  const backend = new CpuBackend();
  const tsBackend = backend.kernels === 'simd' ? new CpuBackend(backend.pool.threads, 'ts') : null;
  try {
    const tfjs = await loadTfjsCpu(o.importer);
    const rows: CpuMatmulRow[] = [];
    const report = (row: CpuMatmulRow) => {
      rows.push(row);
      progress(`matmul ${row.m}x${row.k}x${row.n} ${row.backend}: ` + (row.skipped ? `skipped (${row.skipped})`
        : `${row.gflops!.toFixed(2)} GFLOP/s, ${row.ms!.toFixed(2)} ms, max rel err ${row.max_rel_err!.toExponential(1)}`));
    };
    for (const [m, k, n] of o.shapes ?? DIT_S_SHAPES) {
      const x = filled(m * k, 1), w = filled(n * k, 2);
      const flop = 2 * m * k * n;
      const tx = backend.upload(x, [m, k], 'f32'), tw = backend.upload(w, [n, k], 'f32');
      const ms = await timeMs(() => op.linear(tx, tw).dispose(), o.runs);
      const y = op.linear(tx, tw);
      report({ kernel: 'matmul', backend: 'cpu', m, k, n, gflops: flop / ms / 1e6, ms, max_rel_err: matmulSampleErr(x, w, (await y.read()) as Float32Array, m, k, n) });
      for (const t of [tx, tw, y]) t.dispose();
      if (tsBackend) {
        const sx = tsBackend.upload(x, [m, k], 'f32'), sw = tsBackend.upload(w, [n, k], 'f32');
        const tsMs = await timeMs(() => op.linear(sx, sw).dispose(), Math.max(3, Math.ceil(o.runs / 2)), 1);
        const sy = op.linear(sx, sw);
        report({ kernel: 'matmul', backend: 'cpu-ts', m, k, n, gflops: flop / tsMs / 1e6, ms: tsMs, max_rel_err: matmulSampleErr(x, w, (await sy.read()) as Float32Array, m, k, n) });
        for (const t of [sx, sw, sy]) t.dispose();
      }
      if (tfjs.peer === null) {
        report({ kernel: 'matmul', backend: 'tfjs-cpu', m, k, n, gflops: null, ms: null, max_rel_err: null, skipped: `unavailable: ${tfjs.reason}` });
        continue;
      }
      const peer = tfjs.peer.matmul(x, w, m, k, n);
      const peerMs = await timeMs(() => peer.run(), Math.max(3, Math.ceil(o.runs / 2)), 1);
      report({ kernel: 'matmul', backend: 'tfjs-cpu', m, k, n, gflops: flop / peerMs / 1e6, ms: peerMs, max_rel_err: matmulSampleErr(x, w, await peer.read(), m, k, n) });
      peer.dispose();
    }

    const modelName = o.model ?? 'S/2';
    const config = preset(modelName);
    /** Seconds of one forward including its read-back (a GPU backend only records until then). */
    const forwardS = async (b: Backend) => {
      const model = new DiT(config, randomWeights(config, b, 0));
      const latent = b.upload(filled(2 * 4 * 32 * 32, 3), [2, 4, 32, 32], 'f32');
      // V8 needs a few forwards to settle its JIT on every kernel shape (WebGPU: to compile): warm up twice.
      const ms = await timeMs(async () => {
        const y = model.forward(latent, [999, 500], [1, 207]);
        await y.read();
        y.dispose();
      }, Math.max(3, Math.ceil(o.runs / 2)), 2);
      return ms / 1000;
    };
    const ours = await forwardS(backend);
    progress(`DiT-${modelName} forward cpu: ${ours.toFixed(3)} s`);
    const gpu = await createWebGpuBackend();
    let webgpu: CpuBenchResult['dit_forward']['webgpu'];
    try {
      webgpu = gpu.backend ? { seconds: await forwardS(gpu.backend), adapter: gpu.backend.describe() } : { unavailable: gpu.reason };
    } finally {
      gpu.backend?.dispose();
    }
    progress(`DiT-${modelName} forward webgpu: ${'seconds' in webgpu ? `${webgpu.seconds.toFixed(3)} s` : `unavailable (${webgpu.unavailable})`}`);
    const timed = !o.torch ? { unavailable: 'skipped (--no-torch)' }
      : modelName !== 'S/2' ? { unavailable: `tools/time_dit.py times DiT-S/2, not DiT-${modelName}` } : torchForward(5);
    const torch = 'median_s' in timed ? { seconds: timed.median_s, version: timed.torch, threads: timed.threads, ratio: ours / timed.median_s } : timed;
    return {
      machine: { cores: availableParallelism(), threads: backend.pool.threads, node: process.version, kernels: kernelsLabel(backend.kernels), peers: { 'tfjs-cpu': tfjs.peer?.version ?? `unavailable: ${tfjs.reason}` } },
      rows,
      // Batch 2, two FLOPs per multiply-accumulate.
      dit_forward: { model: `DiT-${modelName}`, batch: 2, gflop: (2 * 2 * macsPerSample(config)) / 1e9, ours_s: ours, webgpu, torch },
    };
  } finally {
    await backend.pool.close();
    await tsBackend?.pool.close();
  }
}
