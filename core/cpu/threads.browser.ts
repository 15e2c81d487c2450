// core/cpu/threads.ts in a web page: the CPU backend's fallback role there (no WebGPU adapter) needs
// correct results, not speed, so every kernel runs on the page's own thread, in one call over the whole
// range. The kernels are the same functions Node's workers run (kernels/cpu/parallel.ts), so a page
// computes what `ditto sample --backend cpu` does, bit for bit. Blocking the page's thread is fine for
// the fallback; Web Workers over SharedArrayBuffer (the page is cross-origin isolated) would spread it.

import { parallelKernels, type KernelArgs, type ParallelKernel } from '../../kernels/cpu/parallel.js';

/** One thread sees all of its memory: a plain ArrayBuffer, which needs no cross-origin isolation. */
export function sharedBuffer(bytes: number): ArrayBufferLike {
  return new ArrayBuffer(bytes);
}

export class ThreadPool {
  readonly threads = 1;

  run<K extends ParallelKernel>(kernel: K, args: KernelArgs<K>, total: number): void {
    (parallelKernels[kernel] as (a: KernelArgs<K>, s: number, e: number) => void)(args, 0, total);
  }

  async close(): Promise<void> {}
}
