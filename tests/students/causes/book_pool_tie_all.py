# ruff: noqa  (student code, kept as students write it)
# cause: tie_break
# layers: pool
"""Max pooling's gradient goes to every maximum of a window (mask == max)."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


class Pooling(book_base.Pooling):
    def forward(self, x):
        out = super().forward(x)
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad, fill=-np.inf)
        self.col = col.reshape(-1, self.pool_h * self.pool_w)
        return out

    def backward(self, dout):
        dout = dout.transpose(0, 2, 3, 1)
        size = self.pool_h * self.pool_w
        dmax = (self.col == self.col.max(axis=1, keepdims=True)) * dout.reshape(-1, 1)
        dcol = dmax.reshape(-1, self.x.shape[1] * size)
        return col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)
