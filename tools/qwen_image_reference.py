"""PyTorch 1.13 transcription of diffusers' Qwen-Image transformer (`QwenImageTransformer2DModel`).

Source: huggingface/diffusers at commit 58eb52c0803ea9af3abec60841c2a093bdf1f951, files
src/diffusers/models/transformers/transformer_qwenimage.py (the model, its block, its attention
processor, `QwenEmbedRope`, `QwenTimestepProjEmbeddings`, `apply_rotary_emb_qwen`),
models/embeddings.py (`get_timestep_embedding`, `Timesteps`, `TimestepEmbedding`),
models/normalization.py (`RMSNorm`, `AdaLayerNormContinuous`, `LayerNorm`),
models/attention.py (`FeedForward`), models/activations.py (`GELU`),
models/attention_processor.py (`Attention.__init__` / `forward`) and
models/attention_dispatch.py (`dispatch_attention_fn` -> `_native_attention`, the default backend).

Diffusers itself cannot run here (Debian's PyTorch 1.13, no pip packages), so this file copies the
code path of the default config: no `zero_cond_t`, no `use_additional_t_cond`, no
`use_layer3d_rope`, no guidance embedding, no ControlNet residuals. The module tree is the same as
diffusers', so `state_dict()` keys, shapes and order are diffusers' own and a diffusers checkpoint
loads with `load_state_dict(strict=True)`. Every operation is the source's, in the source's order.
It only makes reference fixtures for the TypeScript engine; the engine never runs Python.

Where this transcription deviates from the source, and why:

 1. Attention is written as plain math instead of `dispatch_attention_fn` ->
    `F.scaled_dot_product_attention` (PyTorch >= 2.0, absent here): softmax(q k^T * d^-0.5) v per
    head, with the boolean mask applied as `masked_fill(~mask, -inf)` as SDPA does (True = attend).
    The backend registry, context-parallel and tensor-parallel paths, and `attn.processor`
    indirection (`Attention.forward` filtering kwargs by the processor's signature) are removed;
    `Attention.forward` calls the one processor directly. Dropout (p = 0) modules are kept, so the
    module tree and `to_out.1` stay.
 2. Only the default config path exists: `zero_cond_t`, `use_additional_t_cond`,
    `use_layer3d_rope`, `guidance`, `controlnet_block_samples` and `attention_kwargs` raise
    NotImplementedError (so `_modulate` has no `index` branch and `modulate_index` is always None).
    No gradient checkpointing, LoRA scale, PEFT/loader/cache mixins or config registration.
 3. No caching: `lru_cache_unless_export` on `_compute_video_freqs` / `_get_device_freqs` is
    removed (they are recomputed each call; same values). The neuron paths
    (`apply_rotary_emb_qwen_neuron`, `torch.angle` tables) and the NPU branch of `RMSNorm` are
    removed; `ROPE_PER_DEVICE` reduces to `apply_rotary_emb_qwen(use_real=False)`, which the source
    uses on CPU and CUDA.
 4. float64 runs (the fixture reference, `model.double()`). The source hard-codes float32 in four
    places; in a float64 run this file keeps float32 only where it is a value the model was trained
    with, and otherwise stays in float64. In float32/float16/bfloat16 runs nothing changes.
    a. `RMSNorm`: the variance is computed in float32 in the source (`.to(torch.float32)`); here in
       max(float32, input dtype), i.e. float64 in a float64 run.
    b. RoPE: the source builds complex64 tables (`torch.polar` of float32 angles) and rotates in
       float32 (`x.float()`, complex64 product). Here, when the tables are asked for in float64,
       the angles are the same float32 values (index * inv_freq rounded to float32; inv_freq =
       float32(1 / float32(theta ** float32(2k/dim)))) but `theta ** e` is evaluated in float64
       and rounded to float32 (correctly rounded; torch's float32 pow is 1 ulp off for some k,
       e.g. dim 56), cos/sin are float64 (complex128 table) and the rotation runs in complex128.
    c. Timestep sinusoid: the source computes everything in float32 (`timesteps.float()`). Here,
       when the timesteps arrive as float64 (the model casts them to the hidden states' dtype),
       the frequencies exp(float32 exponent) are evaluated in float64 and rounded to float32
       (torch's float32 exp is 1 ulp off for 15 of the 128), the arguments stay float32
       (float32(1000 * float32(t * freq)), the source's two roundings), and only sin/cos run in
       float64.
    (Not a deviation: the fp16 clipping, `clip(-65504, 65504)` of both streams after each block
    when they are float16, is kept as in the source.)
 5. Additions that change no value: `forward(..., trace=dict)` records intermediates (`t_proj`,
    `temb`, `img_in`, `txt_in`, `block.{i}.img`, `block.{i}.txt`, the RoPE tables), and
    `QwenEmbedRope.forward` takes `exact=` (deviation 4b) in addition to `device`. The return value
    is `Transformer2DModelOutput(sample=...)` (a small stand-in class) or a 1-tuple, as in the
    source. Encoder masks ARE supported as in the source (bool-cast, joint mask [txt_mask, ones],
    RoPE text length = the full padded length, `compute_text_seq_len_from_mask`).
"""

