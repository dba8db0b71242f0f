# ruff: noqa  (student code, kept as students write it)
# cause: scaled
# layers: avgpool
"""Average pooling's backward forgets to divide by the window size."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


class AvgPooling(book_base.AvgPooling):
    def backward(self, dout):
        return super().backward(dout) * (self.pool_h * self.pool_w)
