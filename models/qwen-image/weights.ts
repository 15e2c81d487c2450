// Loading a Qwen-Image transformer checkpoint (safetensors or .pt, diffusers key names, as the
// Qwen/Qwen-Image repository stores it) onto a backend. The header alone settles the config
// (config.ts) and that every tensor is there with its shape and nothing else is (models/weights.ts);
// each value is then read, widened to f32 and checked finite.
//
// diffusers names a block's image stream by the module that owns it: `img_mod.1` (index 1 of
// Sequential(SiLU, Linear)), `attn.to_q/to_k/to_v/to_out.0`, `attn.norm_q/norm_k`, `img_mlp.net.0.proj`
// and `img_mlp.net.2`; the text stream's attention weights are the "added" ones: `attn.add_q_proj`,
// `add_k_proj`, `add_v_proj`, `to_add_out`, `norm_added_q`, `norm_added_k`.

import type { Backend } from '../../core/backend.js';
import { openCheckpoint, type Checkpoint } from '../../core/checkpoint.js';
import type { SafeDType } from '../../core/safetensors.js';
import type { Shape } from '../../core/shape.js';
import type { Tensor } from '../../core/tensor.js';
import { FREQUENCY_SIZE } from '../timestep.js';
import { checkTensors as checkExpected, inFile, randomWeightSource, uploadWeights, type Expected } from '../weights.js';
import { configFromShapes, headDim, outFeatures, type QwenImageConfig } from './config.js';

/** Every Linear of Qwen-Image has a bias. */
export interface Linear {
  weight: Tensor;
  bias: Tensor;
}

/** One stream (image or text) of a block: its modulation, attention projections, q/k norms and MLP. */
export interface StreamWeights {
  mod: Linear;
  q: Linear;
  k: Linear;
  v: Linear;
  normQ: Tensor;
  normK: Tensor;
  out: Linear;
  mlpIn: Linear;
  mlpOut: Linear;
}

export interface QwenImageWeights {
  /** TimestepEmbedding: linear_2(SiLU(linear_1(sinusoid))). */
  timeLinear1: Linear;
  timeLinear2: Linear;
  /** RMSNorm weight over a text token, before txt_in. */
  txtNorm: Tensor;
  imgIn: Linear;
  txtIn: Linear;
  blocks: { img: StreamWeights; txt: StreamWeights }[];
  /** AdaLayerNormContinuous's linear: [2D, D], rows (scale | shift). */
  normOut: Linear;
  projOut: Linear;
}

/** Every tensor of a Qwen-Image state dict with the shape this config gives it, in diffusers' state-dict order. */
export function expectedTensors(c: QwenImageConfig): Expected[] {
  const D = c.hiddenSize, M = c.mlpHidden, hd = headDim(c);
  const out: Expected[] = [];
  const linear = (name: string, o: number, i: number) => out.push({ name: `${name}.weight`, shape: [o, i] }, { name: `${name}.bias`, shape: [o] });
  const norm = (name: string, width: number) => out.push({ name: `${name}.weight`, shape: [width] });
  linear('time_text_embed.timestep_embedder.linear_1', D, FREQUENCY_SIZE);
  linear('time_text_embed.timestep_embedder.linear_2', D, D);
  norm('txt_norm', c.jointAttentionDim);
  linear('img_in', D, c.inChannels);
  linear('txt_in', D, c.jointAttentionDim);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `transformer_blocks.${i}`;
    linear(`${p}.img_mod.1`, 6 * D, D);
    norm(`${p}.attn.norm_q`, hd);
    norm(`${p}.attn.norm_k`, hd);
    for (const proj of ['to_q', 'to_k', 'to_v', 'add_k_proj', 'add_v_proj', 'add_q_proj', 'to_out.0', 'to_add_out']) linear(`${p}.attn.${proj}`, D, D);
    norm(`${p}.attn.norm_added_q`, hd);
    norm(`${p}.attn.norm_added_k`, hd);
    linear(`${p}.img_mlp.net.0.proj`, M, D);
    linear(`${p}.img_mlp.net.2`, D, M);
    linear(`${p}.txt_mod.1`, 6 * D, D);
    linear(`${p}.txt_mlp.net.0.proj`, M, D);
    linear(`${p}.txt_mlp.net.2`, D, M);
  }
  linear('norm_out.linear', 2 * D, D);
  linear('proj_out', outFeatures(c), D);
  return out;
}

export interface QwenImageHeader {
  config: QwenImageConfig;
  metadata: Record<string, string>;
}

