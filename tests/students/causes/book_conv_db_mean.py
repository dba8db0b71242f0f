# ruff: noqa  (student code, kept as students write it)
# cause: mean_not_sum scaled
# layers: conv
"""db averages over the batch instead of summing."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


class Convolution(book_base.Convolution):
    def backward(self, dout):
        dx = super().backward(dout)
        self.db = self.db / dout.shape[0]
        return dx
