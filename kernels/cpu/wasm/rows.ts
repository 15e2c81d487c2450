// The drivers of the row kernels in kernels/cpu/wasm/math.ts (GELU/SiLU, softmax, LayerNorm, and
// GroupNorm made of LayerNorm and SiLU): they copy a tensor's rows (which live in
// SharedArrayBuffers outside any WebAssembly memory) into this thread's module memory in chunks, run
// the kernel there in place, and copy the results out. Rows are laid 4-float aligned (padded to a
// multiple of 4, the padding filled so it cannot change a row's result), so every size works. Each
// function takes a range of work items, so the CPU backend splits them over its threads; they use
// the memory from offset 0, as the matmul does, never while one of its calls is running.

import type { UnaryOp } from '../../../core/backend.js';
import { getInstance, reserve } from './matmul.js';

/** Floats of rows copied in at once: 256 KiB, within L2. */
const CHUNK_FLOATS = 65536;

export interface UnaryArgs {
  op: UnaryOp;
  x: Float32Array;
  out: Float32Array;
}

/** out[start, end) = op(x[start, end)). */
export function unaryRange(a: UnaryArgs, start: number, end: number): void {
  const inst = getInstance();
  reserve(inst, CHUNK_FLOATS);
  for (let i = start; i < end; i += CHUNK_FLOATS) {
    const n = Math.min(CHUNK_FLOATS, end - i);
    inst.heap.set(a.x.subarray(i, i + n), 0);
    inst[a.op](0, Math.ceil(n / 4));
    a.out.set(inst.heap.subarray(0, n), i);
  }
}

/** Rows of `dim` floats from `src` at `from` into the memory at `at`, `stride` apart, padding set to `pad`. */
function rowsIn(heap: Float32Array, src: Float32Array, from: number, rows: number, dim: number, stride: number, at: number, pad: number): void {
  for (let r = 0; r < rows; r++) {
    heap.set(src.subarray(from + r * dim, from + (r + 1) * dim), at + r * stride);
    if (stride > dim) heap.fill(pad, at + r * stride + dim, at + (r + 1) * stride);
  }
}

function rowsOut(heap: Float32Array, dst: Float32Array, to: number, rows: number, dim: number, stride: number, at: number): void {
  for (let r = 0; r < rows; r++) dst.set(heap.subarray(at + r * stride, at + r * stride + dim), to + r * dim);
}

/** Rows of a chunk: at least one, however long a row is. */
function chunkRows(stride: number): number {
  return Math.max(1, Math.floor(CHUNK_FLOATS / stride));
}

/**
 * out rows [rowStart, rowEnd) = softmax(scale * x rows), rows of `dim` floats (out may be x): what
 * the attention (on its scores) and the softmax op run.
 */
export function softmaxRowsSimd(x: Float32Array, out: Float32Array, dim: number, scale: number, rowStart: number, rowEnd: number): void {
  if (dim === 0 || rowEnd <= rowStart) return;
  const inst = getInstance();
  const stride = Math.ceil(dim / 4) * 4, per = chunkRows(stride);
  reserve(inst, per * stride);
  for (let r0 = rowStart; r0 < rowEnd; r0 += per) {
    const rows = Math.min(per, rowEnd - r0);
    // -infinity padding: exp of it is (clamped to) ~1e-38, nothing next to the row's maximum's 1.
    rowsIn(inst.heap, x, r0 * dim, rows, dim, stride, 0, -Infinity);
    inst.softmax(0, rows, stride / 4, scale);
    rowsOut(inst.heap, out, r0 * dim, rows, dim, stride, 0);
  }
}

export interface SoftmaxArgs {
  x: Float32Array;
  out: Float32Array;
  dim: number;
}

export function softmaxRange(a: SoftmaxArgs, start: number, end: number): void {
  softmaxRowsSimd(a.x, a.out, a.dim, 1, start, end);
}

