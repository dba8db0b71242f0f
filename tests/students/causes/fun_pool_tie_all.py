# ruff: noqa  (student code, kept as students write it)
# cause: tie_break
# layers: pool
"""max_pool_backward_naive gives the gradient to every maximum (mask == max)."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            win = x[:, :, i * s:i * s + ph, j * s:j * s + pw]
            mask = win == win.max(axis=(2, 3), keepdims=True)
            dx[:, :, i * s:i * s + ph, j * s:j * s + pw] += mask * dout[:, :, i, j][:, :, None, None]
    return dx
