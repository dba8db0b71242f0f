# ruff: noqa  (student code, kept as students write it)
"""Wrong (functional API): conv dw is half the truth (a stray 0.5)."""
from good_functional import *  # noqa: F403
from good_functional import conv_backward_naive as _backward


def conv_backward_naive(dout, cache):
    dx, dw, db = _backward(dout, cache)
    return dx, 0.5 * dw, db
