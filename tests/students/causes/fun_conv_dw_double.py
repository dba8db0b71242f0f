# ruff: noqa  (student code, kept as students write it)
# cause: scaled
# layers: conv
"""conv_backward_naive doubles dw."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def conv_backward_naive(dout, cache):
    dx, dw, db = cs231n_base.conv_backward_naive(dout, cache)
    return dx, 2 * dw, db
