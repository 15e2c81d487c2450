#!/usr/bin/python3
"""Make the FLUX.1 transformer parity fixtures in test/fixtures/flux/ (deterministic).

The reference is the OFFICIAL black-forest-labs/flux transformer (`flux.model.Flux`), imported
unchanged through tools/flux_official.py from the checkout that FLUX_REPO names.

For each config below it writes three safetensors files:
  <name>.weights.safetensors   Flux.state_dict() as F32 (official key names, state-dict order)
                               + metadata num_heads, axes_dim ("8,12,12"), theta ("10000")
  <name>.inputs.safetensors    img, img_ids, txt, txt_ids, timesteps, y (+ guidance), all F32
  <name>.expected.safetensors  out = Flux.forward(...), and intermediates caught by hooks:
                               vec, temb (+ gemb), img_in, txt_in, pe, double.<i>.img,
                               double.<i>.txt, single.<i>
and flux-schedule.expected.safetensors: the official get_schedule() lists as F64 tensors.

How the values are made:
- Every number is drawn with numpy's legacy RandomState (a stream numpy guarantees never to
  change) in float64 and then rounded to float32. The F32 files hold exactly those values and the
  model runs on exactly those values, cast to float64 (`model.double()`, inputs `.double()`).
- Weights: every Linear weight ~ N(0, gain^2 / fan_in), gain 1, except the modulation linears
  (`*_mod.lin`, `modulation.lin`, `final_layer.adaLN_modulation.1`), gain MOD_GAIN, so shift,
  scale and gate are O(1) and a wrong chunk order shows. Biases ~ 0.1 N(0, 1). RMSNorm `scale` =
  1 + 0.3 N(0, 1), so an ignored or misplaced scale shows. Nothing is zero-initialised.
- The expected tensors are the float64 run stored as F32. The official code is not float64
  throughout: RMSNorm, RoPE and the timestep sinusoid have float32 islands (see README). The
  script prints how far a pure-float64 forward is from it, and the float32 torch noise floor.
- An independent numpy forward (no torch, explicit heads and pairs) re-derives every expected
  tensor, once with the official float32 islands copied (must agree to 1e-5 relative; it does to
  ~1e-7) and once in pure float64 (printed only).
- Inputs: img, txt, y ~ N(0, 1); img_ids (0, row, col) row-major, except Kontext-style condition
  tokens (1, 0, col) at the end of flux-g-h64's batch row 1; txt_ids random integers (flux-g-h64
  0..5, flux-odd-h60 0..999) or zeros; timesteps include 1.0 (and 0.0) and non-round values.
- torch runs with ATEN_CPU_CAPABILITY=default (set below, before torch loads): its scalar float32
  exp/cos/sin are correctly rounded to within an ulp, so the float32 sinusoid is the one an engine
  computes and the same on every x86 machine. Under AVX2 it moves by up to 1e-4.
- Every file is read back and checked; the weights reload into a fresh official Flux.

Run: FLUX_REPO=/tmp/flux /usr/bin/python3 tools/make_flux_fixtures.py
"""

import argparse
import copy
import math
import os
import sys

# torch's float32 exp/cos/sin differ between its CPU kernels (AVX2's SLEEF exp is 1 ulp off for 15
# of the 128 sinusoid frequencies, which moves the guidance embedding by up to 1e-4). The scalar
# kernels are correctly rounded to within an ulp, machine-independent and what an engine computes;
# they must be chosen before torch loads.
os.environ["ATEN_CPU_CAPABILITY"] = "default"

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flux_official import Flux, FluxParams, get_schedule, timestep_embedding  # noqa: E402
from numpy_reference import gelu_tanh as _gelu_tanh, layer_norm as _ln, silu as _silu  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "test", "fixtures", "flux")
MOD_GAIN = 2.0

