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
import * as op from '../../core/ops.js';
import { tidy, type Tensor } from '../../core/tensor.js';
import type { ClassModel, ModelInfo } from '../class-model.js';
import { macsPerSample, type FluxConfig } from './config.js';
import { Flux } from './flux.js';
import { gridIds } from './rope.js';
import type { ClassPrompts, PromptShape } from './weights.js';

/** Sampling sizes of a class-prompted FLUX model whose samples are [C, H, W]. */
export function fluxInfo(c: FluxConfig, prompts: PromptShape, sample: [number, number, number]): ModelInfo {
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
  readonly info: ModelInfo;

  constructor(
    readonly flux: Flux,
    readonly prompts: ClassPrompts,
    promptShape: PromptShape,
    sample: [number, number, number],
  ) {
    this.info = fluxInfo(flux.config, promptShape, sample);
  }

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
