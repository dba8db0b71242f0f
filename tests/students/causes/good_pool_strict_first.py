# ruff: noqa  (student code, kept as students write it)
# cause: none
# layers: pool,relu
"""Correct: max pooling's backward finds each window's first maximum with a strict > scan, and
relu masks x > 0 (ties and zeros in the inputs; no cause may fire on it)."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C = x.shape[:2]
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    best, at = -np.inf, (0, 0)
                    for a in range(ph):
                        for b in range(pw):
                            v = x[n, c, i * s + a, j * s + b]
                            if v > best:
                                best, at = v, (a, b)
                    dx[n, c, i * s + at[0], j * s + at[1]] += dout[n, c, i, j]
    return dx


def relu_backward(dout, cache):
    return np.where(cache > 0, dout, 0.0).astype(dout.dtype)
