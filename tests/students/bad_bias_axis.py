# ruff: noqa  (student code, kept as students write it)
"""Wrong: the bias is added along the last (width) axis instead of the channel axis."""
from good_im2col import *  # noqa: F403
from good_im2col import Convolution as _Convolution


class Convolution(_Convolution):
    def forward(self, x):
        b, self.b = self.b, self.b * 0
        out = super().forward(x)
        self.b = b
        return out + b.reshape(1, 1, 1, -1)
