// Loading a FLUX transformer checkpoint (safetensors or .pt, black-forest-labs key names) onto a backend.
// The header alone settles the config (config.ts) and that every tensor is there with its shape and
// nothing else is (models/weights.ts); each value is then read, widened to f32 and checked finite.
//
// A class-conditional model trained by ditto (tools/train_mnist_flux.py) also carries a prompt table in
// place of the text encoders: `class_prompts.txt` [classes + 1, Lt, context_in_dim] and
// `class_prompts.y` [classes + 1, vec_in_dim], the last row being the null prompt of classifier-free
// guidance. Official checkpoints have neither.

import type { Backend } from '../../core/backend.js';
import { openCheckpoint, type Checkpoint } from '../../core/checkpoint.js';
import { UserError } from '../../core/errors.js';
import type { SafeDType } from '../../core/safetensors.js';
import type { Shape } from '../../core/shape.js';
import type { Tensor } from '../../core/tensor.js';
import { FREQUENCY_SIZE } from '../timestep.js';
import { checkTensors as checkExpected, inFile, uploadWeights, type Expected } from '../weights.js';
import { configFromShapes, headDim, type FluxConfig } from './config.js';

export interface Linear {
  weight: Tensor;
  bias: Tensor | null;
}

/** FLUX's MLPEmbedder: out_layer(SiLU(in_layer(x))). */
export interface Embedder {
  inLayer: Linear;
  outLayer: Linear;
}

/** One stream (image or text) of a double-stream block. */
export interface StreamWeights {
  mod: Linear;
  qkv: Linear;
  queryNorm: Tensor;
  keyNorm: Tensor;
  proj: Linear;
  mlpIn: Linear;
  mlpOut: Linear;
}

export interface SingleBlockWeights {
  mod: Linear;
  /** qkv and the MLP's input in one linear: [3D + M, D]. */
  linear1: Linear;
  /** Over [attention; MLP hidden]: [D, D + M]. */
  linear2: Linear;
  queryNorm: Tensor;
  keyNorm: Tensor;
}

export interface ClassPrompts {
  txt: Tensor;
  y: Tensor;
}

export interface FluxWeights {
  imgIn: Linear;
  timeIn: Embedder;
  guidanceIn: Embedder | null;
  vectorIn: Embedder;
  txtIn: Linear;
  double: { img: StreamWeights; txt: StreamWeights }[];
  single: SingleBlockWeights[];
  finalMod: Linear;
  finalLinear: Linear;
  prompts: ClassPrompts | null;
}

/** The prompt table's shape in a file: rows (classes + 1) and text tokens. */
export interface PromptShape {
  rows: number;
  tokens: number;
}

/** Every tensor of a FLUX state dict with the shape this config gives it, in state-dict order. */
export function expectedTensors(c: FluxConfig, prompts: PromptShape | null): Expected[] {
  const D = c.hiddenSize, M = c.mlpHidden, hd = headDim(c);
  const out: Expected[] = [];
  const linear = (name: string, o: number, i: number, bias = true) => {
    out.push({ name: `${name}.weight`, shape: [o, i] });
    if (bias) out.push({ name: `${name}.bias`, shape: [o] });
  };
  const embedder = (name: string, i: number) => {
    linear(`${name}.in_layer`, D, i);
    linear(`${name}.out_layer`, D, D);
  };
  linear('img_in', D, c.inChannels);
  embedder('time_in', FREQUENCY_SIZE);
  embedder('vector_in', c.vecInDim);
  if (c.guidanceEmbed) embedder('guidance_in', FREQUENCY_SIZE);
  linear('txt_in', D, c.contextInDim);
  for (let i = 0; i < c.depth; i++) {
    for (const s of ['img', 'txt']) {
      const p = `double_blocks.${i}.${s}`;
      linear(`${p}_mod.lin`, 6 * D, D);
      linear(`${p}_attn.qkv`, 3 * D, D, c.qkvBias);
      out.push({ name: `${p}_attn.norm.query_norm.scale`, shape: [hd] }, { name: `${p}_attn.norm.key_norm.scale`, shape: [hd] });
      linear(`${p}_attn.proj`, D, D);
      linear(`${p}_mlp.0`, M, D);
      linear(`${p}_mlp.2`, D, M);
    }
  }
  for (let i = 0; i < c.depthSingle; i++) {
    const p = `single_blocks.${i}`;
    linear(`${p}.linear1`, 3 * D + M, D);
    linear(`${p}.linear2`, D, D + M);
    out.push({ name: `${p}.norm.query_norm.scale`, shape: [hd] }, { name: `${p}.norm.key_norm.scale`, shape: [hd] });
    linear(`${p}.modulation.lin`, 3 * D, D);
  }
  linear('final_layer.linear', c.outChannels, D);
  linear('final_layer.adaLN_modulation.1', 2 * D, D);
  if (prompts) {
    out.push({ name: 'class_prompts.txt', shape: [prompts.rows, prompts.tokens, c.contextInDim] });
    out.push({ name: 'class_prompts.y', shape: [prompts.rows, c.vecInDim] });
  }
  return out;
}

