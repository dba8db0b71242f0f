"""Local response normalization across channels (nn.LocalResponseNorm semantics).

``out_c = x_c / (k + alpha/size * S_c) ** beta`` with ``S_c`` the sum of ``x**2`` over
channels ``c - size//2 .. c + (size-1)//2`` (zeros beyond the edges), as PyTorch does.
"""

from __future__ import annotations

import numpy as np

from ._validate import float_array, same_dtype, shape_is


def _window_sum(a: np.ndarray, before: int, after: int) -> np.ndarray:
    """s[:, c] = sum of a[:, c - before .. c + after] along axis 1, zeros past the edges."""
    C = a.shape[1]
    s = np.zeros_like(a)
    for off in range(-before, after + 1):
        lo, hi = max(0, -off), min(C, C - off)
        if lo < hi:
            s[:, lo:hi] += a[:, lo + off:hi + off]
    return s


class LRN:
    """AlexNet's local response normalization over the channel axis of (N, C, ...) input."""

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=1.0):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"size must be a positive int, got size={size!r}")
        self.size, self.alpha, self.beta, self.k = int(size), alpha, beta, k
        self.x = self.div = None

    def forward(self, x):
        float_array(x, "x")
        if x.ndim < 3:
            raise ValueError(f"x must be (N, C, ...) with ndim >= 3, got x.ndim={x.ndim}")
        t = x.dtype.type
        n = self.size
        S = _window_sum(x * x, n // 2, (n - 1) // 2)
        self.x = x
        self.base = t(self.k) + t(self.alpha / n) * S
        self.div = self.base ** t(self.beta)
        return x / self.div

    def backward(self, dout):
        if self.x is None:
            raise ValueError("backward called before forward (x is None)")
        float_array(dout, "dout")
        same_dtype(dout, self.x, "dout", "x")
        shape_is(dout, self.x.shape, "dout")
        t = self.x.dtype.type
        n = self.size
        # d out_c / d x_j = [c == j] / div_j - 2*alpha*beta/n * x_j * x_c / (div_c * base_c)
        g = dout * self.x / (self.div * self.base)
        back = _window_sum(g, (n - 1) // 2, n // 2)  # the channels whose window holds j
        return dout / self.div - t(2 * self.alpha * self.beta / n) * self.x * back
