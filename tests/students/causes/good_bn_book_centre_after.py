# ruff: noqa  (student code, kept as students write it)
# cause: none
# layers: batchnorm
"""Correct: batch norm scaling first and centring after: x / std - mu / std."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


class BatchNormalization(book_base.BatchNormalization):
    def _forward(self, x, train_flg):
        if not train_flg:
            return super()._forward(x, train_flg)
        if self.running_mean is None:
            self.running_mean = np.zeros(x.shape[1])
            self.running_var = np.zeros(x.shape[1])
        mu = x.mean(axis=0)
        var = ((x - mu) ** 2).mean(axis=0)
        std = np.sqrt(var + 10e-7)
        xc = x - mu
        xn = x / std - mu / std
        self.batch_size, self.xc, self.xn, self.std = x.shape[0], xc, xn, std
        self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
        self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        return self.gamma * xn + self.beta
