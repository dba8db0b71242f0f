# ruff: noqa  (student code, kept as students write it)
# cause: softmax_overflow
# layers: softmax
"""Softmax without subtracting the row maximum: exp overflows on large logits."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


class SoftmaxWithLoss(book_base.SoftmaxWithLoss):
    def forward(self, x, t):
        n = x.shape[0]
        self.t = t.argmax(axis=1) if t.ndim == 2 else t
        e = np.exp(x)
        self.y = e / e.sum(axis=1, keepdims=True)
        return -np.log(self.y[np.arange(n), self.t]).mean()
