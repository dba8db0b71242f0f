# ruff: noqa  (student code, kept as students write it)
"""Wrong: adam increments t after the bias corrections, so the first step divides by
1 - beta1**0 = 0 (NaN and inf)."""
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
    t = config["t"]
    m = b1 * config["m"] + (1 - b1) * dw
    v = b2 * config["v"] + (1 - b2) * dw ** 2
    mt = m / (1 - b1 ** t)
    vt = v / (1 - b2 ** t)
    next_w = w - config["learning_rate"] * mt / (np.sqrt(vt) + eps)
    config["m"], config["v"], config["t"] = m, v, t + 1
    return next_w, config
