# ruff: noqa  (student code, kept as students write it)
# cause: float32_arithmetic
# layers: layernorm
"""layernorm_forward with the one-pass variance, in a float32 buffer (a correct formula in the
wrong precision: the one-pass bound must not let it pass)."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    x32 = x.astype(np.float32)
    mu = x32.mean(axis=1, keepdims=True)
    var = (x32 * x32).mean(axis=1, keepdims=True) - mu * mu
    std = np.sqrt(var + eps)
    xn = (x32 - mu) / std
    out = np.empty(x.shape, dtype=np.float32)
    out[...] = gamma * xn + beta
    return out.astype(x.dtype), (xn.astype(x.dtype), gamma, std.astype(x.dtype))