function openChecked(path: string): { file: Checkpoint; header: QwenImageHeader } {
  const file = openCheckpoint(path);
  try {
    const shapes = new Map<string, Shape>([...file.tensors].map(([name, info]) => [name, info.shape]));
    const header: QwenImageHeader = inFile(path, () => ({ config: configFromShapes(shapes, file.metadata), metadata: file.metadata }));
    checkTensors(path, file.tensors, header);
    return { file, header };
  } catch (e) {
    file.close();
    throw e;
  }
}

export function checkTensors(path: string, tensors: ReadonlyMap<string, { shape: Shape; dtype: SafeDType }>, h: QwenImageHeader): void {
  checkExpected(path, tensors, expectedTensors(h.config), {
    kind: 'Qwen-Image', model: 'a Qwen-Image transformer',
    question: 'is this a Qwen-Image transformer in the diffusers layout (transformer/diffusion_pytorch_model*.safetensors names)?',
  });
}

/** A Qwen-Image checkpoint's config from its header alone (nothing is read or uploaded). */
export function inspectQwenImage(path: string): QwenImageHeader {
  const { file, header } = openChecked(path);
  file.close();
  return header;
}

/** Reads a Qwen-Image checkpoint onto `backend`, one tensor at a time; on failure the uploaded ones are released. */
export function loadQwenImage(path: string, backend: Backend): QwenImageHeader & { weights: QwenImageWeights } {
  const { file, header } = openChecked(path);
  try {
    return { ...header, weights: uploadWeights(file, backend, (get) => buildWeights(header.config, get)) };
  } finally {
    file.close();
  }
}

/** Deterministic random weights of a config's shapes, for benchmarks and tests (see randomWeightSource). */
export function randomQwenImageWeights(config: QwenImageConfig, backend: Backend, seed = 0): QwenImageWeights {
  return buildWeights(config, randomWeightSource(backend, seed));
}

function buildWeights(c: QwenImageConfig, get: (name: string, shape: Shape) => Tensor): QwenImageWeights {
  const shapes = new Map(expectedTensors(c).map((e) => [e.name, e.shape]));
  // Tensors are fetched in state-dict order, so a random source gives each the same values every time.
  const tensor = (name: string) => get(name, shapes.get(name)!);
  const linear = (name: string): Linear => ({ weight: tensor(`${name}.weight`), bias: tensor(`${name}.bias`) });
  const timeLinear1 = linear('time_text_embed.timestep_embedder.linear_1');
  const timeLinear2 = linear('time_text_embed.timestep_embedder.linear_2');
  const txtNorm = tensor('txt_norm.weight');
  const imgIn = linear('img_in');
  const txtIn = linear('txt_in');
  const blocks = Array.from({ length: c.numLayers }, (_, i) => {
    const p = `transformer_blocks.${i}`, a = `${p}.attn`;
    const imgMod = linear(`${p}.img_mod.1`);
    const normQ = tensor(`${a}.norm_q.weight`), normK = tensor(`${a}.norm_k.weight`);
    const q = linear(`${a}.to_q`), k = linear(`${a}.to_k`), v = linear(`${a}.to_v`);
    const tk = linear(`${a}.add_k_proj`), tv = linear(`${a}.add_v_proj`), tq = linear(`${a}.add_q_proj`);
    const out = linear(`${a}.to_out.0`), tout = linear(`${a}.to_add_out`);
    const tNormQ = tensor(`${a}.norm_added_q.weight`), tNormK = tensor(`${a}.norm_added_k.weight`);
    const imgMlpIn = linear(`${p}.img_mlp.net.0.proj`), imgMlpOut = linear(`${p}.img_mlp.net.2`);
    const txtMod = linear(`${p}.txt_mod.1`);
    const txtMlpIn = linear(`${p}.txt_mlp.net.0.proj`), txtMlpOut = linear(`${p}.txt_mlp.net.2`);
    return {
      img: { mod: imgMod, q, k, v, normQ, normK, out, mlpIn: imgMlpIn, mlpOut: imgMlpOut },
      txt: { mod: txtMod, q: tq, k: tk, v: tv, normQ: tNormQ, normK: tNormK, out: tout, mlpIn: txtMlpIn, mlpOut: txtMlpOut },
    };
  });
  const normOut = linear('norm_out.linear');
  const projOut = linear('proj_out');
  return { timeLinear1, timeLinear2, txtNorm, imgIn, txtIn, blocks, normOut, projOut };
}
