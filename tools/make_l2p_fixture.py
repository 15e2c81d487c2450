#!/usr/bin/python3
"""Make the L2P training fixture in test/fixtures/ (deterministic).

Writes two files:
  l2p-adam.safetensors     trajectories [B, S, D] F32: smooth curves over the
                           steps plus a little noise, the shape of the data
                           the official training sees (the model's final
                           output at every step of full-compute runs);
                           losses [steps] F64: the training loss before each
                           Adam step; metadata steps, lr, betas, eps.
  l2p-adam.weights.json    the trained W [S, S], written exactly as the
                           official predictor/train.py writes weight.txt:
                           f"{weight.detach().cpu().numpy().tolist()}\\n"
                           (a Python list of lists, which is also JSON).

The training is the official one (Aredstone/L2P-Cache predictor/train.py):
W starts as plain reuse (the identity), masked to the lower triangle, Adam
(lr 0.01, default betas 0.9/0.999, eps 1e-8), full-batch steps on
mean((W x)[:, :-1] - x[:, 1:])^2 over trajectories, steps and elements, in
float32. The official loop runs range(201), i.e. 201 Adam steps; this
fixture records the first STEPS = 200 (what `ditto fit --steps 200` runs).

The script also runs the same training in float64 and prints the largest
weight difference between the two: the float32 noise floor of the
reference, which must sit far below the 1e-3 tolerance the test uses.

Run: /usr/bin/python3 tools/make_l2p_fixture.py
"""

import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "test", "fixtures")
B, S, D = 6, 20, 48
STEPS, LR = 200, 0.01


def make_trajectories():
    """Each feature is a few low-frequency cosines over the step index (phases and amplitudes
    differ per trajectory and feature), so neighbouring steps are strongly correlated as in
    a real sampler, plus 1% noise so no step is exactly a combination of the others."""
    rng = np.random.default_rng(20240607)
    s = np.arange(S, dtype=np.float64) / (S - 1)
    traj = np.zeros((B, S, D))
    for k in range(1, 4):
        amp = rng.normal(0, 1.0 / k, size=(B, 1, D))
        phase = rng.uniform(0, 2 * np.pi, size=(B, 1, D))
        traj += amp * np.cos(np.pi * k * s[None, :, None] + phase)
    traj += 0.01 * rng.normal(size=traj.shape)
    return traj.astype(np.float32)


def train(x, dtype):
    """The official training loop, STEPS Adam steps; returns (W, losses before each step)."""
    x = torch.tensor(x, dtype=dtype)
    weight = torch.eye(S, dtype=dtype)
    mask = torch.tril(torch.ones(S, S, dtype=dtype))
    weight = weight * mask
    weight.requires_grad_(True)
    optimizer = torch.optim.Adam([weight], lr=LR)
    losses = []
    for _ in range(STEPS):
        pred_y = torch.matmul(weight * mask, x)[:, :-1]
        loss = (pred_y - x[:, 1:]).pow(2).mean()
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return weight.detach(), np.array(losses, dtype=np.float64)


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)  # deterministic reductions
    x = make_trajectories()
    w32, losses = train(x, torch.float32)
    w64, _ = train(x, torch.float64)
    noise = (w32.double() - w64).abs().max().item()
    print(f"trajectories [{B}, {S}, {D}]; loss {losses[0]:.6g} -> {losses[-1]:.6g} after {STEPS} Adam steps")
    print(f"max |W f32 - W f64| = {noise:.3g} (reference noise floor)")
    if noise > 1e-4:
        sys.exit("the float32 reference is too noisy for a 1e-3 test: change the data")

    os.makedirs(OUT_DIR, exist_ok=True)
    st_path = os.path.join(OUT_DIR, "l2p-adam.safetensors")
    meta = {"steps": STEPS, "lr": LR, "betas": "0.9,0.999", "eps": 1e-8, "made_by": "tools/make_l2p_fixture.py"}
    write_safetensors(st_path, {"trajectories": x, "losses": losses}, meta)
    json_path = os.path.join(OUT_DIR, "l2p-adam.weights.json")
    with open(json_path, "w") as f:
        f.write(f"{w32.cpu().numpy().tolist()}\n")  # the official writer, verbatim

    # Round trips: what the engine reads is what was trained.
    back, _ = read_safetensors(st_path)
    assert np.array_equal(back["trajectories"], x)
    with open(json_path) as f:
        assert np.array_equal(np.array(json.load(f), dtype=np.float32), w32.numpy())
    print(f"wrote {st_path} and {json_path}")


if __name__ == "__main__":
    main()
