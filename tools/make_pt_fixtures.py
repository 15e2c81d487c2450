#!/usr/bin/python3
"""Make the PyTorch checkpoint fixtures in test/fixtures/pt/ (deterministic).

Good files, written by torch.save (each with <name>.expected.safetensors holding
the state dict ditto must read, contiguous, so the tests compare exactly):
  dit-d1-h64-p8-nosigma.pt  the DiT fixture's weights as a plain state dict
                            (expected: test/fixtures/dit-d1-h64-p8-nosigma.weights.safetensors)
  training.pt               {"model", "ema" (other values), "opt": Adam state, "args": Namespace}
  views.pt                  views of shared storages (offsets, slices, steps), transposed
                            and permuted tensors, F16/BF16/F64/I64, a scalar, an empty tensor,
                            a Parameter, a tensor under two names
  views-p4.pt               the same with pickle_protocol=4 (FRAME, MEMOIZE, STACK_GLOBAL, ...)

Broken or hostile files, which ditto must refuse in one line without running anything:
  os-system.pt, builtins-eval.pt, subprocess-popen.pt   a pickle that runs a command creating
                            /tmp/ditto-pt-marker-<name> (checked here: Python's pickle does run it)
  hidden-global.pt          a valid state dict whose "opt" hides posix.system
  missing-storage.pt        a tensor whose storage has no data/<key> entry
  short-storage.pt          a storage declaring more elements than its entry holds
  deep.pt                   a pickle nested 100,000 MARKs deep
  deflated.pt               a valid checkpoint re-zipped with deflate
  truncated.pt              the first half of a valid checkpoint
  random.pt                 4 KiB of random bytes
  huge-entry.pt             a zip entry declaring 4 GiB in a file of a few KiB
  big-endian.pt             byteorder "big"
  legacy.pt                 the pre-1.6 format (_use_new_zipfile_serialization=False)

Run: /usr/bin/python3 tools/make_pt_fixtures.py
"""

import argparse
import collections
import copy
import io
import os
import pickle
import random
import struct
import subprocess
import sys
import zipfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "test", "fixtures")
OUT = os.path.join(FIXTURES, "pt")
DIT = "dit-d1-h64-p8-nosigma"
MARKER = "/tmp/ditto-pt-marker-{}"


def path(name):
    return os.path.join(OUT, name)


def expected(name, sd):
    """The state dict as ditto must read it: contiguous, BF16 widened to F32 (exact)."""
    arrays = collections.OrderedDict()
    for k, t in sd.items():
        t = t.detach()
        arrays[k] = (t.float() if t.dtype == torch.bfloat16 else t).contiguous().numpy()
    write_safetensors(path(f"{name}.expected.safetensors"), arrays)


def zip_entries(entries, compression=zipfile.ZIP_STORED):
    """A zip of (name, bytes) entries with fixed timestamps, as bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = compression
            z.writestr(info, data)
    return buf.getvalue()


def entries_of(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def saved(obj, **kw):
    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    return buf.getvalue()


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


def good_fixtures():
    st, _ = read_safetensors(os.path.join(FIXTURES, f"{DIT}.weights.safetensors"))
    sd = collections.OrderedDict((k, torch.from_numpy(v)) for k, v in st.items())
    torch.save(sd, path(f"{DIT}.pt"))

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    ema = copy.deepcopy(model)
    for p in ema.parameters():
        p.data.mul_(0.5).add_(0.25)  # different values: the test must see "ema" was taken
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    model(torch.randn(2, 4)).pow(2).sum().backward()
    opt.step()
    args = argparse.Namespace(model="DiT-XL/2", lr=1e-4, epochs=1400, global_seed=0, image_size=256, results_dir="results")
    torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "args": args}, path("training.pt"))
    expected("training", ema.state_dict())

    g = torch.Generator().manual_seed(1)
    big = torch.arange(24, dtype=torch.float32) * 0.5 - 3
    half = torch.randn(3, 5, generator=g).half()
    views = collections.OrderedDict()
    views["whole"] = big
    views["slice"] = big[5:11]  # offset 5 into a shared storage
    views["rows"] = big.view(4, 6)[1:3]  # offset 6, shape [2, 6]
    views["step"] = big[1::3]  # stride 3
    views["transposed"] = torch.randn(3, 4, generator=g).t()  # strides (1, 4)
    views["permuted"] = torch.randn(2, 3, 4, generator=g).permute(2, 0, 1)
    views["column"] = torch.randn(5, 4, generator=g)[:, 2:3]  # [5, 1], stride 4, offset 2
    views["f16"] = half
    views["f16_t"] = half.t()
    views["bf16"] = torch.randn(2, 3, generator=g).bfloat16()
    views["f64"] = torch.randn(4, generator=g).double()
    views["i64"] = torch.tensor([1, -2, 3], dtype=torch.int64)
    views["scalar"] = torch.tensor(3.5)
    views["empty"] = torch.zeros(0, 3)
    views["param"] = torch.nn.Parameter(torch.randn(2, 2, generator=g))
    views["tied"] = views["whole"]
    torch.save(views, path("views.pt"))
    torch.save(views, path("views-p4.pt"), pickle_protocol=4)
    expected("views", views)

    # Check: torch reads back what the expected files say.
    for name, want_name in [(f"{DIT}.pt", None), ("training.pt", "training"), ("views.pt", "views"), ("views-p4.pt", "views")]:
        got = torch.load(path(name))
        if name == "training.pt":
            got = got["ema"]
        want = st if want_name is None else read_safetensors(path(f"{want_name}.expected.safetensors"))[0]
        assert list(got.keys()) == list(want.keys()), name
        for k in want:
            assert np.array_equal(got[k].detach().float().numpy(), np.asarray(want[k], dtype=np.float32)), (name, k)


def pickle_zip(name, pkl, extra=()):
    """A torch.save layout around a hand-written pickle."""
    root = name[:-3]
    return zip_entries([(f"{root}/data.pkl", pkl), *extra, (f"{root}/version", b"3\n")])


def command_pickle(module, name, payload):
    """GLOBAL module.name, called on payload: the four opcodes that make pickle run code."""
    return b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n" + payload + b"R."


def unicode(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


# Python's pickle with torch's names stubbed out (torch.load would do the same as far as the payload is
# concerned): a callable it meets is called. Popen's result is waited for, so the marker exists after.
PLAIN_UNPICKLER = """
import pickle, sys
class Plain(pickle.Unpickler):
    def persistent_load(self, pid):
        return None
    def find_class(self, module, name):
        return (lambda *a: None) if module.startswith("torch") else super().find_class(module, name)
