# ruff: noqa  (student code, kept as students write it)
"""Right: the book's SoftmaxWithLoss.backward(dout=1) ignores dout (a terminal loss)."""
import numpy as np

from good_im2col import *  # noqa: F403
from good_im2col import SoftmaxWithLoss as _Softmax


class SoftmaxWithLoss(_Softmax):
    def backward(self, dout=1):
        n = self.y.shape[0]
        dx = self.y.copy()
        dx[np.arange(n), self.t] -= 1
        return dx / n
