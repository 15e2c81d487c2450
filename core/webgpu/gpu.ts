// Where the WebGPU backend's GPU object comes from in Node: Dawn, through the npm package `webgpu`. A
// web page has its own (navigator.gpu, core/webgpu/gpu.browser.ts, swapped in by web/build.ts); the rest
// of the backend cannot tell them apart.

import type { DeviceOptions } from './device.js';

export type FoundGpu =
  | { gpu: GPU; reason: null; hint: string }
  | { gpu: null; reason: string };

/** What to do when this platform's GPU has no adapter. */
const HINT = 'is a Vulkan driver installed? On Debian 12 without a GPU: mesa-vulkan-drivers from bookworm-backports';

export async function findGpu(opts: DeviceOptions): Promise<FoundGpu> {
  // Mesa's Vulkan drivers complain on every start when XDG_RUNTIME_DIR is unset.
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  let mod: typeof import('webgpu');
  try {
    mod = await import('webgpu');
  } catch (e) {
    return { gpu: null, reason: `the 'webgpu' package (Dawn for Node) could not be loaded: ${(e as Error).message.split('\n')[0]}` };
  }
  // Dawn's classes (GPUBufferUsage, GPUMapMode, ...) become globals, as in a browser.
  Object.assign(globalThis, mod.globals);
  // The GPU object must stay reachable as long as the device is used: when the garbage collector
  // frees it, Dawn tears down its instance under the live device and the process crashes (seen as a
  // segfault or "futex facility returned an unexpected error code"). GpuContext keeps it.
  try {
    return { gpu: mod.create(['disable-dawn-features=timestamp_quantization', ...(opts.dawnFlags ?? [])]), reason: null, hint: HINT };
  } catch (e) {
    return { gpu: null, reason: `requesting a WebGPU adapter failed: ${(e as Error).message}` };
  }
}
