# ruff: noqa  (student code, kept as students write it)
"""Wrong (against PyTorch): CS231n-style conv that asserts the stride divides
(H + 2*pad - HH), as the assignment's notes allow; PyTorch floors instead."""
from good_functional import *  # noqa: F403
from good_functional import conv_forward_naive as _conv_forward_naive


def conv_forward_naive(x, w, b, conv_param):
    H, W = x.shape[2:]
    HH, WW = w.shape[2:]
    stride, pad = conv_param["stride"], conv_param["pad"]
    assert (H + 2 * pad - HH) % stride == 0, "height does not fit"
    assert (W + 2 * pad - WW) % stride == 0, "width does not fit"
    return _conv_forward_naive(x, w, b, conv_param)
