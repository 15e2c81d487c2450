"""Reference PyTorch implementation of the DiT network (Peebles & Xie,
"Scalable Diffusion Models with Transformers", facebookresearch/DiT models.py).

Re-written from the published description with the same semantics and the
same state-dict names as the original, so the original checkpoints load into
it unchanged (and the fixtures made from it are what the original computes).
It is only used to produce reference fixtures for the TypeScript engine; the
engine itself never runs Python.

Deliberate choices (all matching the original):
  * attention is written out as plain math (no fused kernel), so every step is
    visible and matches what the engine computes;
  * the timestep frequencies and arguments are rounded to float32 even when
    the model is cast to float64, because the original computes them in
    float32 and the released weights were trained with that (see
    TimestepEmbedder.timestep_embedding);
  * pos_embed is a frozen nn.Parameter so it appears in the state dict.
"""

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def modulate(x, shift, scale):
    # adaLN: per-sample shift/scale broadcast over the token axis
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


# --------------------------------------------------------------------------
# Embedding layers
# --------------------------------------------------------------------------


class TimestepEmbedder(nn.Module):
    """Scalar timestep -> D-vector: sinusoid (256 wide) then a 2-layer MLP."""

    def __init__(self, hidden_size, frequency_embedding_size=256):
        super().__init__()
        # names mlp.0 / mlp.2 come from the Sequential indices (SiLU is mlp.1)
        self.mlp = nn.Sequential(
            nn.Linear(frequency_embedding_size, hidden_size, bias=True),
            nn.SiLU(),
            nn.Linear(hidden_size, hidden_size, bias=True),
        )
        self.frequency_embedding_size = frequency_embedding_size

    @staticmethod
    def timestep_embedding(t, dim, max_period=10000, out_dtype=None):
        """[cos(t*f_0..f_{h-1}), sin(t*f_0..f_{h-1})], f_k = max_period^(-k/h), h = dim/2.

        cos comes FIRST (unlike the transformer position encoding).

        out_dtype None/float32: exactly the original float32 code.
        out_dtype float64 (the exact reference): the same float32 semantics
        without float32 library error: f_k is exp evaluated in float64 then
        rounded to float32, args = float32(t * f_k) (as in the original), and
        only cos/sin run in float64. Why: torch's float32 exp is not always
        correctly rounded (e.g. f_2 comes out 1 ulp low, which moves
        cos(999*f_2) from -0.398965 to -0.399021); the reference should not
        bake in one library's rounding. With this, temb(999)[0:3] =
        [0.99965, 0.963785, -0.398965] and temb(999)[255] = 0.1071472.
        """
        half = dim // 2
        if out_dtype == torch.float64:
            freqs = torch.exp(
                -math.log(max_period) * torch.arange(start=0, end=half, dtype=torch.float64) / half
            ).float()
        else:
            freqs = torch.exp(
                -math.log(max_period) * torch.arange(start=0, end=half, dtype=torch.float32) / half
            )
        freqs = freqs.to(device=t.device)
        args = t[:, None].float() * freqs[None]  # float32 product, as in the original
        if out_dtype is not None:
            args = args.to(out_dtype)
        embedding = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        if dim % 2:
            # odd widths get a zero column (unused for dim=256)
            embedding = torch.cat([embedding, torch.zeros_like(embedding[:, :1])], dim=-1)
        return embedding

    def sinusoid(self, t):
        # evaluate cos/sin in the MLP's dtype so a .double() model stays f64
        return self.timestep_embedding(
            t, self.frequency_embedding_size, out_dtype=self.mlp[0].weight.dtype
        )

    def forward(self, t):
        return self.mlp(self.sinusoid(t))


