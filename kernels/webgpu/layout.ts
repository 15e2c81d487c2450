// Data-movement kernels: permute, slice, concat, embedding lookup, DiT's patchify / unpatchify, and
// nearest-neighbour upsampling.
// They mirror kernels/cpu/layout.ts element for element; none computes anything.
//
// Every kernel here moves 32-bit words (array<u32>), never looking at their meaning, so one kernel
// serves f32 and i32 tensors alike. One invocation writes one output word and works out which input
// word it comes from with the shapes and strides baked in as constants; where the innermost dim moves
// as a whole and is a multiple of 4, an invocation moves a vec4 of words instead.
//
// Three generators cover everything:
// - permute: output coordinates -> input offset. Before generating code, size-1 dims are dropped and
//   runs of dims that stay adjacent and in order are merged: DiT's head merge [N, H, T, hd] ->
//   [N, T, H, hd] with N = 1 indexes 3 dims (and moves hd as vec4s), and a permute that moves nothing
//   becomes a plain copy.
//   patchify and unpatchify are permutes of a 6-D view: a stride-p patch grid is just a reshape away.
// - boxCopy: copies an [outer, len, inner] box between two [outer, *, inner] tensors at given offsets
//   along the middle axis: slice (read at `start`) and each piece of a concat (write at its offset).
// - embedding: a gather through the ids.
// - upsampleNearest2x: a gather of out[.., y, x] from x[.., y/2, x/2].

import { mapKernel, u32, type Kernel, type KernelCaps } from './kernel.js';
import type { Shape } from '../../core/shape.js';
import { stridesOf } from '../strides.js';

/**
 * The smallest permute that moves words the same way: size-1 dims dropped, and output dims that are
 * consecutive in the input too merged into one. Returns the reduced input shape and permutation.
 */
export function simplifyPermute(shape: Shape, perm: readonly number[]): { shape: number[]; perm: number[] } {
  // Drop size-1 dims and renumber the rest.
  const kept = shape.map((d, i) => (d === 1 ? -1 : i)).filter((i) => i >= 0);
  const renumber = new Map(kept.map((d, i) => [d, i]));
  const p = perm.filter((d) => renumber.has(d)).map((d) => renumber.get(d)!);
  const s = kept.map((d) => shape[d]);
  // Group runs of the output order whose input dims are consecutive (d, d+1, ...).
  const groups: number[][] = [];
  for (const d of p) {
    const last = groups[groups.length - 1];
    if (last && last[last.length - 1] + 1 === d) last.push(d);
    else groups.push([d]);
  }
  // Each group becomes one input dim; input dims are ordered by the group's first original dim.
  const byInput = [...groups].sort((a, b) => a[0] - b[0]);
  return {
    shape: byInput.map((g) => g.reduce((a, d) => a * s[d], 1)),
    perm: groups.map((g) => byInput.indexOf(g)),
  };
}

/** out.shape[i] = shape[perm[i]], moving 32-bit words (four at a time where the last dim stays last). */
export function permuteKernel(shape: Shape, perm: readonly number[], caps: KernelCaps): Kernel {
  const simple = simplifyPermute(shape, perm);
  const size = shape.reduce((a, d) => a * d, 1);
  const r = simple.shape.length;
  // When the innermost dim stays innermost, whole vec4s of it move together.
  const vec = (r === 0 || simple.perm[r - 1] === r - 1) && (r === 0 ? 1 : simple.shape[r - 1]) % 4 === 0 && size > 0;
  const s = vec ? simple.shape.map((d, i) => (i === r - 1 ? d / 4 : d)) : simple.shape;
  const p = simple.perm;
  const inStrides = stridesOf(s);
  const outShape = p.map((d) => s[d]);
  // src = sum over output dims d of coord_d * inStrides[p[d]], coord_d = (i / below_d) % outShape[d].
  const terms: string[] = [];
  let below = 1;
  for (let d = outShape.length - 1; d >= 0; d--) {
    const coord = below === 1 ? `i % ${u32(outShape[d])}` : d === 0 ? `i / ${u32(below)}` : `(i / ${u32(below)}) % ${u32(outShape[d])}`;
    const stride = inStrides[p[d]];
    terms.push(stride === 1 ? `(${coord})` : `(${coord}) * ${u32(stride)}`);
    below *= outShape[d];
  }
  const index = p.every((d, i) => d === i) ? 'i' : terms.join(' + ');
  return mapKernel(`permute|${simple.shape.join('x')}|${p.join(',')}`, vec ? size / 4 : size, [{ name: 'x', index, type: 'u32', vec4: vec }], 'x_v', caps, {
    outType: 'u32',
    vec4: vec,
  });
}

