// The CPU's data-movement ops: permute, slice, concat, embedding lookup, DiT's patch layouts and
// nearest-neighbour upsampling.
// They copy; none computes. Written over generic typed arrays so i32 tensors move the same way.

import type { Shape } from '../../core/shape.js';
import { stridesOf } from '../strides.js';

type Data = Float32Array | Int32Array;

export function permute(x: Data, shape: Shape, perm: readonly number[], out: Data): void {
  const rank = shape.length;
  const inStrides = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]);
  // Stride in the input for a unit step along each output dim.
  const step = perm.map((p) => inStrides[p]);
  const index = new Array<number>(rank).fill(0);
  let src = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = x[src];
    for (let d = rank - 1; d >= 0; d--) {
      src += step[d];
      if (++index[d] < outShape[d]) break;
      src -= step[d] * outShape[d];
      index[d] = 0;
    }
  }
}

/** Copies x[..., start:end, ...] along `axis` as a sequence of contiguous runs. */
export function slice(x: Data, shape: Shape, axis: number, start: number, end: number, out: Data): void {
  const outer = shape.slice(0, axis).reduce((a, d) => a * d, 1);
  const inner = shape.slice(axis + 1).reduce((a, d) => a * d, 1);
  const run = (end - start) * inner;
  for (let o = 0; o < outer; o++) {
    out.set(x.subarray((o * shape[axis] + start) * inner, (o * shape[axis] + start) * inner + run), o * run);
  }
}

export function concat(xs: readonly { data: Data; shape: Shape }[], axis: number, out: Data): void {
  const outer = xs[0].shape.slice(0, axis).reduce((a, d) => a * d, 1);
  const inner = xs[0].shape.slice(axis + 1).reduce((a, d) => a * d, 1);
  let dst = 0;
  for (let o = 0; o < outer; o++) {
    for (const { data, shape } of xs) {
      const run = shape[axis] * inner;
      out.set(data.subarray(o * run, (o + 1) * run), dst);
      dst += run;
    }
  }
}

export function embedding(table: Float32Array, dim: number, ids: Int32Array, out: Float32Array): void {
  for (let i = 0; i < ids.length; i++) out.set(table.subarray(ids[i] * dim, (ids[i] + 1) * dim), i * dim);
}

/** [N, C, H, W] -> [N, (H/p)(W/p), C*p*p], each patch flattened (c, py, px) like a conv weight. */
export function patchify(x: Float32Array, n: number, c: number, h: number, w: number, p: number, out: Float32Array): void {
  const gh = h / p, gw = w / p;
  let dst = 0;
  for (let b = 0; b < n; b++) {
    for (let ty = 0; ty < gh; ty++) {
      for (let tx = 0; tx < gw; tx++) {
        for (let ch = 0; ch < c; ch++) {
          for (let py = 0; py < p; py++) {
            const src = ((b * c + ch) * h + ty * p + py) * w + tx * p;
            for (let px = 0; px < p; px++) out[dst++] = x[src + px];
          }
        }
      }
    }
  }
}

/** [N, gh*gw, p*p*C] read as (py, px, c) per token -> [N, C, gh*p, gw*p]: channel LAST, unlike patchify. */
export function unpatchify(x: Float32Array, n: number, c: number, gh: number, gw: number, p: number, out: Float32Array): void {
  const h = gh * p, w = gw * p;
  let src = 0;
  for (let b = 0; b < n; b++) {
    for (let ty = 0; ty < gh; ty++) {
      for (let tx = 0; tx < gw; tx++) {
        for (let py = 0; py < p; py++) {
          for (let px = 0; px < p; px++) {
            for (let ch = 0; ch < c; ch++) out[((b * c + ch) * h + ty * p + py) * w + tx * p + px] = x[src++];
          }
        }
      }
    }
  }
}

/** planes of h x w -> planes of 2h x 2w, each value copied into a 2x2 square (nearest neighbour). */
export function upsampleNearest2x(x: Data, planes: number, h: number, w: number, out: Data): void {
  let dst = 0;
  for (let p = 0; p < planes; p++) {
    for (let oy = 0; oy < 2 * h; oy++) {
      const row = (p * h + (oy >> 1)) * w;
      for (let ox = 0; ox < 2 * w; ox++) out[dst++] = x[row + (ox >> 1)];
    }
  }
}
