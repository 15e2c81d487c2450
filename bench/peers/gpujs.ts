// gpu.js (npm gpu.js 2.24), the "GPGPU in plain JavaScript" peer: a kernel is a JavaScript function run
// once per output element, which gpu.js translates to a shader. Since 2.20 it has a WebGPU backend
// (WGSL compute shaders over f32 storage buffers), opt-in with `new GPU({ mode: 'webgpu' })`; its
// Node default is headless-gl, and without that (as here) WebAssembly ('webasm'). The WebGPU mode
// works in Node once navigator.gpu is a Dawn GPU object (bench/kernels.ts sets it): gpu.js then opens
// its own device on the adapter Dawn finds first, the same adapter as ours.
//
// Timing: gpu.js exposes none, so we make its device request 'timestamp-query' and add timestamp
// writes to each compute pass it begins while a run is timed (PassClock below): the same GPU time we
// measure for our kernels, without its uploads and readbacks. Where it cannot run on WebGPU, we
// benchmark the mode it does run in, by wall clock, and say so in the row's "mode".
//
// The kernels are the straightforward ones a gpu.js user writes (its README's matmul): one thread per
// output, no tiling or workgroup memory, which gpu.js cannot express.

import { createRequire } from 'node:module';
import type { IKernelFunctionThis } from 'gpu.js';
import { importPackage, loadPeer, type AttentionPeer, type Importer, type PeerOp, type PeerResult, type PeerRun } from './peer.js';

type GpuJs = typeof import('gpu.js');
type This = IKernelFunctionThis<{ [name: string]: number }>;

// --- The kernels. gpu.js reads their source text, so they must stay self-contained: only their
// arguments, this.thread (the output index, x innermost) and this.constants.

/** out[y][x] = a[y] · b[x] for a [M][K], b [N][K]. */
function matmulKernel(this: This, a: number[][], b: number[][]): number {
  let sum = 0;
  for (let i = 0; i < this.constants.k; i++) {
    sum += a[this.thread.y][i] * b[this.thread.x][i];
  }
  return sum;
}

/** Attention scores s[h][i][j] = scale * q[h][i] · k[h][j]. */
function scoresKernel(this: This, q: number[][][], k: number[][][]): number {
  let sum = 0;
  for (let i = 0; i < this.constants.hd; i++) {
    sum += q[this.thread.z][this.thread.y][i] * k[this.thread.z][this.thread.x][i];
  }
  return sum * this.constants.scale;
}

/** Softmax row statistics: [h][i][0] the max of row i, [h][i][1] the sum of exp(s - max). */
function rowStatsKernel(this: This, s: number[][][]): number {
  let max = s[this.thread.z][this.thread.y][0];
  for (let j = 1; j < this.constants.t; j++) {
    max = Math.max(max, s[this.thread.z][this.thread.y][j]);
  }
  if (this.thread.x === 0) {
    return max;
  }
  let sum = 0;
  for (let j = 0; j < this.constants.t; j++) {
    sum += Math.exp(s[this.thread.z][this.thread.y][j] - max);
  }
  return sum;
}

/** Softmax probabilities p = exp(s - max) / sum. */
function probabilitiesKernel(this: This, s: number[][][], stats: number[][][]): number {
  // (gpu.js cannot hold a sub-array in a variable: index in full.)
  const max = stats[this.thread.z][this.thread.y][0];
  return Math.exp(s[this.thread.z][this.thread.y][this.thread.x] - max) / stats[this.thread.z][this.thread.y][1];
}

/** out[h][i][d] = sum_j p[h][i][j] v[h][j][d]. */
function weightedSumKernel(this: This, p: number[][][], v: number[][][]): number {
  let sum = 0;
  for (let j = 0; j < this.constants.t; j++) {
    sum += p[this.thread.z][this.thread.y][j] * v[this.thread.z][j][this.thread.x];
  }
  return sum;
}

// --- Loading and timing

/** Its attention takes four kernels: scores, row max and sum, probabilities, P·V. */
export interface Gpujs extends AttentionPeer {
  /** The backend gpu.js runs on: 'webgpu', or the mode it fell back to. */
  mode: string;
  /** Why it is not on WebGPU, where it is not. */
  fallbackReason: string | null;
}

