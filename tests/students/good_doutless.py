# ruff: noqa  (student code, kept as students write it)
"""Right: SoftmaxWithLoss.backward takes no argument (a terminal loss keeps what it needs)."""
import numpy as np

from good_im2col import Relu


class SoftmaxWithLoss:
    def forward(self, x, t):
        n = x.shape[0]
        self.t = t.argmax(axis=1) if t.ndim == 2 else t
        z = x - x.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        self.y = np.exp(logp)
        return -logp[np.arange(n), self.t].mean()

    def backward(self):
        n = self.y.shape[0]
        dx = self.y.copy()
        dx[np.arange(n), self.t] -= 1
        return dx / n
