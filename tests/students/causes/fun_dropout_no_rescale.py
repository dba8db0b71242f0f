# ruff: noqa  (student code, kept as students write it)
# cause: dropout_not_rescaled
# layers: invdropout
"""Inverted dropout keeps the kept values unscaled."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    if mode == "train":
        mask = np.random.rand(*x.shape) < p
        out = x * mask
    else:
        out = x
    return out.astype(x.dtype, copy=False), (dropout_param, mask)
