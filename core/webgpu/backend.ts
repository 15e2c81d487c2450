// The WebGPU backend: tensors live in GPU buffers and every op is one or a few compute dispatches of a
// kernel from kernels/.
//
// How an op runs: the kernel family turns the op's shapes into WGSL with every size baked in plus a
// cache key (kernels/webgpu/kernel.ts); the backend compiles each key once (the pipeline cache), takes an
// output buffer from the pool (core/webgpu/pool.ts), and records the dispatch into an open compute pass.
// Nothing is sent to the GPU until `read()` needs a result (or FLUSH_EVERY dispatches pile up, so the
// GPU can start on a long forward while the CPU is still recording it). A whole DiT forward is thus a
// few command buffers, and the only wait is the one read at the end. A loop of many forwards would
// record ever further ahead of the GPU: it awaits `throttle()`, which holds the submitted, unfinished
// batches to MAX_IN_FLIGHT.
//
// Errors are asynchronous in WebGPU (a bad shader or an out-of-memory is reported later, on the
// device timeline). The backend collects them (error scopes around pipeline creation and buffer
// allocation, the uncaptured-error event, device loss) and throws the first one, as a plain Error with
// the kernel and what to do, from the next op or read.

import type { Activation, Backend, BinaryOp, Modulation, UnaryOp } from '../backend.js';
import type { HeadSource } from '../ops.js';
import { broadcastShapes, numel, shapeString } from '../shape.js';
import { Tensor, type DType, type HostArray, type Storage } from '../tensor.js';
import { attentionOutput, type AttentionLayout } from '../../kernels/attention-layout.js';
import { attentionKernel, type AttentionPath } from '../../kernels/webgpu/attention.js';
import { binaryKernel, combinationTerms, linearCombinationKernel, unaryKernel } from '../../kernels/webgpu/elementwise.js';
import { groupNormKernel } from '../../kernels/webgpu/groupnorm.js';
import type { Kernel, KernelCaps } from '../../kernels/webgpu/kernel.js';
import { layerNormKernel, rmsNormKernel } from '../../kernels/webgpu/layernorm.js';
import { attentionHeadsKernel } from '../../kernels/webgpu/heads.js';
import { boxCopyKernel, embeddingKernel, patchifyKernel, permuteKernel, unpatchifyKernel, upsampleNearest2xKernel } from '../../kernels/webgpu/layout.js';
import { chooseMatmulPath, matmulKernel, SMALL_M, type MatmulPath, type MatmulProblem, type SubgroupConfig, type TiledConfig } from '../../kernels/webgpu/matmul.js';
import { nonFiniteKernel } from '../../kernels/webgpu/nonfinite.js';
import { softmaxKernel } from '../../kernels/webgpu/softmax.js';
import { describeAdapter, type AdapterReport, type GpuContext } from './device.js';
import { BufferPool, type PooledBuffer } from './pool.js';
import { gentle } from './polling.js';

/** Submit the recorded commands after this many dispatches, so the GPU starts while we record more. */
const FLUSH_EVERY = 64;

/**
 * Submitted command batches that may be unfinished when throttle() returns. Unbounded, a long
 * sampling run on lavapipe (whose GPU is several times slower than recording) queued about 60,000
 * dispatches and the process died of a segfault in the driver, at 650 MB of resident memory. Past the
 * bound, throttle() waits until half of it is left, so that the GPU keeps several DiT forwards of
 * work (DiT-XL: about 5 batches each) and the loop waits once per 16 batches, not after every one:
 * on lavapipe each wait slowed the emulated GPU down (10 images, 50 steps: 5.2 s with a wait per
 * batch, 4.6 s without any).
 */
export const MAX_IN_FLIGHT = 32;

const STORAGE_USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
const STAGING_USAGE = () => GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST;

/** A tensor's storage: a pooled GPU buffer, of which the first `bytes` are the tensor's. */
export class GpuStorage implements Storage {
  refs = 1;
  released = false;
  constructor(
    readonly pooled: PooledBuffer,
    readonly bytes: number,
  ) {}

  get buffer(): GPUBuffer {
    return this.pooled.buffer;
  }
}

