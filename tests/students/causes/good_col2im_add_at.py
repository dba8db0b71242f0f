# ruff: noqa  (student code, kept as students write it)
# cause: none
# layers: conv,pool,avgpool
"""Correct: col2im accumulates with np.add.at window by window (no cause may fire on it)."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


def col2im(col, shape, fh, fw, stride=1, pad=0):
    N, C, H, W = shape
    oh = (H + 2 * pad - fh) // stride + 1
    ow = (W + 2 * pad - fw) // stride + 1
    col = col.reshape(N, oh, ow, C, fh, fw)
    img = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=col.dtype)
    for i in range(oh):
        for j in range(ow):
            np.add.at(img, (slice(None), slice(None), slice(i * stride, i * stride + fh),
                            slice(j * stride, j * stride + fw)), col[:, i, j])
    return img[:, :, pad:H + pad, pad:W + pad]


book_base.col2im = col2im