# img_ids: None -> (0, row, col) row-major over the grid for every batch row; a function may
# rewrite rows of it. txt_ids: 0 -> zeros (what the official pipeline passes), n -> random integers
# in [0, n) on all three axes, different per batch row. flux-odd-h60 uses large ones (up to 999) so
# that its non-integer theta matters: with positions < 5, theta 2500 instead of 2500.5 moves out by
# only 1e-5.
CONFIGS = [
    dict(
        name="flux-g-h64",
        params=dict(in_channels=16, out_channels=16, vec_in_dim=24, context_in_dim=32, hidden_size=64,
                    mlp_ratio=4.0, num_heads=2, depth=2, depth_single_blocks=2, axes_dim=[8, 12, 12],
                    theta=10000, qkv_bias=True, guidance_embed=True),
        meta_axes="8,12,12", meta_theta="10000",
        batch=2, grid=(3, 4), lt=5, txt_ids=6, kontext_row=1,
        timesteps=[1.0, None], guidance=[3.5, 1.0], seed=3001,
    ),
    dict(
        name="flux-odd-h60",
        params=dict(in_channels=12, out_channels=8, vec_in_dim=10, context_in_dim=14, hidden_size=60,
                    mlp_ratio=3.0, num_heads=3, depth=1, depth_single_blocks=2, axes_dim=[2, 6, 12],
                    theta=2500.5, qkv_bias=True, guidance_embed=False),
        meta_axes="2, 6, 12", meta_theta="2500.5",
        batch=1, grid=(5, 3), lt=4, txt_ids=1000, kontext_row=None,
        timesteps=[None], guidance=[3.5], seed=3002,  # guidance is given but the model has none
    ),
    dict(
        name="flux-nobias-h48",
        params=dict(in_channels=8, out_channels=8, vec_in_dim=6, context_in_dim=9, hidden_size=48,
                    mlp_ratio=2.0, num_heads=4, depth=2, depth_single_blocks=1, axes_dim=[4, 4, 4],
                    theta=10000, qkv_bias=False, guidance_embed=True),
        meta_axes="4,4,4", meta_theta="10000",
        batch=3, grid=(1, 7), lt=1, txt_ids=0, kontext_row=None,
        timesteps=[None, 1.0, 0.0], guidance=[1.0, 3.5, 4.25], seed=3003,
    ),
]

SCHEDULES = [(4, 256), (4, 4096), (50, 196), (50, 4096), (28, 1024), (7, 1)]
NOSHIFT = (50, 196)


def is_modulation(key):
    return "_mod.lin." in key or "modulation.lin." in key or key.startswith("final_layer.adaLN_modulation.1.")


def draw_weights(model, rng):
    """name -> float32 array, in state-dict order (see the module docstring)."""
    sd = {}
    for key, t in model.state_dict().items():
        shape = tuple(t.shape)
        z = rng.standard_normal(shape)
        if key.endswith(".scale"):
            v = 1.0 + 0.3 * z
        elif key.endswith(".bias"):
            v = 0.1 * z
        elif key.endswith(".weight") and len(shape) == 2:
            v = z * ((MOD_GAIN if is_modulation(key) else 1.0) / math.sqrt(shape[1]))
        else:
            raise ValueError(f"no rule for {key} {shape}")
        sd[key] = v.astype(np.float32)
    return sd