/** Counters for tests and benchmarks. */
export interface BackendStats {
  buffersCreated: number;
  buffersReused: number;
  liveBytes: number;
  pooledBytes: number;
  pipelinesCompiled: number;
  pipelineCacheHits: number;
  dispatches: number;
  submits: number;
  /** Submitted batches not yet known to be finished. */
  inFlight: number;
  /** Calls of throttle() that had to wait for the GPU. */
  throttleWaits: number;
}

export class WebGpuBackend implements Backend {
  readonly name = 'webgpu';
  readonly device: GPUDevice;
  readonly adapter: AdapterReport;
  readonly caps: KernelCaps;
  /**
   * Kernel choices that override the per-adapter defaults, for tests (every path on every adapter)
   * and benchmarks (compare paths and tilings). A forced 'smallM' applies only where M <= 8.
   */
  readonly overrides: {
    matmul?: MatmulPath; tiled?: TiledConfig; subgroup?: SubgroupConfig; attention?: AttentionPath; attentionQueriesPerLane?: number;
  } = {};

  /** Buffer size limits of the device (bytes). */
  readonly limits: GpuContext['limits'];
  readonly maxTensorElements: number;
  /** Kept reachable: Dawn must not collect its instance while the device lives (see device.ts). */
  private readonly gpu: GPU;
  private readonly pool: BufferPool;
  private readonly staging: BufferPool;
  private readonly pipelines = new Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  /** Counts the passes begun, so timed recording can tell whether its pass survived. */
  private passSerial = 0;
  /** Index of the batch of commands being recorded now (= submits so far). */
  private batch = 0;
  /** Dispatches recorded and not yet submitted. */
  private unsubmitted = 0;
  private failure: Error | null = null;
  private readonly scopes: Promise<unknown>[] = [];
  private disposed = false;
  private readonly counters = { pipelinesCompiled: 0, pipelineCacheHits: 0, dispatches: 0, submits: 0, throttleWaits: 0 };
  /** Submitted batches not yet known to be finished, oldest first: `done` settles when batch `serial` has. */
  private readonly inFlight: { serial: number; done: Promise<void> }[] = [];

  constructor(context: GpuContext) {
    this.gpu = context.gpu;
    this.device = context.device;
    this.adapter = context.adapter;
    this.caps = context.caps;
    this.limits = context.limits;
    // A kernel binds a tensor's whole buffer: neither the tensor (4-byte elements) nor its buffer may
    // outgrow the binding limit.
    this.maxTensorElements = Math.floor(this.limits.maxStorageBufferBindingSize / 4);
    const align4 = (n: number) => Math.floor(n / 4) * 4;
    this.pool = new BufferPool((size) => this.createBuffer(size, STORAGE_USAGE(), 'tensor'), align4(this.limits.maxStorageBufferBindingSize));
    this.staging = new BufferPool((size) => this.createBuffer(size, STAGING_USAGE(), 'staging'), align4(this.limits.maxBufferSize));
    this.device.lost.then((info) => {
      if (!this.disposed) this.fail(new Error(`the WebGPU device was lost (${info.reason}): ${info.message || 'no details'}; restart the process`));
    });
    this.device.addEventListener('uncapturederror', (event) => {
      // Dawn's default for an uncaptured error is to print it on stdout, which would corrupt --json
      // output; it comes out of the next op or read instead.
      event.preventDefault();
      this.fail(new Error(`WebGPU error: ${(event as GPUUncapturedErrorEvent).error.message}`));
    });
  }

  /** The adapter in one line (see describeAdapter). */
  describe(): string {
    return describeAdapter(this.adapter);
  }

