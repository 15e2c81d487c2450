// Finding a WebGPU adapter and opening a device on it. The GPU object comes from the platform
// (core/webgpu/gpu.ts: Dawn, the npm package `webgpu`, in Node; gpu.browser.ts: navigator.gpu in a
// page); everything after it, limits, features and the kernel caps, is read off the adapter, so kernel
// variants follow what the adapter allows, never where the code runs.
//
// Three things here are easy to get wrong:
// - WebGPU hands out its guaranteed minimum limits (16 KiB workgroup memory, 256 invocations, 128 MiB
//   buffers) unless a device asks for more, even where the adapter allows more: we ask for the
//   adapter's own limits.
// - Dawn quantizes timestamps (to blunt timing attacks in browsers) unless told not to; a kernel
//   benchmark needs them exact, so Node's Dawn gets `disable-dawn-features=timestamp_quantization`
//   (a page cannot ask: its timestamps stay quantised).
// - A machine without a GPU may still have an adapter: Mesa's lavapipe (Vulkan on the CPU) or
//   SwiftShader. It runs on the same cores as the CPU backend, so we report it as `emulated`: kernels
//   pick other tilings there, and `--backend auto` takes it only for batches of 2 or more images
//   (cli/backend.ts says why).

import { BASELINE_CAPS, type KernelCaps } from '../../kernels/webgpu/kernel.js';
import { findGpu } from './gpu.js';

/** What we tell the user about the adapter. */
export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU implementation of WebGPU (lavapipe/llvmpipe, SwiftShader, a fallback adapter). */
  emulated: boolean;
  /** Timestamp queries are available, so GPU time can be measured without the CPU's overhead. */
  timestamps: boolean;
  /** Subgroup size range, where the adapter reports one. */
  subgroupSizes: [number, number] | null;
}

export interface DeviceOptions {
  /** Extra Dawn toggles, passed to `create` (e.g. 'backend=vulkan', 'adapter=...'); Node only. */
  dawnFlags?: string[];
  powerPreference?: 'low-power' | 'high-performance';
}

/** An open device and what we know about it. */
export interface GpuContext {
  /** The GPU object (Dawn's instance in Node); held only to keep it alive (see core/webgpu/gpu.ts). */
  gpu: GPU;
  device: GPUDevice;
  adapter: AdapterReport;
  caps: KernelCaps;
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number };
}

export type OpenResult = { ok: true; context: GpuContext } | { ok: false; reason: string };

const EMULATED = /llvmpipe|lavapipe|swiftshader|software|microsoft basic render/i;

/**
 * Opens a device on the first adapter the platform's GPU offers. Never throws for a missing or unusable adapter: the
 * reason comes back as a sentence the CLI can print (the caller decides whether that is an error).
 */
export async function openDevice(opts: DeviceOptions = {}): Promise<OpenResult> {
  const found = await findGpu(opts);
  if (!found.gpu) return { ok: false, reason: found.reason };
  const gpu = found.gpu;
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference });
  } catch (e) {
    return { ok: false, reason: `requesting a WebGPU adapter failed: ${(e as Error).message}` };
  }
  if (!adapter) {
    return {
      ok: false,
      reason: `no WebGPU adapter found (${found.hint})`,
    };
  }

  const info = adapter.info;
  const text = [info.vendor, info.architecture, info.device, info.description].join(' ');
  const adapterType = (info as { adapterType?: string }).adapterType;
  const emulated = EMULATED.test(text) || adapterType === 'cpu' || (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  const timestamps = adapter.features.has('timestamp-query');
  const subgroups = adapter.features.has('subgroups');
  const sub = info as { subgroupMinSize?: number; subgroupMaxSize?: number };

  // Ask for everything the adapter allows; the defaults are WebGPU's minimums.
  const wanted = [
    'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX',
    'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupsPerDimension',
    'maxStorageBufferBindingSize', 'maxBufferSize', 'maxStorageBuffersPerShaderStage',
  ] as const;
  const requiredLimits: Record<string, number> = {};
  for (const name of wanted) requiredLimits[name] = adapter.limits[name];

  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      requiredLimits,
      requiredFeatures: [...(timestamps ? ['timestamp-query' as const] : []), ...(subgroups ? ['subgroups' as const] : [])],
      label: 'ditto',
    });
  } catch (e) {
    return { ok: false, reason: `opening a WebGPU device failed: ${(e as Error).message}` };
  }

  const caps: KernelCaps = {
    maxWorkgroupStorage: Math.max(BASELINE_CAPS.maxWorkgroupStorage, device.limits.maxComputeWorkgroupStorageSize),
    maxInvocations: Math.max(BASELINE_CAPS.maxInvocations, device.limits.maxComputeInvocationsPerWorkgroup),
    maxGridDim: device.limits.maxComputeWorkgroupsPerDimension,
    maxStorageBuffers: Math.max(BASELINE_CAPS.maxStorageBuffers, device.limits.maxStorageBuffersPerShaderStage),
    emulated,
    subgroupSize: subgroups && sub.subgroupMinSize && sub.subgroupMinSize === sub.subgroupMaxSize ? sub.subgroupMinSize : null,
  };
  return {
    ok: true,
    context: {
      gpu,
      device,
      caps,
      limits: { maxBufferSize: device.limits.maxBufferSize, maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize },
      adapter: {
        vendor: info.vendor,
        architecture: info.architecture,
        device: info.device,
        description: info.description,
        emulated,
        timestamps,
        subgroupSizes: sub.subgroupMinSize ? [sub.subgroupMinSize, sub.subgroupMaxSize ?? sub.subgroupMinSize] : null,
      },
    },
  };
}

/** The adapter in one line (the `backend:` line, benchmark reports), e.g. "llvmpipe: Mesa 25.0.7 ... (mesa, software) [CPU-emulated]". */
export function describeAdapter(a: AdapterReport): string {
  const name = a.description || a.device || a.vendor || 'unknown adapter';
  const extra = [a.vendor, a.architecture].filter(Boolean).join(', ');
  return `${name}${extra ? ` (${extra})` : ''}${a.emulated ? ' [CPU-emulated]' : ''}`;
}
