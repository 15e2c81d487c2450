"""The few float64 NumPy ops the fixture makers' independent forwards share (make_fixtures.py,
make_flux_fixtures.py, make_qwen_image_fixtures.py): each recomputes its model without torch, to check
the reference it stores, and these are the definitions they must all agree on."""

import math

import numpy as np


def silu(x):
    return x / (1 + np.exp(-x))


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def layer_norm(x, eps=1e-6):
    """LayerNorm over the last axis without affine parameters; biased variance, like torch."""
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps)
