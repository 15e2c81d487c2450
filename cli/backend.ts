// Picks the compute backend for a command: --backend auto|cpu|webgpu.
//
// auto uses WebGPU on a hardware adapter. Without an adapter, or on a CPU-emulated one (lavapipe,
// SwiftShader), it runs on the CPU backend and says so in one line: an emulated GPU shares the same
// cores, compiles every shader on first use, and is not the GPU a user asking for "auto" means.

import type { Backend } from '../core/backend.js';
import { CpuBackend } from '../core/cpu/backend.js';
import { UserError } from '../core/errors.js';
import { createWebGpuBackend } from '../core/webgpu/index.js';

export const BACKENDS = ['auto', 'cpu', 'webgpu'] as const;
export type BackendChoice = (typeof BACKENDS)[number];

export const VULKAN_HINT = 'install a Vulkan driver (Debian 12: mesa-vulkan-drivers from bookworm-backports; NVIDIA: the driver\'s Vulkan ICD)';

export function parseBackend(value: string | undefined): BackendChoice {
  const v = value ?? 'auto';
  if (!(BACKENDS as readonly string[]).includes(v)) throw new UserError(`unknown backend "${v}": use one of ${BACKENDS.join(', ')}`);
  return v as BackendChoice;
}

export async function createBackend(choice: BackendChoice, log: (line: string) => void = () => {}): Promise<Backend> {
  if (choice === 'cpu') return new CpuBackend();
  const gpu = await createWebGpuBackend();
  if (choice === 'webgpu') {
    if (!gpu.backend) throw new UserError(`--backend webgpu: no WebGPU adapter (${gpu.reason}): ${VULKAN_HINT}, or use --backend cpu`);
    return gpu.backend;
  }
  if (gpu.backend && !gpu.backend.adapter.emulated) {
    log(`backend: webgpu (${gpu.backend.describe()})`);
    return gpu.backend;
  }
  const cpu = new CpuBackend();
  if (gpu.backend) {
    log(`backend: cpu, ${cpu.pool.threads} threads (WebGPU would run on ${gpu.backend.describe()}; --backend webgpu forces it)`);
    gpu.backend.dispose();
  } else {
    log(`backend: cpu, ${cpu.pool.threads} threads (no WebGPU adapter: ${gpu.reason}; for a GPU, ${VULKAN_HINT})`);
  }
  return cpu;
}
