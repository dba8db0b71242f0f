# ruff: noqa  (student code, kept as students write it)
"""Wrong: ReLU forward is right, its backward never finishes."""
from good_im2col import *  # noqa: F403
from good_im2col import Relu as _Relu


class Relu(_Relu):
    def backward(self, dout):
        while True:
            pass