/**
 * Copies x[o, inStart + j, r] to out[o, outStart + j, r] for o < outer, j < len, r < inner, where x's
 * middle axis has inLen entries and out's has outLen: a slice when out is exactly the box, one input
 * of a concat when x is. The rest of out is left as it is.
 */
export function boxCopyKernel(
  outer: number, inner: number, len: number,
  inLen: number, inStart: number, outLen: number, outStart: number, caps: KernelCaps,
): Kernel {
  // Rows of a multiple of 4 words move as vec4s (every offset below is then a multiple of 4 too).
  const vec = inner % 4 === 0;
  const row = vec ? inner / 4 : inner;
  const box = len * row;
  const src = `(i / ${u32(box)}) * ${u32(inLen * row)} + ${u32(inStart * row)} + i % ${u32(box)}`;
  const dst = `(i / ${u32(box)}) * ${u32(outLen * row)} + ${u32(outStart * row)} + i % ${u32(box)}`;
  return mapKernel(
    `boxCopy|${outer}x${len}x${inner}|${inLen}@${inStart}|${outLen}@${outStart}`,
    outer * box,
    [{ name: 'x', index: src, type: 'u32', vec4: vec }],
    'x_v',
    caps,
    { outType: 'u32', outIndex: dst, vec4: vec },
  );
}

/** out[i, :] = table[ids[i], :]; bind (ids, table) in that order. Ids past the table are clamped. */
export function embeddingKernel(count: number, rows: number, dim: number, caps: KernelCaps): Kernel {
  const vec = dim % 4 === 0;
  const d = vec ? dim / 4 : dim; // elements (vec4s or words) per row
  return mapKernel(
    `embedding|${count}|${rows}x${dim}`,
    count * d,
    [
      { name: 'ids', index: `i / ${u32(d)}`, type: 'i32' },
      { name: 'table', index: `u32(clamp(ids_v, 0, ${rows - 1})) * ${u32(d)} + i % ${u32(d)}`, type: 'u32', vec4: vec },
    ],
    'table_v',
    caps,
    { outType: 'u32', vec4: vec },
  );
}

/**
 * patchify: x [N, C, H, W] -> [N, (H/p)(W/p), C*p*p] with each patch in (c, py, px) order. Viewing x as
 * [N, C, gh, p, gw, p] (a reshape), this is the permute to [N, gh, gw, C, p, p].
 */
export function patchifyKernel(n: number, c: number, h: number, w: number, p: number, caps: KernelCaps): Kernel {
  return permuteKernel([n, c, h / p, p, w / p, p], [0, 2, 4, 1, 3, 5], caps);
}

/**
 * unpatchify: x [N, gh*gw, p*p*C] read as (py, px, c) -> [N, C, gh*p, gw*p]. Viewing x as
 * [N, gh, gw, p, p, C], the output [N, C, gh, p, gw, p] is the permute (0, 5, 1, 3, 2, 4).
 */
export function unpatchifyKernel(n: number, c: number, gh: number, gw: number, p: number, caps: KernelCaps): Kernel {
  return permuteKernel([n, gh, gw, p, p, c], [0, 5, 1, 3, 2, 4], caps);
}

/** planes of h x w -> planes of 2h x 2w: out[p, y, x] = x[p, y / 2, x / 2] (nearest neighbour). */
export function upsampleNearest2xKernel(planes: number, h: number, w: number, caps: KernelCaps): Kernel {
  const oy = `((i / ${u32(2 * w)}) % ${u32(2 * h)}) / 2u`;
  const src = `(i / ${u32(4 * h * w)}) * ${u32(h * w)} + ${oy} * ${u32(w)} + (i % ${u32(2 * w)}) / 2u`;
  return mapKernel(`upsample2x|${planes}x${h}x${w}`, planes * 4 * h * w, [{ name: 'x', index: src, type: 'u32' }], 'x_v', caps, { outType: 'u32' });
}
