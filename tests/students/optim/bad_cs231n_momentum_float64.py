# ruff: noqa  (student code, kept as students write it)
"""Wrong: sgd_momentum starts the velocity with np.zeros(w.shape) (float64), so float32
weights come back as float64."""
import numpy as np


def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros(w.shape))
    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    config["velocity"] = v
    return next_w, config
