#!/usr/bin/python3
"""Make the DiT parity fixtures in test/fixtures/ (deterministic).

For each config below it writes three safetensors files:
  <name>.weights.safetensors   state dict (F32) + metadata num_heads/patch_size/
                               learn_sigma/num_classes (one fixture omits
                               num_heads on purpose, to exercise --heads)
  <name>.inputs.safetensors    x [N,C,H,W] F32, t [N] F32, y [N] I64 or I32
  <name>.expected.safetensors  out, out_cfg, temb, c, hidden.0..hidden.<depth>
                               (metadata cfg_scale)

Expected values are computed with the model cast to float64 on the same
(float32) weights and inputs, then stored as F32, so the reference carries no
float32 noise of its own. The float32 torch run is only used to print the
noise floor an f32 engine should expect. An independent numpy forward
(explicit patch loops, no torch) cross-checks the torch reference.

Run: /usr/bin/python3 tools/make_fixtures.py
"""

import argparse
import copy
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dit_reference import DiT, randomize_for_fixtures  # noqa: E402
from numpy_reference import gelu_tanh as _gelu_tanh, layer_norm as _ln, silu as _silu  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "test", "fixtures")
CFG_SCALE = 4.0

# t: None entries are filled with random DDPM indices in 1..998; the fixed
# 999 and 0 entries make sure both ends of the schedule are covered.
FIXTURES = [
    dict(
        name="dit-d2-h96-p2",
        model=dict(depth=2, hidden_size=96, num_heads=6, patch_size=2, in_channels=4, input_size=8,
                   learn_sigma=True, num_classes=10, class_dropout_prob=0.1),
        n=2, t=[999, 0], y_dtype="I64", heads_in_metadata=True, seed=1001,
    ),
    dict(
        name="dit-d2-h144-hd72-p4",
        model=dict(depth=2, hidden_size=144, num_heads=2, patch_size=4, in_channels=4, input_size=16,
                   learn_sigma=True, num_classes=10, class_dropout_prob=0.1),
        n=2, t=[None, 999], y_dtype="I32", heads_in_metadata=True, seed=1002,
    ),
    dict(
        # metadata deliberately lacks num_heads: run the engine with --heads 4
        name="dit-d1-h64-p8-nosigma",
        model=dict(depth=1, hidden_size=64, num_heads=4, patch_size=8, in_channels=4, input_size=16,
                   learn_sigma=False, num_classes=5, class_dropout_prob=0.1),
        n=2, t=[0, None], y_dtype="I64", heads_in_metadata=False, seed=1003,
    ),
    dict(
        # DiT only supports square inputs; 12x12 gives a 6x6 (non power of 2) grid
        name="dit-d3-h64-p2-rect",
        model=dict(depth=3, hidden_size=64, num_heads=2, patch_size=2, in_channels=4, input_size=12,
                   learn_sigma=True, num_classes=7, class_dropout_prob=0.1),
        n=3, t=[None, 999, 0], y_dtype="I64", heads_in_metadata=True, seed=1004,
    ),
]


# --------------------------------------------------------------------------
# Independent numpy forward (float64), written without torch so a mistake in
# the torch reference (einsum order, chunk order, reshape) would show up.
# --------------------------------------------------------------------------


def _lin(sd, prefix, x):
    return x @ sd[prefix + ".weight"].T + sd[prefix + ".bias"]


