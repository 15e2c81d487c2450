// Loading a DiT checkpoint (safetensors or a PyTorch .pt, the official state-dict names) onto a backend.
// A checkpoint is accepted only if it is complete, well-typed and finite. Before anything is uploaded,
// the index alone (the header, or the pickle) settles the first two: blocks numbered 0..depth-1, every
// tensor of the official layout present with the shape the config implies, no tensor a DiT does not
// have, float dtypes only.
// Finiteness needs the values, so it is checked as each tensor is read. Every refusal is one line
// naming the file and the tensor.

import type { Backend } from '../../core/backend.js';
import { UserError } from '../../core/errors.js';
import { openCheckpoint, type Checkpoint } from '../../core/checkpoint.js';
import type { SafeDType } from '../../core/safetensors.js';
import type { Shape } from '../../core/shape.js';
import type { Tensor } from '../../core/tensor.js';
import { checkTensors as checkExpected, gib, inFile, MAX_TENSOR_BYTES, randomWeightSource, uploadWeights } from '../weights.js';
import { configFromShapes, outChannels, tokens, type DiTConfig } from './config.js';
import { FREQUENCY_SIZE } from '../timestep.js';

export interface Linear {
  weight: Tensor;
  bias: Tensor;
}

export interface BlockWeights {
  adaLN: Linear;
  qkv: Linear;
  proj: Linear;
  fc1: Linear;
  fc2: Linear;
}

export interface DiTWeights {
  /** The patch-embedding conv weight flattened to [D, C*p*p] (the (c, py, px) order of patchify). */
  patchEmbed: Linear;
  posEmbed: Tensor;
  timeMlp1: Linear;
  timeMlp2: Linear;
  labelTable: Tensor;
  blocks: BlockWeights[];
  finalAdaLN: Linear;
  finalLinear: Linear;
}

/** Every tensor of a DiT state dict with the shape this config gives it. */
export function expectedShapes(c: DiTConfig): Map<string, number[]> {
  // Rounded: a width read off a checkpoint (fc1 rows / D) need not come back exactly when multiplied.
  const D = c.hiddenSize, p = c.patchSize, mlp = Math.round(c.mlpRatio * D);
  const m = new Map<string, number[]>();
  const linear = (name: string, out: number, inp: number) => {
    m.set(`${name}.weight`, [out, inp]);
    m.set(`${name}.bias`, [out]);
  };
  m.set('x_embedder.proj.weight', [D, c.inChannels, p, p]);
  m.set('x_embedder.proj.bias', [D]);
  m.set('pos_embed', [1, tokens(c), D]);
  linear('t_embedder.mlp.0', D, FREQUENCY_SIZE);
  linear('t_embedder.mlp.2', D, D);
  m.set('y_embedder.embedding_table.weight', [c.numClasses + 1, D]);
  for (let i = 0; i < c.depth; i++) {
    linear(`blocks.${i}.attn.qkv`, 3 * D, D);
    linear(`blocks.${i}.attn.proj`, D, D);
    linear(`blocks.${i}.mlp.fc1`, mlp, D);
    linear(`blocks.${i}.mlp.fc2`, D, mlp);
    linear(`blocks.${i}.adaLN_modulation.1`, 6 * D, D);
  }
  linear('final_layer.adaLN_modulation.1', 2 * D, D);
  linear('final_layer.linear', p * p * outChannels(c), D);
  return m;
}

/**
 * Checks a checkpoint's tensors against a config, from the header alone: the rules every model's
 * weights follow (models/weights.ts: all there, nothing else, shapes, float dtypes, memory), and one
 * image's activations fitting a buffer. Throws a one-line UserError naming the file and the misfits.
 */
export function checkTensors(file: string, tensors: ReadonlyMap<string, { shape: Shape; dtype: SafeDType }>, c: DiTConfig): void {
  checkExpected(file, tensors, [...expectedShapes(c)].map(([name, shape]) => ({ name, shape })), {
    kind: 'DiT', model: 'a DiT', question: 'is this a DiT checkpoint in the official layout (facebookresearch/DiT state-dict names)?',
  });
  // Activations are not in the file: one image's widest (tokens x the qkv, MLP or output width) must fit too.
  const width = Math.max(3 * c.hiddenSize, c.mlpRatio * c.hiddenSize, c.patchSize ** 2 * outChannels(c));
  const activationBytes = tokens(c) * width * 4;
  if (activationBytes > MAX_TENSOR_BYTES) {
    throw new UserError(`${file}: one image's activations (${tokens(c)} tokens x ${width} features) take ${gib(activationBytes)} as f32, more than one buffer can hold (${gib(MAX_TENSOR_BYTES)}): is this a DiT checkpoint?`);
  }
}