import math
import numbers
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

DIFFUSERS_COMMIT = "58eb52c0803ea9af3abec60841c2a093bdf1f951"


def _upcast(dtype):
    """float32 where the source hard-codes float32, float64 in a float64 run (deviation 4)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


# --------------------------------------------------------------------------------------------
# models/embeddings.py
# --------------------------------------------------------------------------------------------


def get_timestep_embedding(timesteps, embedding_dim, flip_sin_to_cos=False, downscale_freq_shift=1, scale=1,
                           max_period=10000):
    """embeddings.get_timestep_embedding (the one `Timesteps` calls; transformer_qwenimage.py's own
    copy of this function is unused by the model). float64 timesteps: deviation 4c."""
    assert len(timesteps.shape) == 1, "Timesteps should be a 1d-array"
    exact = timesteps.dtype == torch.float64

    half_dim = embedding_dim // 2
    exponent = -math.log(max_period) * torch.arange(start=0, end=half_dim, dtype=torch.float32,
                                                    device=timesteps.device)
    exponent = exponent / (half_dim - downscale_freq_shift)

    if exact:
        emb = torch.exp(exponent.double()).float()  # correctly rounded float32 exp
    else:
        emb = torch.exp(exponent)
    emb = timesteps[:, None].float() * emb[None, :]

    # scale embeddings
    emb = scale * emb
    if exact:
        emb = emb.double()  # float32 arguments, float64 sin/cos

    # concat sine and cosine embeddings
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)

    # flip sine and cosine embeddings
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half_dim:], emb[:, :half_dim]], dim=-1)

    # zero pad
    if embedding_dim % 2 == 1:
        emb = torch.nn.functional.pad(emb, (0, 1, 0, 0))
    return emb


class Timesteps(nn.Module):
    def __init__(self, num_channels, flip_sin_to_cos, downscale_freq_shift, scale=1):
        super().__init__()
        self.num_channels = num_channels
        self.flip_sin_to_cos = flip_sin_to_cos
        self.downscale_freq_shift = downscale_freq_shift
        self.scale = scale

    def forward(self, timesteps):
        return get_timestep_embedding(timesteps, self.num_channels, flip_sin_to_cos=self.flip_sin_to_cos,
                                      downscale_freq_shift=self.downscale_freq_shift, scale=self.scale)


class TimestepEmbedding(nn.Module):
    """Default arguments only (act_fn "silu", no cond_proj, no out_dim, no post_act)."""

    def __init__(self, in_channels, time_embed_dim, sample_proj_bias=True):
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, time_embed_dim, sample_proj_bias)
        self.cond_proj = None
        self.act = nn.SiLU()
        self.linear_2 = nn.Linear(time_embed_dim, time_embed_dim, sample_proj_bias)
        self.post_act = None

    def forward(self, sample, condition=None):
        if condition is not None:
            raise NotImplementedError("cond_proj is not part of the Qwen-Image model")
        sample = self.linear_1(sample)
        sample = self.act(sample)
        sample = self.linear_2(sample)
        return sample


# --------------------------------------------------------------------------------------------
# models/normalization.py, models/activations.py, models/attention.py
# --------------------------------------------------------------------------------------------


class RMSNorm(nn.Module):
    def __init__(self, dim, eps, elementwise_affine=True, bias=False):
        super().__init__()
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if isinstance(dim, numbers.Integral):
            dim = (dim,)
        self.dim = torch.Size(dim)
        self.weight = None
        self.bias = None
        if elementwise_affine:
            self.weight = nn.Parameter(torch.ones(dim))
            if bias:
                self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, hidden_states):
        input_dtype = hidden_states.dtype
        variance = hidden_states.to(_upcast(input_dtype)).pow(2).mean(-1, keepdim=True)  # deviation 4a
        hidden_states = hidden_states * torch.rsqrt(variance + self.eps)
        if self.weight is not None:
            # convert into half-precision if necessary
            if self.weight.dtype in [torch.float16, torch.bfloat16]:
                hidden_states = hidden_states.to(self.weight.dtype)
            hidden_states = hidden_states * self.weight
            if self.bias is not None:
                hidden_states = hidden_states + self.bias
        else:
            hidden_states = hidden_states.to(input_dtype)
        return hidden_states


class AdaLayerNormContinuous(nn.Module):
    """norm_type "layer_norm" (the only one Qwen-Image uses)."""

    def __init__(self, embedding_dim, conditioning_embedding_dim, elementwise_affine=True, eps=1e-5, bias=True):
        super().__init__()
        self.silu = nn.SiLU()
        self.linear = nn.Linear(conditioning_embedding_dim, embedding_dim * 2, bias=bias)
        # diffusers' LayerNorm is nn.LayerNorm on torch >= 2.1, else an F.layer_norm wrapper; with
        # elementwise_affine=False both have no parameters and compute the same thing.
        self.norm = nn.LayerNorm(embedding_dim, eps, elementwise_affine)
        if elementwise_affine and not bias:
            raise NotImplementedError("torch 1.13's LayerNorm has no bias=False")

    def forward(self, x, conditioning_embedding):
        emb = self.linear(self.silu(conditioning_embedding).to(x.dtype))
        scale, shift = torch.chunk(emb, 2, dim=1)  # scale FIRST, then shift
        x = self.norm(x) * (1 + scale)[:, None, :] + shift[:, None, :]
        return x


class GELU(nn.Module):
    def __init__(self, dim_in, dim_out, approximate="none", bias=True):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out, bias=bias)
        self.approximate = approximate

    def gelu(self, gate):
        return F.gelu(gate, approximate=self.approximate)

    def forward(self, hidden_states):
        hidden_states = self.proj(hidden_states)
        hidden_states = self.gelu(hidden_states)
        return hidden_states


class FeedForward(nn.Module):
    """activation_fn "gelu-approximate" (GELU with tanh), mult 4, dropout 0, no final dropout."""

    def __init__(self, dim, dim_out=None, mult=4, dropout=0.0, activation_fn="gelu-approximate", inner_dim=None,
                 bias=True):
        super().__init__()
        if activation_fn != "gelu-approximate":
            raise NotImplementedError(activation_fn)
        if inner_dim is None:
            inner_dim = int(dim * mult)
        dim_out = dim_out if dim_out is not None else dim
        act_fn = GELU(dim, inner_dim, approximate="tanh", bias=bias)
        self.net = nn.ModuleList([])
        self.net.append(act_fn)  # net.0.proj
        self.net.append(nn.Dropout(dropout))
        self.net.append(nn.Linear(inner_dim, dim_out, bias=bias))  # net.2

    def forward(self, hidden_states):
        for module in self.net:
            hidden_states = module(hidden_states)
        return hidden_states


# --------------------------------------------------------------------------------------------
# models/attention_processor.py (Attention, the constructor arguments Qwen-Image uses) and the
# attention processor of transformer_qwenimage.py
# --------------------------------------------------------------------------------------------


def _native_attention(query, key, value, attn_mask=None, scale=None):
    """attention_dispatch._native_attention with F.scaled_dot_product_attention written out
    (deviation 1). query/key/value: [B, S, H, D]; attn_mask: bool [B, 1, 1, S] or None."""
    query, key, value = (x.permute(0, 2, 1, 3) for x in (query, key, value))
    s = query.shape[-1] ** -0.5 if scale is None else scale
    logits = (query @ key.transpose(-2, -1)) * s
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            logits = logits.masked_fill(~attn_mask, float("-inf"))
        else:
            logits = logits + attn_mask
    out = torch.softmax(logits, dim=-1) @ value
    return out.permute(0, 2, 1, 3)


class QwenDoubleStreamAttnProcessor2_0:
    """Joint attention over [text, image]; returns (img_attn_output, txt_attn_output)."""

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, encoder_hidden_states_mask=None,
                 attention_mask=None, image_rotary_emb=None):
        if encoder_hidden_states is None:
            raise ValueError("QwenDoubleStreamAttnProcessor2_0 requires encoder_hidden_states (text stream)")
        if attention_mask is not None:
            raise ValueError("QwenDoubleStreamAttnProcessor2_0 does not accept an external attention_mask.")

        if encoder_hidden_states_mask is not None:
            seq_img = hidden_states.shape[1]
            image_mask = torch.ones((hidden_states.shape[0], seq_img), dtype=torch.bool, device=hidden_states.device)
            attention_mask = torch.cat([encoder_hidden_states_mask, image_mask], dim=1)
            attention_mask = attention_mask[:, None, None, :]

        seq_txt = encoder_hidden_states.shape[1]

        # Compute QKV for image stream (sample projections)
        img_query = attn.to_q(hidden_states)
        img_key = attn.to_k(hidden_states)
        img_value = attn.to_v(hidden_states)

        # Compute QKV for text stream (context projections)
        txt_query = attn.add_q_proj(encoder_hidden_states)
        txt_key = attn.add_k_proj(encoder_hidden_states)
        txt_value = attn.add_v_proj(encoder_hidden_states)

        head_dim = attn.inner_dim // attn.heads
        img_query = img_query.unflatten(-1, (-1, head_dim))
        img_key = img_key.unflatten(-1, (-1, head_dim))
        img_value = img_value.unflatten(-1, (-1, head_dim))

        txt_query = txt_query.unflatten(-1, (-1, head_dim))
        txt_key = txt_key.unflatten(-1, (-1, head_dim))
        txt_value = txt_value.unflatten(-1, (-1, head_dim))

        # Apply QK normalization (RMSNorm over head_dim, per head)
        if attn.norm_q is not None:
            img_query = attn.norm_q(img_query)
        if attn.norm_k is not None:
            img_key = attn.norm_k(img_key)
        if attn.norm_added_q is not None:
            txt_query = attn.norm_added_q(txt_query)
        if attn.norm_added_k is not None:
            txt_key = attn.norm_added_k(txt_key)

        # Apply RoPE (q and k only, after the norms)
        if image_rotary_emb is not None:
            img_freqs, txt_freqs = image_rotary_emb
            img_query = apply_rotary_emb_qwen(img_query, img_freqs, use_real=False)
            img_key = apply_rotary_emb_qwen(img_key, img_freqs, use_real=False)
            txt_query = apply_rotary_emb_qwen(txt_query, txt_freqs, use_real=False)
            txt_key = apply_rotary_emb_qwen(txt_key, txt_freqs, use_real=False)

        # Concatenate for joint attention. Order: [text, image]
        joint_query = torch.cat([txt_query, img_query], dim=1)
        joint_key = torch.cat([txt_key, img_key], dim=1)
        joint_value = torch.cat([txt_value, img_value], dim=1)

        joint_hidden_states = _native_attention(joint_query, joint_key, joint_value, attn_mask=attention_mask)

        # Reshape back
        joint_hidden_states = joint_hidden_states.flatten(2, 3)
        joint_hidden_states = joint_hidden_states.to(joint_query.dtype)

        # Split attention outputs back
        txt_attn_output = joint_hidden_states[:, :seq_txt, :]  # Text part
        img_attn_output = joint_hidden_states[:, seq_txt:, :]  # Image part

        # Apply output projections
        img_attn_output = attn.to_out[0](img_attn_output.contiguous())
        if len(attn.to_out) > 1:
            img_attn_output = attn.to_out[1](img_attn_output)  # dropout

        txt_attn_output = attn.to_add_out(txt_attn_output.contiguous())

        return img_attn_output, txt_attn_output


class Attention(nn.Module):
    """attention_processor.Attention as QwenImageTransformerBlock builds it: query_dim = dim,
    cross_attention_dim None, added_kv_proj_dim = dim, out_dim = dim, context_pre_only False,
    bias True, qk_norm "rms_norm", eps 1e-6. Submodules are registered in the source's order
    (norm_q, norm_k, to_q, to_k, to_v, add_k_proj, add_v_proj, add_q_proj, to_out, to_add_out,
    norm_added_q, norm_added_k), so the state dict order is diffusers'."""

    def __init__(self, query_dim, dim_head, heads, added_kv_proj_dim, out_dim, eps, bias=True, qk_norm="rms_norm",
                 context_pre_only=False, out_bias=True, added_proj_bias=True, dropout=0.0):
        super().__init__()
        if qk_norm != "rms_norm" or context_pre_only is not False:
            raise NotImplementedError("only the Qwen-Image configuration")
        self.inner_dim = out_dim if out_dim is not None else dim_head * heads
        self.inner_kv_dim = self.inner_dim
        self.query_dim = query_dim
        self.cross_attention_dim = query_dim
        self.out_dim = out_dim if out_dim is not None else query_dim
        self.out_context_dim = query_dim
        self.context_pre_only = context_pre_only
        self.scale = dim_head ** -0.5
        self.heads = out_dim // dim_head if out_dim is not None else heads
        self.added_kv_proj_dim = added_kv_proj_dim

        self.norm_q = RMSNorm(dim_head, eps=eps, elementwise_affine=True)
        self.norm_k = RMSNorm(dim_head, eps=eps, elementwise_affine=True)

        self.to_q = nn.Linear(query_dim, self.inner_dim, bias=bias)
        self.to_k = nn.Linear(self.cross_attention_dim, self.inner_kv_dim, bias=bias)
        self.to_v = nn.Linear(self.cross_attention_dim, self.inner_kv_dim, bias=bias)

        self.add_k_proj = nn.Linear(added_kv_proj_dim, self.inner_kv_dim, bias=added_proj_bias)
        self.add_v_proj = nn.Linear(added_kv_proj_dim, self.inner_kv_dim, bias=added_proj_bias)
        self.add_q_proj = nn.Linear(added_kv_proj_dim, self.inner_dim, bias=added_proj_bias)

        self.to_out = nn.ModuleList([])
        self.to_out.append(nn.Linear(self.inner_dim, self.out_dim, bias=out_bias))
        self.to_out.append(nn.Dropout(dropout))

        self.to_add_out = nn.Linear(self.inner_dim, self.out_context_dim, bias=out_bias)

        self.norm_added_q = RMSNorm(dim_head, eps=eps)
        self.norm_added_k = RMSNorm(dim_head, eps=eps)

        self.processor = QwenDoubleStreamAttnProcessor2_0()

    def forward(self, hidden_states, encoder_hidden_states=None, attention_mask=None, **kwargs):
        return self.processor(self, hidden_states, encoder_hidden_states=encoder_hidden_states,
                              attention_mask=attention_mask, **kwargs)


