"""Rounding-error bounds shared by the impl/ tests, and a check that they bite.

A correct dot-product-like result with K terms in unit roundoff u satisfies
|y - y_true| <= gamma_K * (|x| * |w|), gamma_K = K*u / (1 - K*u). Both our result and
PyTorch's float64 truth round, hence the factor 2. A bias add is one more term of the
sum: K+1 terms over |x| * |w| + |b| (u*|b| alone missed the rounding of the sum itself).
"""

from __future__ import annotations

import numpy as np
import torch


def unit_roundoff(dtype) -> float:
    return float(np.finfo(dtype).eps) / 2


def gamma(K: int, dtype) -> float:
    Ku = K * unit_roundoff(dtype)
    return Ku / (1 - Ku)


def t64(a) -> torch.Tensor:
    """Exact float64 torch copy of a numpy array (the truth is computed from it)."""
    return torch.from_numpy(np.asarray(a, dtype=np.float64).copy())


def assert_within(actual, truth, absval, K, dtype, name, bias=None):
    """Check dtype, shape and the elementwise bound; NaN must match NaN."""
    truth = np.asarray(truth, dtype=np.float64)
    assert isinstance(actual, np.ndarray), f"{name}: not an ndarray"
    assert actual.dtype == np.dtype(dtype), f"{name}: dtype {actual.dtype} != {dtype}"
    assert actual.shape == truth.shape, f"{name}: shape {actual.shape} != {truth.shape}"
    absval = np.asarray(absval, dtype=np.float64)
    if bias is not None:
        K, absval = K + 1, absval + np.abs(np.asarray(bias, dtype=np.float64))
    bound = 2 * gamma(K, dtype) * absval
    a = actual.astype(np.float64)
    with np.errstate(invalid="ignore"):
        err = np.abs(a - truth)
        ok = (err <= bound) | (a == truth) | (np.isnan(a) & np.isnan(truth))
    if not ok.all():
        bad = np.argwhere(~ok)[0]
        ratio = np.nanmax(np.where(ok, 0, err / np.maximum(bound, 1e-300)))
        raise AssertionError(
            f"{name}: {(~ok).sum()}/{ok.size} outside bound (K={K}); first at "
            f"{tuple(bad)}: got {a[tuple(bad)]!r}, truth {truth[tuple(bad)]!r}; "
            f"worst err/bound {ratio:.3g}"
        )


def assert_exact(actual, expected, name):
    """Bit-for-bit equality (NaN equals NaN), dtype and shape included."""
    expected = np.asarray(expected)
    assert actual.dtype == expected.dtype, f"{name}: dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    same = (actual == expected) | (np.isnan(actual) & np.isnan(expected))
    assert same.all(), f"{name}: {(~same).sum()} elements differ, first at {np.argwhere(~same)[0]}"
    assert (np.signbit(actual) == np.signbit(expected))[~np.isnan(actual)].all(), (
        f"{name}: sign of zero differs"
    )


def test_bound_accepts_float32_result_and_rejects_float32_arithmetic_on_float64():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((50, 300)), rng.standard_normal((300, 20))
    truth = (t64(x) @ t64(w)).numpy()
    absval = np.abs(x) @ np.abs(w)
    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    assert_within(x32 @ w32, (t64(x32) @ t64(w32)).numpy(), np.abs(x32) @ np.abs(w32), 300,
                  np.float32, "f32")
    assert_within(x @ w, truth, absval, 300, np.float64, "f64")
    try:
        assert_within((x32 @ w32).astype(np.float64), truth, absval, 300, np.float64, "cast")
    except AssertionError:
        return
    raise AssertionError("float32 arithmetic on float64 inputs passed the float64 bound")
