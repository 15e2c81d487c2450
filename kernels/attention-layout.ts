// Where attention finds the heads of q, k and v, and where it writes its output: shared by both
// backends' attention kernels and by core/ops.ts, which builds it. Value d of head h, token t, batch
// entry b of an operand lies at offset + b*batch + h*head + t*token + d. Three layouts occur:
//   split   [B*H, T, hd], one head after another: attentionHeads' output, the op's plain layout;
//   packed  a projection's output [B, T, W] read in place, the heads at features offset + h*hd (DiT's
//           qkv Linear: q at 0, k at D, v at 2D), so that no pass splits the heads out;
//   merged  [B, T, H*hd], head h at features h*hd: what the output projection reads, so that no
//           permute merges the heads back.

export interface HeadStrides {
  offset: number;
  batch: number;
  head: number;
  token: number;
}

export interface AttentionLayout {
  batch: number;
  heads: number;
  tokens: number;
  headDim: number;
  q: HeadStrides;
  k: HeadStrides;
  v: HeadStrides;
  /** The output [B, T, H*hd] with heads merged; else [B*H, T, hd]. */
  merged: boolean;
}

/** [B*H, T, hd]. */
export function splitHeads(heads: number, tokens: number, headDim: number): HeadStrides {
  return { offset: 0, batch: heads * tokens * headDim, head: tokens * headDim, token: headDim };
}

/** A projection [B, T, width] with the heads at features offset + h*hd; [B, T, H*hd] merged is the one with offset 0, width H*hd. */
export function packedHeads(tokens: number, width: number, headDim: number, offset: number): HeadStrides {
  return { offset, batch: tokens * width, head: headDim, token: width };
}

/** The output's strides and shape. */
export function attentionOutput(l: AttentionLayout): { strides: HeadStrides; shape: number[] } {
  const { batch: B, heads: H, tokens: T, headDim: hd } = l;
  return l.merged
    ? { strides: packedHeads(T, H * hd, hd, 0), shape: [B, T, H * hd] }
    : { strides: splitHeads(H, T, hd), shape: [B * H, T, hd] };
}

/** The layout's numbers as a cache key part. */
export function layoutKey(l: AttentionLayout): string {
  const s = (x: HeadStrides) => `${x.offset}/${x.batch}/${x.head}/${x.token}`;
  return `${l.heads}h|${s(l.q)},${s(l.k)},${s(l.v)}|${l.merged ? 'merged' : 'split'}`;
}