  stats(): BackendStats {
    const p = this.pool.stats;
    return {
      buffersCreated: p.created,
      buffersReused: p.reused,
      liveBytes: p.liveBytes,
      pooledBytes: p.freeBytes,
      ...this.counters,
      inFlight: this.inFlight.length,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Memory

  upload(data: HostArray, shape: readonly number[], dtype: DType): Tensor {
    this.check();
    const size = numel(shape);
    if (data.length !== size) throw new Error(`upload: ${data.length} values do not fill shape ${shapeString(shape)}`);
    const t = this.empty(shape, dtype, this.batch);
    if (size === 0) return t;
    const s = t.storage as GpuStorage;
    // writeBuffer runs before any command still being recorded; if such a command used this buffer
    // (it was released during this recording, and the pool had no other), submit those commands first.
    if (s.pooled.releasedInBatch === this.batch && this.unsubmitted > 0) this.flush();
    // Convert if the host array's type does not match (as the CPU backend's typed-array set does), and
    // copy out of a SharedArrayBuffer (CPU tensors), which Dawn does not accept.
    const wanted = dtype === 'f32' ? Float32Array : Int32Array;
    // A page that is not cross-origin isolated has no SharedArrayBuffer at all.
    const shared = typeof SharedArrayBuffer !== 'undefined' && data.buffer instanceof SharedArrayBuffer;
    const src = data instanceof wanted && !shared ? data : wanted.from(data);
    this.device.queue.writeBuffer(s.buffer, 0, src.buffer, src.byteOffset, src.byteLength);
    return t;
  }

  async read(t: Tensor): Promise<HostArray> {
    this.check();
    const s = this.storageOf(t);
    const bytes = t.size * 4;
    if (bytes === 0) return t.dtype === 'f32' ? new Float32Array(0) : new Int32Array(0);
    const staging = this.staging.acquire(bytes);
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(s.buffer, 0, staging.buffer, 0, bytes);
    this.flush();
    const serial = this.counters.submits;
    try {
      await gentle(staging.buffer.mapAsync(GPUMapMode.READ, 0, bytes));
      this.retire(serial);
    } catch (e) {
      await this.settle();
      throw this.failure ?? this.consequence ?? new Error(`reading a tensor back from the GPU failed: ${(e as Error).message}`);
    }
    // Only the tensor's bytes are mapped and copied, never the whole (size-class) buffer.
    const copy = staging.buffer.getMappedRange(0, bytes).slice(0);
    staging.buffer.unmap();
    this.staging.release(staging, this.batch);
    await this.settle();
    this.check(true);
    return t.dtype === 'f32' ? new Float32Array(copy) : new Int32Array(copy);
  }

  release(storage: Storage): void {
    const s = storage as GpuStorage;
    if (s.released || this.disposed) return;
    s.released = true;
    this.pool.release(s.pooled, this.batch);
  }

  /** Submits everything recorded and waits for the GPU to finish it. */
  async sync(): Promise<void> {
    this.check();
    this.flush();
    const serial = this.counters.submits;
    await gentle(this.device.queue.onSubmittedWorkDone());
    this.retire(serial);
    await this.settle();
    this.check(true);
  }

  /**
   * Where more than MAX_IN_FLIGHT submitted batches are pending, waits (oldest first) until half as
   * many are. Until the caller awaits something, Dawn cannot report finished work, so `inFlight` only
   * shrinks here (or in a read or sync).
   */
  async throttle(): Promise<void> {
    this.check();
    if (this.inFlight.length <= MAX_IN_FLIGHT) return;
    this.counters.throttleWaits++;
    while (this.inFlight.length > MAX_IN_FLIGHT / 2) await gentle(this.inFlight[0].done);
    this.check();
  }

  /** Destroys the device and every buffer; the backend is unusable afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.pass = null;
    this.encoder = null;
    this.pool.trim();
    this.staging.trim();
    this.pipelines.clear();
    this.device.destroy();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  // ---------------------------------------------------------------------------------------------
  // Ops

  linear(x: Tensor, w: Tensor, bias: Tensor | null, act: Activation): Tensor {
    const [m, k] = x.shape;
    const n = w.shape[0];
    const problem: MatmulProblem = { batch: 1, m, n, k, bLayout: 'nk', bBatched: false, bias: bias !== null, act, alpha: 1 };
    return this.run(this.matmulKernel(problem), bias ? [x, w, bias] : [x, w], [m, n]);
  }

  /**
   * Batched matmul, a WebGPU-only extra for benchmarks (unfused attention): C[i] = alpha * A[i]·B[i]
   * with A [batch, M, K] and B [batch, N, K] (transposeB, like a Linear weight) or [batch, K, N].
   */
  matmul(a: Tensor, b: Tensor, opts: { transposeB: boolean; alpha?: number }): Tensor {
    const [batch, m, k] = a.shape;
    const n = opts.transposeB ? b.shape[1] : b.shape[2];
    const expected = opts.transposeB ? [batch, n, k] : [batch, k, n];
    if (a.rank !== 3 || b.rank !== 3 || b.shape.some((d, i) => d !== expected[i])) {
      throw new Error(`matmul: ${shapeString(a.shape)} and ${shapeString(b.shape)} do not multiply`);
    }
    const problem: MatmulProblem = {
      batch, m, n, k, bLayout: opts.transposeB ? 'nk' : 'kn', bBatched: true, bias: false, act: 'none', alpha: opts.alpha ?? 1,
    };
    return this.run(this.matmulKernel(problem), [a, b], [batch, m, n]);
  }

  private matmulKernel(problem: MatmulProblem): Kernel {
    let path = this.overrides.matmul ?? chooseMatmulPath(problem, this.caps);
    if (path === 'smallM' && (problem.m > SMALL_M || problem.batch !== 1 || problem.bLayout !== 'nk' || problem.conv)) path = chooseMatmulPath(problem, this.caps);
    return matmulKernel(problem, this.caps, { path, tiled: this.overrides.tiled, subgroup: this.overrides.subgroup });
  }

  binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
    const shape = broadcastShapes(a.shape, b.shape);
    return this.run(binaryKernel(op, a.shape, b.shape, shape, this.caps), [a, b], shape);
  }

  linearCombination(xs: readonly Tensor[], weights: readonly number[]): Tensor {
    // One dispatch per `slots` terms, always that many bindings (one pipeline for any count): a short
    // dispatch binds xs[0] to its unused slots, which the kernel reads but leaves out of the sum.
    const slots = combinationTerms(this.caps);
    let acc: Tensor | null = null;
    for (let start = 0; start < xs.length; start += slots) {
      const chunk = xs.slice(start, start + slots);
      const w = this.upload(Float32Array.from([chunk.length, ...weights.slice(start, start + slots)]), [1 + chunk.length], 'f32');
      while (chunk.length < slots) chunk.push(xs[0]);
      const kernel = linearCombinationKernel(xs[0].size, slots, acc !== null, this.caps);
      const next: Tensor = this.run(kernel, [w, ...(acc ? [acc] : []), ...chunk], xs[0].shape);
      w.dispose();
      acc?.dispose();
      acc = next;
    }
    return acc!;
  }

  unary(op: UnaryOp, x: Tensor): Tensor {
    return this.run(unaryKernel(op, x.size, this.caps), [x], x.shape);
  }

  flagNonFinite(xs: readonly Tensor[], flags: Tensor, index: number): void {
    const sizes = xs.map((x) => x.size);
    if (Math.max(...sizes) === 0) return;
    const slot = this.upload(Int32Array.from([index]), [1], 'i32');
    this.dispatch(nonFiniteKernel(sizes, this.caps), [...xs, slot, flags]);
    slot.dispose();
  }

  layerNorm(x: Tensor, eps: number, mod: Modulation | null): Tensor {
    const dim = x.shape[x.rank - 1];
    const rows = x.size / dim;
    const modulation = mod && { tokens: x.shape[1], width: mod.table.shape[1], shift: mod.shift, scale: mod.scale };
    return this.run(layerNormKernel(rows, dim, eps, modulation, this.caps), mod ? [x, mod.table] : [x], x.shape);
  }

  rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
    const dim = x.shape[x.rank - 1];
    return this.run(rmsNormKernel(x.size / dim, dim, eps, this.caps), [x, weight], x.shape);
  }

