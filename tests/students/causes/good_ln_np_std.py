# ruff: noqa  (student code, kept as students write it)
# cause: none
# layers: layernorm
"""Correct: layer norm from np.std."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    std = np.sqrt(np.std(x, axis=1, keepdims=True) ** 2 + eps)
    xn = (x - mu) / std
    return gamma * xn + beta, (xn, gamma, std)
