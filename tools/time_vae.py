#!/usr/bin/python3
"""Time the Stable Diffusion VAE decoder in PyTorch on the CPU: the official latent-diffusion Decoder
(imported from the checkout LDM_REPO names, as make_vae_fixtures.py does) at the kl-f8 config (ch 128,
ch_mult (1, 2, 4, 4), 2 ResNet blocks, z 4), decoding one 4x32x32 latent into a 256x256 image; float32,
torch.no_grad(), seeded random weights (values do not change the work).

Prints one JSON line: {"torch", "threads", "median_s", "runs"}.

Run: LDM_REPO=/tmp/ldm /usr/bin/python3 tools/time_vae.py [--runs N] [--warmup N] [--threads N] [--latent 32]
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # must precede `import torch` (see time_dit.py)

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_vae_fixtures import SCALE, build, load_official_decoder, randomize  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--latent", type=int, default=32, help="latent side (32: a 256x256 image)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    decoder, post_quant_conv = build(load_official_decoder(), 128, (1, 2, 4, 4), 2, 4, 4, 8 * args.latent)
    randomize([decoder, post_quant_conv], 0, False)
    z = torch.randn((1, 4, args.latent, args.latent), generator=torch.Generator().manual_seed(1)) / SCALE

    times = []
    with torch.no_grad():
        for i in range(args.warmup + max(1, args.runs)):
            t0 = time.perf_counter()
            image = decoder(post_quant_conv(z))
            dt = time.perf_counter() - t0
            if i >= args.warmup:
                times.append(dt)
    assert image.shape == (1, 3, 8 * args.latent, 8 * args.latent) and torch.isfinite(image).all()
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "median_s": round(statistics.median(times), 6), "runs": [round(v, 6) for v in times]}))


if __name__ == "__main__":
    main()
