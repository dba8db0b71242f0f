# ruff: noqa  (student code, kept as students write it)
# cause: sum_not_mean scaled
# layers: softmax
"""softmax_loss sums the loss and dx over the batch."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def softmax_loss(x, y):
    loss, dx = cs231n_base.softmax_loss(x, y)
    return loss * x.shape[0], dx * x.shape[0]