# --------------------------------------------------------------------------------------------
# transformer_qwenimage.py
# --------------------------------------------------------------------------------------------


def apply_rotary_emb_qwen(x, freqs_cis, use_real=True, use_real_unbind_dim=-1):
    """x: [B, S, H, D]. use_real=False (what the model uses): pairs (x[2j], x[2j+1]) are the real and
    imaginary parts of a complex number, multiplied by freqs_cis [S, D/2] (complex)."""
    if use_real:
        cos, sin = freqs_cis  # [S, D]
        cos = cos[None, None]
        sin = sin[None, None]
        cos, sin = cos.to(x.device), sin.to(x.device)
        if use_real_unbind_dim == -1:
            x_real, x_imag = x.reshape(*x.shape[:-1], -1, 2).unbind(-1)  # [B, S, H, D//2]
            x_rotated = torch.stack([-x_imag, x_real], dim=-1).flatten(3)
        elif use_real_unbind_dim == -2:
            x_real, x_imag = x.reshape(*x.shape[:-1], 2, -1).unbind(-2)  # [B, S, H, D//2]
            x_rotated = torch.cat([-x_imag, x_real], dim=-1)
        else:
            raise ValueError(f"`use_real_unbind_dim={use_real_unbind_dim}` but should be -1 or -2.")
        up = _upcast(x.dtype)
        out = (x.to(up) * cos + x_rotated.to(up) * sin).to(x.dtype)
        return out
    else:
        # source: x.float() (deviation 4b: float64 stays float64)
        x_rotated = torch.view_as_complex(x.to(_upcast(x.dtype)).reshape(*x.shape[:-1], -1, 2))
        freqs_cis = freqs_cis.unsqueeze(1)
        x_out = torch.view_as_real(x_rotated * freqs_cis).flatten(3)
        return x_out.type_as(x)


