// What the engine asks of the machine it runs on, in Node. The page bundle takes core/host.browser.ts
// instead (web/build.ts), so nothing outside this file and its twin reads `process` or `node:os`.

import { totalmem } from 'node:os';

/** The machine's memory: a checkpoint that declares more weights than this is refused up front. */
export function memoryBytes(): number {
  return totalmem();
}

/** An environment variable (DITTO_THREADS, DITTO_CPU_KERNELS, ...), or undefined. */
export function envVar(name: string): string | undefined {
  return process.env[name];
}
