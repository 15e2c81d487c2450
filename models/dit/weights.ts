// Loading a DiT checkpoint (safetensors, the official state-dict names) onto a backend.
// Every tensor is checked against the shape the config implies before anything is uploaded, so a
// wrong checkpoint fails with the tensor's name, the expected and the found shape.

import type { Backend } from '../../core/backend.js';
import { UserError } from '../../core/errors.js';
import { SafetensorsFile } from '../../core/safetensors.js';
import { shapeString, type Shape } from '../../core/shape.js';
import type { Tensor } from '../../core/tensor.js';
import { configFromShapes, outChannels, tokens, type DiTConfig } from './config.js';
import { FREQUENCY_SIZE } from './timestep.js';

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
  const D = c.hiddenSize, p = c.patchSize, mlp = c.mlpRatio * D;
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

/** Checks names and shapes of a checkpoint against a config; throws a UserError naming the first misfit. */
export function checkShapes(file: string, shapes: ReadonlyMap<string, Shape>, c: DiTConfig): void {
  for (const [name, expected] of expectedShapes(c)) {
    const found = shapes.get(name);
    if (!found) throw new UserError(`${file}: missing tensor "${name}" (expected shape ${shapeString(expected)})`);
    if (found.length !== expected.length || found.some((d, i) => d !== expected[i])) {
      throw new UserError(`${file}: tensor "${name}" has shape ${shapeString(found)}, expected ${shapeString(expected)} for this config`);
    }
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

/** The config of an open checkpoint, off its shapes (see configFromShapes), with every tensor checked. */
function headerOf(path: string, file: SafetensorsFile, opts: { heads?: number }): DiTHeader {
  const shapes = new Map<string, Shape>([...file.tensors].map(([name, info]) => [name, info.shape]));
  let config: DiTConfig;
  try {
    config = configFromShapes(shapes, file.metadata, opts.heads);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${path}: ${e.message}`);
    throw e;
  }
  checkShapes(path, shapes, config);
  return { config, metadata: file.metadata };
}

/**
 * Checks a DiT checkpoint from its header: the commands call this before they open a device, so a
 * wrong file costs nothing.
 */
export function inspectDiT(path: string, opts: { heads?: number } = {}): DiTHeader {
  const file = SafetensorsFile.open(path);
  try {
    return headerOf(path, file, opts);
  } finally {
    file.close();
  }
}

/**
 * Reads a DiT checkpoint: the config off its shapes, then each tensor straight from disk to the
 * backend, widened to f32. Only one tensor is ever held on the host at a time.
 */
export function loadDiT(path: string, backend: Backend, opts: { heads?: number } = {}): LoadedDiT {
  const file = SafetensorsFile.open(path);
  try {
    const { config, metadata } = headerOf(path, file, opts);
    const weights = buildWeights(config, (name, shape) => backend.upload(file.readF32(name), shape, 'f32'));
    return { config, weights, metadata };
  } finally {
    file.close();
  }
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

/**
 * Deterministic random weights of a config's shapes, for benchmarks: values do not change the work,
 * and a uniform spread of ±0.05 keeps activations finite through any depth.
 */
export function randomWeights(config: DiTConfig, backend: Backend, seed = 0): DiTWeights {
  let s = (seed * 2654435761 + 1) >>> 0;
  return buildWeights(config, (_name, shape) => {
    const data = new Float32Array(shape.reduce((a, d) => a * d, 1));
    for (let i = 0; i < data.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      data[i] = (s / 4294967296 - 0.5) * 0.1;
    }
    return backend.upload(data, shape, 'f32');
  });
}
