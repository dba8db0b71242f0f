# ruff: noqa  (student code, kept as students write it)
# cause: flipped_kernel
# layers: conv
"""conv_forward_naive flips the kernel (backward is right for the unflipped one)."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def conv_forward_naive(x, w, b, conv_param):
    out, _ = cs231n_base.conv_forward_naive(x, w[:, :, ::-1, ::-1].copy(), b, conv_param)
    return out, (x, w, b, conv_param)
