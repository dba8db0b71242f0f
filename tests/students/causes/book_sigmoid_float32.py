# ruff: noqa  (student code, kept as students write it)
# cause: float32_arithmetic
# layers: sigmoid
"""Sigmoid through tanh, computed in float32 whatever the input dtype (a correct formula in
the wrong precision: the tanh form's bound must not let it pass)."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


class Sigmoid(book_base.Sigmoid):
    def forward(self, x):
        self.out = (0.5 * (1.0 + np.tanh(0.5 * x.astype(np.float32)))).astype(x.dtype)
        return self.out