/** The prompt table's rows and tokens, if the file has one (both tensors or neither). */
function promptShape(tensors: ReadonlyMap<string, { shape: Shape }>): PromptShape | null {
  const txt = tensors.get('class_prompts.txt'), y = tensors.get('class_prompts.y');
  if (!txt && !y) return null;
  if (!txt || !y) throw new UserError(`has "${txt ? 'class_prompts.txt' : 'class_prompts.y'}" without "${txt ? 'class_prompts.y' : 'class_prompts.txt'}": a prompt table needs both`);
  if (txt.shape.length !== 3 || txt.shape[0] < 2 || txt.shape[1] < 1) {
    throw new UserError(`class_prompts.txt has shape [${txt.shape.join(', ')}], expected [classes + 1, tokens, context] with at least one class and one token`);
  }
  return { rows: txt.shape[0], tokens: txt.shape[1] };
}

export interface FluxHeader {
  config: FluxConfig;
  prompts: PromptShape | null;
  metadata: Record<string, string>;
}

/** The header of an open checkpoint, checked in full (config, prompt table, every tensor). */
function fluxHeader(file: Checkpoint): FluxHeader {
  const shapes = new Map<string, Shape>([...file.tensors].map(([name, info]) => [name, info.shape]));
  const header: FluxHeader = inFile(file.path, () => ({ config: configFromShapes(shapes, file.metadata), prompts: promptShape(file.tensors), metadata: file.metadata }));
  checkTensors(file.path, file.tensors, header);
  return header;
}

/** Runs `fn` on the checkpoint at `path`, closing it afterwards. */
function withCheckpoint<T>(path: string, fn: (file: Checkpoint) => T): T {
  const file = openCheckpoint(path);
  try {
    return fn(file);
  } finally {
    file.close();
  }
}

export function checkTensors(path: string, tensors: ReadonlyMap<string, { shape: Shape; dtype: SafeDType }>, h: FluxHeader): void {
  checkExpected(path, tensors, expectedTensors(h.config, h.prompts), {
    kind: 'FLUX', model: 'a FLUX transformer', question: 'is this a FLUX transformer in the black-forest-labs layout (flux1-dev.safetensors names)?',
  });
}

/** A FLUX checkpoint's config from its header alone (nothing is read or uploaded). */
export function inspectFlux(path: string): FluxHeader {
  return withCheckpoint(path, fluxHeader);
}

/** Reads a FLUX checkpoint onto `backend`, one tensor at a time; on failure the uploaded ones are released. */
export function loadFlux(path: string, backend: Backend): FluxHeader & { weights: FluxWeights } {
  return withCheckpoint(path, (file) => loadFluxFrom(file, backend));
}

/** As loadFlux, from a checkpoint already open (a web page's, read from fetched bytes); the caller closes it. */
export function loadFluxFrom(file: Checkpoint, backend: Backend): FluxHeader & { weights: FluxWeights } {
  const header = fluxHeader(file);
  return { ...header, weights: uploadWeights(file, backend, (get) => buildWeights(header, get)) };
}

function buildWeights(h: FluxHeader, get: (name: string, shape: Shape) => Tensor): FluxWeights {
  const shapes = new Map(expectedTensors(h.config, h.prompts).map((e) => [e.name, e.shape]));
  const tensor = (name: string) => get(name, shapes.get(name)!);
  const linear = (name: string): Linear => ({ weight: tensor(`${name}.weight`), bias: shapes.has(`${name}.bias`) ? tensor(`${name}.bias`) : null });
  const embedder = (name: string): Embedder => ({ inLayer: linear(`${name}.in_layer`), outLayer: linear(`${name}.out_layer`) });
  const c = h.config;
  const stream = (p: string): StreamWeights => ({
    mod: linear(`${p}_mod.lin`),
    qkv: linear(`${p}_attn.qkv`),
    queryNorm: tensor(`${p}_attn.norm.query_norm.scale`),
    keyNorm: tensor(`${p}_attn.norm.key_norm.scale`),
    proj: linear(`${p}_attn.proj`),
    mlpIn: linear(`${p}_mlp.0`),
    mlpOut: linear(`${p}_mlp.2`),
  });
  const imgIn = linear('img_in');
  const timeIn = embedder('time_in');
  const vectorIn = embedder('vector_in');
  const guidanceIn = c.guidanceEmbed ? embedder('guidance_in') : null;
  const txtIn = linear('txt_in');
  const double = Array.from({ length: c.depth }, (_, i) => {
    const img = stream(`double_blocks.${i}.img`);
    return { img, txt: stream(`double_blocks.${i}.txt`) };
  });
  const single = Array.from({ length: c.depthSingle }, (_, i) => {
    const p = `single_blocks.${i}`;
    const linear1 = linear(`${p}.linear1`), linear2 = linear(`${p}.linear2`);
    const queryNorm = tensor(`${p}.norm.query_norm.scale`), keyNorm = tensor(`${p}.norm.key_norm.scale`);
    return { linear1, linear2, queryNorm, keyNorm, mod: linear(`${p}.modulation.lin`) };
  });
  const finalLinear = linear('final_layer.linear');
  const finalMod = linear('final_layer.adaLN_modulation.1');
  const prompts = h.prompts ? { txt: tensor('class_prompts.txt'), y: tensor('class_prompts.y') } : null;
  return { imgIn, timeIn, guidanceIn, vectorIn, txtIn, double, single, finalMod, finalLinear, prompts };
}
