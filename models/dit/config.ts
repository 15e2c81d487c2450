// DiT configurations (Peebles & Xie, "Scalable Diffusion Models with Transformers"): the presets of
// the paper, and the rule that reads a config off a checkpoint's tensor shapes.

import { UserError } from '../../core/errors.js';
import type { Shape } from '../../core/shape.js';

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
export const SIZES = {
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

/** The heads of the published sizes, keyed by hidden size: heads cannot be read off the shapes. */
const HEADS_BY_HIDDEN: Record<number, number> = { 384: 6, 768: 12, 1024: 16, 1152: 16 };

/**
 * Reads a config off a checkpoint: shapes give every size but the number of heads, which comes from
 * `__metadata__.num_heads`, else the caller's `heads`, else the preset for that hidden size.
 */
export function configFromShapes(
  shapes: ReadonlyMap<string, Shape>,
  metadata: Record<string, string>,
  heads?: number,
): DiTConfig {
  const need = (name: string, rank: number): Shape => {
    const s = shapes.get(name);
    if (!s) throw new UserError(`checkpoint has no tensor "${name}": it is not a DiT checkpoint in the official layout (facebookresearch/DiT state-dict names)`);
    if (s.length !== rank) throw new UserError(`tensor "${name}" has shape [${s.join(', ')}], expected rank ${rank}`);
    return s;
  };
  const [hiddenSize, inChannels, patchSize] = need('x_embedder.proj.weight', 4);
  const tokenCount = need('pos_embed', 3)[1];
  const grid = Math.round(Math.sqrt(tokenCount));
  if (grid * grid !== tokenCount) throw new UserError(`pos_embed has ${tokenCount} tokens, not a square grid: DiT needs square latents`);
  let depth = 0;
  while (shapes.has(`blocks.${depth}.attn.qkv.weight`)) depth++;
  if (depth === 0) throw new UserError('checkpoint has no tensor "blocks.0.attn.qkv.weight": it is not a DiT checkpoint in the official layout');
  const mlpRatio = need('blocks.0.mlp.fc1.weight', 2)[0] / hiddenSize;
  const tableRows = need('y_embedder.embedding_table.weight', 2)[0];
  // The last row of the label table is the null class that classifier-free guidance conditions on.
  const numClasses = tableRows - 1;
  if (metadata.num_classes !== undefined && Number(metadata.num_classes) !== numClasses) {
    throw new UserError(`__metadata__.num_classes is ${metadata.num_classes} but the label table has ${tableRows} rows: ditto expects num_classes + 1 (the last row is the null class)`);
  }
  const outDim = need('final_layer.linear.weight', 2)[0];
  const out = outDim / (patchSize * patchSize);
  if (out !== inChannels && out !== 2 * inChannels) {
    throw new UserError(`final_layer.linear.weight has ${outDim} rows: expected p*p*C or p*p*2C (${patchSize * patchSize * inChannels} or ${2 * patchSize * patchSize * inChannels})`);
  }
  let numHeads: number | undefined;
  let source: string;
  if (metadata.num_heads !== undefined) {
    numHeads = Number(metadata.num_heads);
    source = '__metadata__.num_heads';
  } else if (heads !== undefined) {
    numHeads = heads;
    source = '--heads';
  } else {
    numHeads = HEADS_BY_HIDDEN[hiddenSize];
    source = `the preset for hidden size ${hiddenSize}`;
    if (numHeads === undefined) {
      throw new UserError(`cannot tell the number of attention heads for hidden size ${hiddenSize} (no __metadata__.num_heads): pass --heads H`);
    }
  }
  if (!Number.isInteger(numHeads) || numHeads <= 0 || hiddenSize % numHeads !== 0) {
    throw new UserError(`${source} gives ${numHeads} heads, which does not divide hidden size ${hiddenSize}: pass a --heads that does`);
  }
  return { inputSize: grid * patchSize, patchSize, inChannels, hiddenSize, depth, numHeads, mlpRatio, numClasses, learnSigma: out === 2 * inChannels };
}
