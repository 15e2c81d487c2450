// A FLUX transformer as a class-conditional image model (models/class-model.ts). FLUX is conditioned on
// text: T5 token embeddings (txt) and a pooled CLIP vector (y). A model trained by ditto on a fixed set
// of classes replaces both encoders with a learned table, one "prompt" per class plus the null prompt of
// classifier-free guidance (class_prompts.txt [classes + 1, Lt, ctx], class_prompts.y [classes + 1, vec]):
// class c is the prompt row c, and everything after that is the official FLUX forward.
//
//   x [N, C, H, W] --2x2 patches, (c, ph, pw) per token--> img [N, HW/4, 4C]     (FLUX's latent packing)
//   img_ids = (0, row, col) on the (H/2) x (W/2) grid; txt_ids = 0
//   out = Flux(img, img_ids, txt[c], txt_ids, t, y[c]) --unpack--> [N, C, H, W]
//
// Guidance is FLUX.1's true classifier-free guidance on every channel: uncond + s (cond - uncond).

import type { Backend } from '../../core/backend.js';
import type { Checkpoint } from '../../core/checkpoint.js';
import { UserError } from '../../core/errors.js';
import * as op from '../../core/ops.js';
import { tidy, type Tensor } from '../../core/tensor.js';
import type { ClassModel, ModelInfo } from '../class-model.js';
import { macsPerSample, type FluxConfig } from './config.js';
import { Flux } from './flux.js';
import { gridIds } from './rope.js';
import { loadFluxFrom, type ClassPrompts, type FluxHeader, type PromptShape } from './weights.js';

/**
 * The sampling sizes of a FLUX checkpoint's header, which must carry a class prompt table and
 * `__metadata__.sample_shape` "C,H,W": the image it samples, whose 2x2 patches give the model's input
 * features (4C). Refusals name the file.
 */
export function classModelInfo(file: string, h: FluxHeader): ModelInfo {
  if (!h.prompts) {
    throw new UserError(`${file} is a FLUX transformer without a class prompt table (class_prompts.txt, class_prompts.y): ditto samples class-conditional models; run one forward with \`ditto forward\``);
  }
  const declared = h.metadata.num_classes;
  if (declared !== undefined && declared !== String(h.prompts.rows - 1)) {
    throw new UserError(`${file}: __metadata__.num_classes is ${JSON.stringify(declared)} but class_prompts has ${h.prompts.rows} rows: expected num_classes + 1 (the last row is the null prompt)`);
  }
  const v = h.metadata.sample_shape;
  const dims = v !== undefined && /^\s*\d+\s*,\s*\d+\s*,\s*\d+\s*$/.test(v) ? v.split(',').map(Number) : [];
  const [c, height, width] = dims;
  if (dims.length !== 3 || !(c > 0 && height > 0 && width > 0) || height % 2 || width % 2) {
    throw new UserError(`${file}: __metadata__.sample_shape is ${JSON.stringify(v)}, expected "C,H,W" with even H and W (the image FLUX samples, packed in 2x2 patches)`);
  }
  if (4 * c !== h.config.inChannels || h.config.outChannels !== h.config.inChannels) {
    throw new UserError(`${file}: __metadata__.sample_shape gives ${c} channels, but the model takes ${h.config.inChannels} features and gives ${h.config.outChannels} (expected 4C each): fix the checkpoint's metadata`);
  }
  return fluxInfo(h.config, h.prompts, [c, height, width]);
}

/** A class-prompted FLUX model read from an open checkpoint onto `backend` (its header checked first). */
export function loadFluxClassModel(file: Checkpoint, backend: Backend): FluxClassModel {
  const loaded = loadFluxFrom(file, backend);
  const info = classModelInfo(file.path, loaded);
  return new FluxClassModel(new Flux(loaded.config, loaded.weights), loaded.weights.prompts!, info);
}

/** Sampling sizes of a class-prompted FLUX model whose samples are [C, H, W]. */
function fluxInfo(c: FluxConfig, prompts: PromptShape, sample: [number, number, number]): ModelInfo {
  const [channels, height, width] = sample;
  const L = (height / 2) * (width / 2), T = L + prompts.tokens;
  return {
    architecture: 'flux', channels, height, width, numClasses: prompts.rows - 1, imageTokens: L, heads: c.numHeads,
    macsPerSample: macsPerSample(c, L, prompts.tokens),
    // The single blocks' linear1 output [T, 3D + M] is the widest; attention is fused.
    largestPerRow: Math.max(T * (3 * c.hiddenSize + c.mlpHidden), T * (c.hiddenSize + c.mlpHidden), 6 * c.hiddenSize, 256),
  };
}

export class FluxClassModel implements ClassModel {
  constructor(
    readonly flux: Flux,
    readonly prompts: ClassPrompts,
    readonly info: ModelInfo,
  ) {}

  get backend(): Backend {
    return this.flux.backend;
  }

  predict(x: Tensor, t: readonly number[], y: readonly number[], cfgScale?: number): Tensor {
    return tidy(() => {
      const out = this.velocity(x, t, y);
      if (cfgScale === undefined) return out;
      const [cond, uncond] = op.chunk(out, 2, 0);
      const guided = op.add(uncond, op.mul(op.scalar(out, cfgScale), op.sub(cond, uncond)));
      return op.concat([guided, guided], 0);
    });
  }

  /** The unguided velocity for every row of x. */
  private velocity(x: Tensor, t: readonly number[], y: readonly number[]): Tensor {
    const [N, C, H, W] = x.shape;
    const { txt, y: vec } = this.prompts;
    const [, Lt, ctx] = txt.shape;
    const labels = this.backend.upload(Int32Array.from(y), [N], 'i32');
    const out = this.flux.forward({
      img: op.patchify(x, 2),
      imgIds: gridIds(N, H / 2, W / 2),
      txt: op.embedding(txt.reshape([txt.shape[0], Lt * ctx]), labels).reshape([N, Lt, ctx]),
      txtIds: new Float32Array(N * Lt * this.flux.config.axesDim.length),
      // The samplers give flow models 1000 t; FLUX takes t in [0, 1] and multiplies by 1000 itself.
      timesteps: t.map((v) => v / 1000),
      y: op.embedding(vec, labels),
    });
    // Unpacking: token (h, w) holds features (c, ph, pw) of pixels (2h + ph, 2w + pw).
    return op.permute(out.reshape([N, H / 2, W / 2, C, 2, 2]), [0, 3, 1, 4, 2, 5]).reshape([N, C, H, W]);
  }
}