def make_inputs(spec, rng):
    p = spec["params"]
    B, (gh, gw), lt = spec["batch"], spec["grid"], spec["lt"]
    L = gh * gw
    f32 = lambda a: np.asarray(a, dtype=np.float64).astype(np.float32)  # noqa: E731
    img = f32(rng.standard_normal((B, L, p["in_channels"])))
    ids = np.zeros((gh, gw, 3))
    ids[..., 1] = np.arange(gh)[:, None]
    ids[..., 2] = np.arange(gw)[None, :]
    img_ids = np.repeat(ids.reshape(1, L, 3), B, axis=0)
    if spec["kontext_row"] is not None:
        # Kontext-style condition tokens: the last gw tokens of that batch row get first-axis
        # id 1 and their rows shifted to 0 (a second image whose grid starts at row 0)
        b = spec["kontext_row"]
        img_ids[b, L - gw:, 0] = 1
        img_ids[b, L - gw:, 1] -= gh - 1
    txt = f32(rng.standard_normal((B, lt, p["context_in_dim"])))
    if spec["txt_ids"]:
        txt_ids = rng.randint(0, spec["txt_ids"], size=(B, lt, 3)).astype(np.float64)
    else:
        txt_ids = np.zeros((B, lt, 3))
    ts = [v if v is not None else float(rng.uniform(0.05, 0.95)) for v in spec["timesteps"]]
    y = f32(rng.standard_normal((B, p["vec_in_dim"])))
    inputs = dict(img=img, img_ids=f32(img_ids), txt=txt, txt_ids=f32(txt_ids), timesteps=f32(ts), y=y)
    if spec["guidance"] is not None:
        inputs["guidance"] = f32(spec["guidance"])
    return inputs


# --------------------------------------------------------------------------
# Independent numpy forward. islands=True copies the official code's float32 steps (sinusoid,
# RMSNorm, RoPE); islands=False is pure float64 math.
# --------------------------------------------------------------------------


def np_sinusoid(t, islands, dim=256, max_period=10000):
    half = dim // 2
    k = np.arange(half, dtype=np.float64)
    if islands:
        # official: t*1000 rounded to f32, freqs = exp(...) in f32, args and cos/sin in f32.
        # Here each f32 op is correctly rounded, as torch's scalar (ATEN_CPU_CAPABILITY=default)
        # kernels are to within an ulp
        e = (np.float32(-math.log(max_period)) * k.astype(np.float32)) / np.float32(half)
        freqs = np.exp(e.astype(np.float64)).astype(np.float32)
        args = (np.float32(1000.0) * t.astype(np.float32))[:, None] * freqs[None]
        args = args.astype(np.float64)
        return np.concatenate([np.cos(args), np.sin(args)], -1).astype(np.float32).astype(np.float64)
    freqs = np.exp(-math.log(max_period) * k / half)
    args = (1000.0 * t.astype(np.float64))[:, None] * freqs[None]
    return np.concatenate([np.cos(args), np.sin(args)], -1)


def np_pe(ids, axes_dim, theta, islands):
    """[B, N, pe_dim/2] angles -> (cos, sin), pairs of axis 0, then axis 1, then axis 2."""
    ang = []
    for a, d in enumerate(axes_dim):
        omega = 1.0 / (float(theta) ** (np.arange(0, d, 2, dtype=np.float64) / d))
        ang.append(ids[..., a:a + 1].astype(np.float64) * omega)
    ang = np.concatenate(ang, -1)
    c, s = np.cos(ang), np.sin(ang)
    if islands:  # rope() returns .float()
        c, s = c.astype(np.float32).astype(np.float64), s.astype(np.float32).astype(np.float64)
    return c, s


