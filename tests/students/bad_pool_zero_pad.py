# ruff: noqa  (student code, kept as students write it)
"""Wrong: max pooling pads with zeros, so padding wins over negative inputs."""
from good_im2col import *  # noqa: F403
from good_im2col import Pooling as _Pooling
from good_im2col import im2col


class Pooling(_Pooling):
    def forward(self, x):
        N, C, H, W = x.shape
        oh = (H + 2 * self.pad - self.pool_h) // self.stride + 1
        ow = (W + 2 * self.pad - self.pool_w) // self.stride + 1
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)  # pads with 0
        col = col.reshape(-1, self.pool_h * self.pool_w)
        self.x, self.arg_max = x, col.argmax(axis=1)
        return col.max(axis=1).reshape(N, oh, ow, C).transpose(0, 3, 1, 2).copy()
