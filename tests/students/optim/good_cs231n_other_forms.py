# ruff: noqa  (student code, kept as students write it)
"""Correct: CS231n's functions in other equivalent forms (the velocity and the weights updated
in place, the moving averages as m += (1 - beta1) * (dw - m), Adam's denominator as
sqrt(v) / sqrt(1 - beta2**t) + eps)."""
import math

import numpy as np


def sgd(w, dw, config=None):
    config = config if config is not None else {}
    lr = config.setdefault("learning_rate", 1e-2)
    next_w = w - lr * dw
    return next_w, config


def sgd_momentum(w, dw, config=None):
    config = config if config is not None else {}
    lr = config.setdefault("learning_rate", 1e-2)
    mu = config.setdefault("momentum", 0.9)
    v = config.setdefault("velocity", np.zeros_like(w))
    v *= mu
    v -= lr * dw
    w += v
    return w, config


def rmsprop(w, dw, config=None):
    config = config if config is not None else {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    cache = config.setdefault("cache", np.zeros_like(w))
    cache *= config["decay_rate"]
    cache += (1 - config["decay_rate"]) * dw * dw
    w -= config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
    return w, config


def adam(w, dw, config=None):
    config = config if config is not None else {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    m = config.setdefault("m", np.zeros_like(w))
    v = config.setdefault("v", np.zeros_like(w))
    t = config.setdefault("t", 0) + 1
    config["t"] = t
    m += (1 - config["beta1"]) * (dw - m)
    v += (1 - config["beta2"]) * (dw * dw - v)
    step = config["learning_rate"] / (1 - config["beta1"] ** t)
    denom = np.sqrt(v) / math.sqrt(1 - config["beta2"] ** t) + config["epsilon"]
    return w - step * m / denom, config
