"""Write test/fixtures/mnist-flux-samples.safetensors: samples of the bundled FLUX-architecture model
(assets/mnist-flux.safetensors) drawn by PyTorch with the official FLUX modules, so that the engine's
whole sampling path (noise from seeds, 2x2 packing, class prompts, the official get_schedule with its
time shift, Euler, classifier-free guidance on every channel, unpacking) is checked against it.

The model runs in float64 on the checkpoint's F16 weights (widened exactly), with the sampler and the
noise of tools/train_mnist_flux.py (the engine's seeded Gaussian). A few steps keep the test quick:

    FLUX_REPO=/tmp/flux /usr/bin/python3 tools/make_mnist_flux_fixture.py

Tensors: `samples` [N, 1, 28, 28] F32; `__metadata__`: classes, seeds, steps, cfg_scale.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import train_mnist_flux as t  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

CLASSES = [3, 7]
SEEDS = [0, 5]
STEPS = 8


@torch.no_grad()
def sample(model, cfg):
    """train_mnist_flux.sample in float64: the official denoise loop's times take the image's dtype."""
    img = t.seed_noise(SEEDS).double()
    n = len(CLASSES)
    labels = torch.tensor(CLASSES + [t.NUM_CLASSES] * n)
    ts = t.get_schedule(STEPS, t.TOKENS)
    for t_curr, t_prev in zip(ts[:-1], ts[1:]):
        out = model(torch.cat([img, img]), torch.full((2 * n,), t_curr, dtype=img.dtype), labels)
        cond, uncond = out[:n], out[n:]
        img = img + (t_prev - t_curr) * (uncond + cfg * (cond - uncond))
    return t.unpack(img)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(REPO, "assets", "mnist-flux.safetensors"))
    ap.add_argument("--out", default=os.path.join(REPO, "test", "fixtures", "mnist-flux-samples.safetensors"))
    args = ap.parse_args()
    tensors, meta = read_safetensors(args.model)
    info = json.loads(meta["training"])
    params = t.FluxParams(
        in_channels=4, out_channels=4, vec_in_dim=info["vec_in_dim"], context_in_dim=info["context_in_dim"],
        hidden_size=info["hidden"], mlp_ratio=info["mlp_ratio"], num_heads=int(meta["num_heads"]),
        depth=info["depth"], depth_single_blocks=info["depth_single_blocks"],
        axes_dim=[int(a) for a in meta["axes_dim"].split(",")], theta=float(meta["theta"]),
        qkv_bias=True, guidance_embed=False,
    )
    model = t.ClassFlux(params, info["txt_tokens"])
    model.load_export_state({k: torch.as_tensor(v) for k, v in tensors.items()})
    model = model.double()
    cfg = float(meta["cfg_scale"])
    samples = sample(model, cfg)
    out = args.out
    write_safetensors(
        out,
        {"samples": samples.float().numpy()},
        {"classes": ",".join(map(str, CLASSES)), "seeds": ",".join(map(str, SEEDS)), "steps": str(STEPS), "cfg_scale": meta["cfg_scale"]},
    )
    print(f"wrote {out}: samples {list(samples.shape)}, range [{samples.min():.3f}, {samples.max():.3f}]")


if __name__ == "__main__":
    main()
