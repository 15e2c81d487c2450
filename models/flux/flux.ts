// The FLUX.1 transformer, top to bottom (black-forest-labs/flux model.py, modules/layers.py, math.py),
// a multimodal DiT: text and image tokens keep separate weights in the double-stream blocks and meet
// only in attention; the single-stream blocks then run one set of weights over both.
//
//   img [B, L, in] --img_in--> img                     txt [B, Lt, ctx] --txt_in--> txt
//   vec = time_in(sinusoid(1000 t)) [+ guidance_in(sinusoid(1000 g))] + vector_in(y)      [B, D]
//   pe  = rotary table of the position ids [txt_ids; img_ids]
//   for each double block, for s in {img, txt} with its own weights:
//     shift1, scale1, gate1, shift2, scale2, gate2 = s_mod(SiLU(vec))
//     q_s, k_s, v_s = heads(s_qkv(LN(s) * (1 + scale1) + shift1)); q_s, k_s = RMSNorm(q_s), RMSNorm(k_s)
//     attn = Attention(RoPE([q_txt; q_img]), RoPE([k_txt; k_img]), [v_txt; v_img])   (joint, text first)
//     s = s + gate1 * s_proj(attn_s);  s = s + gate2 * s_MLP(LN(s) * (1 + scale2) + shift2)
//   x = [txt; img]
//   for each single block:
//     shift, scale, gate = mod(SiLU(vec)); h = linear1(LN(x) * (1 + scale) + shift) = [qkv | mlp]
//     x = x + gate * linear2([Attention(RoPE(RMSNorm(q)), RoPE(RMSNorm(k)), v) | GELU(mlp)])
//   shift, scale = final_mod(SiLU(vec)); out = final_linear(LN(x_img) * (1 + scale) + shift)
//
// Norms are LayerNorm without affine parameters (eps 1e-6); the q/k norms are RMSNorm with a learned
// scale (eps 1e-6); every GELU is the tanh approximation. SiLU(vec) is computed once for all blocks.

import type { Backend } from '../../core/backend.js';
import { UserError } from '../../core/errors.js';
import * as op from '../../core/ops.js';
import { tidy, type Tensor } from '../../core/tensor.js';
import { FREQUENCY_SIZE, timestepSinusoid } from '../timestep.js';
import { headDim, type FluxConfig } from './config.js';
import { ropeTable } from './rope.js';
import type { Embedder, FluxWeights, Linear, SingleBlockWeights, StreamWeights } from './weights.js';

const EPS = 1e-6;

const linear = (x: Tensor, l: Linear, act: 'none' | 'gelu' | 'silu' = 'none') => op.linear(x, l.weight, l.bias, act);
const embed = (x: Tensor, e: Embedder) => linear(linear(x, e.inLayer, 'silu'), e.outLayer);

/** The inputs of Flux.forward, as the official forward takes them. */
export interface FluxInputs {
  /** Packed image tokens [B, L, in_channels]. */
  img: Tensor;
  /** Position ids [B, L, axes], row-major. */
  imgIds: ArrayLike<number>;
  /** Text tokens [B, Lt, context_in_dim]. */
  txt: Tensor;
  txtIds: ArrayLike<number>;
  /** One time per image in [0, 1] (1 = noise); the model multiplies by 1000. */
  timesteps: ArrayLike<number>;
  /** The pooled text vector [B, vec_in_dim]. */
  y: Tensor;
  /** The guidance scale per image: required by a model with guidance_in, ignored by one without. */
  guidance?: ArrayLike<number>;
}

export class Flux {
  constructor(
    readonly config: FluxConfig,
    readonly weights: FluxWeights,
  ) {}

  get backend(): Backend {
    return this.weights.imgIn.weight.backend;
  }

