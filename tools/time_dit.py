#!/usr/bin/python3
"""Time one PyTorch DiT forward on the CPU (the baseline the engine is
compared against).

DiT-S/2 by default (--model DiT-XL/2 for the full-size one): 4x32x32 latent
(256x256 image), batch 2, learn_sigma, 1000 classes; float32, torch.no_grad().
Weights are the fixture-style random ones (values do not change the work).
Warm-up 2 runs, then the median of --runs (>= 5) timed runs.

Prints one JSON line:
  {"torch", "threads", "default_threads", "blas", "omp_wait_policy",
   "median_s", "runs"}
`blas` is the BLAS shared library torch actually loaded (Debian's torch is
built with BLAS_INFO=generic and links libblas.so.3, which update-alternatives
points at reference BLAS, OpenBLAS, ...). Without --json-only a short
human-readable line precedes the JSON.

OMP_WAIT_POLICY defaults to PASSIVE here (set before torch loads libgomp;
override it from the environment). Why: with OpenBLAS-pthread as libblas,
OpenBLAS runs GEMMs on its own threads while torch's idle OpenMP workers
busy-spin, so with 2 torch threads on 2 cores the forward ran 2-10x slower
(0.5-2.7 s vs ~0.2-0.3 s); passive waiting removes that oversubscription.

--serve: for `ditto bench cpu`, which times each forward itself (Benchmark.js,
the same harness as its own and ONNX Runtime's): after the warm-up it prints
the JSON line without timings, then runs one forward per line read on stdin
and answers each with the line "ok", until stdin closes.

The model and inputs (timed_model, timed_inputs) are those that
tools/export_dit_onnx.py exports, so the peers of `ditto bench cpu` all run
the same weights on the same latents.

Run: /usr/bin/python3 tools/time_dit.py [--model DiT-S/2] [--json-only | --serve] [--threads N] [--runs N] [--warmup N]
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # must precede `import torch`

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dit_reference import DiT_models, randomize_for_fixtures  # noqa: E402


def loaded_blas():
    # which libblas/openblas file is mapped into this process right now
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
    except OSError:
        return None
    return ", ".join(sorted(os.path.realpath(p) for p in libs)) or None


def timed_model(name):
    """The timed DiT: official init under seed 0, then the fixture-style random weights."""
    torch.manual_seed(0)
    model = DiT_models[name](input_size=32, in_channels=4, num_classes=1000, learn_sigma=True).eval()
    randomize_for_fixtures(model, torch.Generator().manual_seed(0))
    return model


def timed_inputs():
    """x [2, 4, 32, 32] (seed 1), t [999, 500], y [1, 207]."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn((2, 4, 32, 32), generator=g)
    return x, torch.tensor([999.0, 500.0]), torch.tensor([1, 207], dtype=torch.int64)


def serve(model, x, t, y, info):
    print(json.dumps(info), flush=True)
    with torch.no_grad():
        for _ in sys.stdin:
            model(x, t, y)
            print("ok", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json-only", action="store_true", help="print only the JSON line")
    ap.add_argument("--serve", action="store_true", help="one forward per stdin line, timed by the caller")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="default: os.cpu_count()")
    ap.add_argument("--model", default="DiT-S/2", choices=sorted(DiT_models))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    args = ap.parse_args()
    runs = max(1, args.runs)

    default_threads = torch.get_num_threads()  # before we override it
    torch.set_num_threads(args.threads)

    model = timed_model(args.model)
    x, t, y = timed_inputs()

    with torch.no_grad():
        for _ in range(max(1, args.warmup)):  # at least one: its output is checked
            out = model(x, t, y)
    assert out.shape == (2, 8, 32, 32) and torch.isfinite(out).all()
    res = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "default_threads": default_threads,
        "blas": loaded_blas(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "model": args.model,
    }
    if args.serve:
        serve(model, x, t, y, res)
        return

    times = []
    with torch.no_grad():
        for _ in range(runs):
            t0 = time.perf_counter()
            model(x, t, y)
            times.append(time.perf_counter() - t0)
    res["median_s"] = round(statistics.median(times), 6)
    res["runs"] = [round(v, 6) for v in times]
    if not args.json_only:
        print(f"{args.model} forward, batch 2, 4x32x32, float32, {res['threads']} thread(s): "
              f"median {res['median_s'] * 1000:.1f} ms over {runs} runs", file=sys.stderr)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
