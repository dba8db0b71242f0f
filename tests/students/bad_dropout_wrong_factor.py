# ruff: noqa  (student code, kept as students write it)
"""Mutant: inverted dropout scales the kept values by 1/(1 - p) (p read as the drop probability)."""

import numpy as np


def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p) / (1 - p)
        out = x * mask
    else:
        out = x
    return out.astype(x.dtype, copy=False), (dropout_param, mask)


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    if dropout_param["mode"] == "train":
        return (dout * mask).astype(dout.dtype, copy=False)
    return dout
