// The Stable Diffusion VAE's decoder, top to bottom (latent-diffusion's AutoencoderKL.decode:
// post_quant_conv, then ldm/modules/diffusionmodules/model.py's Decoder, attn_resolutions empty):
//
//   z [N, 4, h, w] --post_quant_conv (1x1)--> --conv_in (3x3)--> [N, C, h, w]      (C: the deepest level's)
//   mid:  ResNet block, self-attention (one head over the h*w pixels), ResNet block
//   for each level from the deepest up: num_res_blocks + 1 ResNet blocks, then, except on the last
//   (full-resolution) level, nearest-neighbour x2 and a 3x3 conv
//   GroupNorm, SiLU, conv_out (3x3) --> image [N, 3, f*h, f*w]                     (f = 2^(levels-1))
//
//   ResNet block: h = conv1(SiLU(GroupNorm(x))); h = conv2(SiLU(GroupNorm(h))); x' = x + h, where x
//   goes through a 1x1 conv (nin_shortcut) when the block changes the channels. Dropout is off.
//   Attention: h = GroupNorm(x) as h*w tokens of C channels; x' = x + proj(softmax(q k^T / sqrt(C)) v).
//
// Every GroupNorm has 32 groups and eps 1e-6; those followed by SiLU take it in the same pass. The 1x1
// convs of the attention run as Linear layers on the tokens (the same numbers, one permute each way),
// and the attention itself as the official code computes it: the score matrix, its softmax, and a
// product with v, per image. The fused attention kernel holds a query's row in registers, which at
// C = 512 channels made lavapipe compile it for six minutes; here both products are Linear layers
// (k, and v transposed, as the weights).

import type { Backend } from '../../core/backend.js';
import { UserError } from '../../core/errors.js';
import * as op from '../../core/ops.js';
import { tidy, type Tensor } from '../../core/tensor.js';
import { GROUPS, NORM_EPS, upscaleFactor, type VaeConfig } from './config.js';
import type { AttentionWeights, Params, ResnetWeights, VaeWeights } from './weights.js';

const conv = (x: Tensor, p: Params, padding: number) => op.conv2d(x, p.weight, p.bias, padding);
const norm = (x: Tensor, p: Params, silu: boolean) => op.groupNorm(x, GROUPS, NORM_EPS, p.weight, p.bias, silu);
const linear = (x: Tensor, p: Params) => op.linear(x, p.weight, p.bias);

export class VaeDecoder {
  constructor(
    readonly config: VaeConfig,
    readonly weights: VaeWeights,
  ) {}

  get backend(): Backend {
    return this.weights.convIn.weight.backend;
  }

  /** Images [N, 3, f*h, f*w], about [-1, 1], for latents z [N, C, h, w] already divided by the VAE's scale. */
  decode(z: Tensor): Tensor {
    const c = this.config, w = this.weights;
    if (z.rank !== 4 || z.shape[1] !== c.latentChannels) {
      throw new UserError(`latents of shape [${z.shape.join(', ')}] do not fit this VAE: it decodes [N, ${c.latentChannels}, h, w]`);
    }
    // Each stage releases its input once its output exists: at full resolution one activation takes
    // tens of MB, and a tidy around the whole decoder would hold every stage's until the end.
    let h = z;
    const stage = (f: (x: Tensor) => Tensor) => {
      const next = tidy(() => f(h));
      if (h !== z) h.dispose();
      h = next;
    };
    stage((x) => conv(conv(x, w.postQuantConv, 0), w.convIn, 1));
    stage((x) => this.resnet(x, w.mid.block1));
    stage((x) => this.attention(x, w.mid.attention));
    stage((x) => this.resnet(x, w.mid.block2));
    for (let l = w.levels.length - 1; l >= 0; l--) {
      const level = w.levels[l];
      for (const block of level.blocks) stage((x) => this.resnet(x, block));
      if (level.upsample) stage((x) => conv(op.upsampleNearest2x(x), level.upsample!, 1));
    }
    stage((x) => conv(norm(x, w.normOut, true), w.convOut, 1));
    return h;
  }

