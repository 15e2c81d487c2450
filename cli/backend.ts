// Picks the compute backend for a command: --backend auto|cpu|webgpu.

import type { Backend } from '../core/backend.js';
import { CpuBackend } from '../core/cpu/backend.js';
import { UserError } from '../core/errors.js';

export const BACKENDS = ['auto', 'cpu', 'webgpu'] as const;
export type BackendChoice = (typeof BACKENDS)[number];

export function parseBackend(value: string | undefined): BackendChoice {
  const v = value ?? 'auto';
  if (!(BACKENDS as readonly string[]).includes(v)) throw new UserError(`unknown backend "${v}": use one of ${BACKENDS.join(', ')}`);
  return v as BackendChoice;
}

export async function createBackend(choice: BackendChoice, log: (line: string) => void = () => {}): Promise<Backend> {
  if (choice === 'webgpu') {
    throw new UserError('the WebGPU backend is not built yet in this version: use --backend cpu');
  }
  const cpu = new CpuBackend();
  if (choice === 'auto') log(`backend: cpu (${cpu.pool.threads} threads)`);
  return cpu;
}
