# ruff: noqa  (student code, kept as students write it)
"""Wrong: a CS231n-style assignment file whose functions are still stubs (body `pass`)."""


def affine_forward(x, w, b):
    out = None
    # TODO (student): affine forward still to write
    pass
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    dx, dw, db = None, None, None
    pass
    return dx, dw, db


def relu_forward(x):
    out = None
    pass
    return out, x


def relu_backward(dout, cache):
    dx = None
    pass
    return dx
