# ruff: noqa  (student code, kept as students write it)
"""The book layout's helper module (own code): im2col/col2im for common/layers.py."""
import numpy as np


def im2col(x, fh, fw, stride=1, pad=0, fill=0.0):
    N, C, H, W = x.shape
    oh = (H + 2 * pad - fh) // stride + 1
    ow = (W + 2 * pad - fw) // stride + 1
    img = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], constant_values=fill)
    col = np.empty((N, C, fh, fw, oh, ow), dtype=x.dtype)
    for y in range(fh):
        for xx in range(fw):
            col[:, :, y, xx] = img[:, :, y:y + stride * oh:stride, xx:xx + stride * ow:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(N * oh * ow, -1)


def col2im(col, shape, fh, fw, stride=1, pad=0):
    N, C, H, W = shape
    oh = (H + 2 * pad - fh) // stride + 1
    ow = (W + 2 * pad - fw) // stride + 1
    col = col.reshape(N, oh, ow, C, fh, fw).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((N, C, H + 2 * pad + stride - 1, W + 2 * pad + stride - 1), dtype=col.dtype)
    for y in range(fh):
        for xx in range(fw):
            img[:, :, y:y + stride * oh:stride, xx:xx + stride * ow:stride] += col[:, :, y, xx]
    return img[:, :, pad:H + pad, pad:W + pad]
