# ruff: noqa  (student code, kept as students write it)
# cause: mean_not_sum scaled
# layers: affine
"""affine_backward averages db over the batch."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def affine_backward(dout, cache):
    dx, dw, db = cs231n_base.affine_backward(dout, cache)
    return dx, dw, db / dout.shape[0]
