# ruff: noqa  (student code, kept as students write it)
# cause: eps_outside_sqrt
# layers: batchnorm
"""Batch norm adds eps outside the square root."""
import numpy as np

import book_base
from book_base import *  # noqa: F403


class BatchNormalization(book_base.BatchNormalization):
    def _forward(self, x, train_flg):
        if train_flg:
            if self.running_mean is None:
                self.running_mean = np.zeros(x.shape[1])
                self.running_var = np.zeros(x.shape[1])
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc ** 2, axis=0)
            std = np.sqrt(var) + 10e-7
            self.batch_size, self.xc, self.xn, self.std = x.shape[0], xc, xc / std, std
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
            return self.gamma * self.xn + self.beta
        return super()._forward(x, train_flg)
