# ruff: noqa  (student code, kept as students write it)
"""Wrong: sgd computes next_w but returns the old w."""


def sgd(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    next_w = w - config["learning_rate"] * dw
    return w, config
