# ruff: noqa  (student code, kept as students write it)
"""A CS231n-style student file with the assignment's normalization, dropout and SVM
functions (written for layercheck's tests; the conventions are CS231n's)."""

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
        var = x.var(axis=0)
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


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    flat = x.transpose(0, 2, 3, 1).reshape(-1, C)
    out, cache = batchnorm_forward(flat, gamma, beta, bn_param)
    return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), cache


def spatial_batchnorm_backward(dout, cache):
    N, C, H, W = dout.shape
    flat = dout.transpose(0, 2, 3, 1).reshape(-1, C)
    dx, dgamma, dbeta = batchnorm_backward_alt(flat, cache)
    return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    std = np.sqrt(var + eps)
    xn = (x - mu) / std
    return gamma * xn + beta, (xn, gamma, std)


def layernorm_backward(dout, cache):
    xn, gamma, std = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xn).sum(axis=0)
    dxn = dout * gamma
    dx = (dxn - dxn.mean(axis=1, keepdims=True)
          - xn * (dxn * xn).mean(axis=1, keepdims=True)) / std
    return dx, dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu = xg.mean(axis=2, keepdims=True)
    var = xg.var(axis=2, keepdims=True)
    std = np.sqrt(var + eps)
    xn = ((xg - mu) / std).reshape(N, C, H, W)
    return gamma * xn + beta, (xn, gamma, std, G)


def spatial_groupnorm_backward(dout, cache):
    xn, gamma, std, G = cache
    N, C, H, W = dout.shape
    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
    dgamma = (dout * xn).sum(axis=(0, 2, 3), keepdims=True)
    dxn = (dout * gamma).reshape(N, G, -1)
    xg = xn.reshape(N, G, -1)
    dx = (dxn - dxn.mean(axis=2, keepdims=True)
          - xg * (dxn * xg).mean(axis=2, keepdims=True)) / std
    return dx.reshape(N, C, H, W), dgamma, dbeta


def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p) / p
        out = x * mask
    else:
        out = x
    return out.astype(x.dtype, copy=False), (dropout_param, mask)


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    if dropout_param["mode"] == "train":
        return (dout * mask).astype(dout.dtype, copy=False)
    return dout


def svm_loss(x, y):
    N = x.shape[0]
    correct = x[np.arange(N), y][:, None]
    margins = np.maximum(0, x - correct + 1)
    margins[np.arange(N), y] = 0
    loss = margins.sum() / N
    counts = (margins > 0).astype(x.dtype)
    counts[np.arange(N), y] -= counts.sum(axis=1)
    return loss, counts / N
