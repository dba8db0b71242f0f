"""What the oracle hands the comparison: float64 values and bounds per output (no torch here,
so cached truths can be read without importing PyTorch)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Expected:
    """Truth for one output: float64 values, elementwise error bound, and phase."""

    phase: str
    value: np.ndarray
    bound: np.ndarray


Truth = dict[str, Expected]
