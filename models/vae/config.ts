// The VAE decoder's configuration, and the names of its tensors in the two layouts checkpoints use.
//
// The decoder is latent-diffusion's AutoencoderKL decoder (the Stable Diffusion VAE, sd-vae-ft-ema /
// -mse, which DiT decodes with). Its ddconfig is ch, ch_mult (one entry per level), num_res_blocks and
// z_channels, with no attention outside the mid block; all of it is read off the shapes, as DiT's
// config is. Levels are numbered as the original code numbers them: level 0 works at full resolution
// with the fewest channels, level L-1 at the latents' resolution; the decoder runs them from L-1 up.
//
// Checkpoints come in two layouts, told apart by their names:
// - latent-diffusion's own (`decoder.up.3.block.0.conv1.weight`, `decoder.mid.attn_1.q.weight` a 1x1
//   conv [C, C, 1, 1]): the .ckpt files of the original release, usually a whole autoencoder whose
//   encoder.*, quant_conv.* and loss.* the decoder does not need;
// - diffusers' (`decoder.up_blocks.0.resnets.0.conv1.weight`, Linear attention weights [C, C] named
//   to_q/to_k/to_v/to_out.0, or query/key/value/proj_attn in older conversions). diffusers lists the
//   levels from the deepest: its up_blocks.i is level L-1-i.
// A `Naming` spells every tensor name of one layout, so the expected tensors, the config lookups and
// the weights are all written once, over the names of any layout.

import { UserError } from '../../core/errors.js';
import type { Shape } from '../../core/shape.js';

export interface VaeConfig {
  /** Channels of the latents (post_quant_conv's input; AutoencoderKL's embed_dim). */
  latentChannels: number;
  /** Channels of z (post_quant_conv's output, conv_in's input). */
  zChannels: number;
  /** Channels of each level, level 0 (full resolution) first: ch * ch_mult. */
  levelChannels: number[];
  /** num_res_blocks: each level of the decoder runs one more ResNet block than this. */
  numResBlocks: number;
  /** Channels of the image (3). */
  outChannels: number;
}

/** GroupNorm's groups and epsilon in every norm of the decoder (ldm's Normalize). */
export const GROUPS = 32;
export const NORM_EPS = 1e-6;

/** More levels than this would upsample more than 128x: no such autoencoder exists. */
const MAX_LEVELS = 8;

/** Pixels per latent along each side: 2^(levels - 1) (8 for Stable Diffusion's VAE). */
export function upscaleFactor(c: VaeConfig): number {
  return 2 ** (c.levelChannels.length - 1);
}

export type VaeLayout = 'latent-diffusion' | 'diffusers';

/** Every tensor name of one layout. Parts joined with '.' make the full name. */
export interface Naming {
  layout: VaeLayout;
  /** The prefix of level l's tensors, given the number of levels. */
  level(l: number, levels: number): string;
  /** `${level}.${blocks}.${j}` is the level's j-th ResNet block. */
  blocks: string;
  upsample: string;
  shortcut: string;
  mid: [string, string];
  attention: string;
  attentionNorm: string;
  q: string;
  k: string;
  v: string;
  proj: string;
  normOut: string;
}

const LATENT_DIFFUSION: Naming = {
  layout: 'latent-diffusion', level: (l) => `decoder.up.${l}`, blocks: 'block', upsample: 'upsample.conv', shortcut: 'nin_shortcut',
  mid: ['decoder.mid.block_1', 'decoder.mid.block_2'], attention: 'decoder.mid.attn_1', attentionNorm: 'norm',
  q: 'q', k: 'k', v: 'v', proj: 'proj_out', normOut: 'decoder.norm_out',
};

const DIFFUSERS: Naming = {
  layout: 'diffusers', level: (l, levels) => `decoder.up_blocks.${levels - 1 - l}`, blocks: 'resnets', upsample: 'upsamplers.0.conv', shortcut: 'conv_shortcut',
  mid: ['decoder.mid_block.resnets.0', 'decoder.mid_block.resnets.1'], attention: 'decoder.mid_block.attentions.0', attentionNorm: 'group_norm',
  q: 'to_q', k: 'to_k', v: 'to_v', proj: 'to_out.0', normOut: 'decoder.conv_norm_out',
};

/** diffusers before 0.14 named the attention's projections after the original DDPM code. */
const DIFFUSERS_OLD_ATTENTION: Naming = { ...DIFFUSERS, q: 'query', k: 'key', v: 'value', proj: 'proj_attn' };

/** Parts of an autoencoder checkpoint that the decoder does not use: the encoder side and the training loss. */
export const IGNORED_PREFIXES = ['encoder.', 'quant_conv.', 'loss.'];

/** The layout of a checkpoint, from its names: diffusers' where any decoder name is diffusers'. */
export function namingOf(names: Iterable<string>): Naming {
  const all = [...names];
  if (!all.some((n) => n.startsWith('decoder.up_blocks.') || n.startsWith('decoder.mid_block.'))) return LATENT_DIFFUSION;
  return all.includes(`${DIFFUSERS.attention}.query.weight`) ? DIFFUSERS_OLD_ATTENTION : DIFFUSERS;
}

/** A tensor the config implies: its name in the checkpoint's layout and its shape. */
export interface ExpectedTensor {
  name: string;
  shape: Shape;
  /**
   * The attention's q, k, v and output projections are 1x1 convs [C, C, 1, 1] in latent-diffusion's
   * code and Linear layers [C, C] in diffusers'; the numbers are the same, and either shape is taken
   * in either layout (diffusers' own conversions have written both).
   */
  linear?: boolean;
}

