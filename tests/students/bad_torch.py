# ruff: noqa  (student code, kept as students write it)
"""Policy: uses PyTorch to do the convolution's work."""
import torch
import torch.nn.functional as F

from good_im2col import *  # noqa: F403
from good_im2col import Convolution as _Convolution


class Convolution(_Convolution):
    def forward(self, x):
        super().forward(x)
        y = F.conv2d(torch.from_numpy(x), torch.from_numpy(self.W), torch.from_numpy(self.b),
                     stride=self.stride, padding=self.pad)
        return y.numpy()
