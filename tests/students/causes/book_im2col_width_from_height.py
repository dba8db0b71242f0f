# ruff: noqa  (student code, kept as students write it)
# cause: none
# layers: conv
"""im2col reads the output width from the height (H for W)."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


def im2col(x, fh, fw, stride=1, pad=0, fill=0.0):
    N, C, H, W = x.shape
    oh = (H + 2 * pad - fh) // stride + 1
    ow = (H + 2 * pad - fw) // stride + 1
    img = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], constant_values=fill)
    col = np.zeros((N, C, fh, fw, oh, ow), dtype=x.dtype)
    for y in range(fh):
        for xx in range(fw):
            part = img[:, :, y:y + stride * oh:stride, xx:xx + stride * ow:stride]
            col[:, :, y, xx, :part.shape[2], :part.shape[3]] = part
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(N * oh * ow, -1)


book_base.im2col = im2col
