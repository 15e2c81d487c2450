// DiT configurations (Peebles & Xie, "Scalable Diffusion Models with Transformers"): the presets of
// the paper, and the rule that reads a config off a checkpoint's tensor shapes.

import { UserError } from '../../core/errors.js';
import type { Shape } from '../../core/shape.js';
import type { ModelInfo } from '../class-model.js';
import { metadataCount } from '../metadata.js';

export interface DiTConfig {
  /** Latent side length (H = W). */
  inputSize: number;
  patchSize: number;
  inChannels: number;
  hiddenSize: number;
  depth: number;
  numHeads: number;
  /** fc1 width over hidden width (4 in every published DiT). */
  mlpRatio: number;
  numClasses: number;
  /** learn_sigma doubles the output channels: [eps; variance interpolation]. */
  learnSigma: boolean;
}

/** depth, hidden size, heads of the paper's model sizes; each comes with patch 2, 4 or 8. */
const SIZES = {
  S: { depth: 12, hiddenSize: 384, numHeads: 6 },
  B: { depth: 12, hiddenSize: 768, numHeads: 12 },
  L: { depth: 24, hiddenSize: 1024, numHeads: 16 },
  XL: { depth: 28, hiddenSize: 1152, numHeads: 16 },
} as const;

export type SizeName = keyof typeof SIZES;

/** A preset such as "XL/2": 256-px ImageNet latents (4x32x32), 1000 classes, learn_sigma on. */
export function preset(name: string, overrides: Partial<DiTConfig> = {}): DiTConfig {
  const m = /^(?:DiT-)?(S|B|L|XL)\/(2|4|8)$/.exec(name);
  if (!m) throw new UserError(`unknown DiT preset "${name}": use one of S, B, L, XL with patch 2, 4 or 8, e.g. "XL/2"`);
  const size = SIZES[m[1] as SizeName];
  return {
    inputSize: 32, patchSize: Number(m[2]), inChannels: 4, mlpRatio: 4, numClasses: 1000, learnSigma: true,
    ...size, ...overrides,
  };
}

export function outChannels(c: DiTConfig): number {
  return c.learnSigma ? 2 * c.inChannels : c.inChannels;
}

export function tokens(c: DiTConfig): number {
  return (c.inputSize / c.patchSize) ** 2;
}

export function headDim(c: DiTConfig): number {
  return c.hiddenSize / c.numHeads;
}

/** Multiply-accumulates of one forward for one sample (linear layers and attention). */
export function macsPerSample(c: DiTConfig): number {
  const T = tokens(c), D = c.hiddenSize, p = c.patchSize;
  const mlp = c.mlpRatio * D;
  const block = T * D * 3 * D + 2 * T * T * D + T * D * D + 2 * T * D * mlp + D * 6 * D;
  const embed = T * c.inChannels * p * p * D + 256 * D + D * D;
  const final = D * 2 * D + T * D * p * p * outChannels(c);
  return embed + c.depth * block + final;
}

/**
 * A DiT's sizes as sampling sees them. The largest tensor per batch row is the MLP's hidden layer
 * [T, 4D], qkv [T, 3D] (and its permuted copy), the patches and the image-sized input and output, or
 * adaLN's [6D]; attention is fused on every backend, so its [T, T] scores are never a tensor.
 */
export function ditInfo(c: DiTConfig): ModelInfo {
  const t = tokens(c), d = c.hiddenSize, pp = c.patchSize ** 2;
  return {
    architecture: 'dit', channels: c.inChannels, height: c.inputSize, width: c.inputSize, numClasses: c.numClasses,
    imageTokens: t, heads: c.numHeads, macsPerSample: macsPerSample(c),
    largestPerRow: Math.max(t * c.mlpRatio * d, t * 3 * d, t * Math.max(c.inChannels, outChannels(c)) * pp, 6 * d, 256),
  };
}

/** The heads of the published sizes, keyed by hidden size: heads cannot be read off the shapes. */
const HEADS_BY_HIDDEN: Record<number, number> = { 384: 6, 768: 12, 1024: 16, 1152: 16 };

/** Block indices as a range list ("0-2, 5"), for messages. */
function ranges(sorted: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j === i ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.length > 6 ? `${parts.slice(0, 6).join(', ')}, ...` : parts.join(', ');
}

/**
 * The depth: blocks must be numbered 0..depth-1 without a gap. Counting up from 0 alone would read a
 * checkpoint missing one tensor of block 3 as a 3-block model and run it without complaint.
 */
function blockCount(shapes: ReadonlyMap<string, Shape>): number {
  const indices = new Set<number>();
  for (const name of shapes.keys()) {
    // Only canonical indices: "blocks.01.x" is no tensor of a DiT, and is reported as such.
    const m = /^blocks\.(0|[1-9][0-9]*)\./.exec(name);
    if (m) indices.add(Number(m[1]));
  }
  if (indices.size === 0) {
    throw new UserError('checkpoint has no transformer blocks (no tensor "blocks.0.attn.qkv.weight"): is this a DiT checkpoint in the official layout?');
  }
  let missing = 0;
  while (indices.has(missing)) missing++;
  if (missing < indices.size) {
    const present = ranges([...indices].sort((a, b) => a - b));
    throw new UserError(`block ${missing} is missing (the checkpoint has blocks ${present}): DiT blocks are numbered from 0 without gaps; re-export the complete checkpoint`);
  }
  return indices.size;
}

