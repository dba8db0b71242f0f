# ruff: noqa  (student code, kept as students write it)
"""Wrong: output size rounds up (ceil((H + 2p - k) / s) + 1) instead of down."""
import math

import numpy as np

from good_im2col import *  # noqa: F403
from good_im2col import Convolution as _Convolution


class Convolution(_Convolution):
    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        N, C, H, W = x.shape
        oh = math.ceil((H + 2 * self.pad - FH) / self.stride) + 1
        ow = math.ceil((W + 2 * self.pad - FW) / self.stride) + 1
        out = super().forward(x)
        y = np.zeros((N, FN, oh, ow), dtype=x.dtype)
        y[:, :, :out.shape[2], :out.shape[3]] = out
        return y
