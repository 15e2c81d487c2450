// A CPU worker thread: sleeps on its slot until the pool posts a job, runs it, marks the slot IDLE.
// See threads.ts for the protocol.

import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { parallelKernels } from '../../kernels/cpu/parallel.js';
import { BUSY, FAILED, IDLE, type Job } from './slots.js';

const { port, slots, index } = workerData as { port: MessagePort; slots: Int32Array; index: number };

for (;;) {
  Atomics.wait(slots, index, IDLE);
  if (Atomics.load(slots, index) !== BUSY) continue;
  // The job was posted before the slot flipped, so it is already queued on the port.
  const job = receiveMessageOnPort(port)?.message as Job;
  try {
    const run = parallelKernels[job.kernel] as (a: unknown, s: number, e: number) => void;
    run(job.args, job.start, job.end);
    Atomics.store(slots, index, IDLE);
  } catch (e) {
    port.postMessage(e instanceof Error ? (e.stack ?? e.message) : String(e));
    Atomics.store(slots, index, FAILED);
  }
  Atomics.notify(slots, index);
}
