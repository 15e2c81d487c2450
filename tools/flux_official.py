"""Import the official FLUX.1 transformer (black-forest-labs/flux, src/flux) on Debian's PyTorch 1.13.

The official modules are used unchanged. Two things they need are missing here, and only those two
are shimmed before the import:

- `torch.nn.functional.scaled_dot_product_attention` (PyTorch >= 2.0): the plain-math definition,
  softmax(q k^T / sqrt(d)) v, with no mask, dropout or causal flag (the FLUX code passes none).
- `einops.rearrange` (a pip package): a small parser for the patterns the modules use, e.g.
  "B L (K H D) -> K B H L D" and "B H L D -> B L (H D)". Axes are names or parenthesised groups
  of names; sizes come from the keyword arguments or the input shape.

Where the repository is: the environment variable FLUX_REPO (a checkout or an extracted archive
with src/flux inside, e.g. `git --git-dir=<mirror> archive HEAD src | tar -x -C /tmp/flux`).

    from flux_official import Flux, FluxParams, get_schedule, timestep_embedding
"""

import math
import os
import sys
import types

import torch
import torch.nn.functional as F


def _sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    if attn_mask is not None or dropout_p != 0.0 or is_causal:
        raise NotImplementedError("the shim only covers unmasked, dropout-free attention")
    s = (1.0 / math.sqrt(q.shape[-1])) if scale is None else scale
    return torch.softmax((q @ k.transpose(-2, -1)) * s, dim=-1) @ v


def _axes(side):
    """'B L (K H D)' -> [['B'], ['L'], ['K', 'H', 'D']]"""
    out, group = [], None
    for tok in side.replace("(", " ( ").replace(")", " ) ").split():
        if tok == "(":
            group = []
        elif tok == ")":
            out.append(group)
            group = None
        elif group is not None:
            group.append(tok)
        else:
            out.append([tok])
    return out


def _rearrange(x, pattern, **sizes):
    left, right = (_axes(s) for s in pattern.split("->"))
    if len(left) != x.dim():
        raise ValueError(f"rearrange: {pattern} does not fit a rank-{x.dim()} tensor")
    sizes = dict(sizes)
    for group, dim in zip(left, x.shape):
        unknown = [a for a in group if a not in sizes]
        known = math.prod(sizes[a] for a in group if a in sizes)
        if len(unknown) > 1:
            raise ValueError(f"rearrange: cannot infer {unknown} in {pattern}")
        if unknown:
            sizes[unknown[0]] = dim // known
    flat = [a for group in left for a in group]
    x = x.reshape([sizes[a] for a in flat])
    order = [a for group in right for a in group]
    x = x.permute([flat.index(a) for a in order])
    return x.reshape([math.prod(sizes[a] for a in group) for group in right])


def _install_shims():
    if not hasattr(F, "scaled_dot_product_attention"):
        F.scaled_dot_product_attention = _sdpa
    if "einops" not in sys.modules:
        try:
            import einops  # noqa: F401
        except ImportError:
            einops = types.ModuleType("einops")
            einops.rearrange = _rearrange
            sys.modules["einops"] = einops


def _flux_src():
    repo = os.environ.get("FLUX_REPO")
    if not repo:
        sys.exit("set FLUX_REPO to a copy of black-forest-labs/flux (the folder holding src/flux)")
    src = os.path.join(repo, "src")
    if not os.path.isfile(os.path.join(src, "flux", "model.py")):
        sys.exit(f"FLUX_REPO={repo}: no src/flux/model.py there")
    return src


_install_shims()
sys.path.insert(0, _flux_src())

from flux.model import Flux, FluxParams  # noqa: E402
from flux.modules.layers import timestep_embedding  # noqa: E402,F401


def _official_functions(module_file, names):
    """The named top-level functions of an official file, executed without the file's imports.

    flux/sampling.py imports the text encoders (transformers), PIL and the autoencoder at the top;
    the schedule functions need only math and torch.
    """
    import ast

    path = os.path.join(_flux_src(), "flux", module_file)
    tree = ast.parse(open(path).read(), path)
    body = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name in names]
    missing = set(names) - {node.name for node in body}
    if missing:
        sys.exit(f"{path}: no function {sorted(missing)}: has the official code changed?")
    from typing import Callable

    scope = {"math": math, "torch": torch, "Callable": Callable, "Tensor": torch.Tensor}
    exec(compile(ast.Module(body=body, type_ignores=[]), path, "exec"), scope)
    return [scope[n] for n in names]


time_shift, get_lin_function, get_schedule = _official_functions(
    "sampling.py", ["time_shift", "get_lin_function", "get_schedule"]
)
