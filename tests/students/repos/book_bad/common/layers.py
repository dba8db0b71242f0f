# ruff: noqa  (student code, kept as students write it)
"""The book's layout: common/layers.py imports its sibling as `common.util`; Convolution's dW
is reshaped without transposing back (a value bug the reproducer must show)."""
import numpy as np
from common.util import col2im, im2col


class Convolution:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        N, C, H, W = x.shape
        oh = (H + 2 * self.pad - FH) // self.stride + 1
        ow = (W + 2 * self.pad - FW) // self.stride + 1
        self.x = x
        self.col = im2col(x, FH, FW, self.stride, self.pad)
        self.col_W = self.W.reshape(FN, -1).T
        out = self.col @ self.col_W + self.b
        return out.reshape(N, oh, ow, -1).transpose(0, 3, 1, 2).copy()

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = dout.sum(axis=0)
        self.dW = (self.col.T @ dout).reshape(FN, C, FH, FW)
        dcol = dout @ self.col_W.T
        return col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)
