"""Dropout as the two curricula define it.

`Dropout` is the notes' layer: not inverted, ``dropout_ratio`` is the probability of
dropping, training keeps ``x`` where kept and test mode outputs ``x * (1 - ratio)``.
`InvertedDropout` is CS231n's (and F.dropout's): ``p`` is the probability of keeping,
training outputs ``x * (mask / p)`` and test mode outputs ``x`` unchanged.
"""

from __future__ import annotations

import numpy as np

from ._validate import float_array, same_dtype, shape_is


def _probability(v, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) \
            or not 0 <= v < 1 + (name == "p"):
        raise ValueError(f"{name} must be a probability, got {name}={v!r}")
    return float(v)


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


class Dropout:
    """The notes' dropout: ``forward(x, train_flg)``, not inverted."""

    def __init__(self, dropout_ratio=0.5, rng=None):
        self.dropout_ratio = _probability(dropout_ratio, "dropout_ratio")
        self.rng = _rng(rng)
        self.mask = None
        self.scale = None

    def forward(self, x, train_flg=True):
        float_array(x, "x")
        if train_flg:
            self.mask = self.rng.random(x.shape) > self.dropout_ratio
            self.scale = None
            return x * self.mask
        self.mask = None
        self.scale = x.dtype.type(1.0 - self.dropout_ratio)
        return x * self.scale

    def backward(self, dout):
        float_array(dout, "dout")
        if self.scale is not None:
            return dout * self.scale
        if self.mask is None:
            raise ValueError("backward called before forward (mask is None)")
        shape_is(dout, self.mask.shape, "dout")
        return dout * self.mask


class InvertedDropout:
    """CS231n's dropout: ``p`` keeps, kept values are scaled by 1/p; ``seed`` fixes the mask."""

    def __init__(self, p=0.5, seed=None, rng=None):
        self.p = _probability(p, "p")
        if self.p == 0:
            raise ValueError("p (the keep probability) must be > 0, got p=0")
        self.seed = seed
        self.rng = _rng(rng)
        self.mask = None

    def forward(self, x, train_flg=True):
        float_array(x, "x")
        if not train_flg:
            self.mask = np.ones((), dtype=x.dtype)
            return x.copy()
        rng = self.rng if self.seed is None else np.random.default_rng(self.seed)
        self.mask = (rng.random(x.shape) < self.p) * x.dtype.type(1 / self.p)
        return x * self.mask

    def backward(self, dout):
        if self.mask is None:
            raise ValueError("backward called before forward (mask is None)")
        float_array(dout, "dout")
        same_dtype(dout, self.mask, "dout", "x")
        if self.mask.ndim:
            shape_is(dout, self.mask.shape, "dout")
        return dout * self.mask
