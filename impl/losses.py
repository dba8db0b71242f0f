"""Multiclass SVM (hinge) loss as CS231n defines it.

``loss = 1/N * sum_i sum_{j != y_i} max(0, x_ij - x_iy_i + 1)``: nn.MultiMarginLoss
(margin 1, p = 1) times the number of classes C (PyTorch divides each sample's sum by C).
"""

from __future__ import annotations

import numpy as np

from ._validate import float_array


class SVMLoss:
    """Hinge loss layer: ``forward(x, t)`` returns the loss, ``backward(dout=1)`` dx."""

    def __init__(self):
        self.loss = None
        self.x = self.t = self.positive = None

    def forward(self, x, t):
        float_array(x, "x")
        if x.ndim != 2:
            raise ValueError(f"x must be 2-D (N, C) scores, got x.ndim={x.ndim}")
        N, C = x.shape
        t = np.asarray(t)
        if t.shape != (N,) or t.dtype.kind not in "iu":
            raise ValueError(f"t must be {N} integer labels, got t.shape={t.shape}, "
                             f"t.dtype={t.dtype}")
        if N and (t.min() < 0 or t.max() >= C):
            raise ValueError(f"t labels must be in [0, {C}), got t in [{t.min()}, {t.max()}]")
        rows = np.arange(N)
        margins = x - x[rows, t][:, None] + x.dtype.type(1)
        margins[rows, t] = 0
        self.positive = margins > 0
        self.x, self.t = x, t
        total = np.where(self.positive, margins, x.dtype.type(0)).sum()
        self.loss = np.asarray(total / x.dtype.type(max(N, 1)), dtype=x.dtype)[()]
        return self.loss

    def backward(self, dout=1):
        if self.positive is None:
            raise ValueError("backward called before forward (x is None)")
        dt = self.x.dtype.type
        N = self.x.shape[0]
        dx = self.positive.astype(self.x.dtype)
        dx[np.arange(N), self.t] = -self.positive.sum(axis=1)
        return dx * (dt(dout) / dt(max(N, 1)))
