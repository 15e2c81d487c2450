// The CPU's elementwise and row-wise ops. They are memory-bound and cheap next to the matmuls, so
// they run on the calling thread in straightforward loops.

import type { BinaryOp, UnaryOp } from '../../core/backend.js';
import type { Shape } from '../../core/shape.js';
import { broadcastStrides } from '../strides.js';
import { gelu, silu } from './activations.js';

/** out = a op b, where a and b are read through broadcast strides of the output shape. */
export function binary(op: BinaryOp, a: Float32Array, aShape: Shape, b: Float32Array, bShape: Shape, out: Float32Array, outShape: Shape): void {
  const n = out.length;
  if (aShape.length === outShape.length && bShape.length === outShape.length && a.length === n && b.length === n) {
    if (op === 'add') for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
    else if (op === 'sub') for (let i = 0; i < n; i++) out[i] = a[i] - b[i];
    else for (let i = 0; i < n; i++) out[i] = a[i] * b[i];
    return;
  }
  const rank = outShape.length;
  const sa = broadcastStrides(aShape, outShape);
  const sb = broadcastStrides(bShape, outShape);
  const index = new Array<number>(rank).fill(0);
  let ia = 0, ib = 0;
  for (let i = 0; i < n; i++) {
    const x = a[ia], y = b[ib];
    out[i] = op === 'add' ? x + y : op === 'sub' ? x - y : x * y;
    // Odometer increment of the output index, moving both operand offsets with it.
    for (let d = rank - 1; d >= 0; d--) {
      ia += sa[d];
      ib += sb[d];
      if (++index[d] < outShape[d]) break;
      ia -= sa[d] * outShape[d];
      ib -= sb[d] * outShape[d];
      index[d] = 0;
    }
  }
}

/**
 * out = w0 * x0 + w1 * x1 + ... in f32, term by term: each store into the Float32Array rounds, and the
 * product of two f32 values is exact in a double before that rounding.
 */
export function linearCombination(xs: readonly Float32Array[], weights: readonly number[], out: Float32Array): void {
  const n = out.length;
  const w0 = Math.fround(weights[0]), x0 = xs[0];
  for (let i = 0; i < n; i++) out[i] = w0 * x0[i];
  for (let j = 1; j < xs.length; j++) {
    const w = Math.fround(weights[j]), x = xs[j];
    for (let i = 0; i < n; i++) out[i] += Math.fround(w * x[i]);
  }
}

export function unary(op: UnaryOp, x: Float32Array, out: Float32Array): void {
  const f = op === 'gelu' ? gelu : silu;
  for (let i = 0; i < x.length; i++) out[i] = f(x[i]);
}

/** Whether x holds a NaN or an infinity: v - v is 0 for every finite v and NaN otherwise. */
export function anyNonFinite(x: Float32Array): boolean {
  for (let i = 0; i < x.length; i++) if (x[i] - x[i] !== 0) return true;
  return false;
}

/**
 * The mean of x[o, o + n) and 1 / sqrt(biased variance + eps), in two passes over float64 sums: what
 * LayerNorm and GroupNorm both normalise a run of values with.
 */
function normalizer(x: Float32Array, o: number, n: number, eps: number): [number, number] {
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[o + i];
  mean /= n;
  let variance = 0;
  for (let i = 0; i < n; i++) {
    const d = x[o + i] - mean;
    variance += d * d;
  }
  return [mean, 1 / Math.sqrt(variance / n + eps)];
}

/**
 * LayerNorm over rows of length D (biased variance, like PyTorch), then optionally DiT's modulate
 * with one (shift, scale) pair per batch item: rows [b*T, (b+1)*T) (T = rowsPerBatch) read row b of
 * mod.table [B, width], shift at columns [shift, shift + D) and scale at [scale, scale + D).
 */
export function layerNorm(
  x: Float32Array, out: Float32Array, rows: number, dim: number, eps: number,
  mod: { table: Float32Array; width: number; shift: number; scale: number; rowsPerBatch: number } | null,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    const [mean, inv] = normalizer(x, o, dim, eps);
    if (mod) {
      const m = Math.floor(r / mod.rowsPerBatch) * mod.width, shift = m + mod.shift, scale = m + mod.scale, t = mod.table;
      for (let d = 0; d < dim; d++) out[o + d] = (x[o + d] - mean) * inv * (1 + t[scale + d]) + t[shift + d];
    } else {
      for (let d = 0; d < dim; d++) out[o + d] = (x[o + d] - mean) * inv;
    }
  }
}

