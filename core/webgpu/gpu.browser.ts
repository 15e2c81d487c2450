// core/webgpu/gpu.ts in a web page: the browser's own navigator.gpu. It is missing where the browser
// has WebGPU off, or the page is not a secure context (http:// other than localhost).

import type { DeviceOptions } from './device.js';
import type { FoundGpu } from './gpu.js';

export type { FoundGpu } from './gpu.js';

export async function findGpu(_opts: DeviceOptions): Promise<FoundGpu> {
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) return { gpu: null, reason: 'this browser offers no WebGPU (navigator.gpu is missing: WebGPU is off, or the page is not served from https or localhost)' };
  return { gpu, reason: null, hint: 'the browser has WebGPU but no adapter: it may be blocklisted on this GPU or driver' };
}
