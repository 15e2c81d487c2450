// The Qwen-Image transformer, top to bottom (diffusers transformer_qwenimage.py
// QwenImageTransformer2DModel), a multimodal DiT like FLUX's double-stream half: text and image tokens
// keep separate weights in every block and meet only in attention. There are no single-stream blocks,
// no pooled text vector and no guidance input: the time alone modulates every block.
//
//   img [B, L, in] --img_in--> img                 txt [B, Lt, joint] --RMSNorm, txt_in--> txt
//   temb = linear_2(SiLU(linear_1(sinusoid(t))))   sinusoid: [cos, sin] of 1000 (t freqs)   [B, D]
//   pe_img, pe_txt = rotary tables of the centred image positions and the text after them (rope.ts)
//   for each block, for s in {img, txt} with its own weights:
//     shift1, scale1, gate1, shift2, scale2, gate2 = s_mod(SiLU(temb))
//     q_s, k_s, v_s = heads(s_q(m), s_k(m), s_v(m)) with m = LN(s) * (1 + scale1) + shift1
//     q_s, k_s = RoPE(RMSNorm(q_s), pe_s), RoPE(RMSNorm(k_s), pe_s)
//     attn = Attention([q_txt; q_img], [k_txt; k_img], [v_txt; v_img])            (joint, text first)
//     s = s + gate1 * s_out(attn_s);  s = s + gate2 * s_MLP(LN(s) * (1 + scale2) + shift2)
//   scale, shift = norm_out(SiLU(temb)); out = proj_out(LN(img) * (1 + scale) + shift)   (scale first)
//
// Norms in the blocks and at the end are LayerNorm without affine parameters (eps 1e-6); the text input
// norm and the q/k norms are RMSNorm with a learned weight (eps 1e-6); the MLP's GELU is the tanh
// approximation. SiLU(temb) is computed once for all blocks (diffusers applies it in every module).
// diffusers' text attention mask is not taken: it masks padded text, and unpadded text needs none.

import type { Backend } from '../../core/backend.js';
import { UserError } from '../../core/errors.js';
import * as op from '../../core/ops.js';
import { tidy, type Tensor } from '../../core/tensor.js';
import { FREQUENCY_SIZE, timestepSinusoid } from '../timestep.js';
import { headDim, type QwenImageConfig } from './config.js';
import { qwenRope, type ImageShape } from './rope.js';
import type { Linear, QwenImageWeights, StreamWeights } from './weights.js';

const EPS = 1e-6;

const linear = (x: Tensor, l: Linear, act: 'none' | 'gelu' | 'silu' = 'none') => op.linear(x, l.weight, l.bias, act);

/** The inputs of QwenImage.forward, as diffusers' forward takes them (without the text mask). */
export interface QwenImageInputs {
  /** Packed image tokens [B, L, in_channels]: every image of the sequence, one after the other. */
  img: Tensor;
  /** Text tokens [B, Lt, joint_attention_dim] (Qwen2.5-VL hidden states). */
  txt: Tensor;
  /** One time per sample in [0, 1] (1 = noise; the pipeline's sigma); the sinusoid multiplies by 1000. */
  timesteps: ArrayLike<number>;
  /**
   * (frames, height, width) in patches of each image of the sequence, the same for every sample (as
   * in diffusers, which reads sample 0's); sum of f * h * w = L.
   */
  imgShapes: readonly ImageShape[];
}

export class QwenImage {
  constructor(
    readonly config: QwenImageConfig,
    readonly weights: QwenImageWeights,
  ) {}

  get backend(): Backend {
    return this.weights.imgIn.weight.backend;
  }

  /** The velocity [B, L, patch^2 * out_channels], exactly what diffusers' forward returns as `sample`. */
  forward(inp: QwenImageInputs): Tensor {
    this.checkInputs(inp);
    const c = this.config, w = this.weights;
    const [B, L] = inp.img.shape, Lt = inp.txt.shape[1], pairs = headDim(c) / 2;
    return tidy(() => {
      let img = linear(inp.img, w.imgIn);
      let txt = linear(op.rmsNorm(inp.txt, w.txtNorm, EPS), w.txtIn);
      // diffusers' Timesteps(flip_sin_to_cos, scale=1000): [cos, sin] of fround(1000 * fround(t * freqs)).
      const sinusoid = this.backend.upload(timestepSinusoid(inp.timesteps, 1000), [B, FREQUENCY_SIZE], 'f32');
      const temb = linear(linear(sinusoid, w.timeLinear1, 'silu'), w.timeLinear2);
      const tembSilu = op.silu(temb);
      // One table for the joint sequence [txt; img], shared by every sample.
      const rope = qwenRope(inp.imgShapes, Lt, c.axesDim, c.theta);
      const table = new Float32Array(rope.txt.length + rope.img.length);
      table.set(rope.txt);
      table.set(rope.img, rope.txt.length);
      const pe = this.backend.upload(table, [1, Lt + L, pairs, 2], 'f32');
      for (const block of w.blocks) [img, txt] = tidy(() => this.block(img, txt, tembSilu, pe, block));
      // norm_out's chunks are (scale, shift).
      return linear(op.layerNormModulate(img, linear(tembSilu, w.normOut), 1, 0, EPS), w.projOut);
    });
  }