def np_forward(sd, inp, cfg, islands):
    p = cfg["params"]
    sd = {k: v.astype(np.float64) for k, v in sd.items()}
    H, D = p["num_heads"], p["hidden_size"]
    hd = D // H

    def lin(prefix, x):
        y = x @ sd[prefix + ".weight"].T
        return y + sd[prefix + ".bias"] if prefix + ".bias" in sd else y

    def mlp_embed(prefix, x):
        return lin(prefix + ".out_layer", _silu(lin(prefix + ".in_layer", x)))

    def rmsnorm(x, scale):  # x [..., hd]
        if islands:  # official: x.float(), rrms and x*rrms in f32, then * scale in x's dtype
            x32 = x.astype(np.float32)
            ms = (x32.astype(np.float64) ** 2).mean(-1, keepdims=True).astype(np.float32)
            rr = (1.0 / np.sqrt(ms.astype(np.float64) + 1e-6)).astype(np.float32)
            return (x32 * rr).astype(np.float64) * scale
        return x / np.sqrt((x ** 2).mean(-1, keepdims=True) + 1e-6) * scale

    def rope(x, c, s):  # x [B, H, N, hd]; c, s [B, N, hd/2]
        c, s = c[:, None], s[:, None]
        if islands:
            x = x.astype(np.float32)
            c32, s32 = c.astype(np.float32), s.astype(np.float32)
            x0, x1 = x[..., 0::2], x[..., 1::2]
            out = np.empty_like(x)
            out[..., 0::2] = c32 * x0 + (-s32) * x1
            out[..., 1::2] = s32 * x0 + c32 * x1
            return out.astype(np.float64)
        x0, x1 = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = c * x0 - s * x1
        out[..., 1::2] = s * x0 + c * x1
        return out

    def heads(qkv):  # [B, L, 3D] -> 3 x [B, H, L, hd]  ("B L (K H D) -> K B H L D")
        B, L, _ = qkv.shape
        return qkv.reshape(B, L, 3, H, hd).transpose(2, 0, 3, 1, 4)

    def qk_norm(prefix, q, k):
        return (rmsnorm(q, sd[prefix + ".norm.query_norm.scale"]),
                rmsnorm(k, sd[prefix + ".norm.key_norm.scale"]))

    def attention(q, k, v, c, s):
        q, k = rope(q, c, s), rope(k, c, s)
        logits = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd)
        pr = np.exp(logits - logits.max(-1, keepdims=True))
        pr /= pr.sum(-1, keepdims=True)
        o = pr @ v  # [B, H, N, hd]
        B, _, N, _ = o.shape
        return o.transpose(0, 2, 1, 3).reshape(B, N, D)

    def modulation(prefix, vec, n):
        m = lin(prefix, _silu(vec))[:, None, :]
        return np.split(m, n, axis=-1)

    res = {}
    t = inp["timesteps"]
    res["temb"] = np_sinusoid(t, islands)
    vec = mlp_embed("time_in", res["temb"])
    if p["guidance_embed"]:
        res["gemb"] = np_sinusoid(inp["guidance"], islands)
        vec = vec + mlp_embed("guidance_in", res["gemb"])
    vec = vec + mlp_embed("vector_in", inp["y"].astype(np.float64))
    res["vec"] = vec
    img = lin("img_in", inp["img"].astype(np.float64))
    txt = lin("txt_in", inp["txt"].astype(np.float64))
    res["img_in"], res["txt_in"] = img, txt
    ids = np.concatenate([inp["txt_ids"], inp["img_ids"]], 1)
    c, s = np_pe(ids, p["axes_dim"], p["theta"], islands)
    # official layout [B, 1, N, pe_dim/2, 2, 2] = [[cos, -sin], [sin, cos]]
    res["pe"] = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)[:, None]
    lt = txt.shape[1]
    for i in range(p["depth"]):
        b = f"double_blocks.{i}"
        ish1, isc1, ig1, ish2, isc2, ig2 = modulation(b + ".img_mod.lin", vec, 6)
        tsh1, tsc1, tg1, tsh2, tsc2, tg2 = modulation(b + ".txt_mod.lin", vec, 6)
        iq, ik, iv = heads(lin(b + ".img_attn.qkv", (1 + isc1) * _ln(img) + ish1))
        iq, ik = qk_norm(b + ".img_attn", iq, ik)
        tq, tk, tv = heads(lin(b + ".txt_attn.qkv", (1 + tsc1) * _ln(txt) + tsh1))
        tq, tk = qk_norm(b + ".txt_attn", tq, tk)
        a = attention(np.concatenate([tq, iq], 2), np.concatenate([tk, ik], 2),
                      np.concatenate([tv, iv], 2), c, s)
        ta, ia = a[:, :lt], a[:, lt:]
        img = img + ig1 * lin(b + ".img_attn.proj", ia)
        img = img + ig2 * lin(b + ".img_mlp.2", _gelu_tanh(lin(b + ".img_mlp.0", (1 + isc2) * _ln(img) + ish2)))
        txt = txt + tg1 * lin(b + ".txt_attn.proj", ta)
        txt = txt + tg2 * lin(b + ".txt_mlp.2", _gelu_tanh(lin(b + ".txt_mlp.0", (1 + tsc2) * _ln(txt) + tsh2)))
        res[f"double.{i}.img"], res[f"double.{i}.txt"] = img, txt
    x = np.concatenate([txt, img], 1)
    mlp_hidden = int(D * p["mlp_ratio"])
    for i in range(p["depth_single_blocks"]):
        b = f"single_blocks.{i}"
        sh, sc, g = modulation(b + ".modulation.lin", vec, 3)
        h1 = lin(b + ".linear1", (1 + sc) * _ln(x) + sh)
        qkv, mlp = h1[..., :3 * D], h1[..., 3 * D:]
        assert mlp.shape[-1] == mlp_hidden
        q, k, v = heads(qkv)
        q, k = qk_norm(b, q, k)
        a = attention(q, k, v, c, s)
        x = x + g * lin(b + ".linear2", np.concatenate([a, _gelu_tanh(mlp)], -1))
        res[f"single.{i}"] = x
    x = x[:, lt:]
    shift, scale = np.split(lin("final_layer.adaLN_modulation.1", _silu(vec)), 2, axis=1)
    res["out"] = lin("final_layer.linear", (1 + scale[:, None]) * _ln(x) + shift[:, None])
    return res


