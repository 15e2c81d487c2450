// A pool of worker threads that run CPU kernels synchronously, so CPU ops need no async plumbing.
//
// All tensor data lives in SharedArrayBuffers, so a worker reads and writes the same memory as the
// main thread. To run a kernel the main thread posts (kernel, args, range) on each worker's
// MessagePort, flips the worker's slot in a shared Int32Array to BUSY and wakes it with
// Atomics.notify; it then computes its own share and blocks in Atomics.wait until every slot is back
// to IDLE. Workers sleep in Atomics.wait between jobs and take the message with
// receiveMessageOnPort, a synchronous read, so no event loop is involved on either side.
//
// This is Node's pool; a web page gets core/cpu/threads.browser.ts, which runs every kernel on the
// page's own thread (web/build.ts swaps it in).

import { availableParallelism } from 'node:os';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { UserError } from '../errors.js';
import { BUSY, FAILED, IDLE, type Job } from './slots.js';
import { parallelKernels, type KernelArgs, type ParallelKernel } from '../../kernels/cpu/parallel.js';

interface PoolWorker {
  worker: Worker;
  port: MessagePort;
}

/** More threads than this only adds contention: each one streams its own slice of the weights. */
const MAX_THREADS = 64;

/**
 * Threads to use: DITTO_THREADS if set (1..MAX_THREADS; a bad value is an error, not ignored),
 * else every core the OS gives this process, up to 16.
 */
function defaultThreadCount(env = process.env.DITTO_THREADS): number {
  if (env !== undefined && env.trim() !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) {
      throw new UserError(`DITTO_THREADS=${env}: give the number of CPU threads, an integer from 1 to ${MAX_THREADS} (or unset it to use every core)`);
    }
    return n;
  }
  return Math.max(1, Math.min(availableParallelism(), 16));
}

/** Memory for tensor data that every thread of a pool can read and write. */
export function sharedBuffer(bytes: number): ArrayBufferLike {
  return new SharedArrayBuffer(bytes);
}

export class ThreadPool {
  readonly threads: number;
  private readonly workers: PoolWorker[] = [];
  private readonly slots: Int32Array;

  /** `threads` counts the main thread: a pool of 2 starts 1 worker. */
  constructor(threads = defaultThreadCount()) {
    this.threads = Math.max(1, threads);
    this.slots = new Int32Array(new SharedArrayBuffer(4 * this.threads));
    for (let i = 1; i < this.threads; i++) {
      const { port1, port2 } = new MessageChannel();
      const worker = new Worker(new URL('./worker.js', import.meta.url), {
        workerData: { port: port2, slots: this.slots, index: i },
        transferList: [port2],
      });
      // Idle workers must not keep the process alive.
      worker.unref();
      port1.unref();
      this.workers.push({ worker, port: port1 });
    }
  }

  /**
   * Runs `kernel` over the work items [0, total), split into contiguous chunks whose starts are
   * multiples of `align`. Chunks smaller than `minChunk` items are not worth a thread.
   */
  run<K extends ParallelKernel>(kernel: K, args: KernelArgs<K>, total: number, align = 1, minChunk = 1): void {
    const run = parallelKernels[kernel] as (a: KernelArgs<K>, s: number, e: number) => void;
    const parts = Math.max(1, Math.min(this.threads, Math.floor(total / Math.max(minChunk, 1))));
    if (parts === 1) {
      run(args, 0, total);
      return;
    }
    const bounds = [0];
    for (let p = 1; p < parts; p++) bounds.push(Math.round((total * p) / parts / align) * align);
    bounds.push(total);
    for (let p = 1; p < parts; p++) {
      const job: Job = { kernel, args, start: bounds[p], end: bounds[p + 1] };
      this.workers[p - 1].port.postMessage(job);
      Atomics.store(this.slots, p, BUSY);
      Atomics.notify(this.slots, p);
    }
    run(args, bounds[0], bounds[1]);
    let failure: string | null = null;
    for (let p = 1; p < parts; p++) {
      Atomics.wait(this.slots, p, BUSY);
      if (Atomics.load(this.slots, p) === FAILED) {
        failure ??= String(receiveMessageOnPort(this.workers[p - 1].port)?.message);
        Atomics.store(this.slots, p, IDLE);
      }
    }
    if (failure !== null) throw new Error(`CPU worker failed in ${kernel}: ${failure}`);
  }

  /** Stops the workers (only needed to end a process early; idle workers do not hold it open). */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
    this.workers.length = 0;
  }
}