  /**
   * Joint attention over [txt; img] from the streams' modulated inputs: each stream's q, k, v
   * projections, heads split out (each head's dims contiguous: diffusers' unflatten(-1, (-1, hd))), q and
   * k RMS-normalised with the stream's own weights and rotated by the joint table (rotation is per token,
   * so this equals diffusers' rotating each stream before joining), softmax(q k^T / sqrt(hd)) v, heads
   * merged back: [B, T, D].
   */
  private attention(streams: { x: Tensor; w: StreamWeights }[], pe: Tensor): Tensor {
    const c = this.config, H = c.numHeads, hd = headDim(c);
    const heads = (proj: (w: StreamWeights) => Linear, norm: ((w: StreamWeights) => Tensor) | null) =>
      op.attentionHeads(streams.map((s) => ({ x: linear(s.x, proj(s.w)), offset: 0, norm: norm && norm(s.w) })), H, hd, norm && pe, EPS);
    return op.attention(heads((w) => w.q, (w) => w.normQ), heads((w) => w.k, (w) => w.normK), heads((w) => w.v, null), hd ** -0.5, H);
  }

  private block(img: Tensor, txt: Tensor, tembSilu: Tensor, pe: Tensor, w: { img: StreamWeights; txt: StreamWeights }): [Tensor, Tensor] {
    const Lt = txt.shape[1], T = Lt + img.shape[1];
    // Each stream's 6 chunks (shift1, scale1, gate1, shift2, scale2, gate2), as FLUX orders them.
    const imgMod = linear(tembSilu, w.img.mod);
    const txtMod = linear(tembSilu, w.txt.mod);
    const attn = this.attention([
      { x: op.layerNormModulate(txt, txtMod, 0, 1, EPS), w: w.txt },
      { x: op.layerNormModulate(img, imgMod, 0, 1, EPS), w: w.img },
    ], pe);
    const update = (x: Tensor, a: Tensor, mod: Tensor, s: StreamWeights) => {
      x = op.linearGatedResidual(x, mod, 2, a, s.out.weight, s.out.bias);
      const hidden = linear(op.layerNormModulate(x, mod, 3, 4, EPS), s.mlpIn, 'gelu');
      return op.linearGatedResidual(x, mod, 5, hidden, s.mlpOut.weight, s.mlpOut.bias);
    };
    return [update(img, op.slice(attn, 1, Lt, T), imgMod, w.img), update(txt, op.slice(attn, 1, 0, Lt), txtMod, w.txt)];
  }

  private checkInputs(inp: QwenImageInputs): void {
    const c = this.config;
    const shape = (t: Tensor) => `[${t.shape.join(', ')}]`;
    if (inp.img.rank !== 3 || inp.img.shape[2] !== c.inChannels) throw new UserError(`img has shape ${shape(inp.img)}, but this model takes [B, L, ${c.inChannels}]`);
    const [B, L] = inp.img.shape;
    if (inp.txt.rank !== 3 || inp.txt.shape[0] !== B || inp.txt.shape[2] !== c.jointAttentionDim) {
      throw new UserError(`txt has shape ${shape(inp.txt)}, but this model takes [${B}, Lt, ${c.jointAttentionDim}]`);
    }
    if (inp.timesteps.length !== B) throw new UserError(`timesteps holds ${inp.timesteps.length} values, expected one per sample (${B})`);
    const bad = Array.from(inp.timesteps).findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new UserError(`timesteps[${bad}] = ${inp.timesteps[bad]} is not a finite number`);
    checkImageShapes(inp.imgShapes, L);
  }
}

/** img_shapes must be whole positive (frames, height, width) triples covering the L image tokens exactly. */
export function checkImageShapes(shapes: readonly ImageShape[], tokens: number): void {
  if (shapes.length === 0) throw new UserError('img_shapes is empty: give (frames, height, width) in patches for each image of the sequence');
  shapes.forEach((s, k) => {
    if (s.length !== 3 || !s.every((d) => Number.isInteger(d) && d > 0)) {
      throw new UserError(`img_shapes[${k}] is (${s.join(', ')}), not 3 positive integers (frames, height, width in patches)`);
    }
  });
  const total = shapes.reduce((n, [f, h, w]) => n + f * h * w, 0);
  if (total !== tokens) {
    throw new UserError(`img_shapes ${shapes.map((s) => `(${s.join(', ')})`).join(', ')} cover ${total} tokens, but img has ${tokens}: sum of frames x height x width over the images must equal L`);
  }
}
