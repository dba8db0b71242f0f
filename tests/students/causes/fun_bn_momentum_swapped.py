# ruff: noqa  (student code, kept as students write it)
# cause: running_momentum_swapped
# layers: batchnorm
"""The running statistics weigh the batch by momentum (PyTorch's convention)."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def batchnorm_forward(x, gamma, beta, bn_param):
    momentum = bn_param.get("momentum", 0.9)
    if bn_param["mode"] != "train":
        return cs231n_base.batchnorm_forward(x, gamma, beta, bn_param)
    D = x.shape[1]
    rm = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    rv = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    out, cache = cs231n_base.batchnorm_forward(x, gamma, beta, bn_param)
    bn_param["running_mean"] = (1 - momentum) * rm + momentum * x.mean(axis=0)
    bn_param["running_var"] = (1 - momentum) * rv + momentum * x.var(axis=0)
    return out, cache
