# ruff: noqa  (student code, kept as students write it)
"""Wrong: adam reads m, v and t from fresh zeros instead of the config, so every step is a
first step (the config is written but never read back)."""
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
    t = 1
    m = (1 - b1) * dw
    v = (1 - b2) * dw ** 2
    mt = m / (1 - b1 ** t)
    vt = v / (1 - b2 ** t)
    next_w = w - config["learning_rate"] * mt / (np.sqrt(vt) + eps)
    config["m"], config["v"], config["t"] = m, v, t
    return next_w, config
