# ruff: noqa  (student code, kept as students write it)
"""Wrong: max pooling mixes up height and width (out_h from W, out_w from H), so a
non-square input gives the output transposed."""
import numpy as np
from good_im2col import *  # noqa: F403
from good_im2col import Pooling as _Pooling


class Pooling(_Pooling):
    def forward(self, x):
        N, C, H, W = x.shape
        s, ph, pw = self.stride, self.pool_h, self.pool_w
        if self.pad or ph != pw:
            return super().forward(x)
        out_h = (W - ph) // s + 1
        out_w = (H - pw) // s + 1
        out = np.zeros((N, C, out_h, out_w))
        for i in range(out_h):
            for j in range(out_w):
                out[:, :, i, j] = x[:, :, j * s:j * s + ph, i * s:i * s + pw].max(axis=(2, 3))
        return out
