# ruff: noqa  (student code, kept as students write it)
"""Mutant: batch norm normalizes with the unbiased variance (ddof=1)."""

import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    if mode == "train":
        mu = x.mean(axis=0)
        var = x.var(axis=0, ddof=1)
        std = np.sqrt(var + eps)
        xn = (x - mu) / std
        out = gamma * xn + beta
        cache = (xn, gamma, std)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        std = np.sqrt(running_var + eps)
        xn = (x - running_mean) / std
        out = gamma * xn + beta
        cache = (xn, gamma, std, "test")
    else:
        raise ValueError(f'Invalid forward batchnorm mode "{mode}"')
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    xn, gamma, std = cache[:3]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xn).sum(axis=0)
    dxn = dout * gamma
    if len(cache) == 4:
        return dxn / std, dgamma, dbeta
    N = dout.shape[0]
    dvar = np.sum(dxn * xn * std, axis=0) * -0.5 / std**3
    dmu = -np.sum(dxn, axis=0) / std
    dx = dxn / std + dvar * 2 * xn * std / N + dmu / N
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    xn, gamma, std = cache[:3]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xn).sum(axis=0)
    dxn = dout * gamma
    if len(cache) == 4:
        return dxn / std, dgamma, dbeta
    dx = (dxn - dxn.mean(axis=0) - xn * (dxn * xn).mean(axis=0)) / std
    return dx, dgamma, dbeta
