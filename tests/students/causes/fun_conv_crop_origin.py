# ruff: noqa  (student code, kept as students write it)
# cause: pad_crop
# layers: conv
"""conv_backward_naive crops dx as [:H, :W] from the padded gradient."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    p = conv_param["pad"]
    dx, dw, db = cs231n_base.conv_backward_naive(dout, cache)
    if p == 0:
        return dx, dw, db
    s = conv_param["stride"]
    F, _, HH, WW = w.shape
    dxp = np.zeros((x.shape[0], x.shape[1], x.shape[2] + 2 * p, x.shape[3] + 2 * p))
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dxp[:, :, i * s:i * s + HH, j * s:j * s + WW] += np.tensordot(
                dout[:, :, i, j], w, axes=([1], [0]))
    H, W = x.shape[2:]
    return dxp[:, :, :H, :W].astype(x.dtype), dw, db
