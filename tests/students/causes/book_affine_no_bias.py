# ruff: noqa  (student code, kept as students write it)
# cause: bias_missing
# layers: affine
"""Affine forgets the bias."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


class Affine(book_base.Affine):
    def forward(self, x):
        return super().forward(x) - self.b
