# ruff: noqa  (student code, kept as students write it)
"""Wrong under NumPy 2: calls removed in NumPy 2.0 (np.product, np.float), written when NumPy
1.x still had them."""
import numpy as np
from good_im2col import *  # noqa: F403
from good_im2col import Affine as _Affine
from good_im2col import Relu as _Relu


class Affine(_Affine):
    def forward(self, x):
        D = np.product(x.shape[1:])
        return super().forward(x.reshape(x.shape[0], D))


class Relu(_Relu):
    def forward(self, x):
        self.mask = x <= 0
        return np.where(self.mask, np.float(0), x)
