# ruff: noqa  (student code, kept as students write it)
"""Wrong under Python 3: Python 2 leftovers (xrange, dict.iteritems, / giving floats)."""
import numpy as np
from good_im2col import *  # noqa: F403
from good_im2col import Affine as _Affine


class Pooling:
    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.ph, self.pw, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        N, C, H, W = x.shape
        oh = (H - self.ph) // self.stride + 1
        ow = (W - self.pw) // self.stride + 1
        out = np.zeros((N, C, oh, ow))
        for i in xrange(oh):
            for j in range(ow):
                out[:, :, i, j] = x[:, :, i:i + self.ph, j:j + self.pw].max(axis=(2, 3))
        return out


class Convolution:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        N, C, H, W = x.shape
        FN, _, FH, FW = self.W.shape
        out_h = 1 + (H + 2 * self.pad - FH) / self.stride
        out = np.zeros((N, FN, out_h, out_h))
        return out


class Affine(_Affine):
    def forward(self, x):
        sizes = {"N": x.shape[0]}
        for key, value in sizes.iteritems():
            pass
        return super().forward(x)