  /** The velocity [B, L, out_channels] for the given tokens, exactly what the official Flux.forward returns. */
  forward(inp: FluxInputs): Tensor {
    this.checkInputs(inp);
    const c = this.config, w = this.weights;
    const [B, L] = inp.img.shape, Lt = inp.txt.shape[1];
    return tidy(() => {
      let img = linear(inp.img, w.imgIn);
      const vec = this.vector(inp);
      const vecSilu = op.silu(vec);
      let txt = linear(inp.txt, w.txtIn);
      // Each image's ids [txt_ids; img_ids], as the official torch.cat((txt_ids, img_ids), dim=1).
      const axes = c.axesDim.length, T = Lt + L;
      const ids = new Float32Array(B * T * axes);
      for (let b = 0; b < B; b++) {
        for (let i = 0; i < Lt * axes; i++) ids[b * T * axes + i] = inp.txtIds[b * Lt * axes + i];
        for (let i = 0; i < L * axes; i++) ids[(b * T + Lt) * axes + i] = inp.imgIds[b * L * axes + i];
      }
      const pe = this.backend.upload(ropeTable(ids, B, Lt + L, c.axesDim, c.theta), [B, Lt + L, headDim(c) / 2, 2], 'f32');
      for (const block of w.double) [img, txt] = tidy(() => this.doubleBlock(img, txt, vecSilu, pe, block));
      let x = op.concat([txt, img], 1);
      for (const block of w.single) x = tidy(() => this.singleBlock(x, vecSilu, pe, block));
      // finalMod's chunks are (shift, scale).
      return linear(op.layerNormModulate(op.slice(x, 1, Lt, Lt + L), linear(vecSilu, w.finalMod), 0, 1, EPS), w.finalLinear);
    });
  }

  /** vec = time_in(sinusoid(1000 t)) [+ guidance_in(sinusoid(1000 g))] + vector_in(y). */
  private vector(inp: FluxInputs): Tensor {
    const w = this.weights, B = inp.img.shape[0];
    const sinusoid = (values: ArrayLike<number>) =>
      this.backend.upload(timestepSinusoid(Array.from(values, (v) => 1000 * v)), [B, FREQUENCY_SIZE], 'f32');
    let vec = embed(sinusoid(inp.timesteps), w.timeIn);
    if (w.guidanceIn) vec = op.add(vec, embed(sinusoid(inp.guidance!), w.guidanceIn));
    return op.add(vec, embed(inp.y, w.vectorIn));
  }

  /**
   * Joint attention over the streams' tokens, one after another (text first), from their qkv
   * projections [B, L_s, >= 3D] whose features start [q | k | v] (each head's dims contiguous: einops
   * "B L (K H D) -> K B H L D"): q and k RMS-normalised per head with each stream's scales and rotated,
   * softmax(q k^T / sqrt(hd)) v, heads merged back: [B, T, D].
   */
  private attention(streams: { qkv: Tensor; queryNorm: Tensor; keyNorm: Tensor }[], pe: Tensor): Tensor {
    const c = this.config, D = c.hiddenSize, H = c.numHeads, hd = headDim(c);
    const q = op.attentionHeads(streams.map((s) => ({ x: s.qkv, offset: 0, norm: s.queryNorm })), H, hd, pe, EPS);
    const k = op.attentionHeads(streams.map((s) => ({ x: s.qkv, offset: D, norm: s.keyNorm })), H, hd, pe, EPS);
    const v = op.attentionHeads(streams.map((s) => ({ x: s.qkv, offset: 2 * D, norm: null })), H, hd, null, EPS);
    return op.attention(q, k, v, hd ** -0.5, H);
  }

