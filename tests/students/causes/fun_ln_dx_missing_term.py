# ruff: noqa  (student code, kept as students write it)
# cause: none
# layers: layernorm
"""layernorm_backward drops the mean term (no known cause; the pattern only)."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def layernorm_backward(dout, cache):
    xn, gamma, std = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xn).sum(axis=0)
    dxn = dout * gamma
    dx = (dxn - xn * (dxn * xn).mean(axis=1, keepdims=True)) / std
    return dx, dgamma, dbeta
