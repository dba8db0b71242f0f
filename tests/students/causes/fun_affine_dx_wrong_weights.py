# ruff: noqa  (student code, kept as students write it)
# cause: none
# layers: affine
"""affine_backward uses w's rows in the wrong order (no known cause; the pattern only)."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def affine_backward(dout, cache):
    x, w, b = cache
    dx, dw, db = cs231n_base.affine_backward(dout, cache)
    return (dout @ w[::-1].T).reshape(x.shape), dw, db
