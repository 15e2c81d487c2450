// FLUX's rotary position embedding table (black-forest-labs/flux math.py `rope`, layers.py `EmbedND`).
//
// Every token has a position id per axis (3 axes in FLUX.1: an image index, then row and column; text
// tokens are all zeros). Axis a owns axes_dim[a] of the head's dims, i.e. axes_dim[a] / 2 rotation
// pairs, with frequencies omega_k = 1 / theta^(2k / axes_dim[a]); the pair is rotated by the angle
// id * omega_k. The axes' pairs are laid side by side (axis 0's first), so a head's vector of
// sum(axes_dim) dims holds sum(axes_dim) / 2 pairs.
//
// The table is computed on the host in float64 and rounded to f32 once, as the official code does for
// float64 ids (for float32 ids it rounds along the way; the difference is an f32 ulp of the angle).

/** (cos, sin) per (image, token, pair): [batch, tokens, sum(axesDim) / 2, 2] for ids [batch, tokens, axes]. */
export function ropeTable(ids: ArrayLike<number>, batch: number, tokens: number, axesDim: readonly number[], theta: number): Float32Array {
  const axes = axesDim.length, pairs = axesDim.reduce((a, d) => a + d, 0) / 2;
  const omegas: number[] = [];
  for (const dim of axesDim) for (let k = 0; k < dim; k += 2) omegas.push(1 / theta ** (k / dim));
  const axisOf: number[] = axesDim.flatMap((dim, a) => new Array<number>(dim / 2).fill(a));
  const table = new Float32Array(batch * tokens * pairs * 2);
  for (let t = 0; t < batch * tokens; t++) {
    for (let p = 0; p < pairs; p++) {
      const angle = ids[t * axes + axisOf[p]] * omegas[p];
      table[(t * pairs + p) * 2] = Math.cos(angle);
      table[(t * pairs + p) * 2 + 1] = Math.sin(angle);
    }
  }
  return table;
}

/** FLUX's image ids for an h x w grid of tokens, row-major: (0, row, col), the same for every image. */
export function gridIds(batch: number, h: number, w: number): Float32Array {
  const ids = new Float32Array(batch * h * w * 3);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < h * w; i++) {
      ids[(b * h * w + i) * 3 + 1] = Math.floor(i / w);
      ids[(b * h * w + i) * 3 + 2] = i % w;
    }
  }
  return ids;
}
