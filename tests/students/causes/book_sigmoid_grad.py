# ruff: noqa  (student code, kept as students write it)
# cause: none
# layers: sigmoid
"""Sigmoid's backward forgets the (1 - y) factor (no known cause; the pattern only)."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


class Sigmoid(book_base.Sigmoid):
    def backward(self, dout):
        return dout * self.out