/** The channels a level's block j takes in: the level below's (or the mid block's) for the first. */
function blockInput(c: VaeConfig, level: number, j: number): number {
  const deepest = c.levelChannels.length - 1;
  return j > 0 ? c.levelChannels[level] : c.levelChannels[Math.min(level + 1, deepest)];
}

/** Every tensor of the decoder (and post_quant_conv) for this config, in the order the decoder runs them. */
export function expectedTensors(c: VaeConfig, n: Naming): ExpectedTensor[] {
  const out: ExpectedTensor[] = [];
  const L = c.levelChannels.length, deep = c.levelChannels[L - 1];
  const conv = (name: string, o: number, i: number, k: number) => out.push({ name: `${name}.weight`, shape: [o, i, k, k] }, { name: `${name}.bias`, shape: [o] });
  const norm = (name: string, ch: number) => out.push({ name: `${name}.weight`, shape: [ch] }, { name: `${name}.bias`, shape: [ch] });
  const resnet = (name: string, i: number, o: number) => {
    norm(`${name}.norm1`, i);
    conv(`${name}.conv1`, o, i, 3);
    norm(`${name}.norm2`, o);
    conv(`${name}.conv2`, o, o, 3);
    if (i !== o) conv(`${name}.${n.shortcut}`, o, i, 1);
  };
  conv('post_quant_conv', c.zChannels, c.latentChannels, 1);
  conv('decoder.conv_in', deep, c.zChannels, 3);
  resnet(n.mid[0], deep, deep);
  norm(`${n.attention}.${n.attentionNorm}`, deep);
  for (const p of [n.q, n.k, n.v, n.proj]) out.push({ name: `${n.attention}.${p}.weight`, shape: [deep, deep], linear: true }, { name: `${n.attention}.${p}.bias`, shape: [deep] });
  resnet(n.mid[1], deep, deep);
  for (let l = L - 1; l >= 0; l--) {
    for (let j = 0; j <= c.numResBlocks; j++) resnet(`${n.level(l, L)}.${n.blocks}.${j}`, blockInput(c, l, j), c.levelChannels[l]);
    if (l > 0) conv(`${n.level(l, L)}.${n.upsample}`, c.levelChannels[l], c.levelChannels[l], 3);
  }
  norm(n.normOut, c.levelChannels[0]);
  conv('decoder.conv_out', c.outChannels, c.levelChannels[0], 3);
  return out;
}

/**
 * The config a checkpoint's shapes imply, in the given layout: the number of levels and of ResNet
 * blocks from the names, the channels from the first conv of each level and the ends of the network.
 * Throws a UserError (without the file name; the caller adds it) when a name it needs is missing or the
 * channels do not fit GroupNorm's 32 groups. Whether the rest of the checkpoint fits is checked against
 * expectedTensors.
 */
export function configFromShapes(shapes: ReadonlyMap<string, Shape>, n: Naming): VaeConfig {
  const indices = (prefix: string) => {
    const found = new Set<number>();
    for (const name of shapes.keys()) {
      const m = name.startsWith(prefix) ? /^(\d+)\./.exec(name.slice(prefix.length)) : null;
      if (m) found.add(Number(m[1]));
    }
    return found.size === 0 ? 0 : Math.max(...found) + 1;
  };
  const levelPrefix = n.level(0, 1).replace(/\d+$/, '');
  const levels = indices(levelPrefix);
  if (levels === 0) {
    throw new UserError(`no tensor named ${levelPrefix}*: is this a Stable Diffusion VAE (an AutoencoderKL state dict with decoder.* and post_quant_conv.*)?`);
  }
  if (levels > MAX_LEVELS) throw new UserError(`${levels} decoder levels (${levelPrefix}0..${levels - 1}) would upsample ${2 ** (levels - 1)}x: is this a VAE checkpoint?`);
  const dim = (name: string, axis: number) => {
    const shape = shapes.get(name);
    if (!shape) throw new UserError(`missing tensor "${name}": the checkpoint is incomplete; re-export it`);
    if (shape.length <= axis) throw new UserError(`tensor "${name}" has shape [${shape.join(', ')}]: is this a VAE checkpoint?`);
    return shape[axis];
  };
  const blocks = indices(`${n.level(0, levels)}.${n.blocks}.`);
  const config: VaeConfig = {
    latentChannels: dim('post_quant_conv.weight', 1),
    zChannels: dim('decoder.conv_in.weight', 1),
    levelChannels: Array.from({ length: levels }, (_, l) => dim(`${n.level(l, levels)}.${n.blocks}.0.conv1.weight`, 0)),
    numResBlocks: Math.max(0, blocks - 1),
    outChannels: dim('decoder.conv_out.weight', 0),
  };
  config.levelChannels.forEach((ch, l) => {
    if (ch === 0 || ch % GROUPS !== 0) throw new UserError(`decoder level ${l} has ${ch} channels, which GroupNorm's ${GROUPS} groups do not divide: is this a Stable Diffusion VAE?`);
  });
  if (config.latentChannels === 0 || config.zChannels === 0 || config.outChannels === 0) {
    throw new UserError(`post_quant_conv, conv_in or conv_out has no channels: is this a VAE checkpoint?`);
  }
  return config;
}
