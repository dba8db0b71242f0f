# ruff: noqa  (student code, kept as students write it)
"""Wrong: ReLU zeroes the negative inputs in place, changing the caller's x."""
from good_im2col import *  # noqa: F403


class Relu:
    def forward(self, x):
        self.mask = x <= 0
        x[self.mask] = 0
        return x.copy()

    def backward(self, dout):
        dx = dout.copy()
        dx[self.mask] = 0
        return dx
