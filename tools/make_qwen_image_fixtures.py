#!/usr/bin/python3
"""Make the Qwen-Image transformer parity fixtures in test/fixtures/qwen-image/ (deterministic).

The model is tools/qwen_image_reference.py, a PyTorch 1.13 transcription of diffusers'
QwenImageTransformer2DModel (commit 58eb52c). For each config below it writes:
  <name>.weights.safetensors   F32 state dict, diffusers' keys and order; metadata num_heads,
                               axes_dim ("a,b,c"), theta ("10000"), patch_size
  <name>.inputs.safetensors    img [B,L,in] F32 (packed latents), txt [B,Lt,joint] F32,
                               timesteps [B] F32 (sigma in [0,1]), img_shapes [K,3] I32
  <name>.expected.safetensors  out [B,L,p*p*out], t_proj [B,256], temb [B,D], img_in [B,L,D],
                               txt_in [B,Lt,D], rope.img [L,hd/2,2], rope.txt [Lt,hd/2,2]
                               ((cos, sin) pairs), block.{i}.img [B,L,D], block.{i}.txt [B,Lt,D]

Weights and inputs are drawn, rounded to float32, and run with the model cast to float64; the
expected tensors are that run, stored as F32. The float32 run of the same model (which is the
source's own float32 code path) only gives the noise floor an f32 engine should expect. An
independent numpy forward (explicit RoPE positions, no torch) must agree with the torch float64
reference to 1e-10, and a masked run must equal the run without the padded text tokens.

Run: /usr/bin/python3 tools/make_qwen_image_fixtures.py      (add --verbose for tensor shapes)

--check-source DIR (DIR = diffusers' src/diffusers/models at that commit, e.g. from
`git --git-dir=<mirror> archive 58eb52c src/diffusers/models | tar -x -C /tmp/dq`) also runs the
diffusers source itself: the classes and functions the model uses are cut out of the source files
(ast), executed one namespace per module with stubs for the diffusers imports they never use on
this path (mixins, config registration, logging, LoRA scale, parallel plans), and with
`dispatch_attention_fn` replaced by the plain-math native attention. Its float32 output must equal
this file's float32 run bit for bit; its float64 output (the source's float32 upcasts kept) is
printed for comparison.
"""

import argparse
import ast
import copy
import functools
import inspect
import math
import numbers
import os
import sys
import types

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qwen_image_reference import DIFFUSERS_COMMIT, QwenImageTransformer2DModel  # noqa: E402
from numpy_reference import gelu_tanh as _gelu_tanh, layer_norm as _ln, silu as _silu  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "test", "fixtures", "qwen-image")

# timesteps: None entries are drawn uniformly in (0, 1)
FIXTURES = [
    dict(
        # diffusers' own unit-test config (tests/models/transformers/test_models_transformer_qwenimage.py)
        name="qwen-tiny",
        model=dict(patch_size=2, in_channels=16, out_channels=4, num_layers=2, attention_head_dim=16,
                   num_attention_heads=4, joint_attention_dim=16, axes_dims_rope=(8, 4, 4)),
        img_shapes=[(1, 4, 4)], batch=2, txt_len=8, timesteps=[1.0, None], seed=2001,
    ),
    dict(
        # odd grid (3x5: centred positions -2..0 and -3..1), head_dim 24, out_channels != in_channels/4
        name="qwen-odd",
        model=dict(patch_size=2, in_channels=64, out_channels=16, num_layers=2, attention_head_dim=24,
                   num_attention_heads=2, joint_attention_dim=20, axes_dims_rope=(8, 8, 8)),
        img_shapes=[(1, 3, 5)], batch=2, txt_len=3, timesteps=[None, 1.0], seed=2002,
    ),
    dict(
        # two images in one sequence (as Qwen-Image-Edit concatenates target and condition latents):
        # image k gets frame index k; the second image sets where the text positions start
        name="qwen-multi",
        model=dict(patch_size=2, in_channels=16, out_channels=4, num_layers=1, attention_head_dim=16,
                   num_attention_heads=2, joint_attention_dim=12, axes_dims_rope=(4, 6, 6)),
        img_shapes=[(1, 2, 3), (1, 3, 4)], batch=1, txt_len=2, timesteps=[None], seed=2003,
    ),
]

