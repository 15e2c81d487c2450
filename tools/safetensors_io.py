"""Minimal safetensors reader/writer (struct + json only).

Why: the `safetensors` Python package is not available here, and the format
is simple enough that writing it by hand keeps the fixtures dependency-free.

Layout: 8-byte little-endian u64 header length N, then N bytes of JSON header
(padded with spaces to a multiple of 8 so the data section is 8-byte aligned),
then the raw little-endian tensor data, back to back in header order.
Header entries: name -> {"dtype", "shape", "data_offsets": [begin, end]} with
offsets relative to the start of the data section; optional "__metadata__"
maps str -> str.
"""

import json
import struct

import numpy as np

# safetensors dtype tag <-> little-endian numpy dtype
_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
}
_TAGS = {v: k for k, v in _DTYPES.items()}


def write_safetensors(path, tensors, metadata=None):
    """tensors: ordered dict name -> numpy array (F64/F32/F16/I64/I32).

    The file keeps the given order: data offsets increase in insertion order.
    """
    header = {}
    if metadata:
        # the format only allows string values in __metadata__
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, arr in tensors.items():
        arr = np.asarray(arr)
        dt = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
        tag = _TAGS.get(np.dtype(dt).newbyteorder("<"))
        if tag is None:
            raise TypeError(f"{name}: unsupported dtype {arr.dtype}")
        data = np.ascontiguousarray(arr, dtype=_DTYPES[tag]).tobytes()
        header[name] = {
            "dtype": tag,
            "shape": [int(s) for s in arr.shape],
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((-len(hjson)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Returns (dict name -> numpy array, metadata dict). Used to self-check."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        dt = _DTYPES[info["dtype"]]
        out[name] = np.frombuffer(raw[base + b : base + e], dtype=dt).reshape(info["shape"]).copy()
    return out, meta
