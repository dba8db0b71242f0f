# ruff: noqa  (student code, kept as students write it)
# cause: dw_no_transpose
# layers: conv
"""dW reshaped from (C*FH*FW, FN) without transposing back."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


class Convolution(book_base.Convolution):
    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = dout.sum(axis=0)
        self.dW = (self.col.T @ dout).reshape(FN, C, FH, FW)
        dcol = dout @ self.col_W.T
        return col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)
