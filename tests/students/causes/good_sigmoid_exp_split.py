# ruff: noqa  (student code, kept as students write it)
# cause: none
# layers: sigmoid
"""Correct: the sigmoid as exp(x) / (1 + exp(x)) for x < 0 and 1 / (1 + exp(-x)) else."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


class Sigmoid(book_base.Sigmoid):
    def forward(self, x):
        e = np.exp(-np.abs(x))
        self.out = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return self.out
