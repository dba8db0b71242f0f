# ruff: noqa  (student code, kept as students write it)
"""Wrong: ReLU passes the gradient where x == 0 (mask x >= 0)."""
from good_im2col import *  # noqa: F403


class Relu:
    def forward(self, x):
        self.x = x
        return x * (x > 0)

    def backward(self, dout):
        return dout * (self.x >= 0)
