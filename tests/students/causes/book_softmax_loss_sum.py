# ruff: noqa  (student code, kept as students write it)
# cause: sum_not_mean scaled
# layers: softmax
"""The loss sums over the batch instead of averaging."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


class SoftmaxWithLoss(book_base.SoftmaxWithLoss):
    def forward(self, x, t):
        return super().forward(x, t) * x.shape[0]