  attentionHeads(sources: readonly HeadSource[], heads: number, headDim: number, table: Tensor | null, eps: number): Tensor {
    const B = sources[0].x.shape[0], T = sources.reduce((a, s) => a + s.x.shape[1], 0);
    const streams = sources.map((s) => ({ tokens: s.x.shape[1], width: s.x.shape[2], offset: s.offset, norm: s.norm !== null }));
    const kernel = attentionHeadsKernel(B, heads, headDim, streams, table ? table.shape[0] : null, eps, this.caps);
    const inputs = [...sources.map((s) => s.x), ...sources.flatMap((s) => (s.norm ? [s.norm] : [])), ...(table ? [table] : [])];
    return this.run(kernel, inputs, [B * heads, T, headDim]);
  }

  /** One matmul whose epilogue adds the gated residual (kernels/webgpu/matmul.ts, GatedEpilogue). */
  linearGatedResidual(x: Tensor, mod: Tensor, gate: number, h: Tensor, w: Tensor, bias: Tensor | null): Tensor {
    const [b, t, n] = x.shape;
    const problem: MatmulProblem = {
      batch: 1, m: b * t, n, k: h.shape[2], bLayout: 'nk', bBatched: false, bias: bias !== null, act: 'none', alpha: 1,
      gated: { tokens: t, width: mod.shape[1], offset: gate },
    };
    return this.run(this.matmulKernel(problem), [h, w, ...(bias ? [bias] : []), x, mod], x.shape);
  }

