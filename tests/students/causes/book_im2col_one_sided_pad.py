# ruff: noqa  (student code, kept as students write it)
# cause: pad_one_sided
# layers: conv
"""im2col puts all the padding after the image (0, 2 * pad) instead of pad on each side."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


def im2col(x, fh, fw, stride=1, pad=0, fill=0.0):
    N, C, H, W = x.shape
    oh = (H + 2 * pad - fh) // stride + 1
    ow = (W + 2 * pad - fw) // stride + 1
    img = np.pad(x, [(0, 0), (0, 0), (0, 2 * pad), (0, 2 * pad)], constant_values=fill)
    col = np.empty((N, C, fh, fw, oh, ow), dtype=x.dtype)
    for y in range(fh):
        for xx in range(fw):
            col[:, :, y, xx] = img[:, :, y:y + stride * oh:stride, xx:xx + stride * ow:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(N * oh * ow, -1)


book_base.im2col = im2col
