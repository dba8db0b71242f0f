# ruff: noqa  (student code, kept as students write it)
# cause: log_eps
# layers: softmax
"""The loss is -log(y + 1e-7), as the notes' cross_entropy_error."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


class SoftmaxWithLoss(book_base.SoftmaxWithLoss):
    def forward(self, x, t):
        super().forward(x, t)
        n = x.shape[0]
        return -np.log(self.y[np.arange(n), self.t] + 1e-7).mean()
