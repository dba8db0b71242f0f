# ruff: noqa  (student code, kept as students write it)
"""Wrong: max pooling's backward writes mask * dout over the whole window
(dx[..., window] = mask * dout), wiping what earlier overlapping windows put there."""
import numpy as np
from good_im2col import *  # noqa: F403


class Pooling:
    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.ph, self.pw, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        N, C, H, W = x.shape
        p, s = self.pad, self.stride
        self.xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
        oh, ow = (H + 2 * p - self.ph) // s + 1, (W + 2 * p - self.pw) // s + 1
        out = np.empty((N, C, oh, ow), dtype=x.dtype)
        for i in range(oh):
            for j in range(ow):
                out[:, :, i, j] = self.xp[:, :, i * s:i * s + self.ph, j * s:j * s + self.pw].max(axis=(2, 3))
        return out

    def backward(self, dout):
        N, C, oh, ow = dout.shape
        p, s = self.pad, self.stride
        dxp = np.zeros_like(self.xp)
        for n in range(N):
            for c in range(C):
                for i in range(oh):
                    for j in range(ow):
                        win = self.xp[n, c, i * s:i * s + self.ph, j * s:j * s + self.pw]
                        k = win.argmax()
                        mask = np.zeros(win.shape)
                        mask.flat[k] = 1.0
                        dxp[n, c, i * s:i * s + self.ph, j * s:j * s + self.pw] = mask * dout[n, c, i, j]
        H, W = self.xp.shape[2] - 2 * p, self.xp.shape[3] - 2 * p
        return dxp[:, :, p:p + H, p:p + W]
