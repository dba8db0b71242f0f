# ruff: noqa  (student code, kept as students write it)
"""Activations of a package without __init__.py (a namespace package)."""
import numpy as np


class ReLU:
    def forward(self, x):
        self.mask = x > 0
        return np.where(self.mask, x, 0.0).astype(x.dtype)

    def backward(self, dout):
        return np.where(self.mask, dout, 0.0).astype(dout.dtype)


class SoftmaxWithLoss:
    """A terminal loss whose backward takes no argument."""

    def forward(self, x, t):
        n = x.shape[0]
        self.t = t if t.ndim == 1 else t.argmax(axis=1)
        z = x - x.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        self.p = np.exp(logp)
        return -logp[np.arange(n), self.t].sum() / n

    def backward(self):
        n = self.p.shape[0]
        dx = self.p.copy()
        dx[np.arange(n), self.t] -= 1
        return dx / n
