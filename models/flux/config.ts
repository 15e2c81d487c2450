// FLUX.1 configurations (black-forest-labs/flux, util.py `configs`), and the rule that reads one off a
// checkpoint: every size comes from a tensor shape; the number of heads from the width of the
// query/key RMSNorm scale (the head dim); the rotary axes and theta from `__metadata__`, else FLUX.1's.

import { UserError } from '../../core/errors.js';
import type { Shape } from '../../core/shape.js';
import { blockCount, metadataAxes, metadataCount, metadataTheta } from '../metadata.js';

export interface FluxConfig {
  /** Features of an image token: 64 in FLUX.1 (16 latent channels x a 2x2 patch). */
  inChannels: number;
  outChannels: number;
  /** Width of the pooled text vector y (CLIP-L: 768). */
  vecInDim: number;
  /** Width of a text token (T5-XXL: 4096). */
  contextInDim: number;
  hiddenSize: number;
  numHeads: number;
  /** Hidden width of every MLP (mlp_ratio x hiddenSize). */
  mlpHidden: number;
  /** Double-stream blocks, then single-stream blocks. */
  depth: number;
  depthSingle: number;
  /** Rotary dims per position axis; they sum to the head dim. */
  axesDim: number[];
  theta: number;
  qkvBias: boolean;
  /** FLUX.1-dev embeds the guidance scale; schnell does not. */
  guidanceEmbed: boolean;
}

/** FLUX.1-dev; schnell is the same without the guidance embedding. */
export const FLUX1_DEV: FluxConfig = {
  inChannels: 64, outChannels: 64, vecInDim: 768, contextInDim: 4096, hiddenSize: 3072, numHeads: 24, mlpHidden: 12288,
  depth: 19, depthSingle: 38, axesDim: [16, 56, 56], theta: 10000, qkvBias: true, guidanceEmbed: true,
};

export const headDim = (c: FluxConfig): number => c.hiddenSize / c.numHeads;

/** Multiply-accumulates of one forward for one image of `tokens` image tokens and `textTokens` text tokens. */
export function macsPerSample(c: FluxConfig, tokens: number, textTokens: number): number {
  const D = c.hiddenSize, M = c.mlpHidden, T = tokens + textTokens;
  const attention = 2 * T * T * D;
  const double = 2 * 6 * D * D + T * (3 * D * D + D * D + 2 * D * M) + attention;
  const single = 3 * D * D + T * D * (3 * D + M) + T * (D + M) * D + attention;
  const embed = tokens * c.inChannels * D + textTokens * c.contextInDim * D + 256 * D + D * D + c.vecInDim * D + D * D
    + (c.guidanceEmbed ? 256 * D + D * D : 0);
  const final = 2 * D * D + tokens * D * c.outChannels;
  return embed + c.depth * double + c.depthSingle * single + final;
}

/**
 * Reads a FLUX config off a checkpoint's tensor shapes and `__metadata__` (num_heads, axes_dim, theta:
 * each optional; a num_heads that disagrees with the query/key norm width is refused). Only the
 * tensors that carry a size are looked at here; weights.ts checks every tensor against the result.
 */
export function configFromShapes(shapes: ReadonlyMap<string, Shape>, metadata: Record<string, string>): FluxConfig {
  const need = (name: string, rank: number): Shape => {
    const s = shapes.get(name);
    if (!s) throw new UserError(`checkpoint has no tensor "${name}": the checkpoint is incomplete, or not a FLUX transformer in the black-forest-labs layout`);
    if (s.length !== rank || s.some((d) => d === 0)) throw new UserError(`tensor "${name}" has shape [${s.join(', ')}], expected rank ${rank} with no empty dim`);
    return s;
  };
  const [hiddenSize, inChannels] = need('img_in.weight', 2);
  const outChannels = need('final_layer.linear.weight', 2)[0];
  const vecInDim = need('vector_in.in_layer.weight', 2)[1];
  const contextInDim = need('txt_in.weight', 2)[1];
  const depth = blockCount(shapes, 'double_blocks');
  const depthSingle = blockCount(shapes, 'single_blocks');
  if (depth + depthSingle === 0) throw new UserError('checkpoint has no double_blocks and no single_blocks: a FLUX transformer needs at least one block');
  // The head dim is the width of the query norm's scale: heads = hidden / head dim.
  const normName = depth > 0 ? 'double_blocks.0.img_attn.norm.query_norm.scale' : 'single_blocks.0.norm.query_norm.scale';
  const hd = need(normName, 1)[0];
  if (hiddenSize % hd !== 0) throw new UserError(`${normName} has ${hd} entries, which does not divide the hidden size ${hiddenSize}: is this a FLUX checkpoint?`);
  const numHeads = hiddenSize / hd;
  const declaredHeads = metadataCount(metadata, 'num_heads');
  if (declaredHeads !== undefined && declaredHeads !== numHeads) {
    throw new UserError(`__metadata__.num_heads is ${declaredHeads}, but the query/key norm width ${hd} gives ${numHeads} heads of hidden size ${hiddenSize}: fix the checkpoint's metadata`);
  }
  const mlpHidden = depth > 0 ? need('double_blocks.0.img_mlp.0.weight', 2)[0] : need('single_blocks.0.linear2.weight', 2)[1] - hiddenSize;
  if (mlpHidden <= 0) throw new UserError(`the MLP width read off the checkpoint is ${mlpHidden}: is this a FLUX checkpoint?`);
  const axesDim = metadataAxes(metadata) ?? FLUX1_DEV.axesDim;
  const axesSum = axesDim.reduce((a, d) => a + d, 0);
  if (axesSum !== hd) {
    throw new UserError(`the rotary axes_dim ${axesDim.join(',')} sum to ${axesSum}, but the head dim is ${hd}${metadata.axes_dim === undefined ? ' (no __metadata__.axes_dim: FLUX.1\'s 16,56,56 assumed)' : ''}: set __metadata__.axes_dim to dims that sum to ${hd}`);
  }
  return {
    inChannels, outChannels, vecInDim, contextInDim, hiddenSize, numHeads, mlpHidden, depth, depthSingle, axesDim,
    theta: metadataTheta(metadata) ?? FLUX1_DEV.theta,
    qkvBias: depth > 0 ? shapes.has('double_blocks.0.img_attn.qkv.bias') : true,
    guidanceEmbed: shapes.has('guidance_in.in_layer.weight'),
  };
}