def compute_text_seq_len_from_mask(encoder_hidden_states, encoder_hidden_states_mask):
    """Text length for RoPE (always the full, padded length) and a normalized bool mask."""
    batch_size, text_seq_len = encoder_hidden_states.shape[:2]
    if encoder_hidden_states_mask is None:
        return text_seq_len, None, None
    if encoder_hidden_states_mask.shape[:2] != (batch_size, text_seq_len):
        raise ValueError(f"`encoder_hidden_states_mask` shape {encoder_hidden_states_mask.shape} must match "
                         f"(batch_size, text_seq_len)=({batch_size}, {text_seq_len}).")
    if encoder_hidden_states_mask.dtype != torch.bool:
        encoder_hidden_states_mask = encoder_hidden_states_mask.to(torch.bool)
    position_ids = torch.arange(text_seq_len, device=encoder_hidden_states.device, dtype=torch.long)
    active_positions = torch.where(encoder_hidden_states_mask, position_ids, position_ids.new_zeros(()))
    has_active = encoder_hidden_states_mask.any(dim=1)
    per_sample_len = torch.where(has_active, active_positions.max(dim=1).values + 1,
                                 torch.as_tensor(text_seq_len, device=encoder_hidden_states.device))
    return text_seq_len, per_sample_len, encoder_hidden_states_mask