/**
 * GroupNorm of `images` images of [C, spatial]: each group of C / groups consecutive channels is one
 * contiguous run of values, normalised by its mean and biased variance (two passes, in float64), then
 * scaled and shifted per channel, then SiLU if asked.
 */
export function groupNorm(
  x: Float32Array, out: Float32Array, images: number, channels: number, spatial: number, groups: number, eps: number,
  weight: Float32Array, bias: Float32Array, applySilu: boolean,
): void {
  const perGroup = channels / groups, size = perGroup * spatial;
  for (let g = 0; g < images * groups; g++) {
    const o = g * size;
    const [mean, inv] = normalizer(x, o, size, eps);
    for (let cc = 0; cc < perGroup; cc++) {
      const c = (g % groups) * perGroup + cc;
      const a = weight[c] * inv, b = bias[c];
      const start = o + cc * spatial;
      for (let i = start; i < start + spatial; i++) {
        const v = (x[i] - mean) * a + b;
        out[i] = applySilu ? silu(v) : v;
      }
    }
  }
}

/** RMSNorm over rows of length D with a learned scale: out = x / sqrt(mean(x^2) + eps) * weight. */
export function rmsNorm(x: Float32Array, weight: Float32Array, out: Float32Array, dim: number, eps: number): void {
  for (let o = 0; o < x.length; o += dim) {
    let squares = 0;
    for (let d = 0; d < dim; d++) squares += x[o + d] * x[o + d];
    const inv = 1 / Math.sqrt(squares / dim + eps);
    for (let d = 0; d < dim; d++) out[o + d] = x[o + d] * inv * weight[d];
  }
}

/** One stream of attentionHeads on the CPU: x [B, tokens, width] with the heads from feature `offset`. */
export interface HeadPart {
  x: Float32Array;
  tokens: number;
  width: number;
  offset: number;
  norm: Float32Array | null;
}

/**
 * out [B*H, T, hd]: row (b, h, t) is head h of token t of the part holding t, times 1 / sqrt(mean of its
 * squares + eps) * norm where the part has a norm, each adjacent pair rotated by table[b or 0, t, pair]
 * = (cos, sin) when a table is given.
 */
export function attentionHeads(
  parts: readonly HeadPart[], batch: number, heads: number, hd: number, table: { data: Float32Array; batch: number } | null, eps: number, out: Float32Array,
): void {
  const T = parts.reduce((a, p) => a + p.tokens, 0);
  const row = new Float32Array(hd);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      let t = 0;
      for (const part of parts) {
        for (let l = 0; l < part.tokens; l++, t++) {
          const base = (b * part.tokens + l) * part.width + part.offset + h * hd;
          let inv = 1;
          if (part.norm) {
            let squares = 0;
            for (let d = 0; d < hd; d++) squares += part.x[base + d] * part.x[base + d];
            inv = 1 / Math.sqrt(squares / hd + eps);
          }
          for (let d = 0; d < hd; d++) row[d] = part.norm ? part.x[base + d] * inv * part.norm[d] : part.x[base + d];
          const o = ((b * heads + h) * T + t) * hd;
          if (!table) {
            out.set(row, o);
            continue;
          }
          const c0 = ((table.batch === 1 ? 0 : b) * T + t) * hd;
          for (let p = 0; p < hd / 2; p++) {
            const c = table.data[c0 + 2 * p], s = table.data[c0 + 2 * p + 1], x0 = row[2 * p], x1 = row[2 * p + 1];
            out[o + 2 * p] = c * x0 - s * x1;
            out[o + 2 * p + 1] = s * x0 + c * x1;
          }
        }
      }
    }
  }
}

/** out = x + gate[b] * y over [B, T, D], gate [B, D]. */
/** out = x + gate[b] * y over [B, T, D], gate[b] columns [offset, offset + D) of row b of table [B, width]. */
export function gatedResidual(
  x: Float32Array, gate: { table: Float32Array; width: number; offset: number }, y: Float32Array, out: Float32Array, tokens: number, dim: number,
): void {
  for (let i = 0; i < x.length; i++) {
    const b = Math.floor(i / (tokens * dim));
    out[i] = x[i] + gate.table[b * gate.width + gate.offset + (i % dim)] * y[i];
  }
}

export function softmax(x: Float32Array, out: Float32Array, dim: number): void {
  for (let o = 0; o < x.length; o += dim) {
    let max = -Infinity;
    for (let d = 0; d < dim; d++) max = Math.max(max, x[o + d]);
    let sum = 0;
    for (let d = 0; d < dim; d++) sum += Math.exp(x[o + d] - max);
    for (let d = 0; d < dim; d++) out[o + d] = Math.exp(x[o + d] - max) / sum;
  }
}
