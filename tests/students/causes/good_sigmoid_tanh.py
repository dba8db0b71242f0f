# ruff: noqa  (student code, kept as students write it)
# cause: none
# layers: sigmoid
"""Correct: the sigmoid through tanh, 0.5 * (1 + tanh(x / 2))."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


class Sigmoid(book_base.Sigmoid):
    def forward(self, x):
        self.out = 0.5 * (1.0 + np.tanh(0.5 * x))
        return self.out
