// Loading a Stable Diffusion VAE checkpoint (safetensors or PyTorch .pt, in latent-diffusion's or
// diffusers' layout: models/vae/config.ts) onto a backend: the decoder and post_quant_conv only. As for
// DiT (models/dit/weights.ts), the header alone settles completeness and types before anything is
// uploaded: every tensor the config implies present with its shape, nothing beside them that a decoder
// does not have (a whole autoencoder's encoder, quant_conv and loss are skipped unread), float dtypes
// only. Finiteness needs the values and is checked as each tensor is read. Every refusal is one line
// naming the file.

import type { Backend } from '../../core/backend.js';
import { openCheckpoint, type Checkpoint } from '../../core/checkpoint.js';
import type { Shape } from '../../core/shape.js';
import type { Tensor } from '../../core/tensor.js';
import { checkTensors, inFile, randomWeightSource, uploadWeights } from '../weights.js';
import { configFromShapes, expectedTensors, IGNORED_PREFIXES, namingOf, type Naming, type VaeConfig, type VaeLayout } from './config.js';

/** A conv (weight [O, I, k, k]), a Linear (weight [O, I]) or a GroupNorm's affine parameters ([C] each). */
export interface Params {
  weight: Tensor;
  bias: Tensor;
}

export interface ResnetWeights {
  norm1: Params;
  conv1: Params;
  norm2: Params;
  conv2: Params;
  /** The 1x1 conv that matches the channels of the skip path where a block changes them. */
  shortcut: Params | null;
}

/** The mid block's self-attention: q, k, v and the output projection as Linear weights [C, C]. */
export interface AttentionWeights {
  norm: Params;
  q: Params;
  k: Params;
  v: Params;
  proj: Params;
}

export interface LevelWeights {
  blocks: ResnetWeights[];
  /** The 3x3 conv after the x2 upsampling; null on level 0, which ends at full resolution. */
  upsample: Params | null;
}

export interface VaeWeights {
  postQuantConv: Params;
  convIn: Params;
  mid: { block1: ResnetWeights; attention: AttentionWeights; block2: ResnetWeights };
  /** Indexed by level: levels[0] is the full-resolution one, run last. */
  levels: LevelWeights[];
  normOut: Params;
  convOut: Params;
}

export interface VaeHeader {
  config: VaeConfig;
  layout: VaeLayout;
}

export interface LoadedVae extends VaeHeader {
  weights: VaeWeights;
}

/** Opens `path` and checks its header in full; the caller closes the file. */
function openChecked(path: string): { file: Checkpoint; config: VaeConfig; naming: Naming } {
  const file = openCheckpoint(path);
  try {
    const naming = namingOf(file.tensors.keys());
    const shapes = new Map<string, Shape>([...file.tensors].map(([name, info]) => [name, info.shape]));
    const config = inFile(path, () => configFromShapes(shapes, naming));
    checkTensors(path, file.tensors, expectedTensors(config, naming).map((e) => ({ name: e.name, shape: e.shape, alternative: e.linear ? [...e.shape, 1, 1] : undefined })), {
      kind: 'VAE', model: 'this VAE decoder', ignored: IGNORED_PREFIXES,
      question: "is this a Stable Diffusion VAE (an AutoencoderKL state dict, latent-diffusion's or diffusers' names)?",
    });
    return { file, config, naming };
  } catch (e) {
    file.close();
    throw e;
  }
}

/** A VAE checkpoint's config and layout from its header alone: commands check it before they open a device. */
export function inspectVae(path: string): VaeHeader {
  const { file, config, naming } = openChecked(path);
  file.close();
  return { config, layout: naming.layout };
}

/**
 * Reads a VAE checkpoint's decoder: the header checked in full, then each tensor from disk to the
 * backend, widened to f32 and checked to be finite, one at a time. On a failure the tensors already
 * uploaded are released.
 */
export function loadVae(path: string, backend: Backend): LoadedVae {
  const { file, config, naming } = openChecked(path);
  try {
    return { config, layout: naming.layout, weights: uploadWeights(file, backend, (get) => buildWeights(config, naming, get)) };
  } finally {
    file.close();
  }
}

/** Deterministic random weights of a config's shapes in the latent-diffusion layout, for benchmarks. */
export function randomVaeWeights(config: VaeConfig, backend: Backend, seed = 0): VaeWeights {
  return buildWeights(config, namingOf([]), randomWeightSource(backend, seed));
}

/** Assembles the weights from a source of named tensors, asked for in the order the decoder runs them. */
function buildWeights(c: VaeConfig, n: Naming, get: (name: string, shape: Shape) => Tensor): VaeWeights {
  const shapes = new Map(expectedTensors(c, n).map((e) => [e.name, e.shape]));
  const params = (name: string): Params => ({ weight: get(`${name}.weight`, shapes.get(`${name}.weight`)!), bias: get(`${name}.bias`, shapes.get(`${name}.bias`)!) });
  const resnet = (name: string): ResnetWeights => ({
    norm1: params(`${name}.norm1`),
    conv1: params(`${name}.conv1`),
    norm2: params(`${name}.norm2`),
    conv2: params(`${name}.conv2`),
    shortcut: shapes.has(`${name}.${n.shortcut}.weight`) ? params(`${name}.${n.shortcut}`) : null,
  });
  const L = c.levelChannels.length;
  const postQuantConv = params('post_quant_conv');
  const convIn = params('decoder.conv_in');
  const block1 = resnet(n.mid[0]);
  const a = n.attention;
  const attention = { norm: params(`${a}.${n.attentionNorm}`), q: params(`${a}.${n.q}`), k: params(`${a}.${n.k}`), v: params(`${a}.${n.v}`), proj: params(`${a}.${n.proj}`) };
  const block2 = resnet(n.mid[1]);
  const levels: LevelWeights[] = new Array(L);
  for (let l = L - 1; l >= 0; l--) {
    const level = n.level(l, L);
    levels[l] = {
      blocks: Array.from({ length: c.numResBlocks + 1 }, (_, j) => resnet(`${level}.${n.blocks}.${j}`)),
      upsample: l > 0 ? params(`${level}.${n.upsample}`) : null,
    };
  }
  return { postQuantConv, convIn, mid: { block1, attention, block2 }, levels, normOut: params(n.normOut), convOut: params('decoder.conv_out') };
}