export interface LayerNormArgs {
  x: Float32Array;
  out: Float32Array;
  dim: number;
  eps: number;
  /**
   * DiT's modulate, or null: rows [b * rowsPerBatch, (b + 1) * rowsPerBatch) take shift and scale from
   * row b of table [B, width], at columns [shift, shift + dim) and [scale, scale + dim).
   */
  mod: { table: Float32Array; width: number; shift: number; scale: number } | null;
  rowsPerBatch: number;
}

/** out rows [start, end) = LayerNorm(x rows), modulated where shift and scale are given. */
export function layerNormRange(a: LayerNormArgs, start: number, end: number): void {
  const { dim } = a;
  if (dim === 0 || end <= start) return;
  const inst = getInstance();
  const stride = Math.ceil(dim / 4) * 4, per = chunkRows(stride);
  // Memory: the batch item's shift and scale rows (zeros without modulate: exact), then the rows.
  const shiftAt = 0, scaleAt = stride, rowsAt = 2 * stride;
  reserve(inst, rowsAt + per * stride);
  let batch = -1;
  for (let r0 = start; r0 < end;) {
    const b = Math.floor(r0 / a.rowsPerBatch);
    const rows = Math.min(per, end - r0, (b + 1) * a.rowsPerBatch - r0);
    const heap = inst.heap;
    if (b !== batch) {
      if (a.mod) {
        rowsIn(heap, a.mod.table, b * a.mod.width + a.mod.shift, 1, dim, stride, shiftAt, 0);
        rowsIn(heap, a.mod.table, b * a.mod.width + a.mod.scale, 1, dim, stride, scaleAt, 0);
      } else heap.fill(0, shiftAt, rowsAt);
      batch = b;
    }
    rowsIn(heap, a.x, r0 * dim, rows, dim, stride, rowsAt, 0);
    inst.layerNorm(rowsAt * 4, rows, dim, stride / 4, 1 / dim, a.eps, shiftAt * 4, scaleAt * 4);
    rowsOut(heap, a.out, r0 * dim, rows, dim, stride, rowsAt);
    r0 += rows;
  }
}

export interface GroupNormArgs {
  x: Float32Array;
  out: Float32Array;
  channels: number;
  spatial: number;
  groups: number;
  eps: number;
  weight: Float32Array;
  bias: Float32Array;
  silu: boolean;
}

/**
 * GroupNorm over the work items [start, end), item i being group i % groups of image floor(i / groups):
 * a group's channels are one contiguous run, normalised as one LayerNorm row (the layerNorm kernel, no
 * modulation), then scaled and shifted per channel as it is copied out of the module's memory, with
 * SiLU (the SIMD one) in between where asked. The run is the row, so the memory holds a whole group.
 */
export function groupNormRange(a: GroupNormArgs, start: number, end: number): void {
  const perGroup = a.channels / a.groups, size = perGroup * a.spatial;
  if (size === 0 || end <= start) return;
  const inst = getInstance();
  const stride = Math.ceil(size / 4) * 4;
  // Memory: zero shift and scale rows for the layerNorm kernel, then the group.
  const rowAt = 2 * stride;
  reserve(inst, rowAt + stride);
  inst.heap.fill(0, 0, rowAt);
  for (let item = start; item < end; item++) {
    const o = item * size, heap = inst.heap;
    rowsIn(heap, a.x, o, 1, size, stride, rowAt, 0);
    inst.layerNorm(rowAt * 4, 1, size, stride / 4, 1 / size, a.eps, 0, stride * 4);
    for (let cc = 0; cc < perGroup; cc++) {
      const c = (item % a.groups) * perGroup + cc, w = a.weight[c], b = a.bias[c];
      for (let i = rowAt + cc * a.spatial, e = i + a.spatial; i < e; i++) heap[i] = heap[i] * w + b;
    }
    if (a.silu) inst.silu(rowAt * 4, stride / 4);
    rowsOut(heap, a.out, o, 1, size, stride, rowAt);
  }
}
