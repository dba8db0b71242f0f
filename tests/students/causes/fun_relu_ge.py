# ruff: noqa  (student code, kept as students write it)
# cause: relu_grad_at_zero
# layers: relu
"""relu_backward passes the gradient where x >= 0."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def relu_backward(dout, cache):
    return dout * (cache >= 0)
