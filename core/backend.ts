// The one interface every compute backend implements (CPU in core/cpu, WebGPU in core/webgpu; their kernels in kernels/cpu and kernels/webgpu).
// Models never call a backend directly: they call core/ops.ts, which checks shapes and dtypes and
// then calls these methods. A backend may therefore assume valid, contiguous inputs.
// Every op returns a new tensor; none writes into its inputs, except flagNonFinite, which exists to
// accumulate into a flags tensor on the device.

import type { AttentionLayout } from '../kernels/attention-layout.js';
import type { HeadSource } from './ops.js';
import type { DType, HostArray, Storage, Tensor } from './tensor.js';

/** Activation applied to a linear layer's output inside the same kernel. */
export type Activation = 'none' | 'gelu' | 'silu';

export type BinaryOp = 'add' | 'sub' | 'mul';

export type UnaryOp = 'gelu' | 'silu';

/** Where layerNorm finds its modulation: the rows of `table` [B, W] (an adaLN output), shift and scale at these columns. */
export interface Modulation {
  table: Tensor;
  shift: number;
  scale: number;
}

export interface Backend {
  readonly name: string;

  /** Copy host data into a new tensor. */
  upload(data: HostArray, shape: readonly number[], dtype: DType): Tensor;
  read(t: Tensor): Promise<HostArray>;
  release(storage: Storage): void;
  /** Resolves once every op issued so far has finished (a GPU backend only records them until then). */
  sync(): Promise<void>;
  /**
   * Resolves once the backend has room for more work: a GPU backend waits while more than a bounded
   * number of its submitted command batches are unfinished; the CPU backend returns at once. A loop
   * that records op after op without reading anything back (sampling) awaits it every iteration:
   * otherwise the CPU records ever further ahead of the GPU, and the driver's memory for the pending
   * work grows until the process dies.
   */
  throttle(): Promise<void>;
  /**
   * The most elements one tensor should hold: on a GPU a hard limit (the largest buffer a kernel can
   * bind), on the CPU a memory budget. Work that can be split (generate's chunks of images) stays under it.
   */
  readonly maxTensorElements: number;

  /** y[M,N] = act(x[M,K] · w[N,K]^T + bias[N]): PyTorch's Linear layout, weights never transposed. */
  linear(x: Tensor, w: Tensor, bias: Tensor | null, act: Activation): Tensor;
  /** Elementwise with NumPy broadcasting; the output has the broadcast shape. */
  binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor;
  /**
   * weights[0] * xs[0] + weights[1] * xs[1] + ... over tensors of one shape, in f32 and in that order
   * (each weight rounded to f32, each product and each partial sum rounded): what a chain of mul and
   * add ops gives, in one pass. The forecast of a skipped step is one.
   */
  linearCombination(xs: readonly Tensor[], weights: readonly number[]): Tensor;
  unary(op: UnaryOp, x: Tensor): Tensor;
  /**
   * Sets bit j (1 << j) of flags[index] for each xs[j] that holds a NaN or an infinity; flags is an
   * i32 vector. The one op that writes into an existing tensor: a sampling loop marks every step into
   * one small tensor on the device and reads it back only when it waits anyway, instead of reading x
   * back each step.
   */
  flagNonFinite(xs: readonly Tensor[], flags: Tensor, index: number): void;
  /**
   * LayerNorm over the last dim without affine parameters, optionally followed by DiT's
   * modulate: y * (1 + scale[b]) + shift[b], where x is [B, T, D] and shift and scale are read in
   * place from the rows of `mod` [B, W], at columns [shift, shift + D) and [scale, scale + D).
   */
  layerNorm(x: Tensor, eps: number, mod: Modulation | null): Tensor;
  /** RMSNorm over the last dim with a learned scale: x / sqrt(mean(x^2) + eps) * weight, weight [D]. */
  rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor;
  /**
   * One of q, k, v as [B*H, T, hd] from the sources' projections (see ops.attentionHeads): heads split
   * out of x [B, L, W] at features offset + h*hd, RMS-normalised with the source's norm if it has one,
   * rotated by table [B or 1, T, hd/2, 2] if given, the sources' tokens one after another.
   */
  attentionHeads(sources: readonly HeadSource[], heads: number, headDim: number, table: Tensor | null, eps: number): Tensor;
  /**
   * x + gate[b] * (h · w^T + bias) with x [B, T, N], h [B, T, K], w [N, K], and gate[b] columns
   * [gate, gate + N) of row b of `mod` [B, W]: DiT's gated residual around a linear layer.
   */
  linearGatedResidual(x: Tensor, mod: Tensor, gate: number, h: Tensor, w: Tensor, bias: Tensor | null): Tensor;
  /** Softmax over the last dim. */
  softmax(x: Tensor): Tensor;
  /**
   * softmax(q k^T * scale) v per head, no mask: q, k, v read and the output written where `layout`
   * says (kernels/attention-layout.ts); q, k, v may be one tensor (a packed projection).
   */
  attention(q: Tensor, k: Tensor, v: Tensor, scale: number, layout: AttentionLayout): Tensor;
  /** Rows of table [V, D] picked by ids (i32) of any shape: out [...ids.shape, D]. */
  embedding(table: Tensor, ids: Tensor): Tensor;
  /** Generalised transpose: out.shape[i] = x.shape[perm[i]]. */
  permute(x: Tensor, perm: readonly number[]): Tensor;
  /** x[..., start:end, ...] along `axis`. */
  slice(x: Tensor, axis: number, start: number, end: number): Tensor;
  concat(xs: readonly Tensor[], axis: number): Tensor;
  /**
   * Patches of a stride-p convolution: x [N, C, H, W] -> [N, (H/p)(W/p), C*p*p] with each patch
   * flattened in (c, py, px) order, the order of a conv weight [D, C, p, p]. Tokens are row-major.
   */
  patchify(x: Tensor, p: number): Tensor;
  /** Inverse layout of DiT's unpatchify: x [N, T, p*p*C] read as (py, px, c) -> [N, C, h*p, w*p]. */
  unpatchify(x: Tensor, p: number, channels: number, h: number, w: number): Tensor;
  /**
   * 2-D convolution, stride 1, `padding` zeros on every side (PyTorch's Conv2d): x [N, C, H, W],
   * w [O, C, kh, kw], bias [O] -> [N, O, H + 2p - kh + 1, W + 2p - kw + 1].
   */
  conv2d(x: Tensor, w: Tensor, bias: Tensor | null, padding: number): Tensor;
  /**
   * GroupNorm over x [N, C, ...]: the C channels in `groups` consecutive groups, each normalised over
   * its channels and all positions (biased variance), then y * weight[c] + bias[c], then SiLU if `silu`.
   */
  groupNorm(x: Tensor, groups: number, eps: number, weight: Tensor, bias: Tensor, silu: boolean): Tensor;
  /** Nearest-neighbour upsampling by 2: x [N, C, H, W] -> [N, C, 2H, 2W], out[.., y, x] = x[.., y/2, x/2]. */
  upsampleNearest2x(x: Tensor): Tensor;
}
