"""Sigmoid (the notes' API, torch.sigmoid semantics)."""

from __future__ import annotations

import numpy as np

from ._validate import float_array, same_dtype, shape_is


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) in x's dtype, without overflow warnings (exp(-x) = inf gives 0)."""
    one = x.dtype.type(1)
    with np.errstate(over="ignore"):
        return one / (one + np.exp(-x))


class Sigmoid:
    """y = 1 / (1 + exp(-x)); backward dout * (1 - y) * y."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        float_array(x, "x")
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout):
        if self.out is None:
            raise ValueError("backward called before forward (out is None)")
        float_array(dout, "dout")
        same_dtype(dout, self.out, "dout", "x")
        shape_is(dout, self.out.shape, "dout")
        return dout * (self.out.dtype.type(1) - self.out) * self.out
