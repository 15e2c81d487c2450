// The backends every op test and model test runs on ("one test, every device"). The CPU backend is
// always here; the WebGPU backend joins when an adapter is found.

import type { Backend } from '../core/backend.js';
import { CpuBackend } from '../core/cpu/backend.js';

let cached: Promise<Backend[]> | null = null;

export function testBackends(): Promise<Backend[]> {
  cached ??= (async () => [new CpuBackend()])();
  return cached;
}

/** Test fixtures live in the source tree (test/fixtures); tests run from dist/test. */
export function fixture(name: string): string {
  return new URL(`../../test/fixtures/${name}`, import.meta.url).pathname;
}
