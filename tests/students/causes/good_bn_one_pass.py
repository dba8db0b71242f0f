# ruff: noqa  (student code, kept as students write it)
# cause: none
# layers: batchnorm,spatialbn
"""Correct: CS231n batch norm (and spatial, through it) with the one-pass variance."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def _stats(x, axis):
    mu = x.mean(axis=axis, keepdims=True)
    var = (x * x).mean(axis=axis, keepdims=True) - mu * mu
    return mu, var


_two_pass = cs231n_base.batchnorm_forward


def batchnorm_forward(x, gamma, beta, bn_param):
    if bn_param["mode"] != "train":
        return _two_pass(x, gamma, beta, bn_param)
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    mu, var = _stats(x, 0)
    mu, var = mu[0], var[0]
    std = np.sqrt(var + eps)
    xn = (x - mu) / std
    rm = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    rv = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
    bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    return gamma * xn + beta, (xn, gamma, std)


cs231n_base.batchnorm_forward = batchnorm_forward
