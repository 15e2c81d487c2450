// Picks the compute backend for a command: --backend auto|cpu|webgpu.
//
// auto uses WebGPU on a hardware adapter, and the CPU backend where there is no adapter. A CPU-emulated
// adapter (lavapipe, SwiftShader) runs on the same cores as the CPU backend. lavapipe compiles our WGSL
// into 8-wide AVX code with LLVM, at the cost of compiling each kernel shape once (Mesa then keeps it
// in its on-disk shader cache). Against the CPU backend's TypeScript kernels it won from 2 images at
// once (bundled model, 2 cores, 50 steps: 10 images 25.3 s on the CPU, 6.3 s on lavapipe with a warm
// cache); against its WebAssembly SIMD kernels it no longer wins at any batch (2 images 1.4 / 4.7 s,
// 10 images 5.9 / 5.6 s, 32 images 17.4 / 18.7 s). So on an emulated adapter auto takes the CPU
// backend when it runs SIMD kernels, and with TypeScript kernels WebGPU from EMULATED_MIN_BATCH images.
// A VAE decode, heavy in convolutions whatever the batch, takes an emulated adapter only against the
// TypeScript kernels too: with the SIMD convolution one 256x256 decode took 13 s on the CPU backend and
// 24 s on lavapipe (warm shader cache, alternating in one process, a loaded machine), against 69 s
// and 12.7 s with the TypeScript one. Either way it says in one line what it picked and why.

import type { Backend } from '../core/backend.js';
import { CpuBackend, cpuKernels, type CpuKernels } from '../core/cpu/backend.js';
import { UserError } from '../core/errors.js';
import { createWebGpuBackend } from '../core/webgpu/index.js';

const BACKENDS = ['auto', 'cpu', 'webgpu'] as const;
export type BackendChoice = (typeof BACKENDS)[number];

const VULKAN_HINT = 'install a Vulkan driver (Debian 12: mesa-vulkan-drivers from bookworm-backports; NVIDIA: the driver\'s Vulkan ICD)';

export function parseBackend(value: string | undefined): BackendChoice {
  const v = value ?? 'auto';
  if (!(BACKENDS as readonly string[]).includes(v)) throw new UserError(`unknown backend "${v}": use one of ${BACKENDS.join(', ')}`);
  return v as BackendChoice;
}

/** The smallest batch (images per model call) that auto runs on a CPU-emulated adapter against TypeScript CPU kernels. */
export const EMULATED_MIN_BATCH = 2;

/**
 * What auto picks: `adapter` is what the WebGPU probe found (null: none), `batch` the images per model
 * call, `kernels` what the CPU backend would run.
 */
export function autoBackend(adapter: { emulated: boolean } | null, batch: number, kernels: CpuKernels): 'webgpu' | 'cpu' {
  if (!adapter) return 'cpu';
  if (!adapter.emulated) return 'webgpu';
  return kernels === 'ts' && batch >= EMULATED_MIN_BATCH ? 'webgpu' : 'cpu';
}

/**
 * The backend for `choice`; `batch` is how many images a sampling command puts through the model at
 * once, which auto weighs on an emulated adapter. Without it (a single forward: compiling its kernels
 * would cost more than the CPU backend takes), auto keeps an emulated adapter for batches alone.
 * `emulatedWins` says why work that is heavy whatever the batch (a VAE decode) takes an emulated
 * adapter even for one image, against the CPU backend's TypeScript kernels (not its SIMD ones).
 */
export async function createBackend(
  choice: BackendChoice, log: (line: string) => void = () => {}, opts: { batch?: number; emulatedWins?: string } = {},
): Promise<Backend> {
  if (choice === 'cpu') return new CpuBackend();
  const gpu = await createWebGpuBackend();
  if (choice === 'webgpu') {
    if (!gpu.backend) throw new UserError(`--backend webgpu: no WebGPU adapter (${gpu.reason}): ${VULKAN_HINT}, or use --backend cpu`);
    return gpu.backend;
  }
  const batch = opts.batch ?? 1;
  const kernels = cpuKernels();
  if (gpu.backend && (autoBackend(gpu.backend.adapter, batch, kernels) === 'webgpu' || (opts.emulatedWins && kernels === 'ts'))) {
    const reason = opts.emulatedWins ?? `faster than the CPU backend's TypeScript kernels from ${EMULATED_MIN_BATCH} images at once`;
    const why = gpu.backend.adapter.emulated ? `: ${reason}; --backend cpu forces the CPU` : '';
    log(`backend: webgpu (${gpu.backend.describe()}${why})`);
    return gpu.backend;
  }
  const cpu = new CpuBackend();
  if (gpu.backend) {
    const why = kernels === 'simd' ? ', no faster than the SIMD kernels' : opts.batch === undefined ? '' : `, slower for ${batch} image${batch === 1 ? '' : 's'} at once`;
    log(`backend: cpu, ${cpu.pool.threads} threads, ${cpu.kernels} kernels (WebGPU would run on ${gpu.backend.describe()}${why}; --backend webgpu forces it)`);
    gpu.backend.dispose();
  } else {
    log(`backend: cpu, ${cpu.pool.threads} threads, ${cpu.kernels} kernels (no WebGPU adapter: ${gpu.reason}; for a GPU, ${VULKAN_HINT})`);
  }
  return cpu;
}
