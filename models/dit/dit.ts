// The Diffusion Transformer, top to bottom (Peebles & Xie 2023, Figure 3, "adaLN-Zero" block):
//
//   x [N, C, H, W] --patchify+linear--> tokens [N, T, D] + pos_embed
//   t --sinusoid--> Linear-SiLU-Linear --+
//   y --label table----------------------+--> c [N, D]
//   for each block:
//     shift1, scale1, gate1, shift2, scale2, gate2 = Linear(SiLU(c))        (adaLN)
//     x = x + gate1 * Attention(LayerNorm(x) * (1 + scale1) + shift1)
//     x = x + gate2 * MLP(LayerNorm(x) * (1 + scale2) + shift2)
//   shift, scale = Linear(SiLU(c)); out = Linear(LayerNorm(x) * (1 + scale) + shift)
//   out [N, T, p*p*C'] --unpatchify--> [N, C', H, W]     (C' = 2C with learn_sigma: [eps; variance])
//
// It follows facebookresearch/DiT models.py operation for operation; only fusions that do not change
// the math are taken (LayerNorm with modulate, GELU inside fc1, the gated residual inside proj and fc2,
// SiLU(c) computed once for all blocks).

import type { Backend } from '../../core/backend.js';
import { UserError } from '../../core/errors.js';
import * as op from '../../core/ops.js';
import { tidy, type Tensor } from '../../core/tensor.js';
import type { ClassModel, ModelInfo } from '../class-model.js';
import { ditInfo, headDim, outChannels, type DiTConfig } from './config.js';
import { timestepSinusoid } from '../timestep.js';
import type { BlockWeights, DiTWeights, Linear } from './weights.js';

const EPS = 1e-6;

const linear = (x: Tensor, l: Linear, act: 'none' | 'gelu' = 'none') => op.linear(x, l.weight, l.bias, act);

export class DiT implements ClassModel {
  readonly info: ModelInfo;

  constructor(
    readonly config: DiTConfig,
    readonly weights: DiTWeights,
  ) {
    this.info = ditInfo(config);
  }

  get backend(): Backend {
    return this.weights.posEmbed.backend;
  }

  /** The noise (or velocity) prediction for latents x [N, C, H, W] at times t with labels y. */
  forward(x: Tensor, t: ArrayLike<number>, y: ArrayLike<number>): Tensor {
    this.checkInputs(x, t, y);
    return tidy(() => {
      const c = this.conditioning(t, y);
      const cSilu = op.silu(c);
      let h = this.embedPatches(x);
      for (const block of this.weights.blocks) h = tidy(() => this.block(h, cSilu, block));
      return this.finalLayer(h, cSilu);
    });
  }

  /**
   * Classifier-free guidance exactly as the official forward_with_cfg: the first half of x is run
   * twice (x must be [x; x] with labels [y; null]); eps = uncond + s * (cond - uncond) is applied to
   * the first 3 output channels ONLY (a quirk of the original code that samplers depend on); the other
   * channels (the 4th latent channel and the variance outputs) come from the model unguided.
   */
  forwardWithCfg(x: Tensor, t: ArrayLike<number>, y: ArrayLike<number>, cfgScale: number): Tensor {
    if (x.shape[0] % 2 !== 0) throw new UserError(`forwardWithCfg needs an even batch [x; x], got ${x.shape[0]}`);
    return tidy(() => {
      const half = op.slice(x, 0, 0, x.shape[0] / 2);
      const out = this.forward(op.concat([half, half], 0), t, y);
      const guided = Math.min(3, out.shape[1]);
      const eps = op.slice(out, 1, 0, guided);
      const rest = op.slice(out, 1, guided, out.shape[1]);
      const [cond, uncond] = op.chunk(eps, 2, 0);
      const halfEps = op.add(uncond, op.mul(op.scalar(x, cfgScale), op.sub(cond, uncond)));
      return op.concat([op.concat([halfEps, halfEps], 0), rest], 1);
    });
  }