/**
 * GPU time of the compute passes recorded on a device we do not drive. While `time(fn)` runs `fn`,
 * every compute pass begun on the device gets timestamp writes at its start and end; afterwards the
 * timestamps are resolved and the passes' durations summed.
 */
class PassClock {
  private readonly querySet: GPUQuerySet;
  private passes = 0;
  private armed = false;

  constructor(private readonly device: GPUDevice, private readonly capacity = 16) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * capacity });
    const createEncoder = device.createCommandEncoder.bind(device);
    device.createCommandEncoder = (descriptor?: GPUCommandEncoderDescriptor) => {
      const encoder = createEncoder(descriptor);
      const beginPass = encoder.beginComputePass.bind(encoder);
      encoder.beginComputePass = (pass?: GPUComputePassDescriptor) => {
        if (!this.armed) return beginPass(pass);
        if (this.passes === this.capacity) throw new Error(`gpu.js timing: more than ${this.capacity} passes in one run`);
        const i = this.passes++;
        return beginPass({ ...pass, timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
      };
      return encoder;
    };
  }

  async time(fn: () => Promise<unknown>): Promise<number> {
    this.passes = 0;
    this.armed = true;
    try {
      await fn();
    } finally {
      this.armed = false;
    }
    const bytes = 16 * this.passes;
    const resolved = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const encoder = this.device.createCommandEncoder();
    encoder.resolveQuerySet(this.querySet, 0, 2 * this.passes, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    // Mapping waits for everything submitted before, gpu.js's passes included.
    await staging.mapAsync(GPUMapMode.READ);
    const stamps = new BigInt64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    resolved.destroy();
    staging.destroy();
    let ns = 0n;
    for (let i = 0; i < this.passes; i++) ns += stamps[2 * i + 1] - stamps[2 * i];
    return Number(ns) / 1e6;
  }
}

type Navigator = { gpu?: GPU };

/** The device gpu.js opened (it opens one per process, on its first WebGPU kernel), and its clock. */
let opened: { device: GPUDevice; clock: PassClock | null } | null = null;

/**
 * Makes the devices gpu.js opens through navigator.gpu request 'timestamp-query' where the adapter
 * has it, and remembers them: gpu.js asks for no features and does not expose its device.
 */
function watchDevices(gpu: GPU): void {
  const requestAdapter = gpu.requestAdapter.bind(gpu);
  gpu.requestAdapter = async (options?: GPURequestAdapterOptions) => {
    const adapter = await requestAdapter(options);
    if (!adapter) return adapter;
    const requestDevice = adapter.requestDevice.bind(adapter);
    adapter.requestDevice = async (descriptor: GPUDeviceDescriptor = {}) => {
      const timestamps = adapter.features.has('timestamp-query');
      const features = [...(descriptor.requiredFeatures ?? []), ...(timestamps ? ['timestamp-query' as const] : [])];
      const device = await requestDevice({ ...descriptor, requiredFeatures: features });
      opened = { device, clock: timestamps ? new PassClock(device) : null };
      return device;
    };
    return adapter;
  };
}

const GPUJS_PACKAGES = ['gpu.js'] as const;

/** gpu.js as loaded through each importer: it opens its device once per process. A failed load is not kept. */
const loads = new Map<Importer, Promise<Gpujs>>();

export function loadGpujs(importer: Importer = importPackage): Promise<PeerResult<Gpujs>> {
  return loadPeer(GPUJS_PACKAGES, () => {
    let loading = loads.get(importer);
    if (!loading) {
      loading = load(importer).catch((e) => {
        loads.delete(importer);
        throw e;
      });
      loads.set(importer, loading);
    }
    return loading;
  });
}

async function load(importer: Importer): Promise<Gpujs> {
  const gpujs = (await importer('gpu.js')) as GpuJs;
  const { GPU, Input } = gpujs;
  // gpu.js's Input: a flat array viewed with a shape, innermost dimension first.
  const input = (data: Float32Array, size: [number, number] | [number, number, number]) => new Input(data as unknown as number[], size);
  const version = (createRequire(import.meta.url)('gpu.js/package.json') as { version: string }).version;

  // WebGPU if it runs a kernel here, else whatever gpu.js picks by itself.
  let gpu: InstanceType<GpuJs['GPU']>;
  let fallbackReason: string | null = null;
  const navigatorGpu = (globalThis as { navigator?: Navigator }).navigator?.gpu;
  try {
    if (!navigatorGpu) throw new Error('navigator.gpu is not set');
    watchDevices(navigatorGpu);
    gpu = new GPU({ mode: 'webgpu' });
    const probe = gpu.createKernel(function (this: This, a: number[]) { return a[this.thread.x] * 2; }, { output: [4] });
    const out = await (probe(Float32Array.from([1, 2, 3, 4])) as unknown as Promise<Float32Array>);
    if (out[3] !== 8 || !opened) throw new Error('a probe kernel gave a wrong result');
    probe.destroy();
  } catch (e) {
    fallbackReason = `WebGPU mode failed: ${(e as Error).message.split('\n')[0]}`;
    gpu = new GPU();
  }
  const mode = gpu.mode;
  const onWebGpu = mode === 'webgpu';

  type Call = (...args: unknown[]) => unknown;
  /** A kernel: on WebGPU its result stays on the GPU (a buffer handle the next kernel takes). */
  const kernel = (fn: Function, output: number[], constants: Record<string, number>) =>
    gpu.createKernel(fn as never, { output, constants, pipeline: onWebGpu }) as unknown as Call & { destroy(): void };

  /** A PeerOp for a chain of kernels, `call` running them once and returning the last result. */
  function peerOp(call: () => Promise<unknown>, kernels: { destroy(): void }[]): PeerOp {
    return {
      async run(): Promise<PeerRun> {
        if (onWebGpu && opened?.clock) return { ms: await opened.clock.time(call), timing: 'timestamp' };
        const start = performance.now();
        await call();
        // On WebGPU without timestamps, until the GPU is done; other modes compute synchronously.
        if (onWebGpu && opened) await opened.device.queue.onSubmittedWorkDone();
        return { ms: performance.now() - start, timing: onWebGpu ? 'wall-sync' : 'wall' };
      },
      async read(): Promise<Float32Array> {
        const out = await call();
        const handle = out as { toArray?: () => Promise<unknown> };
        return flatten(onWebGpu && handle.toArray ? await handle.toArray() : out);
      },
      dispose(): void {
        for (const k of kernels) k.destroy();
      },
    };
  }

  return {
    version: `gpu.js ${version}`,
    mode,
    fallbackReason,
    matmul(x, w, m, k, n) {
      const a = input(x, [k, m]), b = input(w, [k, n]);
      const mm = kernel(matmulKernel, [n, m], { k });
      return peerOp(async () => mm(a, b), [mm]);
    },
    attention(q, k, v, bh, t, hd, scale) {
      const [iq, ik, iv] = [q, k, v].map((data) => input(data, [hd, t, bh]));
      const scores = kernel(scoresKernel, [t, t, bh], { hd, scale });
      const stats = kernel(rowStatsKernel, [2, t, bh], { t });
      const probs = kernel(probabilitiesKernel, [t, t, bh], {});
      const weighted = kernel(weightedSumKernel, [hd, t, bh], { t });
      return peerOp(async () => {
        const s = await scores(iq, ik);
        const p = await probs(s, await stats(s));
        return weighted(p, iv);
      }, [scores, stats, probs, weighted]);
    },
  };
}

/** gpu.js returns nested arrays of Float32Array rows; one flat row-major array. */
function flatten(out: unknown): Float32Array {
  const rows: Float32Array[] = [];
  const walk = (x: unknown): void => {
    if (x instanceof Float32Array) rows.push(x);
    else if (Array.isArray(x)) x.forEach(walk);
    else throw new Error(`gpu.js returned ${typeof x}, expected arrays of Float32Array`);
  };
  walk(out);
  const flat = new Float32Array(rows.reduce((a, r) => a + r.length, 0));
  let offset = 0;
  for (const r of rows) {
    flat.set(r, offset);
    offset += r.length;
  }
  return flat;
}