class LabelEmbedder(nn.Module):
    """Class id -> D-vector. With dropout enabled, an extra last row
    (index num_classes) is the "null" class used for classifier-free guidance."""

    def __init__(self, num_classes, hidden_size, dropout_prob):
        super().__init__()
        use_cfg_embedding = dropout_prob > 0
        self.embedding_table = nn.Embedding(num_classes + int(use_cfg_embedding), hidden_size)
        self.num_classes = num_classes
        self.dropout_prob = dropout_prob

    def token_drop(self, labels, force_drop_ids=None):
        # training-time label dropout: replaced ids become the null class
        if force_drop_ids is None:
            drop_ids = torch.rand(labels.shape[0], device=labels.device) < self.dropout_prob
        else:
            drop_ids = force_drop_ids == 1
        return torch.where(drop_ids, torch.full_like(labels, self.num_classes), labels)

    def forward(self, labels, train, force_drop_ids=None):
        use_dropout = self.dropout_prob > 0
        if (train and use_dropout) or (force_drop_ids is not None):
            labels = self.token_drop(labels, force_drop_ids)
        # nn.Embedding wants integer ids; fixtures may carry I32, so widen
        return self.embedding_table(labels.long())


class PatchEmbed(nn.Module):
    """Non-overlapping p x p patches -> tokens via a strided conv
    (same names as timm's PatchEmbed: proj.weight [D, C, p, p], proj.bias)."""

    def __init__(self, img_size, patch_size, in_chans, embed_dim, bias=True):
        super().__init__()
        self.img_size = (img_size, img_size)
        self.patch_size = (patch_size, patch_size)
        self.grid_size = (img_size // patch_size, img_size // patch_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size, bias=bias)

    def forward(self, x):
        x = self.proj(x)  # [N, D, H/p, W/p]
        # tokens in row-major (row, col) order: [N, T, D]
        return x.flatten(2).transpose(1, 2)


# --------------------------------------------------------------------------
# Transformer pieces (same parameter names as timm's Attention and Mlp)
# --------------------------------------------------------------------------


class Attention(nn.Module):
    def __init__(self, dim, num_heads, qkv_bias=True):
        super().__init__()
        assert dim % num_heads == 0, "hidden size must be divisible by num_heads"
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        # the 3D qkv output is laid out as (3, heads, head_dim): q | k | v
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each [B, heads, N, head_dim]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        x = attn @ v
        x = x.transpose(1, 2).reshape(B, N, C)  # heads concatenated back
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, in_features, hidden_features):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.fc2 = nn.Linear(hidden_features, in_features)

    def forward(self, x):
        # DiT uses the tanh approximation of GELU
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class DiTBlock(nn.Module):
    """Pre-norm transformer block with adaLN-Zero conditioning."""

    def __init__(self, hidden_size, num_heads, mlp_ratio=4.0):
        super().__init__()
        # LayerNorms carry no weight/bias: adaLN supplies shift/scale instead
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden_size, num_heads=num_heads, qkv_bias=True)
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(hidden_size, int(hidden_size * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size, bias=True))

    def forward(self, x, c):
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        x = x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))
        return x


class FinalLayer(nn.Module):
    def __init__(self, hidden_size, patch_size, out_channels):
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden_size, patch_size * patch_size * out_channels, bias=True)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size, bias=True))

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


# --------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------


