// Row-major strides, the index arithmetic every kernel of both backends shares: how far apart
// neighbours along each dim lie in memory, and how an operand of a broadcasting op is read with the
// output's coordinates.

import type { Shape } from '../core/shape.js';

/** Row-major (C-order) strides in elements. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/**
 * Strides that read `shape` as if broadcast to `target`: stretched dims get stride 0.
 * Used by kernels to index an operand of a broadcasting op with the output's coordinates.
 */
export function broadcastStrides(shape: Shape, target: Shape): number[] {
  const own = stridesOf(shape);
  const out = new Array<number>(target.length).fill(0);
  const offset = target.length - shape.length;
  for (let i = 0; i < shape.length; i++) out[offset + i] = shape[i] === 1 ? 0 : own[i];
  return out;
}
