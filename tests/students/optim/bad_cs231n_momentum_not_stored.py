# ruff: noqa  (student code, kept as students write it)
"""Wrong: sgd_momentum never stores the velocity in config, so every step starts from v = 0."""
import numpy as np


def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    return next_w, config