class DiT(nn.Module):
    def __init__(
        self,
        input_size=32,
        patch_size=2,
        in_channels=4,
        hidden_size=1152,
        depth=28,
        num_heads=16,
        mlp_ratio=4.0,
        class_dropout_prob=0.1,
        num_classes=1000,
        learn_sigma=True,
    ):
        super().__init__()
        self.learn_sigma = learn_sigma
        self.in_channels = in_channels
        # learn_sigma: the network predicts eps and the variance interpolation
        self.out_channels = in_channels * 2 if learn_sigma else in_channels
        self.patch_size = patch_size
        self.num_heads = num_heads

        self.x_embedder = PatchEmbed(input_size, patch_size, in_channels, hidden_size, bias=True)
        self.t_embedder = TimestepEmbedder(hidden_size)
        self.y_embedder = LabelEmbedder(num_classes, hidden_size, class_dropout_prob)
        num_patches = self.x_embedder.num_patches
        # fixed sin-cos table, kept as a frozen Parameter so it is in the state dict
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches, hidden_size), requires_grad=False)

        self.blocks = nn.ModuleList([DiTBlock(hidden_size, num_heads, mlp_ratio=mlp_ratio) for _ in range(depth)])
        self.final_layer = FinalLayer(hidden_size, patch_size, self.out_channels)
        self.initialize_weights()

    def initialize_weights(self):
        # the official init; with it the network's output is exactly zero
        # (adaLN-Zero), which is why fixtures re-randomize afterwards
        def _basic_init(module):
            if isinstance(module, nn.Linear):
                torch.nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.constant_(module.bias, 0)

        self.apply(_basic_init)

        pos_embed = get_2d_sincos_pos_embed(self.pos_embed.shape[-1], int(self.x_embedder.num_patches ** 0.5))
        self.pos_embed.data.copy_(torch.from_numpy(pos_embed).float().unsqueeze(0))

        # patch embed initialized like a Linear on the flattened kernel
        w = self.x_embedder.proj.weight.data
        nn.init.xavier_uniform_(w.view([w.shape[0], -1]))
        nn.init.constant_(self.x_embedder.proj.bias, 0)

        nn.init.normal_(self.y_embedder.embedding_table.weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)

        for block in self.blocks:
            nn.init.constant_(block.adaLN_modulation[-1].weight, 0)
            nn.init.constant_(block.adaLN_modulation[-1].bias, 0)

        nn.init.constant_(self.final_layer.adaLN_modulation[-1].weight, 0)
        nn.init.constant_(self.final_layer.adaLN_modulation[-1].bias, 0)
        nn.init.constant_(self.final_layer.linear.weight, 0)
        nn.init.constant_(self.final_layer.linear.bias, 0)

    def unpatchify(self, x):
        """[N, T, p*p*C] -> [N, C, H, W]. Each token's vector is read as
        (py, px, c) with the channel LAST (the patch-embed kernel is (c, py, px))."""
        c = self.out_channels
        p = self.x_embedder.patch_size[0]
        h = w = int(x.shape[1] ** 0.5)
        assert h * w == x.shape[1]
        x = x.reshape(shape=(x.shape[0], h, w, p, p, c))
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(shape=(x.shape[0], c, h * p, h * p))

    def conditioning(self, t, y):
        """c = t_emb + y_emb, [N, D] (exposed for fixture debugging)."""
        return self.t_embedder(t) + self.y_embedder(y, self.training)

    def forward(self, x, t, y, trace=None):
        """x: [N, C, H, W] latents, t: [N] timesteps, y: [N] class ids.
        trace: optional list that receives the token states after embedding
        and after each block (debug only; does not change the result)."""
        x = self.x_embedder(x) + self.pos_embed  # [N, T, D]
        c = self.conditioning(t, y)  # [N, D]
        if trace is not None:
            trace.append(x)
        for block in self.blocks:
            x = block(x, c)
            if trace is not None:
                trace.append(x)
        x = self.final_layer(x, c)  # [N, T, p*p*out_channels]
        return self.unpatchify(x)  # [N, out_channels, H, W]

    def forward_with_cfg(self, x, t, y, cfg_scale):
        """Classifier-free guidance in one batched pass. The batch is
        [cond half; uncond half]; only the first half of x is used for both.
        Guidance is applied to the first 3 channels only (as in the original,
        which hard-codes 3); the remaining channels are passed through."""
        half = x[: len(x) // 2]
        combined = torch.cat([half, half], dim=0)
        model_out = self.forward(combined, t, y)
        eps, rest = model_out[:, :3], model_out[:, 3:]
        cond_eps, uncond_eps = torch.split(eps, len(eps) // 2, dim=0)
        half_eps = uncond_eps + cfg_scale * (cond_eps - uncond_eps)
        eps = torch.cat([half_eps, half_eps], dim=0)
        return torch.cat([eps, rest], dim=1)


# --------------------------------------------------------------------------
# 2-D sin-cos position embedding (computed in float64 with numpy)
# --------------------------------------------------------------------------


def get_2d_sincos_pos_embed(embed_dim, grid_size, cls_token=False, extra_tokens=0):
    """[grid_size*grid_size, embed_dim]. Token order is row-major; the first
    half of each vector encodes the column (x), the second half the row (y)."""
    grid_h = np.arange(grid_size, dtype=np.float32)
    grid_w = np.arange(grid_size, dtype=np.float32)
    grid = np.meshgrid(grid_w, grid_h)  # w first: grid[0] varies along columns
    grid = np.stack(grid, axis=0).reshape([2, 1, grid_size, grid_size])
    pos_embed = get_2d_sincos_pos_embed_from_grid(embed_dim, grid)
    if cls_token and extra_tokens > 0:
        pos_embed = np.concatenate([np.zeros([extra_tokens, embed_dim]), pos_embed], axis=0)
    return pos_embed


def get_2d_sincos_pos_embed_from_grid(embed_dim, grid):
    assert embed_dim % 2 == 0
    emb_h = get_1d_sincos_pos_embed_from_grid(embed_dim // 2, grid[0])  # column coordinate
    emb_w = get_1d_sincos_pos_embed_from_grid(embed_dim // 2, grid[1])  # row coordinate
    return np.concatenate([emb_h, emb_w], axis=1)


def get_1d_sincos_pos_embed_from_grid(embed_dim, pos):
    """[M, embed_dim] = [sin(pos*omega), cos(pos*omega)], omega_k = 10000^(-k/(embed_dim/2))."""
    assert embed_dim % 2 == 0
    omega = np.arange(embed_dim // 2, dtype=np.float64)
    omega /= embed_dim / 2.0
    omega = 1.0 / 10000 ** omega
    pos = pos.reshape(-1)
    out = np.einsum("m,d->md", pos, omega)  # float64 outer product
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


# --------------------------------------------------------------------------
# Standard configurations
# --------------------------------------------------------------------------

_SIZES = {"S": (12, 384, 6), "B": (12, 768, 12), "L": (24, 1024, 16), "XL": (28, 1152, 16)}


def dit_config(name):
    """e.g. "DiT-XL/2" -> dict(depth, hidden_size, num_heads, patch_size)."""
    size, patch = name.replace("DiT-", "").split("/")
    depth, hidden, heads = _SIZES[size]
    assert int(patch) in (2, 4, 8)
    return dict(depth=depth, hidden_size=hidden, num_heads=heads, patch_size=int(patch))


def _constructor(name):
    def ctor(**kwargs):
        return DiT(**{**dit_config(name), **kwargs})

    return ctor


# same keys as the original's DiT_models: "DiT-S/2" ... "DiT-XL/8"
DiT_models = {f"DiT-{s}/{p}": _constructor(f"DiT-{s}/{p}") for s in _SIZES for p in (2, 4, 8)}


# --------------------------------------------------------------------------
# Fixture support: make every parameter non-zero
# --------------------------------------------------------------------------


@torch.no_grad()
def randomize_for_fixtures(model, generator):
    """Overwrite every parameter except pos_embed with Gaussian values.

    The official init zeroes the adaLN and final layers, so its output is
    identically 0 and would test nothing. Weights get std ~ gain/sqrt(fan_in)
    so activations stay O(1) through every path; biases get std 0.1 so bias
    handling is visible. The adaLN outputs (shift/scale/gate) come out around
    0.5 in magnitude, so the residual, attention and MLP branches all matter.
    """
    for name, p in model.named_parameters():
        if name == "pos_embed":
            continue  # fixed sin-cos table: keep it exact
        if name.endswith("embedding_table.weight"):
            std = 0.5  # comparable to the timestep embedding's magnitude
        elif p.dim() >= 2:
            fan_in = p[0].numel()  # Linear: in_features; Conv: C*p*p
            gain = 1.0
            if "adaLN_modulation" in name:
                gain = 2.0  # shift/scale/gate rms ~0.6: branches comparable to the residual
            std = gain / math.sqrt(fan_in)
        else:
            std = 0.1  # biases
        p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float32) * std)
    return model