class QwenTimestepProjEmbeddings(nn.Module):
    def __init__(self, embedding_dim, use_additional_t_cond=False):
        super().__init__()
        if use_additional_t_cond:
            raise NotImplementedError("use_additional_t_cond")
        self.time_proj = Timesteps(num_channels=256, flip_sin_to_cos=True, downscale_freq_shift=0, scale=1000)
        self.timestep_embedder = TimestepEmbedding(in_channels=256, time_embed_dim=embedding_dim)
        self.use_additional_t_cond = use_additional_t_cond

    def forward(self, timestep, hidden_states, addition_t_cond=None, trace=None):
        timesteps_proj = self.time_proj(timestep)
        if trace is not None:
            trace["t_proj"] = timesteps_proj
        timesteps_emb = self.timestep_embedder(timesteps_proj.to(dtype=hidden_states.dtype))  # (N, D)
        conditioning = timesteps_emb
        return conditioning


class QwenEmbedRope(nn.Module):
    def __init__(self, theta, axes_dim, scale_rope=False):
        super().__init__()
        self.theta = theta
        self.axes_dim = axes_dim
        pos_index = torch.arange(4096)
        neg_index = torch.arange(4096).flip(0) * -1 - 1
        self._index = (pos_index, neg_index)
        # plain attributes, not buffers (as in the source): not in the state dict, not cast by .double()
        self.pos_freqs = torch.cat([self.rope_params(pos_index, d, self.theta) for d in self.axes_dim], dim=1)
        self.neg_freqs = torch.cat([self.rope_params(neg_index, d, self.theta) for d in self.axes_dim], dim=1)
        self._exact = None  # complex128 tables, built on first use (deviation 4b)
        self.scale_rope = scale_rope

    def rope_params(self, index, dim, theta=10000, exact=False):
        """index: 1D integer positions -> [len(index), dim/2] complex exp(i * index * theta^(-2k/dim))."""
        assert dim % 2 == 0
        e = torch.arange(0, dim, 2).to(torch.float32).div(dim)
        if exact:
            inv = 1.0 / torch.pow(float(theta), e.double()).float()  # float32 pow, correctly rounded
        else:
            inv = 1.0 / torch.pow(theta, e)
        freqs = torch.outer(index, inv)  # float32 angles in both cases
        if exact:
            freqs = freqs.double()
        freqs = torch.polar(torch.ones_like(freqs), freqs)
        return freqs

    def _get_device_freqs(self, device, exact=False):
        if exact:
            if self._exact is None:
                self._exact = tuple(torch.cat([self.rope_params(ix, d, self.theta, exact=True) for d in self.axes_dim],
                                              dim=1) for ix in self._index)
            pos, neg = self._exact
        else:
            pos, neg = self.pos_freqs, self.neg_freqs
        return pos.to(device), neg.to(device)

    def forward(self, video_fhw, device=None, max_txt_seq_len=None, exact=False):
        """video_fhw: (f, h, w), a list of them (one image per entry: the pipeline's per-sample list,
        of which only entry 0 is used), or a list of lists (per sample: the images of its sequence).
        Returns (vid_freqs [sum f*h*w, D/2], txt_freqs [max_txt_seq_len, D/2]), complex."""
        if max_txt_seq_len is None:
            raise ValueError("`max_txt_seq_len` must be provided.")

        # Validate batch inference with variable-sized images
        if isinstance(video_fhw, list) and len(video_fhw) > 1:
            first_fhw = video_fhw[0]
            if not all(fhw == first_fhw for fhw in video_fhw):
                warnings.warn(f"Batch inference with variable-sized images is not supported in QwenEmbedRope; "
                              f"using the first image's dimensions {first_fhw}. Detected sizes: {video_fhw}.")

        if isinstance(video_fhw, list):
            video_fhw = video_fhw[0]
        if not isinstance(video_fhw, list):
            video_fhw = [video_fhw]

        vid_freqs = []
        max_vid_index = 0
        for idx, fhw in enumerate(video_fhw):
            frame, height, width = fhw
            video_freq = self._compute_video_freqs(frame, height, width, idx, device, exact)
            vid_freqs.append(video_freq)
            if self.scale_rope:
                max_vid_index = max(height // 2, width // 2, max_vid_index)
            else:
                max_vid_index = max(height, width, max_vid_index)

        max_txt_seq_len_int = int(max_txt_seq_len)
        pos_freqs_device, _ = self._get_device_freqs(device, exact)
        txt_freqs = pos_freqs_device[max_vid_index: max_vid_index + max_txt_seq_len_int, ...]
        vid_freqs = torch.cat(vid_freqs, dim=0)
        return vid_freqs, txt_freqs

    def _compute_video_freqs(self, frame, height, width, idx=0, device=None, exact=False):
        seq_lens = frame * height * width
        pos_freqs, neg_freqs = self._get_device_freqs(device, exact)

        freqs_pos = pos_freqs.split([x // 2 for x in self.axes_dim], dim=1)
        freqs_neg = neg_freqs.split([x // 2 for x in self.axes_dim], dim=1)

        freqs_frame = freqs_pos[0][idx: idx + frame].view(frame, 1, 1, -1).expand(frame, height, width, -1)
        if self.scale_rope:
            freqs_height = torch.cat([freqs_neg[1][-(height - height // 2):], freqs_pos[1][: height // 2]], dim=0)
            freqs_height = freqs_height.view(1, height, 1, -1).expand(frame, height, width, -1)
            freqs_width = torch.cat([freqs_neg[2][-(width - width // 2):], freqs_pos[2][: width // 2]], dim=0)
            freqs_width = freqs_width.view(1, 1, width, -1).expand(frame, height, width, -1)
        else:
            freqs_height = freqs_pos[1][:height].view(1, height, 1, -1).expand(frame, height, width, -1)
            freqs_width = freqs_pos[2][:width].view(1, 1, width, -1).expand(frame, height, width, -1)

        freqs = torch.cat([freqs_frame, freqs_height, freqs_width], dim=-1).reshape(seq_lens, -1)
        return freqs.clone().contiguous()


class QwenImageTransformerBlock(nn.Module):
    def __init__(self, dim, num_attention_heads, attention_head_dim, qk_norm="rms_norm", eps=1e-6,
                 zero_cond_t=False):
        super().__init__()
        if zero_cond_t:
            raise NotImplementedError("zero_cond_t")
        self.dim = dim
        self.num_attention_heads = num_attention_heads
        self.attention_head_dim = attention_head_dim

        # Image processing modules
        self.img_mod = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim, bias=True))
        self.img_norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=eps)
        self.attn = Attention(query_dim=dim, dim_head=attention_head_dim, heads=num_attention_heads,
                              added_kv_proj_dim=dim, out_dim=dim, eps=eps, bias=True, qk_norm=qk_norm,
                              context_pre_only=False)
        self.img_norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=eps)
        self.img_mlp = FeedForward(dim=dim, dim_out=dim, activation_fn="gelu-approximate")

        # Text processing modules
        self.txt_mod = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim, bias=True))
        self.txt_norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=eps)
        self.txt_norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=eps)
        self.txt_mlp = FeedForward(dim=dim, dim_out=dim, activation_fn="gelu-approximate")

        self.zero_cond_t = zero_cond_t

    def _modulate(self, x, mod_params, index=None):
        # x: b l d, shift: b d, scale: b d, gate: b d
        if index is not None:
            raise NotImplementedError("modulate_index (zero_cond_t)")
        shift, scale, gate = mod_params.chunk(3, dim=-1)
        shift_result = shift.unsqueeze(1)
        scale_result = scale.unsqueeze(1)
        gate_result = gate.unsqueeze(1)
        return x * (1 + scale_result) + shift_result, gate_result

    def forward(self, hidden_states, encoder_hidden_states, encoder_hidden_states_mask, temb, image_rotary_emb=None,
                joint_attention_kwargs=None, modulate_index=None):
        img_mod_params = self.img_mod(temb)  # [B, 6*dim]
        txt_mod_params = self.txt_mod(temb)  # [B, 6*dim]

        img_mod1, img_mod2 = img_mod_params.chunk(2, dim=-1)  # Each [B, 3*dim]
        txt_mod1, txt_mod2 = txt_mod_params.chunk(2, dim=-1)  # Each [B, 3*dim]

        # Process image stream - norm1 + modulation
        img_normed = self.img_norm1(hidden_states)
        img_modulated, img_gate1 = self._modulate(img_normed, img_mod1, modulate_index)

        # Process text stream - norm1 + modulation
        txt_normed = self.txt_norm1(encoder_hidden_states)
        txt_modulated, txt_gate1 = self._modulate(txt_normed, txt_mod1)

        joint_attention_kwargs = joint_attention_kwargs or {}
        attn_output = self.attn(hidden_states=img_modulated, encoder_hidden_states=txt_modulated,
                                encoder_hidden_states_mask=encoder_hidden_states_mask,
                                image_rotary_emb=image_rotary_emb, **joint_attention_kwargs)
        img_attn_output, txt_attn_output = attn_output

        hidden_states = hidden_states + img_gate1 * img_attn_output
        encoder_hidden_states = encoder_hidden_states + txt_gate1 * txt_attn_output

        # Process image stream - norm2 + MLP
        img_normed2 = self.img_norm2(hidden_states)
        img_modulated2, img_gate2 = self._modulate(img_normed2, img_mod2, modulate_index)
        img_mlp_output = self.img_mlp(img_modulated2)
        hidden_states = hidden_states + img_gate2 * img_mlp_output

        # Process text stream - norm2 + MLP
        txt_normed2 = self.txt_norm2(encoder_hidden_states)
        txt_modulated2, txt_gate2 = self._modulate(txt_normed2, txt_mod2)
        txt_mlp_output = self.txt_mlp(txt_modulated2)
        encoder_hidden_states = encoder_hidden_states + txt_gate2 * txt_mlp_output

        # Clip to prevent overflow for fp16
        if encoder_hidden_states.dtype == torch.float16:
            encoder_hidden_states = encoder_hidden_states.clip(-65504, 65504)
        if hidden_states.dtype == torch.float16:
            hidden_states = hidden_states.clip(-65504, 65504)

        return encoder_hidden_states, hidden_states


class Transformer2DModelOutput:
    def __init__(self, sample):
        self.sample = sample


class QwenImageTransformer2DModel(nn.Module):
    def __init__(self, patch_size=2, in_channels=64, out_channels=16, num_layers=60, attention_head_dim=128,
                 num_attention_heads=24, joint_attention_dim=3584, guidance_embeds=False, axes_dims_rope=(16, 56, 56),
                 zero_cond_t=False, use_additional_t_cond=False, use_layer3d_rope=False):
        super().__init__()
        if zero_cond_t or use_additional_t_cond or use_layer3d_rope:
            raise NotImplementedError("only the default config path is transcribed")
        self.config = dict(patch_size=patch_size, in_channels=in_channels, out_channels=out_channels,
                           num_layers=num_layers, attention_head_dim=attention_head_dim,
                           num_attention_heads=num_attention_heads, joint_attention_dim=joint_attention_dim,
                           guidance_embeds=guidance_embeds, axes_dims_rope=tuple(axes_dims_rope))
        self.out_channels = out_channels or in_channels
        self.inner_dim = num_attention_heads * attention_head_dim

        self.pos_embed = QwenEmbedRope(theta=10000, axes_dim=list(axes_dims_rope), scale_rope=True)
        self.time_text_embed = QwenTimestepProjEmbeddings(embedding_dim=self.inner_dim,
                                                          use_additional_t_cond=use_additional_t_cond)
        self.txt_norm = RMSNorm(joint_attention_dim, eps=1e-6)
        self.img_in = nn.Linear(in_channels, self.inner_dim)
        self.txt_in = nn.Linear(joint_attention_dim, self.inner_dim)
        self.transformer_blocks = nn.ModuleList([
            QwenImageTransformerBlock(dim=self.inner_dim, num_attention_heads=num_attention_heads,
                                      attention_head_dim=attention_head_dim, zero_cond_t=zero_cond_t)
            for _ in range(num_layers)
        ])
        self.norm_out = AdaLayerNormContinuous(self.inner_dim, self.inner_dim, elementwise_affine=False, eps=1e-6)
        self.proj_out = nn.Linear(self.inner_dim, patch_size * patch_size * self.out_channels, bias=True)
        self.zero_cond_t = zero_cond_t

    def forward(self, hidden_states, encoder_hidden_states=None, encoder_hidden_states_mask=None, timestep=None,
                img_shapes=None, guidance=None, attention_kwargs=None, controlnet_block_samples=None,
                additional_t_cond=None, return_dict=True, trace=None):
        """hidden_states [B, L, in_channels] (packed latents), encoder_hidden_states [B, Lt, joint],
        timestep [B] (the pipeline passes sigma = scheduler timestep / 1000), img_shapes: per sample a
        list of (frames, h, w) in patches (only sample 0's is used). trace: optional dict that
        receives intermediates."""
        if guidance is not None or controlnet_block_samples is not None or additional_t_cond is not None:
            raise NotImplementedError("guidance / controlnet / additional_t_cond")
        if attention_kwargs:
            raise NotImplementedError("attention_kwargs")

        hidden_states = self.img_in(hidden_states)
        timestep = timestep.to(hidden_states.dtype)
        modulate_index = None

        encoder_hidden_states = self.txt_norm(encoder_hidden_states)
        encoder_hidden_states = self.txt_in(encoder_hidden_states)

        text_seq_len, _, encoder_hidden_states_mask = compute_text_seq_len_from_mask(encoder_hidden_states,
                                                                                      encoder_hidden_states_mask)

        temb = self.time_text_embed(timestep, hidden_states, trace=trace)

        image_rotary_emb = self.pos_embed(img_shapes, max_txt_seq_len=text_seq_len, device=hidden_states.device,
                                          exact=hidden_states.dtype == torch.float64)
        if trace is not None:
            trace.update(temb=temb, img_in=hidden_states, txt_in=encoder_hidden_states,
                         rope_img=image_rotary_emb[0], rope_txt=image_rotary_emb[1])

        for index_block, block in enumerate(self.transformer_blocks):
            encoder_hidden_states, hidden_states = block(
                hidden_states=hidden_states, encoder_hidden_states=encoder_hidden_states,
                encoder_hidden_states_mask=encoder_hidden_states_mask, temb=temb, image_rotary_emb=image_rotary_emb,
                joint_attention_kwargs=attention_kwargs, modulate_index=modulate_index)
            if trace is not None:
                trace[f"block.{index_block}.img"] = hidden_states
                trace[f"block.{index_block}.txt"] = encoder_hidden_states

        # Use only the image part (hidden_states) from the dual-stream blocks
        hidden_states = self.norm_out(hidden_states, temb)
        output = self.proj_out(hidden_states)

        if not return_dict:
            return (output,)
        return Transformer2DModelOutput(sample=output)
