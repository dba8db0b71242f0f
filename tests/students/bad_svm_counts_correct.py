# ruff: noqa  (student code, kept as students write it)
"""Mutant: svm_loss counts the correct class's margin too."""

import numpy as np


def svm_loss(x, y):
    N = x.shape[0]
    correct = x[np.arange(N), y][:, None]
    margins = np.maximum(0, x - correct + 1)
    loss = margins.sum() / N
    counts = (margins > 0).astype(x.dtype)
    counts[np.arange(N), y] -= counts.sum(axis=1)
    return loss, counts / N
