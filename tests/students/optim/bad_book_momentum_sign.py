# ruff: noqa  (student code, kept as students write it)
"""Wrong: Momentum adds lr * grad to the velocity (v = momentum * v + lr * grad; p += v)."""
import numpy as np


class Momentum:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = lr
        self.momentum = momentum
        self.v = None

    def update(self, params, grads):
        if self.v is None:
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params.keys():
            self.v[key] = self.momentum * self.v[key] + self.lr * grads[key]
            params[key] += self.v[key]
