# ruff: noqa  (student code, kept as students write it)
"""Wrong: max pooling's backward assigns (=) the gradient where windows overlap instead of
accumulating it (+=); padding is right (-inf)."""
import numpy as np
from good_im2col import *  # noqa: F403


class Pooling:
    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.ph, self.pw, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        N, C, H, W = x.shape
        p, s = self.pad, self.stride
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
        oh, ow = (H + 2 * p - self.ph) // s + 1, (W + 2 * p - self.pw) // s + 1
        out = np.empty((N, C, oh, ow), dtype=x.dtype)
        self.arg = np.empty((N, C, oh, ow), dtype=int)
        for i in range(oh):
            for j in range(ow):
                win = xp[:, :, i * s:i * s + self.ph, j * s:j * s + self.pw].reshape(N, C, -1)
                self.arg[:, :, i, j] = win.argmax(axis=2)
                out[:, :, i, j] = win.max(axis=2)
        self.shape = xp.shape
        return out

    def backward(self, dout):
        N, C, oh, ow = dout.shape
        p, s = self.pad, self.stride
        dxp = np.zeros(self.shape, dtype=dout.dtype)
        for n in range(N):
            for c in range(C):
                for i in range(oh):
                    for j in range(ow):
                        k = self.arg[n, c, i, j]
                        dxp[n, c, i * s + k // self.pw, j * s + k % self.pw] = dout[n, c, i, j]
        return dxp[:, :, p:self.shape[2] - p, p:self.shape[3] - p]