  /** The noise prediction, guided with `cfgScale`, without the variance channels of a learn_sigma model. */
  predict(x: Tensor, t: readonly number[], y: readonly number[], cfgScale?: number): Tensor {
    return tidy(() => {
      const out = cfgScale === undefined ? this.forward(x, t, y) : this.forwardWithCfg(x, t, y, cfgScale);
      return out.shape[1] === x.shape[1] ? out : op.slice(out, 1, 0, x.shape[1]);
    });
  }

  /** c = MLP(sinusoid(t)) + labelTable[y]: one conditioning vector per sample. */
  private conditioning(t: ArrayLike<number>, y: ArrayLike<number>): Tensor {
    const w = this.weights;
    const sinusoid = this.backend.upload(timestepSinusoid(t), [t.length, 256], 'f32');
    const tEmb = linear(op.linear(sinusoid, w.timeMlp1.weight, w.timeMlp1.bias, 'silu'), w.timeMlp2);
    const labels = this.backend.upload(Int32Array.from(y), [y.length], 'i32');
    return op.add(tEmb, op.embedding(w.labelTable, labels));
  }

  /** A stride-p convolution as patchify + matmul, then the fixed 2-D sin-cos position embedding. */
  private embedPatches(x: Tensor): Tensor {
    const patches = op.patchify(x, this.config.patchSize);
    return op.add(linear(patches, this.weights.patchEmbed), this.weights.posEmbed);
  }

  /** The adaLN output's chunks (shift, scale, gate of attention, then of the MLP) are read in place by the ops. */
  private block(x: Tensor, cSilu: Tensor, w: BlockWeights): Tensor {
    const mod = linear(cSilu, w.adaLN);
    const [shiftMsa, scaleMsa, gateMsa, shiftMlp, scaleMlp, gateMlp] = [0, 1, 2, 3, 4, 5];
    // The output projections (attention's proj, the MLP's fc2) add their gated residual in their epilogue.
    const attnIn = op.layerNormModulate(x, mod, shiftMsa, scaleMsa, EPS);
    x = op.linearGatedResidual(x, mod, gateMsa, this.attention(attnIn, w), w.proj.weight, w.proj.bias);
    const mlpIn = op.layerNormModulate(x, mod, shiftMlp, scaleMlp, EPS);
    return op.linearGatedResidual(x, mod, gateMlp, linear(mlpIn, w.fc1, 'gelu'), w.fc2.weight, w.fc2.bias);
  }

  /**
   * Multi-head self-attention up to its output projection (which the block fuses with the residual);
   * qkv's output features are [all q; all k; all v], each head contiguous, so attention reads the heads
   * in place and writes them merged, [N, T, D] (op.attentionPacked).
   */
  private attention(x: Tensor, w: BlockWeights): Tensor {
    return op.attentionPacked(linear(x, w.qkv), this.config.numHeads, headDim(this.config) ** -0.5);
  }

  private finalLayer(x: Tensor, cSilu: Tensor): Tensor {
    const c = this.config;
    // The final adaLN's chunks: shift, scale.
    const out = linear(op.layerNormModulate(x, linear(cSilu, this.weights.finalAdaLN), 0, 1, EPS), this.weights.finalLinear);
    const grid = c.inputSize / c.patchSize;
    return op.unpatchify(out, c.patchSize, outChannels(c), grid, grid);
  }

  private checkInputs(x: Tensor, t: ArrayLike<number>, y: ArrayLike<number>): void {
    const c = this.config;
    const [n, ch, h, w] = x.shape;
    if (x.rank !== 4 || ch !== c.inChannels || h !== c.inputSize || w !== c.inputSize) {
      throw new UserError(`x has shape [${x.shape.join(', ')}] but this model takes [N, ${c.inChannels}, ${c.inputSize}, ${c.inputSize}]`);
    }
    if (t.length !== n || y.length !== n) throw new UserError(`batch sizes differ: x has ${n}, t has ${t.length}, y has ${y.length}`);
    for (let i = 0; i < n; i++) {
      if (!Number.isInteger(y[i]) || y[i] < 0 || y[i] > c.numClasses) {
        throw new UserError(`label y[${i}] = ${y[i]} is out of range: classes are 0..${c.numClasses - 1}, and ${c.numClasses} is the null class`);
      }
      if (!Number.isFinite(t[i])) throw new UserError(`timestep t[${i}] = ${t[i]} is not a finite number`);
    }
  }
}
