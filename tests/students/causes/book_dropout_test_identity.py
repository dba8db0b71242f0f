# ruff: noqa  (student code, kept as students write it)
# cause: dropout_test_identity
# layers: dropout
"""The notes' dropout returns x unchanged in test mode (it is not inverted)."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


class Dropout(book_base.Dropout):
    def forward(self, x, train_flg=True):
        if train_flg:
            return super().forward(x, train_flg)
        return x.copy()
