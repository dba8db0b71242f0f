# ruff: noqa  (student code, kept as students write it)
"""Wrong: Convolution's backward computes dW but keeps it in a local, never in self.dW."""
from good_im2col import *  # noqa: F403
from good_im2col import Convolution as _Convolution


class Convolution(_Convolution):
    def backward(self, dout):
        dx = super().backward(dout)
        dW, self.dW = self.dW, None
        return dx
