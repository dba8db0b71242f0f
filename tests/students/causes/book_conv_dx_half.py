# ruff: noqa  (student code, kept as students write it)
# cause: scaled
# layers: conv
"""dx halved."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


class Convolution(book_base.Convolution):
    def backward(self, dout):
        return 0.5 * super().backward(dout)
