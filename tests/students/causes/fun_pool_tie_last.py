# ruff: noqa  (student code, kept as students write it)
# cause: tie_break
# layers: pool
"""max_pool_backward_naive gives the gradient to the last maximum of a window."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C = x.shape[:2]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            win = x[:, :, i * s:i * s + ph, j * s:j * s + pw].reshape(N, C, -1)
            k = win.shape[2] - 1 - win[:, :, ::-1].argmax(axis=2)
            a, b = np.divmod(k, pw)
            n, c = np.indices((N, C))
            np.add.at(dx, (n, c, i * s + a, j * s + b), dout[:, :, i, j])
    return dx
