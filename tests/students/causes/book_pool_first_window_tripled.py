# ruff: noqa  (student code, kept as students write it)
# cause: none
# layers: pool
"""The first window's gradient is tripled (no known cause; the pattern only)."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


class Pooling(book_base.Pooling):
    def backward(self, dout):
        dout = dout.copy()
        dout[:, :, 0, 0] *= 3
        return super().backward(dout)
