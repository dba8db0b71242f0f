# ruff: noqa  (student code, kept as students write it)
# cause: svm_counts_correct_loss svm_counts_correct_dx
# layers: svm
"""svm_loss counts the correct class's margin too."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def svm_loss(x, y):
    N = x.shape[0]
    correct = x[np.arange(N), y][:, None]
    margins = np.maximum(0, x - correct + 1)
    loss = margins.sum() / N
    counts = (margins > 0).astype(x.dtype)
    counts[np.arange(N), y] -= counts.sum(axis=1)
    return loss, counts / N