  private doubleBlock(img: Tensor, txt: Tensor, vecSilu: Tensor, pe: Tensor, w: { img: StreamWeights; txt: StreamWeights }): [Tensor, Tensor] {
    const Lt = txt.shape[1], T = Lt + img.shape[1];
    // Each stream's 6 chunks: shift1, scale1, gate1, shift2, scale2, gate2.
    const imgMod = linear(vecSilu, w.img.mod);
    const txtMod = linear(vecSilu, w.txt.mod);
    const stream = (x: Tensor, mod: Tensor, s: StreamWeights) =>
      ({ qkv: linear(op.layerNormModulate(x, mod, 0, 1, EPS), s.qkv), queryNorm: s.queryNorm, keyNorm: s.keyNorm });
    const attn = this.attention([stream(txt, txtMod, w.txt), stream(img, imgMod, w.img)], pe);
    const update = (x: Tensor, a: Tensor, mod: Tensor, s: StreamWeights) => {
      x = op.linearGatedResidual(x, mod, 2, a, s.proj.weight, s.proj.bias);
      const hidden = linear(op.layerNormModulate(x, mod, 3, 4, EPS), s.mlpIn, 'gelu');
      return op.linearGatedResidual(x, mod, 5, hidden, s.mlpOut.weight, s.mlpOut.bias);
    };
    return [update(img, op.slice(attn, 1, Lt, T), imgMod, w.img), update(txt, op.slice(attn, 1, 0, Lt), txtMod, w.txt)];
  }

  private singleBlock(x: Tensor, vecSilu: Tensor, pe: Tensor, w: SingleBlockWeights): Tensor {
    const D = this.config.hiddenSize, M = this.config.mlpHidden;
    // w.mod's chunks: shift, scale, gate.
    const mod = linear(vecSilu, w.mod);
    const h = linear(op.layerNormModulate(x, mod, 0, 1, EPS), w.linear1);
    const attn = this.attention([{ qkv: h, queryNorm: w.queryNorm, keyNorm: w.keyNorm }], pe);
    const joined = op.concat([attn, op.gelu(op.slice(h, 2, 3 * D, 3 * D + M))], 2);
    return op.linearGatedResidual(x, mod, 2, joined, w.linear2.weight, w.linear2.bias);
  }

  private checkInputs(inp: FluxInputs): void {
    const c = this.config;
    const shape = (t: Tensor) => `[${t.shape.join(', ')}]`;
    if (inp.img.rank !== 3 || inp.img.shape[2] !== c.inChannels) throw new UserError(`img has shape ${shape(inp.img)}, but this model takes [B, L, ${c.inChannels}]`);
    const [B, L] = inp.img.shape;
    if (inp.txt.rank !== 3 || inp.txt.shape[0] !== B || inp.txt.shape[2] !== c.contextInDim) {
      throw new UserError(`txt has shape ${shape(inp.txt)}, but this model takes [${B}, Lt, ${c.contextInDim}]`);
    }
    const Lt = inp.txt.shape[1];
    if (inp.y.rank !== 2 || inp.y.shape[0] !== B || inp.y.shape[1] !== c.vecInDim) throw new UserError(`y has shape ${shape(inp.y)}, but this model takes [${B}, ${c.vecInDim}]`);
    const axes = c.axesDim.length;
    if (inp.imgIds.length !== B * L * axes) throw new UserError(`img_ids holds ${inp.imgIds.length} values, expected [${B}, ${L}, ${axes}]`);
    if (inp.txtIds.length !== B * Lt * axes) throw new UserError(`txt_ids holds ${inp.txtIds.length} values, expected [${B}, ${Lt}, ${axes}]`);
    const finite = (name: string, values: ArrayLike<number>) => {
      if (values.length !== B) throw new UserError(`${name} holds ${values.length} values, expected one per image (${B})`);
      const bad = Array.from(values).findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new UserError(`${name}[${bad}] = ${values[bad]} is not a finite number`);
    };
    finite('timesteps', inp.timesteps);
    if (c.guidanceEmbed) {
      if (!inp.guidance) throw new UserError('this model embeds a guidance scale (it has guidance_in, like FLUX.1-dev): give guidance [B]');
      finite('guidance', inp.guidance);
    }
    for (const [name, ids] of [['img_ids', inp.imgIds], ['txt_ids', inp.txtIds]] as const) {
      const bad = Array.from(ids).findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new UserError(`${name} holds ${ids[bad]} at element ${bad}: position ids must be finite`);
    }
  }
}
