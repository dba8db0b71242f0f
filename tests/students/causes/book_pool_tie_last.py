# ruff: noqa  (student code, kept as students write it)
# cause: tie_break
# layers: pool
"""Max pooling's gradient goes to the last maximum of a window (ties), not the first."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


class Pooling(book_base.Pooling):
    def forward(self, x):
        out = super().forward(x)
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad, fill=-np.inf)
        col = col.reshape(-1, self.pool_h * self.pool_w)
        self.arg_max = col.shape[1] - 1 - np.argmax(col[:, ::-1], axis=1)
        return out