# --------------------------------------------------------------------------


def run_official(model, inputs, dtype):
    """Flux.forward on `inputs` cast to dtype, with the intermediates from forward hooks.

    PyTorch 1.13 pre-hooks do not see keyword arguments, and Flux calls its blocks with keywords,
    so vec is taken from final_layer's positional input (the same tensor every block gets).
    """
    cap, hooks = {}, []

    def out_hook(name):
        def f(mod, args, out):
            if isinstance(out, tuple):
                cap[name + ".img"], cap[name + ".txt"] = out
            else:
                cap[name] = out
        return f

    def in_hook(name, idx):
        def f(mod, args):
            cap[name] = args[idx]
        return f

    hooks.append(model.img_in.register_forward_hook(out_hook("img_in")))
    hooks.append(model.txt_in.register_forward_hook(out_hook("txt_in")))
    hooks.append(model.pe_embedder.register_forward_hook(out_hook("pe")))
    hooks.append(model.time_in.register_forward_pre_hook(in_hook("temb", 0)))
    if model.params.guidance_embed:
        hooks.append(model.guidance_in.register_forward_pre_hook(in_hook("gemb", 0)))
    hooks.append(model.final_layer.register_forward_pre_hook(in_hook("vec", 1)))
    for i, blk in enumerate(model.double_blocks):
        hooks.append(blk.register_forward_hook(out_hook(f"double.{i}")))
    for i, blk in enumerate(model.single_blocks):
        hooks.append(blk.register_forward_hook(out_hook(f"single.{i}")))
    t = {k: torch.from_numpy(v).to(dtype) for k, v in inputs.items()}
    try:
        with torch.no_grad():
            out = model(img=t["img"], img_ids=t["img_ids"], txt=t["txt"], txt_ids=t["txt_ids"],
                        timesteps=t["timesteps"], y=t["y"], guidance=t.get("guidance"))
    finally:
        for h in hooks:
            h.remove()
    cap["out"] = out
    return cap


def expected_order(p):
    names = ["out", "vec", "temb"] + (["gemb"] if p["guidance_embed"] else []) + ["img_in", "txt_in", "pe"]
    for i in range(p["depth"]):
        names += [f"double.{i}.img", f"double.{i}.txt"]
    names += [f"single.{i}" for i in range(p["depth_single_blocks"])]
    return names


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / np.abs(b).max())


