// The backends every op test and model test runs on ("one test, every device"). The CPU backend is
// always here; the WebGPU backend joins when an adapter is found. Without one, the WebGPU tests are
// skipped with one line saying why, unless DITTO_REQUIRE_WEBGPU=1 (CI), where that is an error.

import type { Backend } from '../core/backend.js';
import { CpuBackend } from '../core/cpu/backend.js';
import { createWebGpuBackend, type WebGpuBackend } from '../core/webgpu/index.js';

let cached: Promise<Backend[]> | null = null;
let gpu: Promise<WebGpuBackend | null> | null = null;

export function testBackends(): Promise<Backend[]> {
  cached ??= (async () => {
    const backends: Backend[] = [new CpuBackend()];
    const webgpu = await testWebGpu();
    if (webgpu) backends.push(webgpu);
    return backends;
  })();
  return cached;
}

/** The WebGPU backend shared by all tests, or null when there is no adapter (logged once). */
export function testWebGpu(): Promise<WebGpuBackend | null> {
  gpu ??= (async () => {
    const result = await createWebGpuBackend();
    if (result.backend) return result.backend;
    if (process.env.DITTO_REQUIRE_WEBGPU === '1') throw new Error(`DITTO_REQUIRE_WEBGPU=1 but WebGPU is unavailable: ${result.reason}`);
    console.log(`WebGPU tests skipped: ${result.reason}`);
    return null;
  })();
  return gpu;
}

/** Test fixtures live in the source tree (test/fixtures); tests run from dist/test. */
export function fixture(name: string): string {
  return new URL(`../../test/fixtures/${name}`, import.meta.url).pathname;
}
