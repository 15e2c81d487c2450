// `ditto bench cpu`: our CPU backend against the peers a user would pick instead, measured in the
// same run. Two parts:
//   1. the linear layer (matmul) at DiT-S/2 shapes vs TensorFlow.js's CPU backend, in GFLOP/s;
//   2. one DiT-S/2 forward (batch 2, 4x32x32 latent) vs PyTorch (tools/time_dit.py), when python3 with
//      torch is installed, and vs our WebGPU backend where there is an adapter: on a machine without a
//      GPU that is lavapipe on the same cores, whose LLVM-compiled WGSL is the faster CPU path.

import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../core/backend.js';
import { CpuBackend } from '../core/cpu/backend.js';
import { createWebGpuBackend } from '../core/webgpu/index.js';
import * as op from '../core/ops.js';
import type { CommandIo } from '../cli/flags.js';
import { macsPerSample, preset } from '../models/dit/config.js';
import { DiT } from '../models/dit/dit.js';
import { randomWeights } from '../models/dit/weights.js';
import { loadTfjsCpu } from './peers/tfjs-cpu.js';
import { timeMs } from './timing.js';
import { matmulSampleErr } from './accuracy.js';

/** M x K x N of the DiT-S/2 linears at batch 2 (512 tokens): qkv, fc1, fc2. */
export const DIT_S_SHAPES: [number, number, number][] = [[512, 384, 1152], [512, 384, 1536], [512, 1536, 384]];

export interface CpuBenchOptions {
  json: boolean;
  runs: number;
  torch: boolean;
  /** M x K x N of the matmuls (default: DIT_S_SHAPES). */
  shapes?: [number, number, number][];
  /** The DiT preset of the forward (default 'S/2'; PyTorch is timed on DiT-S/2 only). */
  model?: string;
}

interface MatmulRow {
  kernel: 'matmul';
  backend: 'cpu' | 'tfjs-cpu';
  m: number;
  k: number;
  n: number;
  gflops: number;
  ms: number;
  max_rel_err: number;
}

function filled(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 12.9898 + seed) * 0.5;
  return a;
}

/** PyTorch's DiT-S/2 forward time from tools/time_dit.py, or why there is none. */
function torchForward(runs: number): { median_s: number; torch: string; threads: number } | { unavailable: string } {
  const script = fileURLToPath(new URL('../../tools/time_dit.py', import.meta.url));
  const python = process.env.DITTO_PYTHON ?? '/usr/bin/python3';
  const r = spawnSync(python, [script, '--json-only', '--runs', String(Math.max(5, runs))], { encoding: 'utf8' });
  if (r.error) return { unavailable: `${python} not found (${r.error.message})` };
  if (r.status !== 0) return { unavailable: (r.stderr.trim().split('\n').at(-1) ?? 'failed') + ' (apt-get install python3-torch)' };
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

export async function runCpuBench(o: CpuBenchOptions, io: CommandIo): Promise<void> {
  const backend = new CpuBackend();
  const tfjs = await loadTfjsCpu();
  const rows: MatmulRow[] = [];
  for (const [m, k, n] of o.shapes ?? DIT_S_SHAPES) {
    const x = filled(m * k, 1), w = filled(n * k, 2);
    const flop = 2 * m * k * n;
    const tx = backend.upload(x, [m, k], 'f32'), tw = backend.upload(w, [n, k], 'f32');
    const ms = await timeMs(() => op.linear(tx, tw), o.runs);
    const peer = tfjs.matmul(x, w, m, k, n);
    const peerMs = await timeMs(peer.run, Math.max(3, Math.ceil(o.runs / 2)), 1);
    const err = matmulSampleErr(x, w, (await op.linear(tx, tw).read()) as Float32Array, m, k, n);
    rows.push({ kernel: 'matmul', backend: 'cpu', m, k, n, gflops: flop / ms / 1e6, ms, max_rel_err: err });
    rows.push({ kernel: 'matmul', backend: 'tfjs-cpu', m, k, n, gflops: flop / peerMs / 1e6, ms: peerMs, max_rel_err: matmulSampleErr(x, w, peer.read(), m, k, n) });
  }

  const modelName = o.model ?? 'S/2';
  const config = preset(modelName);
  /** Wall time of one forward including its read-back (a GPU backend only records until then). */
  const forwardMs = async (b: Backend) => {
    const model = new DiT(config, randomWeights(config, b, 0));
    const latent = b.upload(filled(2 * 4 * 32 * 32, 3), [2, 4, 32, 32], 'f32');
    // V8 needs a few forwards to settle its JIT on every kernel shape (WebGPU: to compile): warm up twice.
    return timeMs(async () => {
      const y = model.forward(latent, [999, 500], [1, 207]);
      await y.read();
      y.dispose();
    }, Math.max(3, Math.ceil(o.runs / 2)), 2);
  };
  const ours = await forwardMs(backend);
  const gpu = await createWebGpuBackend();
  const webgpu = gpu.backend ? { webgpu_s: (await forwardMs(gpu.backend)) / 1000, webgpu_adapter: gpu.backend.describe() } : { webgpu: `unavailable: ${gpu.reason}` };
  gpu.backend?.dispose();
  const torch = !o.torch ? { unavailable: 'skipped (--no-torch)' }
    : modelName !== 'S/2' ? { unavailable: `tools/time_dit.py times DiT-S/2, not DiT-${modelName}` } : torchForward(5);
  // Batch 2, two FLOPs per multiply-accumulate.
  const gflop = (2 * 2 * macsPerSample(config)) / 1e9;

  const result = {
    machine: { cores: availableParallelism(), threads: backend.pool.threads, node: process.version, tfjs: tfjs.version },
    rows,
    dit_forward: {
      model: `DiT-${modelName}`, batch: 2, gflop,
      ours_s: ours / 1000,
      ...webgpu,
      ...('median_s' in torch ? { torch_s: torch.median_s, torch_version: torch.torch, torch_threads: torch.threads, ratio: ours / 1000 / torch.median_s } : { torch: torch.unavailable }),
    },
  };
  await backend.pool.close();
  if (o.json) {
    io.print(JSON.stringify(result, null, 2));
    return;
  }
  io.print(`CPU benchmark: ${result.machine.cores} cores, ${result.machine.threads} threads, Node ${result.machine.node}, tfjs ${tfjs.version}`);
  io.print('');
  io.print('matmul (M x K x N)     ditto cpu GFLOP/s   tfjs-cpu GFLOP/s   ratio   ditto max rel err');
  for (let i = 0; i < rows.length; i += 2) {
    const a = rows[i], b = rows[i + 1];
    io.print(`${`${a.m}x${a.k}x${a.n}`.padEnd(22)} ${a.gflops.toFixed(2).padStart(17)}   ${b.gflops.toFixed(2).padStart(16)}   ${(a.gflops / b.gflops).toFixed(1).padStart(4)}x   ${a.max_rel_err.toExponential(1)}`);
  }
  io.print('');
  const f = result.dit_forward;
  io.print(`${f.model} forward, batch 2 (${gflop.toFixed(1)} GFLOP): ditto cpu ${f.ours_s.toFixed(3)} s` +
    ('torch_s' in f ? `, PyTorch ${f.torch_version} (${f.torch_threads} threads) ${f.torch_s!.toFixed(3)} s, ratio ${f.ratio!.toFixed(2)}x` : `; PyTorch: ${f.torch}`));
  io.print('webgpu_s' in f ? `  ditto webgpu on ${f.webgpu_adapter}: ${f.webgpu_s!.toFixed(3)} s` : `  ditto webgpu: ${f.webgpu}`);
}