  softmax(x: Tensor): Tensor {
    const dim = x.shape[x.rank - 1];
    return this.run(softmaxKernel(x.size / dim, dim, this.caps), [x], x.shape);
  }

  attention(q: Tensor, k: Tensor, v: Tensor, scale: number, layout: AttentionLayout): Tensor {
    const kernel = attentionKernel(layout, scale, this.caps, this.overrides.attention, this.overrides.attentionQueriesPerLane);
    return this.run(kernel, [q, k, v], attentionOutput(layout).shape);
  }

  embedding(table: Tensor, ids: Tensor): Tensor {
    const [rows, dim] = table.shape;
    // The kernel reads the ids first: it gathers through them.
    return this.run(embeddingKernel(ids.size, rows, dim, this.caps), [ids, table], [...ids.shape, dim]);
  }

  permute(x: Tensor, perm: readonly number[]): Tensor {
    return this.run(permuteKernel(x.shape, perm, this.caps), [x], perm.map((p) => x.shape[p]), x.dtype);
  }

  slice(x: Tensor, axis: number, start: number, end: number): Tensor {
    const shape = x.shape.slice();
    shape[axis] = end - start;
    const { outer, inner } = around(x.shape, axis);
    return this.run(boxCopyKernel(outer, inner, end - start, x.shape[axis], start, end - start, 0, this.caps), [x], shape, x.dtype);
  }

  concat(xs: readonly Tensor[], axis: number): Tensor {
    const shape = xs[0].shape.slice();
    shape[axis] = xs.reduce((a, t) => a + t.shape[axis], 0);
    const out = this.empty(shape, xs[0].dtype);
    const { outer, inner } = around(shape, axis);
    // One box copy per input, each writing its own stretch of the output's axis.
    let offset = 0;
    for (const x of xs) {
      const len = x.shape[axis];
      this.dispatch(boxCopyKernel(outer, inner, len, len, 0, shape[axis], offset, this.caps), [x, out]);
      offset += len;
    }
    return out;
  }

  patchify(x: Tensor, p: number): Tensor {
    const [n, c, h, w] = x.shape;
    return this.run(patchifyKernel(n, c, h, w, p, this.caps), [x], [n, (h / p) * (w / p), c * p * p]);
  }

  unpatchify(x: Tensor, p: number, channels: number, h: number, w: number): Tensor {
    const n = x.shape[0];
    return this.run(unpatchifyKernel(n, channels, h, w, p, this.caps), [x], [n, channels, h * p, w * p]);
  }

  /** The matmul kernels with A read as im2col(x): an implicit GEMM (kernels/webgpu/matmul.ts). */
  conv2d(x: Tensor, w: Tensor, bias: Tensor | null, padding: number): Tensor {
    const [n, channels, height, width] = x.shape;
    const [o, , kernelH, kernelW] = w.shape;
    const oh = height + 2 * padding - kernelH + 1, ow = width + 2 * padding - kernelW + 1;
    const problem: MatmulProblem = {
      batch: n, m: oh * ow, n: o, k: channels * kernelH * kernelW, bLayout: 'nk', bBatched: false, bias: bias !== null, act: 'none', alpha: 1,
      conv: { channels, height, width, kernelH, kernelW, padding },
    };
    return this.run(this.matmulKernel(problem), bias ? [x, w, bias] : [x, w], [n, o, oh, ow]);
  }

  groupNorm(x: Tensor, groups: number, eps: number, weight: Tensor, bias: Tensor, silu: boolean): Tensor {
    const [n, channels] = x.shape;
    return this.run(groupNormKernel(n, channels, x.size / Math.max(1, n * channels), groups, eps, silu, this.caps), [x, weight, bias], x.shape);
  }

  upsampleNearest2x(x: Tensor): Tensor {
    const [n, c, h, w] = x.shape;
    return this.run(upsampleNearest2xKernel(n * c, h, w, this.caps), [x], [n, c, 2 * h, 2 * w], x.dtype);
  }

  // ---------------------------------------------------------------------------------------------
  // Recording and submitting

