# ruff: noqa  (student code, kept as students write it)
"""Wrong: SGD returns updated copies and leaves params unchanged."""


class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        return {key: params[key] - self.lr * grads[key] for key in params}