obj = Plain(sys.stdin.buffer).load()
getattr(obj, "wait", lambda: 0)()
"""


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER.format('hidden-global')}",))


def hostile_fixtures():
    malicious = {
        "os-system.pt": command_pickle("os", "system", unicode(f"touch {MARKER.format('os-system')}") + b"\x85"),
        "builtins-eval.pt": command_pickle("builtins", "eval", unicode(f"open('{MARKER.format('builtins-eval')}', 'w').close()") + b"\x85"),
        "subprocess-popen.pt": command_pickle("subprocess", "Popen", b"](" + unicode("touch") + unicode(MARKER.format("subprocess-popen")) + b"e\x85"),
    }
    for name, pkl in malicious.items():
        write(name, pickle_zip(name, pkl))
    small = collections.OrderedDict(w=torch.ones(2, 3), b=torch.zeros(3))
    write("hidden-global.pt", saved({"model": small, "opt": {"state": {0: Evil()}}}))

    # Proof that these are hostile: Python's own unpickler runs them (each only touches a file in /tmp).
    for name in [*malicious, "hidden-global.pt"]:
        marker = MARKER.format(name[:-3])
        if os.path.exists(marker):
            os.remove(marker)
        with zipfile.ZipFile(path(name)) as z:
            pkl = z.read(next(n for n in z.namelist() if n.endswith("/data.pkl")))
        subprocess.run([sys.executable, "-c", PLAIN_UNPICKLER], input=pkl, check=False, capture_output=True)
        assert os.path.exists(marker), f"{name}: Python's pickle did not create {marker}"
        os.remove(marker)

    good = saved(small)
    entries = entries_of(good)
    write("missing-storage.pt", zip_entries([e for e in entries if not e[0].endswith("/data/1")]))
    write("short-storage.pt", zip_entries([(n, d[:-4] if n.endswith("/data/0") else d) for n, d in entries]))
    write("deep.pt", pickle_zip("deep.pt", b"\x80\x02" + b"(" * 100_000 + b"t" * 100_000 + b"."))
    write("deflated.pt", zip_entries(entries, zipfile.ZIP_DEFLATED))
    write("truncated.pt", good[: len(good) // 2])
    write("random.pt", random.Random(0).randbytes(4096))
    write("big-endian.pt", zip_entries(entries + [(entries[0][0].split("/")[0] + "/byteorder", b"big")]))

    # A zip entry declaring 4 GiB: patch data/0's sizes in the central directory (stored: both equal).
    data = bytearray(good)
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        name_len = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_len].endswith(b"/data/0"):
            struct.pack_into("<II", data, at + 20, 0xFFFFFFF0, 0xFFFFFFF0)
        at = data.find(b"PK\x01\x02", at + 4)
    write("huge-entry.pt", bytes(data))

    torch.save(small, path("legacy.pt"), _use_new_zipfile_serialization=False)


def main():
    os.makedirs(OUT, exist_ok=True)
    good_fixtures()
    hostile_fixtures()
    total = sum(os.path.getsize(path(n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files to {os.path.relpath(OUT, ROOT)}, {total / 1024:.0f} KiB in all")


if __name__ == "__main__":
    main()
