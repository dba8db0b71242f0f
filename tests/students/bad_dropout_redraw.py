# ruff: noqa  (student code, kept as students write it)
"""Mutant: the notes' Dropout draws a new mask in backward."""

import numpy as np


class Dropout:
    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return dout * (np.random.rand(*dout.shape) > self.dropout_ratio)
