# ruff: noqa  (student code, kept as students write it)
"""Wrong: Momentum starts a fresh velocity at every update (the velocity is a local variable,
not kept on the object), so it is plain SGD."""
import numpy as np


class Momentum:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = lr
        self.momentum = momentum

    def update(self, params, grads):
        v = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params.keys():
            v[key] = self.momentum * v[key] - self.lr * grads[key]
            params[key] += v[key]
