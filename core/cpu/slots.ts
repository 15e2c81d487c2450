// The handshake between Node's thread pool (threads.ts) and its workers (worker.ts): each worker owns
// one slot of a shared Int32Array, and these are its states. A job is posted on the worker's port.

import type { ParallelKernel } from '../../kernels/cpu/parallel.js';

export const IDLE = 0;
export const BUSY = 1;
export const FAILED = 2;

export interface Job {
  kernel: ParallelKernel;
  args: unknown;
  start: number;
  end: number;
}
