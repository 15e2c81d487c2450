// `ditto bench models`: whole full-size models, end to end, on each of our backends and in PyTorch in
// the same run, with random weights made at run time (values do not change the work):
//   - one DiT-XL/2 forward at 256x256 (batch 2, 4x32x32 latents, 474 GFLOP; PyTorch: tools/time_dit.py);
//   - the Stable Diffusion VAE decoder (kl-f8) turning one 4x32x32 latent into a 256x256 image
//     (PyTorch: the official latent-diffusion Decoder, tools/time_vae.py, from the checkout LDM_REPO names).
// Kernel benchmarks say how fast an op is; this says what a user waits for.
//
// Each backend holds a model's weights (2.7 GB in f32 for DiT-XL/2) only while it is timed; they are
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
import type { VaeConfig } from '../models/vae/config.js';
import { VaeDecoder } from '../models/vae/decoder.js';
import { randomVaeWeights } from '../models/vae/weights.js';
import { timeMs } from './timing.js';

export interface ModelBenchOptions {
  /** Timed runs per backend (median reported), after one warm-up run. */
  runs: number;
  /** Time PyTorch too (tools/time_dit.py). */
  torch: boolean;
  /** The DiT preset (default XL/2; tests use a small one). */
  model?: string;
  /** The VAE's config and latent side (default: Stable Diffusion's kl-f8 decoder on 32x32; tests shrink it). */
  vae?: { config: VaeConfig; latent: number };
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

/** Stable Diffusion's VAE decoder (kl-f8): ch 128, ch_mult (1, 2, 4, 4), 2 ResNet blocks, z 4. */
export const SD_VAE: VaeConfig = { latentChannels: 4, zChannels: 4, levelChannels: [128, 256, 512, 512], numResBlocks: 2, outChannels: 3 };

/**
 * Multiply-adds of one decode of an h x w latent: every conv (k*k*Cin*Cout per output pixel), the
 * attention's four projections and its two (hw)^2 * C products. GroupNorm, SiLU and adds are left out.
 */
export function vaeDecodeMacs(c: VaeConfig, h: number, w: number): number {
  const L = c.levelChannels.length;
  const top = c.levelChannels[L - 1]!;
  let px = h * w;
  const conv = (k: number, cin: number, cout: number) => k * k * cin * cout * px;
  const resnet = (cin: number, cout: number) => conv(3, cin, cout) + conv(3, cout, cout) + (cin === cout ? 0 : conv(1, cin, cout));
  let macs = conv(1, c.latentChannels, c.zChannels) + conv(3, c.zChannels, top);
  macs += 2 * resnet(top, top) + 4 * top * top * px + 2 * px * px * top;
  let cin = top;
  for (let l = L - 1; l >= 0; l--) {
    const cout = c.levelChannels[l]!;
    for (let b = 0; b <= c.numResBlocks; b++) macs += resnet(b === 0 ? cin : cout, cout);
    cin = cout;
    if (l > 0) {
      px *= 4;
      macs += conv(3, cout, cout);
    }
  }
  return macs + conv(3, c.levelChannels[0]!, c.outChannels);
}

/** A PyTorch timing script's median, run from tools/ (the package ships them), or why there is none. */
function torchTime(script: string, args: string[], env: NodeJS.ProcessEnv = {}): { seconds: number; detail: string } | { unavailable: string } {
  // dist/bench/models.js -> tools/<script> at the package root.
  const path = fileURLToPath(new URL(`../../tools/${script}`, import.meta.url));
  if (!existsSync(path)) return { unavailable: `${path} is missing (it comes with ditto: reinstall it)` };
  const python = process.env.DITTO_PYTHON ?? '/usr/bin/python3';
  const r = spawnSync(python, [path, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.error) return { unavailable: `${python} not found (${r.error.message})` };
  if (r.status !== 0) return { unavailable: (r.stderr.trim().split('\n').at(-1) ?? 'failed') + ' (apt-get install python3-torch)' };
  const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { median_s: number; torch: string; threads: number };
  return { seconds: res.median_s, detail: `torch ${res.torch}, ${res.threads} threads` };
}

/** The official decoder comes from a latent-diffusion checkout that LDM_REPO names (never bundled). */
function torchVae(latent: number, runs: number): { seconds: number; detail: string } | { unavailable: string } {
  const repo = process.env.LDM_REPO;
  if (!repo || !existsSync(`${repo}/ldm/modules/diffusionmodules/model.py`)) {
    return { unavailable: 'set LDM_REPO to a checkout of CompVis/latent-diffusion (tools/time_vae.py runs its Decoder)' };
  }
  return torchTime('time_vae.py', ['--runs', String(runs), '--warmup', '1', '--latent', String(latent)]);
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

  /**
   * Times one task on the CPU backend, then on WebGPU where there is an adapter (one backend alive at a
   * time), then takes PyTorch's time. `prepare` loads the model's weights and input on a backend and
   * returns the run (read back, as a GPU backend only records until then) and what to release.
   */
  const measure = async (
    what: string,
    prepare: (b: Backend) => { run: () => Tensor; release: () => void },
    torch: () => { seconds: number; detail: string } | { unavailable: string },
  ) => {
    const seconds = async (b: Backend) => {
      const { run, release } = prepare(b);
      try {
        return (await timeMs(async () => {
          const y = run();
          await y.read();
          y.dispose();
        }, o.runs, 1)) / 1000;
      } finally {
        release();
      }
    };
    const cpu = new CpuBackend();
    try {
      report({ task: what, backend: 'ditto cpu', seconds: await seconds(cpu), detail: `${cpu.pool.threads} threads` });
    } finally {
      await cpu.pool.close();
    }
    const gpu = await createWebGpuBackend();
    if (gpu.backend) {
      try {
        report({ task: what, backend: 'ditto webgpu', seconds: await seconds(gpu.backend), detail: gpu.backend.describe() });
      } finally {
        gpu.backend.dispose();
      }
    } else {
      report({ task: what, backend: 'ditto webgpu', seconds: null, unavailable: gpu.reason });
    }
    const t = o.torch ? torch() : { unavailable: 'skipped (--no-torch)' };
    report('seconds' in t ? { task: what, backend: 'pytorch', seconds: t.seconds, detail: t.detail } : { task: what, backend: 'pytorch', seconds: null, unavailable: t.unavailable });
  };

  await measure(task, (b) => {
    const weights = randomWeights(config, b, 0);
    const model = new DiT(config, weights);
    const x = b.upload(latents(2 * config.inChannels * config.inputSize ** 2), [2, config.inChannels, config.inputSize, config.inputSize], 'f32');
    return { run: () => model.forward(x, [999, 500], [1, 207]), release: () => disposeAll([x, weights]) };
  }, () => torchTime('time_dit.py', ['--json-only', '--model', `DiT-${name}`, '--runs', String(o.runs), '--warmup', '1']));

  const vae = o.vae ?? { config: SD_VAE, latent: 32 };
  const side = vae.latent * 2 ** (vae.config.levelChannels.length - 1);
  const vaeTask = `VAE decode, ${vae.config.latentChannels}x${vae.latent}x${vae.latent} latent to a ${side}x${side} image`;
  await measure(vaeTask, (b) => {
    const weights = randomVaeWeights(vae.config, b, 0);
    const decoder = new VaeDecoder(vae.config, weights);
    const z = b.upload(latents(vae.config.latentChannels * vae.latent ** 2), [1, vae.config.latentChannels, vae.latent, vae.latent], 'f32');
    return { run: () => decoder.decode(z), release: () => disposeAll([z, weights]) };
  }, () => torchVae(vae.latent, o.runs));

  return {
    runs: o.runs,
    // Two FLOPs per multiply-accumulate; the DiT forward runs two images.
    tasks: [{ task, gflop: (2 * 2 * macsPerSample(config)) / 1e9 }, { task: vaeTask, gflop: (2 * vaeDecodeMacs(vae.config, vae.latent, vae.latent)) / 1e9 }],
    rows,
  };
}
