# ruff: noqa  (student code, kept as students write it)
"""Wrong: on tied maxima the gradient goes to the last maximum, not the first."""
import numpy as np

from good_im2col import *  # noqa: F403
from good_im2col import Pooling as _Pooling


class Pooling(_Pooling):
    def forward(self, x):
        out = super().forward(x)
        from good_im2col import im2col
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad, fill=-np.inf)
        col = col.reshape(-1, self.pool_h * self.pool_w)
        k = col.shape[1]
        self.arg_max = k - 1 - np.argmax(col[:, ::-1], axis=1)
        return out
