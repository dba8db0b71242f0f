# ruff: noqa  (student code, kept as students write it)
# cause: pad_zero_max
# layers: pool
"""Max pooling pads with zeros, so padding wins over negative inputs."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


class Pooling(book_base.Pooling):
    def forward(self, x):
        N, C, H, W = x.shape
        oh = (H + 2 * self.pad - self.pool_h) // self.stride + 1
        ow = (W + 2 * self.pad - self.pool_w) // self.stride + 1
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)
        col = col.reshape(-1, self.pool_h * self.pool_w)
        self.x, self.arg_max = x, np.argmax(col, axis=1)
        out = col.max(axis=1)
        return out.reshape(N, oh, ow, C).transpose(0, 3, 1, 2).copy()
