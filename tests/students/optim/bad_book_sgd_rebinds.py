# ruff: noqa  (student code, kept as students write it)
"""Wrong: SGD puts a new array into params (params[key] = params[key] - ...) instead of updating
the array in place, so the network's layers, which hold the old arrays, never learn."""


class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for key in params.keys():
            params[key] = params[key] - self.lr * grads[key]
