# ruff: noqa  (student code, kept as students write it)
"""Wrong for CS231n: adam folds the bias corrections into the step size and adds epsilon to
the uncorrected sqrt(v) (the notes' Adam); CS231n adds it to sqrt(v / (1 - beta2**t))."""
import math

import numpy as np


def adam(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    b1, b2, eps = config["beta1"], config["beta2"], config["epsilon"]
    config["t"] += 1
    t = config["t"]
    config["m"] = b1 * config["m"] + (1 - b1) * dw
    config["v"] = b2 * config["v"] + (1 - b2) * dw ** 2
    lr_t = config["learning_rate"] * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    next_w = w - lr_t * config["m"] / (np.sqrt(config["v"]) + eps)
    return next_w, config
