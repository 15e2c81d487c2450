// The CPU backend in pure TypeScript. Tensors live in SharedArrayBuffers so that the worker threads
// of a ThreadPool can compute on them in place; the matmul and attention kernels run on every core,
// the cheap memory-bound ops on the calling thread. The linear layer (with the attention's two
// products) and the convolution have two kernels each: TypeScript (kernels/cpu/matmul.ts, conv.ts, the
// references) and WebAssembly SIMD emitted at run time (kernels/cpu/wasm/matmul.ts, conv.ts);
// DITTO_CPU_KERNELS=ts|simd chooses, simd by default where it validates. With simd, GELU/SiLU,
// softmax, LayerNorm(+modulate) and GroupNorm(+SiLU) also run as WebAssembly SIMD
// (kernels/cpu/wasm/rows.ts), split over the threads; the other memory-bound ops stay TypeScript on
// the calling thread.

import type { Activation, Backend, BinaryOp, Modulation, UnaryOp } from '../backend.js';
import type { HeadSource } from '../ops.js';
import { broadcastShapes, numel } from '../shape.js';
import { Tensor, type DType, type HostArray, type Storage } from '../tensor.js';
import { attentionOutput, type AttentionLayout } from '../../kernels/attention-layout.js';
import { CONV_BLOCK, convOutputSize, type Conv2dArgs } from '../../kernels/cpu/conv.js';
import * as elementwise from '../../kernels/cpu/elementwise.js';
import * as layout from '../../kernels/cpu/layout.js';
import { convBandRows } from '../../kernels/cpu/wasm/conv.js';
import { matmulVariant, packedPanelsLength, type SimdLinearArgs } from '../../kernels/cpu/wasm/matmul.js';
import { UserError } from '../errors.js';
import { envVar } from '../host.js';
import { sharedBuffer, ThreadPool } from './threads.js';

/** Which kernels run the linear layer and the attention products: TypeScript loops, or WebAssembly SIMD. */
export type CpuKernels = 'ts' | 'simd';

/**
 * DITTO_CPU_KERNELS if set (ts or simd; a bad value is an error, not ignored), else simd where this
 * runtime validates the WebAssembly SIMD kernel, else ts. (A web page has no environment: its default.)
 */
export function cpuKernels(env = envVar('DITTO_CPU_KERNELS')): CpuKernels {
  const simd = matmulVariant() !== null;
  if (env !== undefined && env.trim() !== '') {
    const v = env.trim();
    if (v !== 'ts' && v !== 'simd') {
      throw new UserError(`DITTO_CPU_KERNELS=${env}: give ts (TypeScript loops) or simd (WebAssembly SIMD), or unset it to use simd where the runtime has it`);
    }
    if (v === 'simd' && !simd) throw new UserError('DITTO_CPU_KERNELS=simd: this runtime has no WebAssembly SIMD; use ts, or unset it');
    return v;
  }
  return simd ? 'simd' : 'ts';
}

class CpuStorage implements Storage {
  refs = 1;
  constructor(readonly data: Float32Array | Int32Array) {}
}

/** Bytes of released buffers kept for reuse; beyond this they are left to the garbage collector. */
const POOL_BYTES = 512 * 1024 * 1024;

/**
 * The budget of one tensor (256 MiB of f32). Nothing stops a larger one, but a forward holds a few
 * tensors of its largest size at once, so callers that can split their work stay under this.
 */
const MAX_TENSOR_ELEMENTS = 64 * 1024 * 1024;

/**
 * Elements a thread needs of a row op (the simd kernels of kernels/cpu/wasm/rows.ts) to pay for
 * waking it; the TypeScript row ops run on the calling thread alone.
 */
const ROW_WORK = 16384;

/** The f32 elements of a CPU tensor. */
function f32(t: Tensor): Float32Array {
  return (t.storage as CpuStorage).data as Float32Array;
}

function i32(t: Tensor): Int32Array {
  return (t.storage as CpuStorage).data as Int32Array;
}

function raw(t: Tensor): Float32Array | Int32Array {
  return (t.storage as CpuStorage).data;
}

