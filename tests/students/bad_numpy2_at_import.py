# ruff: noqa  (student code, kept as students write it)
"""Wrong under NumPy 2: a module-level constant uses np.float, so the file cannot be imported."""
import numpy as np

EPS = np.float(1e-7)


class Relu:
    def forward(self, x):
        self.mask = x <= 0
        return np.where(self.mask, 0.0, x)

    def backward(self, dout):
        return np.where(self.mask, 0.0, dout)
