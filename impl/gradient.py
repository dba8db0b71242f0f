"""Numerical gradient by central differences (the notes' earlier chapter)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray,
                       h: float = 1e-4) -> np.ndarray:
    """(f(x + h e_i) - f(x - h e_i)) / 2h for every element i of x, changed in place.

    The divisor is the step actually taken (x_i + h and x_i - h rounded to x's dtype).

    Each element is put back exactly after its two evaluations, so x (and any layer that
    shares it) ends unchanged. f is called with x itself, as in the notes.
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise ValueError(f"x must be a floating-point numpy.ndarray, got {type(x).__name__}"
                         + (f" of dtype {x.dtype}" if isinstance(x, np.ndarray) else ""))
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        i = it.multi_index
        saved = x[i]
        x[i] = saved + h
        up = float(x[i])  # the step actually taken, after rounding to x's dtype
        f_plus = float(f(x))
        x[i] = saved - h
        down = float(x[i])
        f_minus = float(f(x))
        x[i] = saved
        grad[i] = (f_plus - f_minus) / (up - down)
        it.iternext()
    return grad
