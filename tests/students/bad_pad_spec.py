# ruff: noqa  (student code, kept as students write it)
"""Wrong: Relu pads with a pad spec of the wrong length, so np.pad raises deep inside NumPy."""
import numpy as np


class Relu:
    def forward(self, x):
        self.mask = x <= 0
        xp = np.pad(x, ((0, 0), (1, 1), (2, 2)))
        return np.where(self.mask, 0.0, x)

    def backward(self, dout):
        return np.where(self.mask, 0.0, dout)
