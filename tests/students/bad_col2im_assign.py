# ruff: noqa  (student code, kept as students write it)
"""Wrong: col2im assigns instead of accumulating, so overlapping windows lose gradient."""
import numpy as np

import good_im2col
from good_im2col import *  # noqa: F403


def col2im(col, shape, fh, fw, stride=1, pad=0):
    N, C, H, W = shape
    oh = (H + 2 * pad - fh) // stride + 1
    ow = (W + 2 * pad - fw) // stride + 1
    col = col.reshape(N, oh, ow, C, fh, fw).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((N, C, H + 2 * pad + stride - 1, W + 2 * pad + stride - 1), dtype=col.dtype)
    for y in range(fh):
        for xx in range(fw):
            img[:, :, y:y + stride * oh:stride, xx:xx + stride * ow:stride] = col[:, :, y, xx]
    return img[:, :, pad:H + pad, pad:W + pad]


good_im2col.col2im = col2im
