# ruff: noqa  (student code, kept as students write it)
"""Wrong: accepts ceil_mode and drops it (output size floored where PyTorch ceils)."""

import numpy as np


def pair(v):
    return (v, v) if np.isscalar(v) else tuple(v)


def out_size(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def im2col(x, fh, fw, stride, pad, dilation, out_hw, fill=0.0):
    N, C, H, W = x.shape
    (sh, sw), (ph, pw), (dh, dw), (oh, ow) = stride, pad, dilation, out_hw
    eh = max(0, (oh - 1) * sh + dh * (fh - 1) + 1 - (H + 2 * ph))
    ew = max(0, (ow - 1) * sw + dw * (fw - 1) + 1 - (W + 2 * pw))
    img = np.pad(x, [(0, 0), (0, 0), (ph, ph + eh), (pw, pw + ew)], constant_values=fill)
    col = np.empty((N, C, fh, fw, oh, ow), dtype=x.dtype)
    for i in range(fh):
        for j in range(fw):
            y, xx = i * dh, j * dw
            col[:, :, i, j] = img[:, :, y:y + sh * (oh - 1) + 1:sh, xx:xx + sw * (ow - 1) + 1:sw]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(N * oh * ow, -1)


def col2im(col, shape, fh, fw, stride, pad, dilation, out_hw):
    N, C, H, W = shape
    (sh, sw), (ph, pw), (dh, dw), (oh, ow) = stride, pad, dilation, out_hw
    col = col.reshape(N, oh, ow, C, fh, fw).transpose(0, 3, 4, 5, 1, 2)
    ih = max(H + 2 * ph, (oh - 1) * sh + dh * (fh - 1) + 1)
    iw = max(W + 2 * pw, (ow - 1) * sw + dw * (fw - 1) + 1)
    img = np.zeros((N, C, ih, iw), dtype=col.dtype)
    for i in range(fh):
        for j in range(fw):
            y, xx = i * dh, j * dw
            img[:, :, y:y + sh * (oh - 1) + 1:sh, xx:xx + sw * (ow - 1) + 1:sw] += col[:, :, i, j]
    return img[:, :, ph:H + ph, pw:W + pw]


class Pooling:
    def __init__(self, pool_h, pool_w, stride=1, pad=0, dilation=1, ceil_mode=False):
        self.pool_h, self.pool_w = pool_h, pool_w
        self.stride, self.pad, self.dilation = pair(stride), pair(pad), pair(dilation)
        self.ceil_mode = ceil_mode  # accepted, then never used

    def forward(self, x):
        N, C, H, W = x.shape
        oh = out_size(H, self.pool_h, self.stride[0], self.pad[0], self.dilation[0])
        ow = out_size(W, self.pool_w, self.stride[1], self.pad[1], self.dilation[1])
        self.x, self.out_hw = x, (oh, ow)
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad, self.dilation,
                     (oh, ow), fill=-np.inf)
        col = col.reshape(-1, self.pool_h * self.pool_w)
        self.arg_max = np.argmax(col, axis=1)  # the first maximum of each window
        out = col.max(axis=1)
        return out.reshape(N, oh, ow, C).transpose(0, 3, 1, 2).copy()

    def backward(self, dout):
        dout = dout.transpose(0, 2, 3, 1)
        size = self.pool_h * self.pool_w
        dmax = np.zeros((dout.size, size), dtype=dout.dtype)
        dmax[np.arange(self.arg_max.size), self.arg_max] = dout.ravel()
        dcol = dmax.reshape(-1, self.x.shape[1] * size)
        return col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad,
                      self.dilation, self.out_hw)
