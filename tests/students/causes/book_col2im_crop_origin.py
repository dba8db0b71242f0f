# ruff: noqa  (student code, kept as students write it)
# cause: pad_crop
# layers: conv,pool,avgpool
"""col2im crops [:H, :W] instead of [pad:H + pad, pad:W + pad]."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


def col2im(col, shape, fh, fw, stride=1, pad=0):
    N, C, H, W = shape
    oh = (H + 2 * pad - fh) // stride + 1
    ow = (W + 2 * pad - fw) // stride + 1
    col = col.reshape(N, oh, ow, C, fh, fw).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((N, C, H + 2 * pad + stride - 1, W + 2 * pad + stride - 1), dtype=col.dtype)
    for y in range(fh):
        for xx in range(fw):
            img[:, :, y:y + stride * oh:stride, xx:xx + stride * ow:stride] += col[:, :, y, xx]
    return img[:, :, :H, :W]


book_base.col2im = col2im
