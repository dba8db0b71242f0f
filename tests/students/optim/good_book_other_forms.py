# ruff: noqa  (student code, kept as students write it)
"""Correct: the notes' classes written in other equivalent forms (a momentum buffer without lr,
one-line moving averages, math.sqrt for the step size, lists instead of dicts for state)."""
import math

import numpy as np


class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for name, p in params.items():
            p -= self.lr * grads[name]


class Momentum:
    """buf = momentum * buf + g; p -= lr * buf  (v = -lr * buf)."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum = lr, momentum
        self.buf = {}

    def update(self, params, grads):
        for name in params:
            b = self.buf.get(name)
            b = grads[name].copy() if b is None else self.momentum * b + grads[name]
            self.buf[name] = b
            params[name] -= self.lr * b


class Nesterov:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum = lr, momentum
        self.v = {}

    def update(self, params, grads):
        mu = self.momentum
        for name in params:
            v = self.v.get(name, np.zeros_like(params[name]))
            v = mu * v - self.lr * grads[name]
            self.v[name] = v
            np.add(params[name], mu * mu * v - (1 + mu) * self.lr * grads[name],
                   out=params[name])


class AdaGrad:
    def __init__(self, lr=0.01):
        self.lr = lr
        self.h = {}

    def update(self, params, grads):
        for name in params:
            g = grads[name]
            self.h[name] = self.h.get(name, 0) + g ** 2
            params[name] -= self.lr * g / (np.sqrt(self.h[name]) + 1e-7)


class RMSprop:
    def __init__(self, lr=0.01, decay_rate=0.99):
        self.lr, self.decay_rate = lr, decay_rate
        self.h = {}

    def update(self, params, grads):
        d = self.decay_rate
        for name in params:
            g = grads[name]
            self.h[name] = d * self.h.get(name, np.zeros_like(g)) + (1 - d) * g ** 2
            params[name] -= self.lr * g / (np.sqrt(self.h[name]) + 1e-7)


class Adam:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.iter = 0
        self.m, self.v = {}, {}

    def update(self, params, grads):
        self.iter += 1
        t = self.iter
        lr_t = self.lr * math.sqrt(1 - self.beta2 ** t) / (1 - self.beta1 ** t)
        for name in params:
            g = grads[name]
            m = self.beta1 * self.m.get(name, 0.0) + (1 - self.beta1) * g
            v = self.beta2 * self.v.get(name, 0.0) + (1 - self.beta2) * g * g
            self.m[name], self.v[name] = m, v
            params[name] -= lr_t * m / (np.sqrt(v) + 1e-7)
