#!/usr/bin/python3
"""Export a DiT to ONNX, for the ONNX Runtime peer of `ditto bench cpu`.

Two uses:

  --model DiT-S/2 --out-dir D   the model tools/time_dit.py times (timed_model,
      timed_inputs: the same seeded weights and latents), as
        D/dit.onnx              the graph, batch 2, inputs x [2,4,32,32] F32,
                                t [2] F32, y [2] I64, output out [2,8,32,32]
        D/dit.safetensors       its weights in the official layout (F32, with
                                the fixtures' metadata), which ditto loads
        D/io.safetensors        x, t, y and PyTorch's float32 output `out`
      and prints one JSON line {"torch", "model", "onnx", "weights", "io"}.
      `ditto bench cpu` runs this in a temporary folder, so that ditto, ONNX
      Runtime and PyTorch run the same weights on the same inputs and their
      outputs can be compared.

  --fixture NAME --out PATH     a parity fixture of tools/make_fixtures.py
      (test/fixtures/NAME.weights.safetensors, batch of NAME.inputs), for the
      test of the peer plumbing in CI, which has no torch:
        /usr/bin/python3 tools/export_dit_onnx.py --fixture dit-d1-h64-p8-nosigma \\
            --out test/fixtures/dit-d1-h64-p8-nosigma.onnx

torch.onnx.export of PyTorch 1.13 (opset 16: its opset 17 LayerNormalization
breaks on the affine-free norms; fixed shapes, constants folded);
the `onnx` Python package is not needed.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402
from time_dit import timed_inputs, timed_model  # noqa: E402


def export(model, x, t, y, path):
    with torch.no_grad():
        torch.onnx.export(model, (x, t, y), path, input_names=["x", "t", "y"], output_names=["out"],
                          opset_version=16, do_constant_folding=True)


def export_timed(name, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    model = timed_model(name)
    x, t, y = timed_inputs()
    paths = {k: os.path.join(out_dir, f) for k, f in
             (("onnx", "dit.onnx"), ("weights", "dit.safetensors"), ("io", "io.safetensors"))}
    export(model, x, t, y, paths["onnx"])
    with torch.no_grad():
        out = model(x, t, y)
    meta = {"num_heads": model.blocks[0].attn.num_heads, "patch_size": model.x_embedder.patch_size[0],
            "learn_sigma": "true", "num_classes": model.y_embedder.num_classes}
    write_safetensors(paths["weights"], {k: v.numpy().astype(np.float32) for k, v in model.state_dict().items()}, meta)
    write_safetensors(paths["io"], {"x": x.numpy(), "t": t.numpy(), "y": y.numpy(), "out": out.numpy()})
    print(json.dumps({"torch": torch.__version__, "model": name, **paths}))


def export_fixture(name, out):
    # here, not at the top: the package ships this script without the fixture makers
    from dit_reference import DiT
    from make_fixtures import FIXTURES, OUT_DIR

    spec = next((s for s in FIXTURES if s["name"] == name), None)
    if spec is None:
        sys.exit(f"--fixture {name}: not one of {', '.join(s['name'] for s in FIXTURES)}")
    model = DiT(**spec["model"]).eval()
    weights, _ = read_safetensors(os.path.join(OUT_DIR, f"{name}.weights.safetensors"))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    inputs, _ = read_safetensors(os.path.join(OUT_DIR, f"{name}.inputs.safetensors"))
    x, t, y = (torch.from_numpy(inputs[k]) for k in ("x", "t", "y"))
    export(model, x, t, y.to(torch.int64), out)
    print(f"{out}: {os.path.getsize(out)} bytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--model", help="a DiT preset, e.g. DiT-S/2 (with --out-dir)")
    what.add_argument("--fixture", help="a parity fixture's name (with --out)")
    ap.add_argument("--out-dir")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.model:
        if not args.out_dir:
            ap.error("--model needs --out-dir")
        export_timed(args.model, args.out_dir)
    else:
        if not args.out:
            ap.error("--fixture needs --out")
        export_fixture(args.fixture, args.out)


if __name__ == "__main__":
    main()
