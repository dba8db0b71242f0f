# ruff: noqa  (student code, kept as students write it)
"""Wrong: CS231n-style conv whose backward crops the padded gradient with
dx_pad[:, :, pad:-pad, pad:-pad], which is empty when pad = 0."""
import numpy as np
from good_functional import *  # noqa: F403
from good_functional import conv_backward_naive as _conv_backward_naive


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    pad = conv_param["pad"]
    dx, dw, db = _conv_backward_naive(dout, cache)
    dx_pad = np.pad(dx, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx = dx_pad[:, :, pad:-pad, pad:-pad]
    return dx, dw, db