def numpy_forward(sd, x, temb, y, heads, p, out_ch, stats=None):
    sd = {k: v.astype(np.float64) for k, v in sd.items()}
    N, C, H, W = x.shape
    gh, gw = H // p, W // p
    D = sd["pos_embed"].shape[-1]
    # patch embed: token (r, c) dots the (C, py, px) patch with the kernel
    wk = sd["x_embedder.proj.weight"].reshape(D, -1)
    tok = np.zeros((N, gh * gw, D))
    for r in range(gh):
        for c in range(gw):
            patch = x[:, :, r * p:(r + 1) * p, c * p:(c + 1) * p].reshape(N, -1)
            tok[:, r * gw + c] = patch @ wk.T + sd["x_embedder.proj.bias"]
    h = tok + sd["pos_embed"][0]
    te = _lin(sd, "t_embedder.mlp.2", _silu(_lin(sd, "t_embedder.mlp.0", temb)))
    ye = sd["y_embedder.embedding_table.weight"][y]
    cvec = te + ye
    if stats is not None:
        stats["t_emb"] = float(np.sqrt((te ** 2).mean()))
        stats["y_emb"] = float(np.sqrt((ye ** 2).mean()))
        stats["blocks"] = []
    sc = _silu(cvec)
    i = 0
    while f"blocks.{i}.attn.qkv.weight" in sd:
        b = f"blocks.{i}"
        mod = _lin(sd, b + ".adaLN_modulation.1", sc)
        sh1, s1, g1, sh2, s2, g2 = np.split(mod, 6, axis=1)
        a_in = _ln(h) * (1 + s1[:, None]) + sh1[:, None]
        qkv = _lin(sd, b + ".attn.qkv", a_in)  # [N, T, 3D] as (3, heads, hd)
        hd = D // heads
        q, k, v = (qkv[..., j * D:(j + 1) * D] for j in range(3))
        att = np.zeros_like(q)
        maxp = []
        for hh in range(heads):
            sl = slice(hh * hd, (hh + 1) * hd)
            logits = q[..., sl] @ k[..., sl].transpose(0, 2, 1) / math.sqrt(hd)
            pr = np.exp(logits - logits.max(-1, keepdims=True))
            pr /= pr.sum(-1, keepdims=True)
            maxp.append(pr.max(-1).mean())
            att[..., sl] = pr @ v[..., sl]
        attn_branch = g1[:, None] * _lin(sd, b + ".attn.proj", att)
        h = h + attn_branch
        m_in = _ln(h) * (1 + s2[:, None]) + sh2[:, None]
        mlp_branch = g2[:, None] * _lin(sd, b + ".mlp.fc2", _gelu_tanh(_lin(sd, b + ".mlp.fc1", m_in)))
        h = h + mlp_branch
        if stats is not None:
            rms = lambda a: float(np.sqrt((a ** 2).mean()))  # noqa: E731
            stats["blocks"].append(dict(x=rms(h), attn=rms(attn_branch), mlp=rms(mlp_branch),
                                        mod=rms(mod), attn_maxp=float(np.mean(maxp))))
        i += 1
    sh, s = np.split(_lin(sd, "final_layer.adaLN_modulation.1", sc), 2, axis=1)
    o = _lin(sd, "final_layer.linear", _ln(h) * (1 + s[:, None]) + sh[:, None])  # [N, T, p*p*out]
    # unpatchify: token vector is (py, px, c), channel last
    img = np.zeros((N, out_ch, H, W))
    for r in range(gh):
        for c in range(gw):
            img[:, :, r * p:(r + 1) * p, c * p:(c + 1) * p] = (
                o[:, r * gw + c].reshape(N, p, p, out_ch).transpose(0, 3, 1, 2))
    return img, cvec


# --------------------------------------------------------------------------


def make_inputs(spec, model, gen):
    m = spec["model"]
    n = spec["n"]
    x = torch.randn((n, m["in_channels"], m["input_size"], m["input_size"]), generator=gen)
    t = torch.tensor([float(v) if v is not None else float(torch.randint(1, 999, (1,), generator=gen))
                      for v in spec["t"]], dtype=torch.float32)
    # distinct labels per sample so batch-mixing bugs show up
    y = torch.randperm(m["num_classes"], generator=gen)[:n].to(torch.int64)
    return x, t, y


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