  /** Runs `kernel` on `inputs` into a new tensor of `shape`; an empty output needs no kernel at all. */
  run(kernel: Kernel, inputs: readonly Tensor[], shape: readonly number[], dtype: DType = 'f32'): Tensor {
    const out = this.empty(shape, dtype);
    if (out.size > 0) this.dispatch(kernel, [...inputs, out]);
    return out;
  }

  /** Records one dispatch of `kernel` with `tensors` bound in order (inputs, then the output). */
  dispatch(kernel: Kernel, tensors: readonly Tensor[]): void {
    this.check();
    if (kernel.grid.some((g) => g === 0)) return;
    const { pipeline, layout } = this.pipeline(kernel);
    const bindGroup = this.device.createBindGroup({
      layout,
      entries: tensors.map((t, i) => ({ binding: i, resource: { buffer: this.storageOf(t).buffer } })),
    });
    const record = (pass: GPUComputePassEncoder) => {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(kernel.grid[0], kernel.grid[1], kernel.grid[2]);
    };
    // A profiled dispatch that gets timestamp writes runs alone in its own pass, which writes them.
    const writes = this.profiler?.(kernel, record);
    if (writes) this.endPass();
    record(this.computePass(writes));
    if (writes) this.endPass();
    this.counters.dispatches++;
    if (++this.unsubmitted >= FLUSH_EVERY && !this.timing) this.flush();
  }

  /** Submits everything recorded so far (without waiting for it). */
  flush(): void {
    this.endPass();
    if (!this.encoder) return;
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.unsubmitted = 0;
    this.batch++;
    const serial = ++this.counters.submits;
    // Settles when the GPU has finished this batch and every earlier one. It rejects only when the
    // device is lost, which the lost handler reports.
    const done = this.device.queue.onSubmittedWorkDone().then(() => this.retire(serial), () => this.retire(serial));
    this.inFlight.push({ serial, done });
  }

  /** Batches finish in submission order: `serial` done means every earlier one is. */
  private retire(serial: number): void {
    while (this.inFlight.length > 0 && this.inFlight[0].serial <= serial) this.inFlight.shift();
  }

  // ---------------------------------------------------------------------------------------------
  // Timing support (core/webgpu/timing.ts)

  private timing = false;

  /**
   * Profile mode (profileDispatches in core/webgpu/timing.ts): told of every dispatch, with a function
   * that records it into a given pass (to replay it later); where it returns timestamp writes, the
   * dispatch gets a compute pass of its own that writes them.
   */
  profiler: ((kernel: Kernel, record: (pass: GPUComputePassEncoder) => void) => GPUComputePassTimestampWrites | undefined) | null = null;

  /**
   * Records everything `fn` dispatches in one compute pass that writes a timestamp into `querySet` at
   * `index` when it starts and at `index + 1` when it ends. `fn` must only record ops (no upload or read,
   * which would end the pass early).
   */
  recordTimed<T>(fn: () => T, querySet: GPUQuerySet, index: number): T {
    this.check();
    this.endPass();
    this.computePass({ querySet, beginningOfPassWriteIndex: index, endOfPassWriteIndex: index + 1 });
    const serial = this.passSerial;
    this.timing = true;
    let result: T;
    try {
      result = fn();
    } finally {
      this.timing = false;
    }
    if (this.passSerial !== serial || !this.pass) throw new Error('timeOp: the timed function ended the compute pass (did it upload or read?)');
    this.endPass();
    return result;
  }

