# ruff: noqa  (student code, kept as students write it)
# cause: sbn_per_feature
# layers: spatialbn
"""spatial_batchnorm_forward keeps statistics per (c, h, w) instead of per channel."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    if bn_param["mode"] != "train":
        return cs231n_base.spatial_batchnorm_forward(x, gamma, beta, bn_param)
    cs231n_base.spatial_batchnorm_forward(x, gamma, beta, bn_param)
    eps = bn_param.get("eps", 1e-5)
    std = np.sqrt(x.var(axis=0) + eps)
    xn = (x - x.mean(axis=0)) / std
    out = gamma.reshape(1, C, 1, 1) * xn + beta.reshape(1, C, 1, 1)
    flat_xn = xn.transpose(0, 2, 3, 1).reshape(-1, C)
    return out, (flat_xn, gamma, np.sqrt(x.transpose(0, 2, 3, 1).reshape(-1, C).var(axis=0) + eps))
