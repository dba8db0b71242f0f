"""Update rules of both curricula, in the parameters' own dtype.

The notes' classes (`SGD`, `Momentum`, `Nesterov`, `AdaGrad`, `RMSprop`, `Adam`) update a
dict of parameters in place with `update(params, grads)` (a network's layers hold references
to those very arrays, so an update must never rebind a key). CS231n's functions (`sgd`,
`sgd_momentum`, `rmsprop`, `adam`) take `(w, dw, config)` and return `(next_w, config)`,
filling the config's defaults with `setdefault` and keeping their state in it.

Hyperparameters are Python floats, so NumPy computes in the arrays' dtype (float32 stays
float32). Formulas, defaults and eps placement follow each curriculum, not torch.optim
(layercheck/reference/optim_oracle.py lists the differences).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Params = dict[str, np.ndarray]

# --- the notes' classes ----------------------------------------------------------------


def _zeros_like(params: Params) -> Params:
    return {k: np.zeros_like(v) for k, v in params.items()}


class SGD:
    """p -= lr * g."""

    def __init__(self, lr: float = 0.01):
        self.lr = lr

    def update(self, params: Params, grads: Params) -> None:
        for k in params:
            params[k] -= self.lr * grads[k]


class Momentum:
    """v = momentum * v - lr * g; p += v (v starts at zero)."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        self.lr, self.momentum = lr, momentum
        self.v: Params | None = None

    def update(self, params: Params, grads: Params) -> None:
        if self.v is None:
            self.v = _zeros_like(params)
        for k in params:
            self.v[k] = self.momentum * self.v[k] - self.lr * grads[k]
            params[k] += self.v[k]


class Nesterov:
    """The notes' Nesterov: v = momentum * v - lr * g, then, with that *new* v,
    p += momentum**2 * v - (1 + momentum) * lr * g."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        self.lr, self.momentum = lr, momentum
        self.v: Params | None = None

    def update(self, params: Params, grads: Params) -> None:
        if self.v is None:
            self.v = _zeros_like(params)
        m = self.momentum
        for k in params:
            self.v[k] = m * self.v[k] - self.lr * grads[k]
            params[k] += m * m * self.v[k] - (1 + m) * self.lr * grads[k]


class AdaGrad:
    """h += g * g; p -= lr * g / (sqrt(h) + 1e-7)."""

    eps = 1e-7

    def __init__(self, lr: float = 0.01):
        self.lr = lr
        self.h: Params | None = None

    def update(self, params: Params, grads: Params) -> None:
        if self.h is None:
            self.h = _zeros_like(params)
        for k in params:
            self.h[k] += grads[k] * grads[k]
            params[k] -= self.lr * grads[k] / (np.sqrt(self.h[k]) + self.eps)


class RMSprop:
    """h = decay_rate * h + (1 - decay_rate) * g * g; p -= lr * g / (sqrt(h) + 1e-7)."""

    eps = 1e-7

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99):
        self.lr, self.decay_rate = lr, decay_rate
        self.h: Params | None = None

    def update(self, params: Params, grads: Params) -> None:
        if self.h is None:
            self.h = _zeros_like(params)
        d = self.decay_rate
        for k in params:
            self.h[k] = d * self.h[k] + (1 - d) * grads[k] * grads[k]
            params[k] -= self.lr * grads[k] / (np.sqrt(self.h[k]) + self.eps)


class Adam:
    """The notes' Adam: the bias corrections folded into the step size,
    lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t), and eps added to sqrt(v) (uncorrected):
    p -= lr_t * m / (sqrt(v) + 1e-7)."""

    eps = 1e-7

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999):
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.iter = 0
        self.m: Params | None = None
        self.v: Params | None = None

    def update(self, params: Params, grads: Params) -> None:
        if self.m is None or self.v is None:
            self.m, self.v = _zeros_like(params), _zeros_like(params)
        self.iter += 1
        b1, b2, t = self.beta1, self.beta2, self.iter
        lr_t = self.lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        for k in params:
            g = grads[k]
            self.m[k] = b1 * self.m[k] + (1 - b1) * g
            self.v[k] = b2 * self.v[k] + (1 - b2) * g * g
            params[k] -= lr_t * self.m[k] / (np.sqrt(self.v[k]) + self.eps)


# --- CS231n's functions ----------------------------------------------------------------

Config = dict[str, Any]


def sgd(w: np.ndarray, dw: np.ndarray, config: Config | None = None
        ) -> tuple[np.ndarray, Config]:
    """next_w = w - learning_rate * dw (learning_rate 1e-2)."""
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    return w - config["learning_rate"] * dw, config


def sgd_momentum(w: np.ndarray, dw: np.ndarray, config: Config | None = None
                 ) -> tuple[np.ndarray, Config]:
    """v = momentum * v - learning_rate * dw; next_w = w + v (1e-2, 0.9; v starts at zero)."""
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity")
    v = np.zeros_like(w) if v is None else v
    v = config["momentum"] * v - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def rmsprop(w: np.ndarray, dw: np.ndarray, config: Config | None = None
            ) -> tuple[np.ndarray, Config]:
    """cache = decay_rate * cache + (1 - decay_rate) * dw**2;
    next_w = w - learning_rate * dw / (sqrt(cache) + epsilon) (1e-2, 0.99, 1e-8)."""
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    d = config["decay_rate"]
    cache = d * config["cache"] + (1 - d) * dw * dw
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config


def adam(w: np.ndarray, dw: np.ndarray, config: Config | None = None
         ) -> tuple[np.ndarray, Config]:
    """CS231n's Adam: t += 1 first; m, v moving averages; bias-corrected
    mt = m / (1 - beta1**t), vt = v / (1 - beta2**t);
    next_w = w - learning_rate * mt / (sqrt(vt) + epsilon) (1e-3, 0.9, 0.999, 1e-8)."""
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    b1, b2 = config["beta1"], config["beta2"]
    t = config["t"] + 1
    m = b1 * config["m"] + (1 - b1) * dw
    v = b2 * config["v"] + (1 - b2) * dw * dw
    mt = m / (1 - b1**t)
    vt = v / (1 - b2**t)
    next_w = w - config["learning_rate"] * mt / (np.sqrt(vt) + config["epsilon"])
    config["m"], config["v"], config["t"] = m, v, t
    return next_w, config


BOOK_CLASSES = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad,
                "rmsprop": RMSprop, "adam": Adam}
CS231N_FUNCTIONS = {"sgd": sgd, "momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}