def build(spec, out_dir):
    m = spec["model"]
    torch.manual_seed(spec["seed"])  # the official init draws from the global RNG
    model = DiT(**m).eval()
    gen = torch.Generator().manual_seed(spec["seed"])
    randomize_for_fixtures(model, gen)
    x, t, y = make_inputs(spec, model, gen)
    null = torch.full_like(y, m["num_classes"])  # the null (unconditional) class id
    x2, t2, y2 = torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, null])

    m64 = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        out32 = model(x, t, y)
        cfg32 = model.forward_with_cfg(x2, t2, y2, CFG_SCALE)
        trace = []
        out64 = m64(x.double(), t, y, trace=trace)
        cfg64 = m64.forward_with_cfg(x2.double(), t2, y2, CFG_SCALE)
        temb64 = m64.t_embedder.sinusoid(t)
        c64 = m64.conditioning(t, y)

    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}

    # independent numpy cross-check of the f64 torch reference
    stats = {}
    np_out, np_c = numpy_forward(sd, x.double().numpy(), temb64.numpy(), y.numpy(), m["num_heads"],
                                 m["patch_size"], model.out_channels, stats)
    np_err = max(float(np.abs(np_out - out64.numpy()).max()), float(np.abs(np_c - c64.numpy()).max()))
    assert np_err < 1e-10, f"{spec['name']}: numpy and torch references disagree ({np_err})"

    wmeta = {}
    if spec["heads_in_metadata"]:
        wmeta["num_heads"] = str(m["num_heads"])
    wmeta["patch_size"] = str(m["patch_size"])
    wmeta["learn_sigma"] = "true" if m["learn_sigma"] else "false"
    wmeta["num_classes"] = str(m["num_classes"])

    ynp = y.numpy().astype(np.int64 if spec["y_dtype"] == "I64" else np.int32)
    inputs = {"x": x.numpy(), "t": t.numpy(), "y": ynp}

    f32 = lambda a: a.detach().numpy().astype(np.float32)  # noqa: E731
    expected = {"out": f32(out64), "out_cfg": f32(cfg64), "temb": f32(temb64), "c": f32(c64)}
    for i, h in enumerate(trace):
        expected[f"hidden.{i}"] = f32(h)  # tokens after embed (0) and after block i-1

    name = spec["name"]
    paths = {k: os.path.join(out_dir, f"{name}.{k}.safetensors") for k in ("weights", "inputs", "expected")}
    write_safetensors(paths["weights"], sd, wmeta)
    write_safetensors(paths["inputs"], inputs, None)
    write_safetensors(paths["expected"], expected, {"cfg_scale": str(CFG_SCALE)})

    # round-trip: reload the weights file into a fresh model and recompute
    rsd, rmeta = read_safetensors(paths["weights"])
    assert rmeta == wmeta and list(rsd) == list(sd)
    fresh = DiT(**m).eval()
    fresh.load_state_dict({k: torch.from_numpy(v) for k, v in rsd.items()}, strict=True)
    rin, _ = read_safetensors(paths["inputs"])
    rexp, rem = read_safetensors(paths["expected"])
    assert rem == {"cfg_scale": str(CFG_SCALE)}
    with torch.no_grad():
        rt = fresh(torch.from_numpy(rin["x"]), torch.from_numpy(rin["t"]), torch.from_numpy(rin["y"]))
    assert torch.equal(rt, out32), "weights file round trip changed the f32 result"
    assert rin["y"].dtype == ynp.dtype and np.array_equal(rexp["out"], expected["out"])

    return dict(
        name=name,
        params=sum(v.size for v in sd.values()),
        sizes={k: os.path.getsize(p) for k, p in paths.items()},
        max_out=float(out64.abs().max()),
        max_cfg=float(cfg64.abs().max()),
        rms_out=float(out64.pow(2).mean().sqrt()),
        floor=rel(out32.double(), out64),
        floor_cfg=rel(cfg32.double(), cfg64),
        np_err=np_err,
        stats=stats,
        t=t.tolist(),
        y=y.tolist(),
        wmeta=wmeta,
        tensors={k: list(v.shape) for k, v in {**inputs, **expected}.items()},
        y_dtype=spec["y_dtype"],
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=OUT_DIR)
    ap.add_argument("--verbose", action="store_true", help="per-block magnitude diagnostics")
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    torch.set_num_threads(1)  # single thread: f32 noise floor is reproducible

    rows = [build(spec, args.out_dir) for spec in FIXTURES]

    hdr = f"{'name':24} {'params':>8} {'weights':>9} {'inputs':>7} {'expect':>7} {'max|out|':>9} {'rms out':>8} {'max|cfg|':>9} {'f32 floor out':>14} {'cfg':>9}"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        s = r["sizes"]
        print(f"{r['name']:24} {r['params']:8d} {s['weights']:9d} {s['inputs']:7d} {s['expected']:7d} "
              f"{r['max_out']:9.4f} {r['rms_out']:8.4f} {r['max_cfg']:9.4f} {r['floor']:14.3e} {r['floor_cfg']:9.3e}")
    print()
    for r in rows:
        st = r["stats"]
        print(f"{r['name']}: t={r['t']} y={r['y']} ({r['y_dtype']}) weights metadata={r['wmeta']}  "
              f"numpy-vs-torch f64 max err={r['np_err']:.1e}")
        print(f"    rms t_emb={st['t_emb']:.3f} y_emb={st['y_emb']:.3f}")
        for i, b in enumerate(st["blocks"]):
            print(f"    block {i}: rms x={b['x']:.3f} attn branch={b['attn']:.3f} mlp branch={b['mlp']:.3f} "
                  f"adaLN mod={b['mod']:.3f} mean max attn prob={b['attn_maxp']:.3f}")
        if args.verbose:
            print(f"    tensors: {r['tensors']}")


if __name__ == "__main__":
    main()
