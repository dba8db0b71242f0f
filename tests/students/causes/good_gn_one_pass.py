# ruff: noqa  (student code, kept as students write it)
# cause: none
# layers: groupnorm
"""Correct: group norm with the one-pass variance, centring after scaling."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def _stats(x, axis):
    mu = x.mean(axis=axis, keepdims=True)
    var = (x * x).mean(axis=axis, keepdims=True) - mu * mu
    return mu, var


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu, var = _stats(xg, 2)
    std = np.sqrt(var + eps)
    xn = (xg / std - mu / std).reshape(N, C, H, W)
    return gamma * xn + beta, (xn, gamma, std, G)