/**
 * Reads a config off a checkpoint: shapes give every size but the number of heads, which comes from
 * `__metadata__.num_heads`, else the caller's `heads` (--heads), else the preset for that hidden size.
 * Both given must agree. Every size a DiT needs positive is checked here, so that a crafted file with
 * an empty pos_embed (say) is refused instead of running on zero-size tensors.
 */
export function configFromShapes(
  shapes: ReadonlyMap<string, Shape>,
  metadata: Record<string, string>,
  heads?: number,
): DiTConfig {
  const fix = shapes.has('x_embedder.proj.weight')
    ? 'the checkpoint is incomplete; re-export it'
    : 'is this a DiT checkpoint in the official layout (facebookresearch/DiT state-dict names)?';
  const need = (name: string, rank: number): Shape => {
    const s = shapes.get(name);
    if (!s) throw new UserError(`checkpoint has no tensor "${name}": ${fix}`);
    if (s.length !== rank) throw new UserError(`tensor "${name}" has shape [${s.join(', ')}], expected rank ${rank}: is this a DiT checkpoint?`);
    return s;
  };
  const embed = need('x_embedder.proj.weight', 4);
  const [hiddenSize, inChannels, patchSize] = embed;
  if (embed.some((d) => d === 0)) {
    throw new UserError(`x_embedder.proj.weight has shape [${embed.join(', ')}]: a DiT needs a positive hidden size, channel count and patch size`);
  }
  const tokenCount = need('pos_embed', 3)[1];
  if (tokenCount === 0) throw new UserError('pos_embed has 0 tokens: a DiT needs at least one');
  const grid = Math.round(Math.sqrt(tokenCount));
  if (grid * grid !== tokenCount) throw new UserError(`pos_embed has ${tokenCount} tokens, not a square grid: DiT needs square latents`);
  const depth = blockCount(shapes);
  const mlpWidth = need('blocks.0.mlp.fc1.weight', 2)[0];
  if (mlpWidth === 0) throw new UserError('blocks.0.mlp.fc1.weight has 0 rows: a DiT needs an MLP of positive width');
  const tableRows = need('y_embedder.embedding_table.weight', 2)[0];
  // The last row of the label table is the null class that classifier-free guidance conditions on.
  const numClasses = tableRows - 1;
  if (numClasses < 1) {
    throw new UserError(`the label table y_embedder.embedding_table.weight has ${tableRows} row${tableRows === 1 ? '' : 's'}: ditto needs num_classes + 1 (the last row is the null class), so at least 2`);
  }
  const declaredClasses = metadataCount(metadata, 'num_classes');
  if (declaredClasses !== undefined && declaredClasses !== numClasses) {
    throw new UserError(`__metadata__.num_classes is ${declaredClasses} but the label table has ${tableRows} rows: ditto expects num_classes + 1 (the last row is the null class)`);
  }
  const outDim = need('final_layer.linear.weight', 2)[0];
  const out = outDim / (patchSize * patchSize);
  if (out !== inChannels && out !== 2 * inChannels) {
    throw new UserError(`final_layer.linear.weight has ${outDim} rows: expected p*p*C or p*p*2C (${patchSize * patchSize * inChannels} or ${2 * patchSize * patchSize * inChannels})`);
  }
  const learnSigma = out === 2 * inChannels;
  // Keys ditto does not need but tools/make_fixtures.py and converters write: a file that contradicts itself is broken.
  const declaredPatch = metadataCount(metadata, 'patch_size');
  if (declaredPatch !== undefined && declaredPatch !== patchSize) {
    throw new UserError(`__metadata__.patch_size is ${declaredPatch} but x_embedder.proj.weight has patch ${patchSize}: fix the checkpoint's metadata`);
  }
  const declaredSigma = metadata.learn_sigma?.toLowerCase();
  if (declaredSigma !== undefined && declaredSigma !== String(learnSigma)) {
    throw new UserError(`__metadata__.learn_sigma is ${JSON.stringify(metadata.learn_sigma)} but final_layer.linear.weight has ${outDim} rows, learn_sigma ${learnSigma}: fix the checkpoint's metadata`);
  }
  const numHeads = headsFor(hiddenSize, metadataCount(metadata, 'num_heads'), heads);
  return { inputSize: grid * patchSize, patchSize, inChannels, hiddenSize, depth, numHeads, mlpRatio: mlpWidth / hiddenSize, numClasses, learnSigma };
}

/** One rule for the heads: the metadata's, which --heads may repeat but not contradict; else --heads; else the preset. */
function headsFor(hiddenSize: number, declared: number | undefined, heads: number | undefined): number {
  if (heads !== undefined && !(Number.isInteger(heads) && heads > 0 && hiddenSize % heads === 0)) {
    throw new UserError(`--heads ${heads} does not divide hidden size ${hiddenSize}: pass a --heads that does`);
  }
  if (declared !== undefined) {
    if (hiddenSize % declared !== 0) {
      throw new UserError(`__metadata__.num_heads = ${declared} does not divide hidden size ${hiddenSize}: fix the checkpoint's metadata`);
    }
    if (heads !== undefined && heads !== declared) throw new UserError(`--heads ${heads} disagrees with __metadata__.num_heads = ${declared}: drop --heads`);
    return declared;
  }
  if (heads !== undefined) return heads;
  const preset = HEADS_BY_HIDDEN[hiddenSize];
  if (preset === undefined) {
    throw new UserError(`cannot tell the number of attention heads for hidden size ${hiddenSize} (no __metadata__.num_heads): pass --heads H`);
  }
  return preset;
}
