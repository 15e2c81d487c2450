// Qwen-Image configurations (diffusers' QwenImageTransformer2DModel defaults), and the rule that reads
// one off a checkpoint in the diffusers layout: every size comes from a tensor shape; the number of
// heads from the width of the query RMSNorm weight (the head dim, as in FLUX); the rotary axes and
// theta from `__metadata__`, else Qwen-Image's (16,56,56 and 10000, which diffusers hard-codes).
//
// The output width of proj_out is patch^2 * out_channels: diffusers unpacks it with patch 2, so a
// checkpoint's out_channels is its rows / 4 unless `__metadata__.patch_size` says otherwise.

import { UserError } from '../../core/errors.js';
import type { Shape } from '../../core/shape.js';
import { blockCount, metadataAxes, metadataCount, metadataTheta } from '../metadata.js';

export interface QwenImageConfig {
  /** Features of an image token: 64 in Qwen-Image (16 latent channels x a 2x2 patch). */
  inChannels: number;
  /** Latent channels of the output; a token carries patchSize^2 of them. */
  outChannels: number;
  patchSize: number;
  /** Width of a text token (Qwen2.5-VL-7B's hidden size: 3584). */
  jointAttentionDim: number;
  hiddenSize: number;
  numHeads: number;
  /** Hidden width of every MLP (4 x hiddenSize in diffusers' FeedForward). */
  mlpHidden: number;
  /** Double-stream blocks; Qwen-Image has no single-stream blocks. */
  numLayers: number;
  /** Rotary dims per position axis (frame, row, column); they sum to the head dim. */
  axesDim: number[];
  theta: number;
}

/** Qwen/Qwen-Image: 60 blocks of 24 heads of 128. */
export const QWEN_IMAGE: QwenImageConfig = {
  inChannels: 64, outChannels: 16, patchSize: 2, jointAttentionDim: 3584, hiddenSize: 3072, numHeads: 24, mlpHidden: 12288,
  numLayers: 60, axesDim: [16, 56, 56], theta: 10000,
};

export const headDim = (c: QwenImageConfig): number => c.hiddenSize / c.numHeads;

/** Features of an output token: patchSize^2 x outChannels (proj_out's rows). */
export const outFeatures = (c: QwenImageConfig): number => c.patchSize * c.patchSize * c.outChannels;

/** Multiply-accumulates of one forward for one image of `tokens` image tokens and `textTokens` text tokens. */
export function macsPerSample(c: QwenImageConfig, tokens: number, textTokens: number): number {
  const D = c.hiddenSize, M = c.mlpHidden, T = tokens + textTokens;
  // Per block: two 6D-wide modulations of temb, then per token q, k, v, out (4 D^2) and the MLP (2 D M).
  const block = 2 * 6 * D * D + T * (4 * D * D + 2 * D * M) + 2 * T * T * D;
  const embed = tokens * c.inChannels * D + textTokens * c.jointAttentionDim * D + 256 * D + D * D;
  const final = 2 * D * D + tokens * D * outFeatures(c);
  return embed + c.numLayers * block + final;
}

/**
 * Reads a Qwen-Image config off a checkpoint's tensor shapes and `__metadata__` (num_heads, axes_dim,
 * theta, patch_size: each optional; a num_heads that disagrees with the query norm width is refused).
 * Only the tensors that carry a size are looked at here; weights.ts checks every tensor against the result.
 */
export function configFromShapes(shapes: ReadonlyMap<string, Shape>, metadata: Record<string, string>): QwenImageConfig {
  const need = (name: string, rank: number): Shape => {
    const s = shapes.get(name);
    if (!s) throw new UserError(`checkpoint has no tensor "${name}": the checkpoint is incomplete, or not a Qwen-Image transformer in the diffusers layout`);
    if (s.length !== rank || s.some((d) => d === 0)) throw new UserError(`tensor "${name}" has shape [${s.join(', ')}], expected rank ${rank} with no empty dim`);
    return s;
  };
  const [hiddenSize, inChannels] = need('img_in.weight', 2);
  const jointAttentionDim = need('txt_in.weight', 2)[1];
  const outRows = need('proj_out.weight', 2)[0];
  const patchSize = metadataCount(metadata, 'patch_size') ?? QWEN_IMAGE.patchSize;
  if (outRows % (patchSize * patchSize) !== 0) {
    throw new UserError(`proj_out.weight has ${outRows} rows, not a multiple of patch_size^2 = ${patchSize * patchSize}${metadata.patch_size === undefined ? ' (no __metadata__.patch_size: Qwen-Image\'s 2 assumed)' : ''}: set __metadata__.patch_size to the checkpoint's patch size`);
  }
  const numLayers = blockCount(shapes, 'transformer_blocks');
  if (numLayers === 0) throw new UserError('checkpoint has no transformer_blocks: a Qwen-Image transformer needs at least one block');
  // The head dim is the width of the query norm's weight: heads = hidden / head dim.
  const normName = 'transformer_blocks.0.attn.norm_q.weight';
  const hd = need(normName, 1)[0];
  if (hiddenSize % hd !== 0) throw new UserError(`${normName} has ${hd} entries, which does not divide the hidden size ${hiddenSize}: is this a Qwen-Image checkpoint?`);
  const numHeads = hiddenSize / hd;
  const declaredHeads = metadataCount(metadata, 'num_heads');
  if (declaredHeads !== undefined && declaredHeads !== numHeads) {
    throw new UserError(`__metadata__.num_heads is ${declaredHeads}, but the query norm width ${hd} gives ${numHeads} heads of hidden size ${hiddenSize}: fix the checkpoint's metadata`);
  }
  const mlpHidden = need('transformer_blocks.0.img_mlp.net.0.proj.weight', 2)[0];
  const axesDim = metadataAxes(metadata) ?? QWEN_IMAGE.axesDim;
  const axesSum = axesDim.reduce((a, d) => a + d, 0);
  if (axesDim.length !== 3 || axesSum !== hd) {
    throw new UserError(`the rotary axes_dim ${axesDim.join(',')} ${axesDim.length !== 3 ? `has ${axesDim.length} axes, not 3 (frame, row, column)` : `sum to ${axesSum}, but the head dim is ${hd}`}${metadata.axes_dim === undefined ? ' (no __metadata__.axes_dim: Qwen-Image\'s 16,56,56 assumed)' : ''}: set __metadata__.axes_dim to 3 dims that sum to ${hd}`);
  }
  return {
    inChannels, outChannels: outRows / (patchSize * patchSize), patchSize, jointAttentionDim, hiddenSize, numHeads, mlpHidden,
    numLayers, axesDim, theta: metadataTheta(metadata) ?? QWEN_IMAGE.theta,
  };
}
