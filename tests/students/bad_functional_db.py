# ruff: noqa  (student code, kept as students write it)
"""Wrong (functional API): conv db is not summed over the batch."""
from good_functional import *  # noqa: F403
from good_functional import conv_backward_naive as _backward


def conv_backward_naive(dout, cache):
    dx, dw, _ = _backward(dout, cache)
    return dx, dw, dout.sum(axis=(2, 3))
