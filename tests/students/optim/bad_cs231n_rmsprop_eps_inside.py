# ruff: noqa  (student code, kept as students write it)
"""Wrong: rmsprop adds epsilon inside the square root (sqrt(cache + eps))."""
import numpy as np


def rmsprop(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    dr = config["decay_rate"]
    config["cache"] = dr * config["cache"] + (1 - dr) * dw ** 2
    next_w = w - config["learning_rate"] * dw / np.sqrt(config["cache"] + config["epsilon"])
    return next_w, config
