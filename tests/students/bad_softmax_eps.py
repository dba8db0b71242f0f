# ruff: noqa  (student code, kept as students write it)
"""Wrong: the loss is -log(y + 1e-7) (the book's cross_entropy_error)."""
import numpy as np

from good_im2col import *  # noqa: F403
from good_im2col import SoftmaxWithLoss as _Softmax


class SoftmaxWithLoss(_Softmax):
    def forward(self, x, t):
        super().forward(x, t)
        n = x.shape[0]
        return -np.sum(np.log(self.y[np.arange(n), self.t] + 1e-7)) / n
