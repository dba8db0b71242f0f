# ruff: noqa  (student code, kept as students write it)
# cause: unbiased_variance
# layers: batchnorm
"""batchnorm_forward normalizes with np.var(ddof=1)."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def batchnorm_forward(x, gamma, beta, bn_param):
    if bn_param["mode"] != "train":
        return cs231n_base.batchnorm_forward(x, gamma, beta, bn_param)
    eps = bn_param.get("eps", 1e-5)
    out, cache = cs231n_base.batchnorm_forward(x, gamma, beta, bn_param)
    std = np.sqrt(x.var(axis=0, ddof=1) + eps)
    xn = (x - x.mean(axis=0)) / std
    return gamma * xn + beta, (xn, gamma, std)
