// Qwen-Image's rotary position embedding (diffusers QwenEmbedRope with scale_rope=True, applied by
// apply_rotary_emb_qwen): the same adjacent-pair rotation as FLUX, with positions that diffusers
// derives from the image shapes instead of taking ids.
//
// Every token has a position per axis (frame, row, column). The image tokens of image k of the
// sequence, an f x h x w grid of patches in frame-major, row-major order, sit at frame k + fi, row
// -(h - h//2) .. h//2 - 1 and column -(w - w//2) .. w//2 - 1: centred on the grid (h = 4 gives rows
// -2, -1, 0, 1; h = 3 gives -2, -1, 0). The text tokens come after every image on the diagonal: token j
// sits at (s + j, s + j, s + j), with s = max over the images of max(h//2, w//2).
//
// Axis a owns axes_dim[a] / 2 rotation pairs with inverse frequencies 1 / theta^(2k / axes_dim[a]);
// the axes' pairs are laid side by side (frame's first). diffusers builds these as float32 tables of
// positions -4096..4095 (complex64 by torch.polar), so the angle is the f32 product of an f32
// frequency and the position, and a position outside that range does not exist there (refused here).
// We round the frequency and the angle to f32 exactly as that code does, then take cos and sin in
// float64 and round once, which is what the float64 reference (tools/qwen_image_reference.py) does.
// Rounding the angle matters: at position 4000 one f32 ulp of the angle is 2.4e-4.

import { UserError } from '../../core/errors.js';

/** One image of the sequence: (frames, height, width) in patches. */
export type ImageShape = readonly [number, number, number];

/** diffusers' tables hold positions -4096..4095 on every axis. */
export const MAX_POSITIONS = 4096;

/** The image tokens' positions (frame, row, column), [sum f*h*w, 3] row-major. */
export function imagePositions(shapes: readonly ImageShape[]): Int32Array {
  const tokens = shapes.reduce((n, [f, h, w]) => n + f * h * w, 0);
  const pos = new Int32Array(tokens * 3);
  let t = 0;
  shapes.forEach(([f, h, w], k) => {
    for (let fi = 0; fi < f; fi++) {
      for (let hi = 0; hi < h; hi++) {
        for (let wi = 0; wi < w; wi++, t++) pos.set([k + fi, hi - (h - Math.floor(h / 2)), wi - (w - Math.floor(w / 2))], t * 3);
      }
    }
  });
  return pos;
}

/** Where the text positions start: past the largest half-grid of any image. */
export function textStart(shapes: readonly ImageShape[]): number {
  return Math.max(0, ...shapes.map(([, h, w]) => Math.max(Math.floor(h / 2), Math.floor(w / 2))));
}

/** The text tokens' positions: token j at (s + j) on all three axes, [tokens, 3]. */
export function textPositions(shapes: readonly ImageShape[], tokens: number): Int32Array {
  const s = textStart(shapes);
  return Int32Array.from({ length: tokens * 3 }, (_, i) => s + Math.floor(i / 3));
}

/** Refuses shapes whose positions fall outside diffusers' tables (where diffusers itself fails). */
export function checkPositions(shapes: readonly ImageShape[], textTokens: number): void {
  shapes.forEach(([f, h, w], k) => {
    if (k + f > MAX_POSITIONS) throw new UserError(`image ${k} of img_shapes has ${f} frames, so its frame positions reach ${k + f - 1}, beyond diffusers' ${MAX_POSITIONS} positions: use fewer frames or images`);
    if (Math.max(h, w) > 2 * MAX_POSITIONS) throw new UserError(`image ${k} of img_shapes is ${h} x ${w} patches, beyond diffusers' ${2 * MAX_POSITIONS} positions per side: use a smaller image`);
  });
  const end = textStart(shapes) + textTokens;
  if (end > MAX_POSITIONS) throw new UserError(`the text positions reach ${end - 1} (${textTokens} tokens after position ${textStart(shapes)}), beyond diffusers' ${MAX_POSITIONS} positions: use fewer text tokens or a smaller image`);
}

/** f32 inverse frequencies of every pair, axis by axis: fround(1 / fround(theta ** fround(2k / dim))). */
function inverseFrequencies(axesDim: readonly number[], theta: number): number[] {
  const inv: number[] = [];
  for (const dim of axesDim) for (let k = 0; k < dim; k += 2) inv.push(Math.fround(1 / Math.fround(theta ** Math.fround(k / dim))));
  return inv;
}

/** (cos, sin) per (token, pair): [tokens, sum(axesDim) / 2, 2] for positions [tokens, 3]. */
export function ropeTable(positions: ArrayLike<number>, axesDim: readonly number[], theta: number): Float32Array {
  const inv = inverseFrequencies(axesDim, theta), pairs = inv.length, tokens = positions.length / axesDim.length;
  const axisOf: number[] = axesDim.flatMap((dim, a) => new Array<number>(dim / 2).fill(a));
  const table = new Float32Array(tokens * pairs * 2);
  for (let t = 0; t < tokens; t++) {
    for (let p = 0; p < pairs; p++) {
      const angle = Math.fround(positions[t * axesDim.length + axisOf[p]] * inv[p]);
      table[(t * pairs + p) * 2] = Math.cos(angle);
      table[(t * pairs + p) * 2 + 1] = Math.sin(angle);
    }
  }
  return table;
}

/** diffusers' (vid_freqs, txt_freqs) as (cos, sin) tables: img [L, pairs, 2] and txt [Lt, pairs, 2]. */
export function qwenRope(shapes: readonly ImageShape[], textTokens: number, axesDim: readonly number[], theta: number): { img: Float32Array; txt: Float32Array } {
  checkPositions(shapes, textTokens);
  return { img: ropeTable(imagePositions(shapes), axesDim, theta), txt: ropeTable(textPositions(shapes, textTokens), axesDim, theta) };
}
