"""Rounding-error bounds: the pass criterion, in one place.

A correct result computed in precision u from K terms satisfies
|y - y_true| <= gamma_K * (|x| * |w|), gamma_K = K*u / (1 - K*u)  (Higham, ch. 3).
SAFETY covers the rounding of the float64 truth itself (it is computed by the same
kind of sums, so at most doubles the error) and nothing else.
"""

from __future__ import annotations

import numpy as np

SAFETY = 2.0

UNIT_ROUNDOFF = {"f32": 2.0**-24, "f64": 2.0**-53}
# Smallest normal number: results below it (exp of a very negative number) lose all
# relative accuracy, so such outputs get this much absolute slack.
UNDERFLOW = {"f32": 2.0**-126, "f64": 2.0**-1022}


def gamma(k: int, dtype: str) -> float:
    """gamma_k = k*u / (1 - k*u) for the case's dtype ('f32' or 'f64')."""
    ku = k * UNIT_ROUNDOFF[dtype]
    if ku >= 1:
        raise ValueError(f"gamma_k undefined for k={k} at {dtype}")
    return ku / (1 - ku)


def bound(k: int, dtype: str, magnitude: np.ndarray) -> np.ndarray:
    """Elementwise bound SAFETY * gamma_k * magnitude (zero when k == 0: exact)."""
    if k == 0:
        return np.zeros(np.shape(magnitude))
    return SAFETY * gamma(k, dtype) * np.asarray(magnitude, dtype=np.float64)