  private resnet(x: Tensor, b: ResnetWeights): Tensor {
    let h = conv(norm(x, b.norm1, true), b.conv1, 1);
    h = conv(norm(h, b.norm2, true), b.conv2, 1);
    return op.add(b.shortcut ? conv(x, b.shortcut, 0) : x, h);
  }

  private attention(x: Tensor, a: AttentionWeights): Tensor {
    const [N, C, H, W] = x.shape;
    const T = H * W;
    const tokens = op.permute(norm(x, a.norm, false).reshape([N, C, T]), [0, 2, 1]);
    const q = op.mul(linear(tokens, a.q), op.scalar(x, C ** -0.5)), k = linear(tokens, a.k), v = linear(tokens, a.v);
    const image = (t: Tensor, i: number) => op.slice(t, 0, i, i + 1).reshape([T, C]);
    const heads = Array.from({ length: N }, (_, i) => tidy(() => {
      const p = op.softmax(op.linear(image(q, i), image(k, i)));
      return op.linear(p, op.permute(image(v, i), [1, 0]));
    }));
    const o = op.concat(heads, 0).reshape([N, T, C]);
    return op.add(x, op.permute(linear(o, a.proj), [0, 2, 1]).reshape([N, C, H, W]));
  }
}

/**
 * Elements of the largest tensor one image of h x w latents makes in the decoder: the attention's
 * scores (h*w)^2, a level's widest block at the level's resolution, or the upsampled tensor it hands
 * to the next level.
 */
export function largestPerImage(c: VaeConfig, h: number, w: number): number {
  const L = c.levelChannels.length;
  let largest = Math.max(c.latentChannels, c.zChannels, c.levelChannels[L - 1], h * w) * h * w;
  for (let l = L - 1; l >= 0; l--) {
    const pixels = h * w * 4 ** (L - 1 - l);
    const input = c.levelChannels[Math.min(l + 1, L - 1)];
    largest = Math.max(largest, Math.max(input, c.levelChannels[l]) * pixels, l > 0 ? c.levelChannels[l] * 4 * pixels : 0);
  }
  return Math.max(largest, c.outChannels * h * w * 4 ** (L - 1));
}

/**
 * Decodes latents [N, C, h, w] (as a sampler draws them, before the VAE's scaling) into images
 * [N, 3, f*h, f*w]: z = latents / scale, then the decoder, in chunks of images whose largest tensor
 * stays within the backend's maxTensorElements (at least one image: where one is already too large,
 * the backend says so when it allocates). `onChunk` hears how many images are done.
 */
export async function decodeLatents(
  decoder: VaeDecoder, latents: Float32Array, shape: readonly number[], scale: number, onChunk: (done: number) => void = () => {},
): Promise<{ images: Float32Array; shape: number[] }> {
  const [n, ch, h, w] = shape;
  const f = upscaleFactor(decoder.config);
  const outShape = [n, decoder.config.outChannels, f * h, f * w];
  const images = new Float32Array(outShape.reduce((a, d) => a * d, 1));
  const chunk = Math.max(1, Math.floor(decoder.backend.maxTensorElements / largestPerImage(decoder.config, h, w)));
  const perLatent = ch * h * w, perImage = images.length / Math.max(1, n);
  // Divided in f32, as PyTorch divides an f32 tensor by a Python float.
  const s = Math.fround(scale);
  for (let start = 0; start < n; start += chunk) {
    const count = Math.min(chunk, n - start);
    const z = latents.slice(start * perLatent, (start + count) * perLatent).map((v) => v / s);
    const zt = decoder.backend.upload(z, [count, ch, h, w], 'f32');
    const y = decoder.decode(zt);
    images.set(await y.read(), start * perImage);
    zt.dispose();
    y.dispose();
    onChunk(start + count);
  }
  return { images, shape: outShape };
}
