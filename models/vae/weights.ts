// Loading a Stable Diffusion VAE checkpoint (safetensors or PyTorch .pt, in latent-diffusion's or
// diffusers' layout: models/vae/config.ts) onto a backend: the decoder and post_quant_conv only. As for
// DiT (models/dit/weights.ts), the header alone settles completeness and types before anything is
// uploaded: every tensor the config implies present with its shape, nothing beside them that a decoder
// does not have (a whole autoencoder's encoder, quant_conv and loss are skipped unread), float dtypes
// only. Finiteness needs the values and is checked as each tensor is read. Every refusal is one line
// naming the file.

import { totalmem } from 'node:os';
import type { Backend } from '../../core/backend.js';
import { openCheckpoint, type Checkpoint, type CheckpointTensor } from '../../core/checkpoint.js';
import { UserError } from '../../core/errors.js';
import { numel, sameShape, shapeString, type Shape } from '../../core/shape.js';
import type { Tensor } from '../../core/tensor.js';
import { gib, MAX_TENSOR_BYTES, nameList, randomWeightSource, readWeight, WEIGHT_DTYPES } from '../weights.js';
import { configFromShapes, expectedTensors, IGNORED_PREFIXES, namingOf, type ExpectedTensor, type Naming, type VaeConfig, type VaeLayout } from './config.js';

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

const fitsAsLinear = (found: Shape, e: ExpectedTensor) => e.linear === true && sameShape(found, [...e.shape, 1, 1]);

/**
 * Checks a checkpoint's tensors against the decoder a config implies, from the header alone. Throws a
 * one-line UserError naming the file and the misfits.
 */
function checkTensors(file: string, tensors: ReadonlyMap<string, CheckpointTensor>, expected: readonly ExpectedTensor[]): void {
  const missing = expected.filter((e) => !tensors.has(e.name));
  if (missing.length === 1) {
    throw new UserError(`${file}: missing tensor "${missing[0].name}" (expected shape ${shapeString(missing[0].shape)}): the checkpoint is incomplete; re-export it`);
  }
  if (missing.length > 1) {
    throw new UserError(`${file}: ${missing.length} tensors missing: ${nameList(missing.map((e) => e.name))}: the checkpoint is incomplete; re-export it`);
  }
  const known = new Set(expected.map((e) => e.name));
  const unknown = [...tensors.keys()].filter((name) => !known.has(name) && !IGNORED_PREFIXES.some((p) => name.startsWith(p)));
  if (unknown.length > 0) {
    const what = unknown.length === 1 ? 'a tensor that this VAE decoder does not have' : `${unknown.length} tensors that this VAE decoder does not have`;
    throw new UserError(`${file}: ${what}: ${nameList(unknown)}: is this a Stable Diffusion VAE (an AutoencoderKL state dict, latent-diffusion's or diffusers' names)?`);
  }
  let totalBytes = 0;
  for (const e of expected) {
    const { shape, dtype } = tensors.get(e.name)!;
    if (!sameShape(shape, e.shape) && !fitsAsLinear(shape, e)) {
      throw new UserError(`${file}: tensor "${e.name}" has shape ${shapeString(shape)}, expected ${shapeString(e.shape)} for this config`);
    }
    if (!WEIGHT_DTYPES.has(dtype)) {
      throw new UserError(`${file}: tensor "${e.name}" is ${dtype}; VAE weights are floating point (F32, F16, BF16 or F64): re-export the checkpoint with float weights`);
    }
    const bytes = numel(shape) * 4;
    if (bytes > MAX_TENSOR_BYTES) {
      throw new UserError(`${file}: tensor "${e.name}" ${shapeString(shape)} takes ${gib(bytes)} as f32, more than one buffer can hold (${gib(MAX_TENSOR_BYTES)}): is this a VAE checkpoint?`);
    }
    totalBytes += bytes;
  }
  // A sparse file can declare tensors far larger than the disk space it uses.
  if (totalBytes > totalmem()) throw new UserError(`${file}: the weights take ${gib(totalBytes)} as f32, more than this machine's ${gib(totalmem())} of memory`);
}

/** Opens `path` and checks its header in full; the caller closes the file. */
function openChecked(path: string): { file: Checkpoint; config: VaeConfig; naming: Naming } {
  const file = openCheckpoint(path);
  try {
    const naming = namingOf(file.tensors.keys());
    const shapes = new Map<string, Shape>([...file.tensors].map(([name, info]) => [name, info.shape]));
    let config: VaeConfig;
    try {
      config = configFromShapes(shapes, naming);
    } catch (e) {
      if (e instanceof UserError) throw new UserError(`${path}: ${e.message}`);
      throw e;
    }
    checkTensors(path, file.tensors, expectedTensors(config, naming));
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
  const uploaded: Tensor[] = [];
  try {
    const weights = buildWeights(config, naming, (name, shape) => {
      const tensor = backend.upload(readWeight(file, name), shape, 'f32');
      uploaded.push(tensor);
      return tensor;
    });
    return { config, layout: naming.layout, weights };
  } catch (e) {
    for (const t of uploaded) t.dispose();
    throw e;
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
