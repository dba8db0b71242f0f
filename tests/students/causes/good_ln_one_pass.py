# ruff: noqa  (student code, kept as students write it)
# cause: none
# layers: layernorm
"""Correct: layer norm with the one-pass variance and 1 / sqrt."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def _stats(x, axis):
    mu = x.mean(axis=axis, keepdims=True)
    var = (x * x).mean(axis=axis, keepdims=True) - mu * mu
    return mu, var


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu, var = _stats(x, 1)
    inv = 1.0 / np.sqrt(var + eps)
    xn = (x - mu) * inv
    return gamma * xn + beta, (xn, gamma, 1.0 / inv)
