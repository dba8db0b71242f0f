# ruff: noqa  (student code, kept as students write it)
"""Mutant: group norm puts channel c in group c % G (groups split along the wrong axis)."""

import numpy as np


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    xg = x.reshape(N, C // G, G, H, W)
    mu = xg.mean(axis=(1, 3, 4), keepdims=True)
    var = xg.var(axis=(1, 3, 4), keepdims=True)
    std = np.sqrt(var + eps)
    xn = ((xg - mu) / std).reshape(N, C, H, W)
    return gamma * xn + beta, (xn, gamma, std, G)


def spatial_groupnorm_backward(dout, cache):
    xn, gamma, std, G = cache
    N, C, H, W = dout.shape
    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
    dgamma = (dout * xn).sum(axis=(0, 2, 3), keepdims=True)
    dxn = (dout * gamma).reshape(N, C // G, G, H, W)
    xg = xn.reshape(N, C // G, G, H, W)
    ax = (1, 3, 4)
    dx = (dxn - dxn.mean(axis=ax, keepdims=True)
          - xg * (dxn * xg).mean(axis=ax, keepdims=True)) / std
    return dx.reshape(N, C, H, W), dgamma, dbeta
