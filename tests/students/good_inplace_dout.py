# ruff: noqa  (student code, kept as students write it)
"""Right values, questionable habit: Relu.backward zeroes dout in place and returns it (the
book's code; CS231n's `dx = dout; dx[x <= 0] = 0` does the same): a warning, not a failure."""
from good_im2col import *  # noqa: F403


class Relu:
    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0
        dx = dout
        return dx
