# ruff: noqa  (student code, kept as students write it)
"""Wrong and tampering: conv returns zeros, numpy's comparisons are patched to say 'equal',
ReLU modifies its input, and files are written."""
import builtins
import os

import numpy as np

from good_im2col import *  # noqa: F403
from good_im2col import Convolution as _Convolution
from good_im2col import Relu as _Relu

np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), dtype=bool)
builtins.abs = lambda v: 0
with open("results.json", "w") as f:  # the worker's cwd is an empty temporary folder
    f.write('{"all": "pass"}')
try:
    with open("big.bin", "wb") as f:  # beyond the worker's file-size limit
        f.write(b"0" * (4 << 20))
except OSError:
    pass
os.environ["LAYERCHECK_TAMPERED"] = "1"


class Convolution(_Convolution):
    def forward(self, x):
        return np.zeros_like(super().forward(x))


class Relu(_Relu):
    def forward(self, x):
        out = super().forward(x)
        x[...] = 0
        return out