MOD_GAIN = 3.0  # img_mod / txt_mod / norm_out.linear: shift/scale/gate large enough to matter


@torch.no_grad()
def randomize(model, gen):
    """Every path non-trivial: Linear weights N(0, gain^2/fan_in) (gain 2 for the modulation
    linears), biases 0.1 N(0,1), RMSNorm weights 1 + 0.3 N(0,1)."""
    for name, p in model.named_parameters():
        if p.dim() == 2:
            gain = MOD_GAIN if (".img_mod." in name or ".txt_mod." in name or name.startswith("norm_out.")) else 1.0
            std = gain / math.sqrt(p.shape[1])
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float32) * std)
        elif "norm" in name and name.endswith(".weight"):
            p.copy_(1 + 0.3 * torch.randn(p.shape, generator=gen, dtype=torch.float32))
        elif name.endswith(".bias"):
            p.copy_(0.1 * torch.randn(p.shape, generator=gen, dtype=torch.float32))
        else:
            raise AssertionError(f"unexpected parameter {name}")


# --------------------------------------------------------------------------------------------
# Independent numpy forward (float64). RoPE is built from explicit integer positions, as the
# report describes them, not from the source's split/cat tables.
# --------------------------------------------------------------------------------------------

f32 = np.float32


def np_positions(img_shapes, txt_len):
    """[(frame, h, w) per image token], [text position]."""
    img = []
    for k, (f, h, w) in enumerate(img_shapes):
        for fi in range(f):
            for hi in range(h):
                for wi in range(w):
                    img.append((k + fi, hi - (h - h // 2), wi - (w - w // 2)))
    start = max(max(h // 2, w // 2) for (_, h, w) in img_shapes)
    return img, [start + j for j in range(txt_len)]


def np_inv_freq(dim, theta=10000):
    e = (np.arange(0, dim, 2).astype(f32) / f32(dim)).astype(f32)
    return (f32(1.0) / (float(theta) ** e.astype(np.float64)).astype(f32)).astype(f32)


def np_angles(pos3, axes):
    """pos3: [N, 3] integer positions (frame, h, w) -> [N, sum(axes)/2] float32 angles."""
    cols = []
    for a, d in enumerate(axes):
        inv = np_inv_freq(d)
        cols.append((pos3[:, a:a + 1].astype(f32) * inv[None, :]).astype(f32))
    return np.concatenate(cols, axis=1)


def np_t_proj(t):
    k = np.arange(128, dtype=f32)
    exponent = (f32(-math.log(10000)) * k).astype(f32) / f32(128)
    freqs = np.exp(exponent.astype(np.float64)).astype(f32)
    args = (f32(1000) * (t.astype(f32)[:, None] * freqs[None, :]).astype(f32)).astype(f32).astype(np.float64)
    return np.concatenate([np.cos(args), np.sin(args)], axis=1)


def _lin(sd, p, x):
    return x @ sd[p + ".weight"].T + sd[p + ".bias"]


def _rms(x, w, eps=1e-6):
    return x / np.sqrt((x ** 2).mean(-1, keepdims=True) + eps) * w


def _rope(x, ang):
    """x [B, S, H, hd], ang [S, hd/2]: rotate pairs (x[2j], x[2j+1]) by ang[j]."""
    c, s = np.cos(ang)[None, :, None, :], np.sin(ang)[None, :, None, :]
    a, b = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = a * c - b * s
    out[..., 1::2] = a * s + b * c
    return out


def numpy_forward(sd, img, txt, t, img_shapes, heads, axes, layers, stats=None):
    sd = {k: v.astype(np.float64) for k, v in sd.items()}
    B, L, _ = img.shape
    Lt = txt.shape[1]
    h = _lin(sd, "img_in", img)
    e = _lin(sd, "txt_in", _rms(txt, sd["txt_norm.weight"]))
    tp = np_t_proj(t)
    temb = _lin(sd, "time_text_embed.timestep_embedder.linear_2",
                _silu(_lin(sd, "time_text_embed.timestep_embedder.linear_1", tp)))
    ipos, tpos = np_positions(img_shapes, Lt)
    assert len(ipos) == L
    ang_i = np_angles(np.array(ipos), axes).astype(np.float64)
    ang_t = np_angles(np.array([(p, p, p) for p in tpos]), axes).astype(np.float64)
    D = h.shape[-1]
    hd = D // heads
    trace = dict(t_proj=tp, temb=temb, img_in=h, txt_in=e, ang_i=ang_i, ang_t=ang_t)
    if stats is not None:
        stats["blocks"] = []
    for i in range(layers):
        b = f"transformer_blocks.{i}"
        im = np.split(_lin(sd, b + ".img_mod.1", _silu(temb))[:, None, :], 6, axis=-1)
        tm = np.split(_lin(sd, b + ".txt_mod.1", _silu(temb))[:, None, :], 6, axis=-1)
        # (shift, scale, gate) for norm1, then for norm2
        x_i = _ln(h) * (1 + im[1]) + im[0]
        x_t = _ln(e) * (1 + tm[1]) + tm[0]
        a = b + ".attn"
        qi = _rope(_rms(_lin(sd, a + ".to_q", x_i).reshape(B, L, heads, hd), sd[a + ".norm_q.weight"]), ang_i)
        ki = _rope(_rms(_lin(sd, a + ".to_k", x_i).reshape(B, L, heads, hd), sd[a + ".norm_k.weight"]), ang_i)
        vi = _lin(sd, a + ".to_v", x_i).reshape(B, L, heads, hd)
        qt = _rope(_rms(_lin(sd, a + ".add_q_proj", x_t).reshape(B, Lt, heads, hd), sd[a + ".norm_added_q.weight"]),
                   ang_t)
        kt = _rope(_rms(_lin(sd, a + ".add_k_proj", x_t).reshape(B, Lt, heads, hd), sd[a + ".norm_added_k.weight"]),
                   ang_t)
        vt = _lin(sd, a + ".add_v_proj", x_t).reshape(B, Lt, heads, hd)
        q, k, v = (np.concatenate(p, axis=1) for p in ((qt, qi), (kt, ki), (vt, vi)))  # [text, image]
        o = np.zeros_like(q)
        maxp = []
        for bb in range(B):
            for hh in range(heads):
                lg = q[bb, :, hh] @ k[bb, :, hh].T / math.sqrt(hd)
                pr = np.exp(lg - lg.max(-1, keepdims=True))
                pr /= pr.sum(-1, keepdims=True)
                maxp.append(pr.max(-1).mean())
                o[bb, :, hh] = pr @ v[bb, :, hh]
        o = o.reshape(B, Lt + L, D)
        att_i = _lin(sd, a + ".to_out.0", o[:, Lt:])
        att_t = _lin(sd, a + ".to_add_out", o[:, :Lt])
        h = h + im[2] * att_i
        e = e + tm[2] * att_t
        mlp_i = _lin(sd, b + ".img_mlp.net.2", _gelu_tanh(_lin(sd, b + ".img_mlp.net.0.proj",
                                                                _ln(h) * (1 + im[4]) + im[3])))
        h = h + im[5] * mlp_i
        mlp_t = _lin(sd, b + ".txt_mlp.net.2", _gelu_tanh(_lin(sd, b + ".txt_mlp.net.0.proj",
                                                                _ln(e) * (1 + tm[4]) + tm[3])))
        e = e + tm[5] * mlp_t
        trace[f"block.{i}.img"] = h
        trace[f"block.{i}.txt"] = e
        if stats is not None:
            r = lambda z: float(np.sqrt((z ** 2).mean()))  # noqa: E731
            stats["blocks"].append(dict(img=r(h), txt=r(e), attn=r(im[2] * att_i), mlp=r(im[5] * mlp_i),
                                        mod=r(np.concatenate(im, -1)), maxp=float(np.mean(maxp))))
    scale, shift = np.split(_lin(sd, "norm_out.linear", _silu(temb))[:, None, :], 2, axis=-1)  # scale first
    out = _lin(sd, "proj_out", _ln(h) * (1 + scale) + shift)
    if stats is not None:
        stats["temb"] = float(np.sqrt((temb ** 2).mean()))
    return out, trace


# --------------------------------------------------------------------------------------------
# --check-source: run diffusers' own code (see the module docstring)
# --------------------------------------------------------------------------------------------

SOURCE_PARTS = {
    # module file -> top-level names to take (an `if` is taken by the class it defines)
    "embeddings.py": ["get_timestep_embedding", "TimestepEmbedding", "Timesteps"],
    "activations.py": ["GELU"],
    "normalization.py": ["LayerNorm", "RMSNorm", "AdaLayerNormContinuous"],
    "attention.py": ["FeedForward"],
    "attention_processor.py": ["Attention"],
    "transformers/transformer_qwenimage.py": [
        "get_timestep_embedding", "apply_rotary_emb_qwen", "apply_rotary_emb_qwen_neuron", "ROPE_PER_DEVICE",
        "compute_text_seq_len_from_mask", "QwenTimestepProjEmbeddings", "QwenEmbedRope",
        "QwenDoubleStreamAttnProcessor2_0", "QwenImageTransformerBlock", "QwenImageTransformer2DModel"],
}


def _node_names(node):
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {t.id for t in node.targets if isinstance(t, ast.Name)}
    if isinstance(node, ast.If):
        return set().union(*(_node_names(n) for n in node.body + node.orelse))
    return set()


def _stub_native_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, **_):
    # attention_dispatch._native_attention (no parallel config) with SDPA written out
    q, k, v = (x.permute(0, 2, 1, 3) for x in (query, key, value))
    s = q.shape[-1] ** -0.5 if scale is None else scale
    lg = (q @ k.transpose(-2, -1)) * s
    if attn_mask is not None:
        lg = lg.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else lg + attn_mask
    return (torch.softmax(lg, dim=-1) @ v).permute(0, 2, 1, 3)


def load_source_model(models_dir):
    """QwenImageTransformer2DModel as the diffusers source defines it, plus its RMSNorm class."""

    class _Log:
        def __getattr__(self, _):
            return lambda *a, **k: None

    class _Output:
        def __init__(self, sample):
            self.sample = sample

    identity = lambda f: f  # noqa: E731
    common = dict(torch=torch, nn=torch.nn, F=torch.nn.functional, math=math, np=np, numbers=numbers,
                  inspect=inspect, functools=functools, prod=math.prod, Any=object, logger=_Log(),
                  is_torch_npu_available=lambda: False, is_torch_version=lambda op, v: False,
                  deprecate=lambda *a, **k: None, maybe_allow_in_graph=identity,
                  lru_cache_unless_export=lambda maxsize=None: identity,
                  get_activation=lambda name: {"silu": torch.nn.SiLU()}[name])
    ns = {}
    for fname, names in SOURCE_PARTS.items():
        with open(os.path.join(models_dir, fname)) as f:
            tree = ast.parse(f.read())
        g = ns[fname] = dict(common)
        nodes = [n for n in tree.body if _node_names(n) & set(names)]
        missing = set(names) - set().union(set(), *(_node_names(n) for n in nodes))
        assert not missing, f"{fname}: not found {missing}"
        if fname == "attention.py":
            g["GELU"] = ns["activations.py"]["GELU"]
        if fname.startswith("transformers/"):
            g.update(
                Timesteps=ns["embeddings.py"]["Timesteps"],
                TimestepEmbedding=ns["embeddings.py"]["TimestepEmbedding"],
                RMSNorm=ns["normalization.py"]["RMSNorm"],
                AdaLayerNormContinuous=ns["normalization.py"]["AdaLayerNormContinuous"],
                FeedForward=ns["attention.py"]["FeedForward"],
                Attention=ns["attention_processor.py"]["Attention"],
                dispatch_attention_fn=lambda *a, backend=None, parallel_config=None, **k: (
                    _stub_native_attention(*a, **k)),
                ModelMixin=torch.nn.Module, register_to_config=identity, apply_lora_scale=lambda name: identity,
                ContextParallelInput=lambda **k: None, ContextParallelOutput=lambda **k: None,
                Transformer2DModelOutput=_Output,
                **{m: type(m, (), {}) for m in ("ConfigMixin", "PeftAdapterMixin", "FromOriginalModelMixin",
                                                "CacheMixin", "AttentionMixin")})
        code = compile(ast.Module(body=nodes, type_ignores=[]), os.path.join(models_dir, fname), "exec",
                       flags=__import__("__future__").annotations.compiler_flag, dont_inherit=True)
        exec(code, g)
    return ns["transformers/transformer_qwenimage.py"]["QwenImageTransformer2DModel"], ns["normalization.py"]["RMSNorm"]


def check_source(models_dir, out_dir):
    import builtins
    # F.scaled_dot_product_attention only has to exist (the processor's __init__ checks for it)
    added_sdpa = not hasattr(torch.nn.functional, "scaled_dot_product_attention")
    if added_sdpa:
        torch.nn.functional.scaled_dot_product_attention = None
    real_import = builtins.__import__
    SrcModel, SrcRMSNorm = load_source_model(models_dir)
    norm = types.SimpleNamespace(RMSNorm=SrcRMSNorm, FP32LayerNorm=None, LpNorm=None)

    def imp(name, globals=None, locals=None, fromlist=(), level=0):
        # Attention.__init__ does `from .normalization import FP32LayerNorm, LpNorm, RMSNorm`
        if level == 1 and name == "normalization":
            return norm
        return real_import(name, globals, locals, fromlist, level)

    builtins.__import__ = imp
    try:
        for spec in FIXTURES:
            m = spec["model"]
            name = spec["name"]
            w, _ = read_safetensors(os.path.join(out_dir, f"{name}.weights.safetensors"))
            inp, _ = read_safetensors(os.path.join(out_dir, f"{name}.inputs.safetensors"))
            exp, _ = read_safetensors(os.path.join(out_dir, f"{name}.expected.safetensors"))
            sd = {k: torch.from_numpy(v) for k, v in w.items()}
            src = SrcModel(**m).eval()
            assert list(src.state_dict()) == list(sd), f"{name}: state dict keys/order differ from the source"
            src.load_state_dict(sd, strict=True)
            mine = QwenImageTransformer2DModel(**m).eval()
            mine.load_state_dict(sd, strict=True)
            B = inp["img"].shape[0]
            shapes = [[tuple(int(x) for x in r) for r in inp["img_shapes"]]] * B
            args = [torch.from_numpy(inp[k]) for k in ("img", "txt")]
            ts = torch.from_numpy(inp["timesteps"])
            with torch.no_grad():
                s32 = src(args[0], args[1], None, ts, shapes).sample
                m32 = mine(args[0], args[1], None, ts, shapes).sample
                s64 = copy.deepcopy(src).double()(args[0].double(), args[1].double(), None, ts, shapes).sample
                # text padded with two masked tokens: source and transcription agree here too
                Lt = args[1].shape[1]
                pad = torch.randn(B, 2, args[1].shape[2], generator=torch.Generator().manual_seed(7))
                txt_p = torch.cat([args[1], pad], 1)
                mask = torch.cat([torch.ones(B, Lt), torch.zeros(B, 2)], 1).long()
                s32m = src(args[0], txt_p, mask, ts, shapes).sample
                m32m = mine(args[0], txt_p, mask, ts, shapes).sample
            ref = torch.from_numpy(exp["out"]).double()
            assert torch.equal(s32, m32), f"{name}: source and transcription differ in float32"
            assert torch.equal(s32m, m32m), f"{name}: source and transcription differ in float32 (masked)"
            print(f"source check {name}: float32 source == transcription (bitwise, also with masked padding); "
                  f"source f32 vs expected {rel(s32.double(), ref):.2e}, "
                  f"source f64 (float32 upcasts kept) vs expected {rel(s64, ref):.2e}")
    finally:
        builtins.__import__ = real_import
        if added_sdpa:
            del torch.nn.functional.scaled_dot_product_attention


# --------------------------------------------------------------------------------------------


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


def rope_real(freqs):
    """complex [S, hd/2] -> [S, hd/2, 2] (cos, sin)."""
    return torch.view_as_real(freqs)


def build(spec, out_dir):
    m = spec["model"]
    B, Lt = spec["batch"], spec["txt_len"]
    shapes = spec["img_shapes"]
    L = sum(f * h * w for f, h, w in shapes)
    gen = torch.Generator().manual_seed(spec["seed"])
    torch.manual_seed(spec["seed"])  # (nn.Linear's init; everything is redrawn below)
    model = QwenImageTransformer2DModel(**m).eval()
    randomize(model, gen)

    img = torch.randn((B, L, m["in_channels"]), generator=gen)
    # text tokens of very different norms, so txt_norm's normalisation matters
    tok_scale = 0.5 + 4.0 * torch.rand((B, Lt, 1), generator=gen)
    txt = torch.randn((B, Lt, m["joint_attention_dim"]), generator=gen) * tok_scale
    ts = torch.tensor([v if v is not None else float(torch.rand((1,), generator=gen)) for v in spec["timesteps"]],
                      dtype=torch.float32)
    img_shapes = [list(shapes)] * B  # the pipeline's format: per sample, the list of its images

    m64 = copy.deepcopy(model).double()
    with torch.no_grad():
        out32 = model(img, txt, None, ts, img_shapes).sample
        tr = {}
        out64 = m64(img.double(), txt.double(), None, ts, img_shapes, trace=tr).sample
        # the unit test's format (a list of (f, h, w), one per sample) gives the same for one image
        if len(shapes) == 1:
            alt = m64(img.double(), txt.double(), None, ts, [tuple(shapes[0])] * B).sample
            assert torch.equal(alt, out64)
        # an all-ones mask changes nothing; padding the text with masked tokens changes nothing
        ones = m64(img.double(), txt.double(), torch.ones(B, Lt, dtype=torch.long), ts, img_shapes).sample
        assert torch.equal(ones, out64), "all-ones mask changed the output"
        pad = torch.randn((B, 2, m["joint_attention_dim"]), generator=gen, dtype=torch.float64)
        mask = torch.cat([torch.ones(B, Lt), torch.zeros(B, 2)], 1).long()
        padded = m64(img.double(), torch.cat([txt.double(), pad], 1), mask, ts, img_shapes).sample
        mask_err = float((padded - out64).abs().max())
        assert mask_err < 1e-12, f"masked padding changed the output ({mask_err})"

    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}

    stats = {}
    np_out, np_tr = numpy_forward(sd, img.double().numpy(), txt.double().numpy(), ts.numpy(), shapes,
                                  m["num_attention_heads"], m["axes_dims_rope"], m["num_layers"], stats)
    np_err = float(np.abs(np_out - out64.numpy()).max())
    for k in ["t_proj", "temb", "img_in", "txt_in"] + [f"block.{i}.{s}" for i in range(m["num_layers"])
                                                       for s in ("img", "txt")]:
        np_err = max(np_err, float(np.abs(np_tr[k] - tr[k].numpy()).max()))
    for k, ang in (("rope_img", np_tr["ang_i"]), ("rope_txt", np_tr["ang_t"])):
        np_err = max(np_err, float(np.abs(rope_real(tr[k])[..., 0].numpy() - np.cos(ang)).max()),
                     float(np.abs(rope_real(tr[k])[..., 1].numpy() - np.sin(ang)).max()))
    assert np_err < 1e-10, f"{spec['name']}: numpy and torch references disagree ({np_err})"

    wmeta = {"num_heads": str(m["num_attention_heads"]), "axes_dim": ",".join(str(a) for a in m["axes_dims_rope"]),
             "theta": "10000", "patch_size": str(m["patch_size"])}
    inputs = {"img": img.numpy(), "txt": txt.numpy(), "timesteps": ts.numpy(),
              "img_shapes": np.array(shapes, dtype=np.int32)}
    F32 = lambda a: a.detach().numpy().astype(np.float32)  # noqa: E731
    expected = {"out": F32(out64), "t_proj": F32(tr["t_proj"]), "temb": F32(tr["temb"]),
                "img_in": F32(tr["img_in"]), "txt_in": F32(tr["txt_in"]),
                "rope.img": F32(rope_real(tr["rope_img"])), "rope.txt": F32(rope_real(tr["rope_txt"]))}
    for i in range(m["num_layers"]):
        expected[f"block.{i}.img"] = F32(tr[f"block.{i}.img"])
        expected[f"block.{i}.txt"] = F32(tr[f"block.{i}.txt"])
    emeta = {"diffusers_commit": DIFFUSERS_COMMIT}

    name = spec["name"]
    paths = {k: os.path.join(out_dir, f"{name}.{k}.safetensors") for k in ("weights", "inputs", "expected")}
    write_safetensors(paths["weights"], sd, wmeta)
    write_safetensors(paths["inputs"], inputs, None)
    write_safetensors(paths["expected"], expected, emeta)

    # round trip: a fresh model loads the weights file strictly and reproduces the f32 run
    rsd, rmeta = read_safetensors(paths["weights"])
    assert rmeta == wmeta and list(rsd) == list(sd)
    fresh = QwenImageTransformer2DModel(**m).eval()
    fresh.load_state_dict({k: torch.from_numpy(v) for k, v in rsd.items()}, strict=True)
    rin, _ = read_safetensors(paths["inputs"])
    rexp, rem = read_safetensors(paths["expected"])
    assert rem == emeta and list(rexp) == list(expected)
    rshapes = [tuple(int(x) for x in r) for r in rin["img_shapes"]]
    with torch.no_grad():
        rt = fresh(torch.from_numpy(rin["img"]), torch.from_numpy(rin["txt"]), None,
                   torch.from_numpy(rin["timesteps"]), [rshapes] * B).sample
    assert torch.equal(rt, out32), "file round trip changed the f32 result"
    assert all(np.array_equal(rexp[k], expected[k]) for k in expected)

    return dict(
        name=name, params=sum(v.size for v in sd.values()),
        sizes={k: os.path.getsize(p) for k, p in paths.items()},
        max_out=float(out64.abs().max()), rms_out=float(out64.pow(2).mean().sqrt()),
        floor=rel(out32.double(), out64), np_err=np_err, mask_err=mask_err, stats=stats,
        t=ts.tolist(), shapes=shapes, wmeta=wmeta,
        tensors={k: list(v.shape) for k, v in {**inputs, **expected}.items()},
        keys=list(sd),
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=OUT_DIR)
    ap.add_argument("--verbose", action="store_true", help="list tensor shapes and state-dict keys")
    ap.add_argument("--check-source", metavar="DIR", help="diffusers' src/diffusers/models: run the source too")
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    torch.set_num_threads(1)

    rows = [build(spec, args.out_dir) for spec in FIXTURES]

    hdr = (f"{'name':12} {'params':>7} {'weights':>8} {'inputs':>7} {'expect':>7} {'max|out|':>9} {'rms out':>8} "
           f"{'f32 floor':>10} {'np err':>8}")
    print(hdr)
    print("-" * len(hdr))
    total = 0
    for r in rows:
        s = r["sizes"]
        total += sum(s.values())
        print(f"{r['name']:12} {r['params']:7d} {s['weights']:8d} {s['inputs']:7d} {s['expected']:7d} "
              f"{r['max_out']:9.4f} {r['rms_out']:8.4f} {r['floor']:10.2e} {r['np_err']:8.1e}")
    print(f"total {total} bytes")
    print()
    for r in rows:
        st = r["stats"]
        print(f"{r['name']}: timesteps={r['t']} img_shapes={r['shapes']} metadata={r['wmeta']} "
              f"rms temb={st['temb']:.3f}")
        for i, b in enumerate(st["blocks"]):
            print(f"    block {i}: rms img={b['img']:.3f} txt={b['txt']:.3f} attn branch={b['attn']:.3f} "
                  f"mlp branch={b['mlp']:.3f} mod={b['mod']:.3f} mean max attn prob={b['maxp']:.3f}")
        if args.verbose:
            print(f"    tensors: {r['tensors']}")
            print(f"    keys: {r['keys']}")
    if args.check_source:
        print()
        check_source(args.check_source, args.out_dir)


if __name__ == "__main__":
    main()
