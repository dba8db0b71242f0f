# ruff: noqa  (student code, kept as students write it)
# cause: float32_arithmetic
# layers: conv
"""conv_forward_naive accumulates in a float32 buffer."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def conv_forward_naive(x, w, b, conv_param):
    out, cache = cs231n_base.conv_forward_naive(x.astype(np.float32), w.astype(np.float32),
                                                b.astype(np.float32), conv_param)
    return out.astype(x.dtype), (x, w, b, conv_param)