def build(cfg, out_dir):
    p = cfg["params"]
    rng = np.random.RandomState(cfg["seed"])
    torch.manual_seed(cfg["seed"])  # Flux's own init (all overwritten below)
    model = Flux(FluxParams(**p)).eval()
    sd = draw_weights(model, rng)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()}, strict=True)
    inputs = make_inputs(cfg, rng)

    m64 = copy.deepcopy(model).double().eval()
    cap = run_official(m64, inputs, torch.float64)
    cap32 = run_official(model, inputs, torch.float32)
    names = expected_order(p)
    assert sorted(cap) == sorted(names), (sorted(cap), names)
    assert cap["pe"].dtype == torch.float32, cap["pe"].dtype  # rope() always returns .float()
    expected = {k: cap[k].detach().numpy().astype(np.float32) for k in names}

    checks = {}
    if not p["guidance_embed"]:
        # the official forward ignores guidance when the model has no guidance_in
        noguid = dict(inputs)
        noguid.pop("guidance")
        alt = run_official(m64, noguid, torch.float64)["out"]
        assert torch.equal(alt, cap["out"]), "guidance changed a model without guidance_embed"
        checks["guidance ignored"] = True

    # independent numpy forward
    ref_isl = np_forward(sd, inputs, cfg, islands=True)
    ref_f64 = np_forward(sd, inputs, cfg, islands=False)
    f64 = {k: cap[k].detach().double().numpy() for k in names}
    isl_err = {k: rel(ref_isl[k], f64[k]) for k in names}
    worst = max(isl_err, key=isl_err.get)
    assert isl_err[worst] < 1e-5, f"{cfg['name']}: numpy and official disagree at {worst}: {isl_err[worst]:.2e}"
    # pe with float32 ids (what happens when the caller runs the model in float32)
    pe32 = cap32["pe"].double().numpy()

    wmeta = {"num_heads": str(p["num_heads"]), "axes_dim": cfg["meta_axes"], "theta": cfg["meta_theta"]}
    name = cfg["name"]
    paths = {k: os.path.join(out_dir, f"{name}.{k}.safetensors") for k in ("weights", "inputs", "expected")}
    write_safetensors(paths["weights"], sd, wmeta)
    write_safetensors(paths["inputs"], inputs, None)
    write_safetensors(paths["expected"], expected, None)

    # read back: the weights load into a fresh official model and give the same float32 result
    rsd, rmeta = read_safetensors(paths["weights"])
    assert rmeta == wmeta and list(rsd) == list(sd) == list(model.state_dict())
    axes = [int(a) for a in rmeta["axes_dim"].split(",")]
    fresh = Flux(FluxParams(**{**p, "axes_dim": axes, "theta": float(rmeta["theta"])})).eval()
    fresh.load_state_dict({k: torch.from_numpy(v) for k, v in rsd.items()}, strict=True)
    rin, _ = read_safetensors(paths["inputs"])
    assert list(rin) == list(inputs) and all(np.array_equal(rin[k], inputs[k]) for k in inputs)
    assert torch.equal(run_official(fresh, rin, torch.float32)["out"], cap32["out"])
    rexp, _ = read_safetensors(paths["expected"])
    assert list(rexp) == names and all(np.array_equal(rexp[k], expected[k]) for k in names)

    return dict(
        name=name,
        params=sum(v.size for v in sd.values()),
        sizes={k: os.path.getsize(v) for k, v in paths.items()},
        max_out=float(np.abs(f64["out"]).max()),
        rms=[(k, float(np.sqrt((f64[k] ** 2).mean()))) for k in names if k not in ("pe", "temb", "gemb")],
        floor=rel(cap32["out"].double().numpy(), f64["out"]),
        isl_err=isl_err[worst], isl_worst=worst,
        pure_out=rel(ref_f64["out"], f64["out"]),
        pure_vec=rel(ref_f64["vec"], f64["vec"]),
        pure_pe=float(np.abs(ref_f64["pe"] - f64["pe"]).max()),
        pe32=float(np.abs(pe32 - f64["pe"]).max()),
        temb_gap=float(np.abs(ref_f64["temb"] - f64["temb"]).max()),
        timesteps=inputs["timesteps"].tolist(),
        guidance=inputs.get("guidance", np.array([])).tolist(),
        wmeta=wmeta,
        checks=checks,
        shapes={k: list(v.shape) for k, v in {**inputs, **expected}.items()},
    )


