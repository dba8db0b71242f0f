# ruff: noqa  (student code, kept as students write it)
"""Wrong: SoftmaxWithLoss written for one-hot labels only (t of shape (N, C)); given class
indices it broadcasts them over the rows (when N == C or N == 1) or fails to broadcast."""
import numpy as np
from good_im2col import *  # noqa: F403


class SoftmaxWithLoss:
    def forward(self, x, t):
        self.t = t
        z = x - x.max(axis=1, keepdims=True)
        self.y = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        return -np.sum(t * np.log(self.y)) / x.shape[0]

    def backward(self, dout=1):
        return dout * (self.y - self.t) / self.t.shape[0]
