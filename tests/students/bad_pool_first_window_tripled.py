# ruff: noqa  (student code, kept as students write it)
"""Wrong: max pooling's backward triples the gradient of the very first window only (one
element of dx is wrong): not a scaling, however few elements the truth has."""
from good_im2col import *  # noqa: F403
from good_im2col import Pooling as _Pooling


class Pooling(_Pooling):
    def backward(self, dout):
        dout = dout.copy()
        dout[0, 0, 0, 0] *= 3.0
        return super().backward(dout)