  /** Reads `count` timestamps (nanoseconds) out of a query set. */
  async readTimestamps(querySet: GPUQuerySet, count: number): Promise<BigInt64Array> {
    const bytes = count * 8;
    const resolve = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const staging = this.device.createBuffer({ size: bytes, usage: STAGING_USAGE() });
    this.endPass();
    const encoder = this.commandEncoder();
    encoder.resolveQuerySet(querySet, 0, count, resolve, 0);
    encoder.copyBufferToBuffer(resolve, 0, staging, 0, bytes);
    this.flush();
    await gentle(staging.mapAsync(GPUMapMode.READ));
    const times = new BigInt64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    resolve.destroy();
    staging.destroy();
    await this.settle();
    this.check(true);
    return times;
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  /** A new tensor; `avoid`: preferably in a buffer not released during that batch (see upload). */
  private empty(shape: readonly number[], dtype: DType, avoid?: number): Tensor {
    this.check();
    const bytes = numel(shape) * 4;
    if (bytes > this.limits.maxStorageBufferBindingSize) {
      throw new Error(
        `a ${dtype} tensor of shape ${shapeString(shape)} needs ${mib(bytes)} but this GPU binds at most ${mib(this.limits.maxStorageBufferBindingSize)} per buffer; use a smaller batch or resolution, or --backend cpu`,
      );
    }
    return new Tensor(this, shape, dtype, new GpuStorage(this.pool.acquire(Math.max(bytes, 4), avoid), bytes));
  }

  private storageOf(t: Tensor): GpuStorage {
    if (t.backend !== this) throw new Error(`${t} does not live on this WebGPU backend`);
    const s = t.storage as GpuStorage;
    if (s.released) throw new Error(`${t} was used after it was disposed`);
    return s;
  }

  private createBuffer(size: number, usage: number, label: string): GPUBuffer {
    this.device.pushErrorScope('out-of-memory');
    const buffer = this.device.createBuffer({ size, usage, label: `${label} ${size}` });
    this.watch(this.device.popErrorScope(), (error) =>
      new Error(`out of GPU memory allocating ${mib(size)} (${mib(this.pool.stats.liveBytes)} in live tensors): ${error.message}; use a smaller batch or resolution, or --backend cpu`),
    );
    return buffer;
  }

  private pipeline(kernel: Kernel): { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout } {
    const cached = this.pipelines.get(kernel.key);
    if (cached) {
      this.counters.pipelineCacheHits++;
      return cached;
    }
    const code = kernel.wgsl();
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code, label: kernel.key });
    const pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: kernel.key });
    // Inside the scope too: on an invalid pipeline this fails, and the compile error is the one to report.
    const layout = pipeline.getBindGroupLayout(0);
    this.watch(this.device.popErrorScope(), async (error) => {
      const info = await module.getCompilationInfo();
      const messages = info.messages.map((m) => `  line ${m.lineNum}:${m.linePos} ${m.type}: ${m.message}`).join('\n');
      const numbered = code.split('\n').map((line, i) => `${String(i + 1).padStart(4)} ${line}`).join('\n');
      return new Error(`WebGPU kernel ${kernel.key} is invalid: ${error.message}\n${messages}\n${numbered}`);
    });
    const entry = { pipeline, layout };
    this.pipelines.set(kernel.key, entry);
    this.counters.pipelinesCompiled++;
    return entry;
  }

  /** Turns an error scope's result, when it reports an error, into the backend's failure. */
  private watch(scope: Promise<GPUError | null>, describe: (error: GPUError) => Error | Promise<Error>): void {
    this.scopes.push(scope.then(async (error) => {
      if (error) this.fail(await describe(error));
    }));
  }

  /** Waits for every pending error scope, so `failure` is up to date. */
  private async settle(): Promise<void> {
    const pending = this.scopes.splice(0);
    await gentle(Promise.all(pending));
  }

  private fail(error: Error): void {
    // An invalid pipeline makes every later use of it an error too ("... is invalid due to a previous
    // error"). Those arrive first (synchronously), the cause later (from its error scope): keep them
    // apart, so that the cause is what the user sees.
    if (/due to a previous error/.test(error.message)) this.consequence ??= error;
    else this.failure ??= error;
  }

  private consequence: Error | null = null;

  /** Throws the first error so far. `settled`: every error scope has reported, so consequences count too. */
  private check(settled = false): void {
    if (this.disposed) throw new Error('the WebGPU backend was disposed');
    if (this.failure) throw this.failure;
    if (settled && this.consequence) throw this.consequence;
  }

  private commandEncoder(): GPUCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  private computePass(timestampWrites?: GPUComputePassTimestampWrites): GPUComputePassEncoder {
    if (!this.pass) {
      this.pass = this.commandEncoder().beginComputePass(timestampWrites ? { timestampWrites } : {});
      this.passSerial++;
    }
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }
}

/** Elements before and after `axis`: a tensor viewed as [outer, shape[axis], inner]. */
function around(shape: readonly number[], axis: number): { outer: number; inner: number } {
  return {
    outer: shape.slice(0, axis).reduce((a, d) => a * d, 1),
    inner: shape.slice(axis + 1).reduce((a, d) => a * d, 1),
  };
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
