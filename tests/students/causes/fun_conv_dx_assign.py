# ruff: noqa  (student code, kept as students write it)
# cause: overlap_assign
# layers: conv
"""conv_backward_naive assigns each window's dx (=) instead of accumulating."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    s, p = conv_param["stride"], conv_param["pad"]
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            win = xp[:, :, i * s:i * s + HH, j * s:j * s + WW]
            g = dout[:, :, i, j]
            dw += np.tensordot(g, win, axes=([0], [0]))
            dxp[:, :, i * s:i * s + HH, j * s:j * s + WW] = np.tensordot(g, w, axes=([1], [0]))
    H, W = x.shape[2:]
    return dxp[:, :, p:p + H, p:p + W], dw, dout.sum(axis=(0, 2, 3))
