# ruff: noqa  (student code, kept as students write it)
# cause: flipped_kernel
# layers: conv
"""Convolution flips the kernel (a true convolution) in forward and backward."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


class Convolution(book_base.Convolution):
    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        N, C, H, W = x.shape
        oh = (H + 2 * self.pad - FH) // self.stride + 1
        ow = (W + 2 * self.pad - FW) // self.stride + 1
        self.x = x
        self.col = im2col(x, FH, FW, self.stride, self.pad)
        self.col_W = self.W[:, :, ::-1, ::-1].reshape(FN, -1).T
        out = self.col @ self.col_W + self.b
        return out.reshape(N, oh, ow, -1).transpose(0, 3, 1, 2).copy()
