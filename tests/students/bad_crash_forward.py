# ruff: noqa  (student code, kept as students write it)
"""Wrong: pooling forward raises; the other layers still work."""
from good_im2col import *  # noqa: F403


class Pooling:
    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        pass

    def forward(self, x):
        raise NotImplementedError("TODO: max pooling")
