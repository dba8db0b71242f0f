# ruff: noqa  (student code, kept as students write it)
# cause: gn_interleaved
# layers: groupnorm
"""spatial_groupnorm_forward puts channel c in group c % G."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    xg = x.reshape(N, C // G, G, H, W)
    mu = xg.mean(axis=(1, 3, 4), keepdims=True)
    std = np.sqrt(xg.var(axis=(1, 3, 4), keepdims=True) + eps)
    xn = ((xg - mu) / std).reshape(N, C, H, W)
    std_g = np.sqrt(x.reshape(N, G, -1).var(axis=2, keepdims=True) + eps)
    return gamma * xn + beta, (xn, gamma, std_g, G)