def build_schedules(out_dir):
    out = {}
    for steps, seq in SCHEDULES:
        out[f"schedule.{steps}.{seq}"] = np.array(get_schedule(steps, seq), dtype=np.float64)
    steps, seq = NOSHIFT
    out[f"schedule_noshift.{steps}"] = np.array(get_schedule(steps, seq, shift=False), dtype=np.float64)
    path = os.path.join(out_dir, "flux-schedule.expected.safetensors")
    write_safetensors(path, out, None)
    back, _ = read_safetensors(path)
    assert list(back) == list(out) and all(np.array_equal(back[k], out[k]) for k in out)

    # the official schedule is float32 arithmetic; how far is it from the same formula in float64?
    gaps = {}
    for k, v in out.items():
        steps = len(v) - 1
        t = np.linspace(1.0, 0.0, steps + 1)
        if k.startswith("schedule."):
            seq = int(k.split(".")[2])
            mu = (1.15 - 0.5) / (4096 - 256) * seq + (0.5 - (1.15 - 0.5) / (4096 - 256) * 256)
            with np.errstate(divide="ignore"):
                t = math.exp(mu) / (math.exp(mu) + (1 / t - 1))
        gaps[k] = float(np.abs(t - v).max())
        assert np.all(v.astype(np.float32).astype(np.float64) == v), f"{k}: not float32 values"
    return path, out, gaps


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=OUT_DIR)
    ap.add_argument("--verbose", action="store_true", help="per-tensor rms and shapes")
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    torch.set_num_threads(1)
    if "CPU capability usage: NO AVX" not in torch.__config__.show():
        sys.exit("torch did not take ATEN_CPU_CAPABILITY=default: the float32 sinusoid would differ")

    rows = [build(cfg, args.out_dir) for cfg in CONFIGS]
    spath, sched, sgaps = build_schedules(args.out_dir)

    hdr = (f"{'name':16} {'params':>7} {'weights':>8} {'inputs':>6} {'expect':>7} {'max|out|':>9} "
           f"{'f32 floor':>10} {'np islands':>10} {'pure f64':>9}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        s = r["sizes"]
        print(f"{r['name']:16} {r['params']:7d} {s['weights']:8d} {s['inputs']:6d} {s['expected']:7d} "
              f"{r['max_out']:9.4f} {r['floor']:10.2e} {r['isl_err']:10.2e} {r['pure_out']:9.2e}")
    total = sum(sum(r["sizes"].values()) for r in rows) + os.path.getsize(spath)
    print(f"total {total} bytes in {args.out_dir}")
    print("(f32 floor: max|f32 official - f64 official| / max|f64| of out; np islands: worst relative\n"
          " gap of the numpy forward with the official float32 steps, over all tensors; pure f64: out\n"
          " gap of the all-float64 numpy forward)")
    print()
    for r in rows:
        print(f"{r['name']}: timesteps={r['timesteps']} guidance={r['guidance']} metadata={r['wmeta']} {r['checks']}")
        print(f"    pure-f64 vs official f64: vec {r['pure_vec']:.1e} rel, temb {r['temb_gap']:.1e} abs, "
              f"pe {r['pure_pe']:.1e} abs; pe from float32 ids vs float64 ids: {r['pe32']:.1e} abs")
        print("    rms " + " ".join(f"{k}={v:.3f}" for k, v in r["rms"]))
        if args.verbose:
            print(f"    shapes: {r['shapes']}")
    print()
    print("schedules (official float32 values; max |gap| to the float64 formula):")
    for k, v in sched.items():
        print(f"    {k:22} {len(v):3d} values, [1] = {v[1]:.9f}, gap {sgaps[k]:.1e}")


if __name__ == "__main__":
    main()
