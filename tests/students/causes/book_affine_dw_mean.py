# ruff: noqa  (student code, kept as students write it)
# cause: mean_not_sum scaled
# layers: affine
"""Affine's dW averages over the batch."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


class Affine(book_base.Affine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = self.dW / dout.shape[0]
        return dx
