// The WebGPU backend's public entry: `createWebGpuBackend()` finds an adapter, opens a device and returns
// the backend, or, where there is no usable adapter, null and the reason (never an exception: a
// missing GPU is a normal situation that `--backend auto` handles by using the CPU).
//
//   const gpu = await createWebGpuBackend();
//   if (!gpu.backend) console.log(`no WebGPU: ${gpu.reason}`);
//   else if (gpu.backend.adapter.emulated) ...   // lavapipe/SwiftShader: faster than the CPU backend only for batches

import { WebGpuBackend } from './backend.js';
import { openDevice, type DeviceOptions } from './device.js';

export { WebGpuBackend, type BackendStats } from './backend.js';
export { describeAdapter, type AdapterReport, type DeviceOptions } from './device.js';
export { gentle } from './polling.js';
export { profileDispatches, timeOp, type DispatchProfile, type DispatchTime, type OpTiming } from './timing.js';

export type WebGpuResult = { backend: WebGpuBackend; reason: null } | { backend: null; reason: string };

export async function createWebGpuBackend(opts: DeviceOptions = {}): Promise<WebGpuResult> {
  const opened = await openDevice(opts);
  if (!opened.ok) return { backend: null, reason: opened.reason };
  return { backend: new WebGpuBackend(opened.context), reason: null };
}