export class CpuBackend implements Backend {
  readonly name = 'cpu';
  readonly maxTensorElements = MAX_TENSOR_ELEMENTS;
  readonly pool: ThreadPool;
  /**
   * Released buffers by byte length. Reuse matters more than it looks: a SharedArrayBuffer that has
   * been posted to a worker stays reachable from that worker's heap until the worker collects garbage,
   * which an idle worker rarely does, so leaving every intermediate to the GC grows memory without bound.
   */
  private readonly free = new Map<number, ArrayBufferLike[]>();
  private freeBytes = 0;
  /**
   * The simd linear's weights packed into panels (kernels/cpu/wasm/matmul.ts), by the storage of the
   * weight they were packed from: weights do not change between calls, so each is packed once, not on
   * every call, and its panels go back to the pool when its storage does. `n`, `k`: the shape they
   * were packed at (a reshaped view of the same storage packs anew).
   */
  private readonly packed = new Map<Storage, { n: number; k: number; panels: Float32Array }>();

  readonly kernels: CpuKernels;

  /** `kernels` defaults to DITTO_CPU_KERNELS (see cpuKernels). */
  constructor(threads?: number, kernels: CpuKernels = cpuKernels()) {
    this.kernels = kernels;
    this.pool = new ThreadPool(threads);
  }

  /** A shared buffer of `bytes`, from the pool of released ones where one fits exactly. */
  private buffer(bytes: number): ArrayBufferLike {
    const reused = this.free.get(bytes)?.pop();
    if (reused) this.freeBytes -= bytes;
    // Every op writes all of its output, so a reused buffer needs no clearing.
    return reused ?? sharedBuffer(bytes);
  }

  private recycle(buffer: ArrayBufferLike): void {
    if (this.freeBytes + buffer.byteLength > POOL_BYTES) return;
    const list = this.free.get(buffer.byteLength) ?? [];
    list.push(buffer);
    this.free.set(buffer.byteLength, list);
    this.freeBytes += buffer.byteLength;
  }

  private empty(shape: readonly number[], dtype: DType = 'f32'): Tensor {
    const buffer = this.buffer(numel(shape) * 4);
    return new Tensor(this, shape, dtype, new CpuStorage(dtype === 'f32' ? new Float32Array(buffer) : new Int32Array(buffer)));
  }

  upload(data: HostArray, shape: readonly number[], dtype: DType): Tensor {
    const t = this.empty(shape, dtype);
    raw(t).set(data);
    return t;
  }

  async read(t: Tensor): Promise<HostArray> {
    return raw(t).slice();
  }

  release(storage: Storage): void {
    this.recycle((storage as CpuStorage).data.buffer);
    const packed = this.packed.get(storage);
    if (packed) {
      this.packed.delete(storage);
      this.recycle(packed.panels.buffer);
    }
  }

  /**
   * w packed into the simd kernel's panels as an [N, K] matrix (a conv weight [O, C, KH, KW]: N = O),
   * packed on its first use (on every thread).
   */
  private panels(w: Tensor): Float32Array {
    const n = w.shape[0], k = w.size / Math.max(1, n);
    const have = this.packed.get(w.storage);
    if (have && have.n === n && have.k === k) return have.panels;
    if (have) this.recycle(have.panels.buffer);
    const panels = new Float32Array(this.buffer(packedPanelsLength(n, k) * 4));
    this.pool.run('packPanels', { w: f32(w), n, k, panels }, Math.ceil(n / 8), 1, Math.ceil(65536 / Math.max(1, 8 * k)));
    this.packed.set(w.storage, { n, k, panels });
    return panels;
  }

  linear(x: Tensor, w: Tensor, bias: Tensor | null, act: Activation): Tensor {
    const [m, k] = x.shape;
    const n = w.shape[0];
    const y = this.empty([m, n]);
    const args = { x: f32(x), w: f32(w), bias: bias ? f32(bias) : null, y: f32(y), m, k, n, act };
    // Split by output columns in blocks of 4 (simd: 8, its register block); a thread needs enough work
    // to pay for waking it (simd: 8x more, as it does the same work about 8x faster).
    if (this.kernels === 'simd') this.linearSimd(args, w);
    else this.pool.run('linear', args, n, 4, Math.ceil(16384 / Math.max(1, m * k)) * 4);
    return y;
  }

  private linearSimd(args: SimdLinearArgs, w: Tensor): void {
    const { m, k, n } = args;
    this.pool.run('linearSimd', { ...args, panels: this.panels(w) }, n, 8, Math.ceil(131072 / Math.max(1, m * k)) * 8);
  }

  binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
    const out = this.empty(broadcastShapes(a.shape, b.shape));
    elementwise.binary(op, f32(a), a.shape, f32(b), b.shape, f32(out), out.shape);
    return out;
  }

  /** Ops here finish before they return: nothing to wait for. */
  async sync(): Promise<void> {}

  /** Nothing runs behind the caller's back here: never a reason to wait. */
  async throttle(): Promise<void> {}

  linearCombination(xs: readonly Tensor[], weights: readonly number[]): Tensor {
    const out = this.empty(xs[0].shape);
    elementwise.linearCombination(xs.map(f32), weights, f32(out));
    return out;
  }

  unary(op: UnaryOp, x: Tensor): Tensor {
    const out = this.empty(x.shape);
    if (this.kernels === 'simd') this.pool.run('unarySimd', { op, x: f32(x), out: f32(out) }, x.size, 4, ROW_WORK);
    else elementwise.unary(op, f32(x), f32(out));
    return out;
  }

  flagNonFinite(xs: readonly Tensor[], flags: Tensor, index: number): void {
    xs.forEach((x, j) => {
      if (elementwise.anyNonFinite(f32(x))) i32(flags)[index] |= 1 << j;
    });
  }

  layerNorm(x: Tensor, eps: number, mod: Modulation | null): Tensor {
    const out = this.empty(x.shape);
    const dim = x.shape[x.rank - 1];
    const rows = x.size / dim;
    const modulation = mod && { table: f32(mod.table), width: mod.table.shape[1], shift: mod.shift, scale: mod.scale, rowsPerBatch: x.shape[1] };
    if (this.kernels === 'simd') {
      const args = { x: f32(x), out: f32(out), dim, eps, mod: modulation, rowsPerBatch: modulation?.rowsPerBatch ?? rows };
      this.pool.run('layerNormSimd', args, rows, 1, Math.ceil(ROW_WORK / Math.max(1, dim)));
    } else elementwise.layerNorm(f32(x), f32(out), rows, dim, eps, modulation);
    return out;
  }

  rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
    const out = this.empty(x.shape);
    elementwise.rmsNorm(f32(x), f32(weight), f32(out), x.shape[x.rank - 1], eps);
    return out;
  }

  attentionHeads(sources: readonly HeadSource[], heads: number, headDim: number, table: Tensor | null, eps: number): Tensor {
    const B = sources[0].x.shape[0], T = sources.reduce((a, s) => a + s.x.shape[1], 0);
    const out = this.empty([B * heads, T, headDim]);
    const parts = sources.map((s) => ({ x: f32(s.x), tokens: s.x.shape[1], width: s.x.shape[2], offset: s.offset, norm: s.norm && f32(s.norm) }));
    elementwise.attentionHeads(parts, B, heads, headDim, table && { data: f32(table), batch: table.shape[0] }, eps, f32(out));
    return out;
  }

  /** The linear, then the gated residual in a second pass over its output (memory-bound, cheap on the CPU next to the product). */
  linearGatedResidual(x: Tensor, mod: Tensor, gate: number, h: Tensor, w: Tensor, bias: Tensor | null): Tensor {
    if (this.kernels === 'simd') {
      // The residual is the simd linear's epilogue (kernels/cpu/wasm/matmul.ts).
      const [m, k] = [h.size / h.shape[2], h.shape[2]], n = w.shape[0];
      const out = this.empty(x.shape);
      const residual = { x: f32(x), table: f32(mod), width: mod.shape[1], offset: gate, rowsPerBatch: x.shape[1] };
      this.linearSimd({ x: f32(h), w: f32(w), bias: bias && f32(bias), y: f32(out), m, k, n, act: 'none', residual }, w);
      return out;
    }
    const rows = h.reshape([-1, h.shape[2]]);
    const y = this.linear(rows, w, bias, 'none');
    const out = this.empty(x.shape);
    elementwise.gatedResidual(f32(x), { table: f32(mod), width: mod.shape[1], offset: gate }, f32(y), f32(out), x.shape[1], x.shape[2]);
    rows.dispose();
    y.dispose();
    return out;
  }

  softmax(x: Tensor): Tensor {
    const out = this.empty(x.shape);
    const dim = x.shape[x.rank - 1];
    if (this.kernels === 'simd') this.pool.run('softmaxSimd', { x: f32(x), out: f32(out), dim }, x.size / Math.max(1, dim), 1, Math.ceil(ROW_WORK / Math.max(1, dim)));
    else elementwise.softmax(f32(x), f32(out), dim);
    return out;
  }

  attention(q: Tensor, k: Tensor, v: Tensor, scale: number, layout: AttentionLayout): Tensor {
    const o = this.empty(attentionOutput(layout).shape);
    const args = { q: f32(q), k: f32(k), v: f32(v), o: f32(o), layout, scale, simd: this.kernels === 'simd' };
    this.pool.run('attention', args, layout.batch * layout.heads * layout.tokens, 1, 16);
    return o;
  }

  embedding(table: Tensor, ids: Tensor): Tensor {
    const dim = table.shape[1];
    const out = this.empty([...ids.shape, dim]);
    layout.embedding(f32(table), dim, i32(ids), f32(out));
    return out;
  }

  permute(x: Tensor, perm: readonly number[]): Tensor {
    const out = this.empty(perm.map((p) => x.shape[p]), x.dtype);
    layout.permute(raw(x), x.shape, perm, raw(out));
    return out;
  }

  slice(x: Tensor, axis: number, start: number, end: number): Tensor {
    const shape = x.shape.slice();
    shape[axis] = end - start;
    const out = this.empty(shape, x.dtype);
    layout.slice(raw(x), x.shape, axis, start, end, raw(out));
    return out;
  }

  concat(xs: readonly Tensor[], axis: number): Tensor {
    const shape = xs[0].shape.slice();
    shape[axis] = xs.reduce((a, t) => a + t.shape[axis], 0);
    const out = this.empty(shape, xs[0].dtype);
    layout.concat(xs.map((t) => ({ data: raw(t), shape: t.shape })), axis, raw(out));
    return out;
  }

  patchify(x: Tensor, p: number): Tensor {
    const [n, c, h, w] = x.shape;
    const out = this.empty([n, (h / p) * (w / p), c * p * p]);
    layout.patchify(f32(x), n, c, h, w, p, f32(out));
    return out;
  }

  unpatchify(x: Tensor, p: number, channels: number, h: number, w: number): Tensor {
    const n = x.shape[0];
    const out = this.empty([n, channels, h * p, w * p]);
    layout.unpatchify(f32(x), n, channels, h, w, p, f32(out));
    return out;
  }

  conv2d(x: Tensor, w: Tensor, bias: Tensor | null, padding: number): Tensor {
    const [n, channels, height, width] = x.shape;
    const [outChannels, , kernelH, kernelW] = w.shape;
    const { oh, ow } = convOutputSize({ height, width, kernelH, kernelW, padding });
    const y = this.empty([n, outChannels, oh, ow]);
    const args: Conv2dArgs = { x: f32(x), w: f32(w), bias: bias && f32(bias), y: f32(y), channels, height, width, outChannels, kernelH, kernelW, padding };
    // One work item per image and block of output pixels (see kernels/cpu/conv.ts), or (simd) per
    // image and band of output rows (kernels/cpu/wasm/conv.ts).
    if (this.kernels === 'simd') this.pool.run('conv2dSimd', { ...args, panels: this.panels(w) }, n * Math.ceil(oh / convBandRows(args)));
    else this.pool.run('conv2d', args, n * Math.ceil((oh * ow) / CONV_BLOCK));
    return y;
  }

  groupNorm(x: Tensor, groups: number, eps: number, weight: Tensor, bias: Tensor, silu: boolean): Tensor {
    const out = this.empty(x.shape);
    const [n, channels] = x.shape;
    const spatial = x.size / Math.max(1, n * channels);
    if (this.kernels === 'simd') {
      const args = { x: f32(x), out: f32(out), channels, spatial, groups, eps, weight: f32(weight), bias: f32(bias), silu };
      this.pool.run('groupNormSimd', args, n * groups, 1, Math.ceil(ROW_WORK / Math.max(1, (channels / groups) * spatial)));
    } else elementwise.groupNorm(f32(x), f32(out), n, channels, spatial, groups, eps, f32(weight), f32(bias), silu);
    return out;
  }

  upsampleNearest2x(x: Tensor): Tensor {
    const [n, c, h, w] = x.shape;
    const out = this.empty([n, c, 2 * h, 2 * w], x.dtype);
    layout.upsampleNearest2x(raw(x), n * c, h, w, raw(out));
    return out;
  }
}