export interface LoadedDiT {
  config: DiTConfig;
  weights: DiTWeights;
  metadata: Record<string, string>;
}

/** A DiT checkpoint's config and metadata, from its header alone (nothing is read or uploaded). */
export interface DiTHeader {
  config: DiTConfig;
  metadata: Record<string, string>;
}

/** Opens `path` and checks its header in full (see checkHeader); the caller closes it. */
function openChecked(path: string, opts: { heads?: number }): { file: Checkpoint; config: DiTConfig } {
  const file = openCheckpoint(path);
  try {
    return { file, config: checkHeader(file, opts) };
  } catch (e) {
    file.close();
    throw e;
  }
}

/** The config of an open checkpoint, its header checked in full (see configFromShapes and checkTensors). */
function checkHeader(file: Checkpoint, opts: { heads?: number }): DiTConfig {
  const shapes = new Map<string, Shape>([...file.tensors].map(([name, info]) => [name, info.shape]));
  const config = inFile(file.path, () => configFromShapes(shapes, file.metadata, opts.heads));
  checkTensors(file.path, file.tensors, config);
  return config;
}

/**
 * Checks a DiT checkpoint from its header: the commands call this before they open a device, so a
 * wrong file costs nothing.
 */
export function inspectDiT(path: string, opts: { heads?: number } = {}): DiTHeader {
  const { file, config } = openChecked(path, opts);
  file.close();
  return { config, metadata: file.metadata };
}

/**
 * Reads a DiT checkpoint: its header checked in full, then each tensor straight from disk to the
 * backend, widened to f32 and checked to be finite. Only one tensor is ever held on the host at a
 * time; on a failure, the tensors already uploaded are released.
 */
export function loadDiT(path: string, backend: Backend, opts: { heads?: number } = {}): LoadedDiT {
  const file = openCheckpoint(path);
  try {
    return loadDiTFrom(file, backend, opts);
  } finally {
    file.close();
  }
}

/** As loadDiT, from a checkpoint already open (a web page's, read from fetched bytes); the caller closes it. */
export function loadDiTFrom(file: Checkpoint, backend: Backend, opts: { heads?: number } = {}): LoadedDiT {
  const config = checkHeader(file, opts);
  return { config, weights: uploadWeights(file, backend, (get) => buildWeights(config, get)), metadata: file.metadata };
}

/** Assembles DiTWeights from a source of named tensors (each asked for once, in state-dict order). */
function buildWeights(config: DiTConfig, get: (name: string, shape: number[]) => Tensor): DiTWeights {
  const shapes = expectedShapes(config);
  const tensor = (name: string, shape = shapes.get(name)!) => get(name, shape);
  const linear = (name: string): Linear => ({ weight: tensor(`${name}.weight`), bias: tensor(`${name}.bias`) });
  const D = config.hiddenSize, p = config.patchSize;
  return {
    patchEmbed: { weight: tensor('x_embedder.proj.weight', [D, config.inChannels * p * p]), bias: tensor('x_embedder.proj.bias') },
    posEmbed: tensor('pos_embed'),
    timeMlp1: linear('t_embedder.mlp.0'),
    timeMlp2: linear('t_embedder.mlp.2'),
    labelTable: tensor('y_embedder.embedding_table.weight'),
    blocks: Array.from({ length: config.depth }, (_, i) => ({
      adaLN: linear(`blocks.${i}.adaLN_modulation.1`),
      qkv: linear(`blocks.${i}.attn.qkv`),
      proj: linear(`blocks.${i}.attn.proj`),
      fc1: linear(`blocks.${i}.mlp.fc1`),
      fc2: linear(`blocks.${i}.mlp.fc2`),
    })),
    finalAdaLN: linear('final_layer.adaLN_modulation.1'),
    finalLinear: linear('final_layer.linear'),
  };
}

/** Deterministic random weights of a config's shapes, for benchmarks (see randomWeightSource). */
export function randomWeights(config: DiTConfig, backend: Backend, seed = 0): DiTWeights {
  return buildWeights(config, randomWeightSource(backend, seed));
}
