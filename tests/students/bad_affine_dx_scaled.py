# ruff: noqa  (student code, kept as students write it)
"""Wrong: Affine's dx is 2.5 times the truth (every element): a real scaling."""
from good_im2col import *  # noqa: F403
from good_im2col import Affine as _Affine


class Affine(_Affine):
    def backward(self, dout):
        return 2.5 * super().backward(dout)
