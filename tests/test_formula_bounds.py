"""The derived bounds hold for every correct formula students use, measured in float32 against
a float64 truth (so the formula's own rounding is what is measured), and they stay far below
float32 error on float64 cases."""

from __future__ import annotations

import numpy as np
import pytest
from layercheck.cases.case import Case
from layercheck.cases.inputs import make_inputs
from layercheck.reference.bounds import SAFETY, UNIT_ROUNDOFF, gamma
from layercheck.reference.oracle import reference
from layercheck.reference.oracle_curricula import stat_errors

RNG = np.random.default_rng(7)


def _samples(m: int, shift: float, n: int = 400) -> np.ndarray:
    return (shift + RNG.standard_normal((n, m)) * RNG.uniform(1e-3, 1, (n, 1))).astype(
        np.float32)


@pytest.mark.parametrize("m", [2, 5, 20, 100])
@pytest.mark.parametrize("shift", [0.0, 5.0, 300.0])
def test_variance_formulas_stay_within_err_var(m: int, shift: float) -> None:
    x32 = _samples(m, shift)
    x = x32.astype(np.float64)
    _, var, _, e_var = stat_errors(x, (1,), "f32")
    mu32 = x32.mean(axis=1, keepdims=True)
    formulas = {
        "one pass": (x32 * x32).mean(axis=1, keepdims=True) - mu32 * mu32,
        "two pass": ((x32 - mu32) ** 2).mean(axis=1, keepdims=True),
        "np.var": np.var(x32, axis=1, keepdims=True),
        "np.std squared": np.std(x32, axis=1, keepdims=True) ** 2,
    }
    for name, v in formulas.items():
        err = np.abs(v.astype(np.float64) - var)
        assert (err <= e_var).all(), f"{name}: {(err / e_var).max():.3g} x err_var"


def test_one_pass_variance_error_is_the_cancellation_the_bound_names() -> None:
    """Shifted far from zero, the one-pass error is beyond the two-pass bound alone (so
    the one-pass term is needed), and within the derived one."""
    x32 = _samples(20, 300.0)
    x = x32.astype(np.float64)
    m = 20
    mu, var, e_mu, e_var = stat_errors(x, (1,), "f32")
    two_pass_only = gamma(m + 3, "f32") * (var + np.abs(mu) * np.sqrt(var)) + e_mu**2
    mu32 = x32.mean(axis=1, keepdims=True)
    err = np.abs(((x32 * x32).mean(axis=1, keepdims=True) - mu32 * mu32) - var)
    assert (err > two_pass_only).any()
    assert (err <= e_var).all()


def test_tanh_sigmoid_within_the_sigmoid_bound_and_float32_is_not() -> None:
    x = np.linspace(-80, 80, 4001)
    y = 1 / (1 + np.exp(-x))
    for d, dt in (("f32", np.float32), ("f64", np.float64)):
        bound = SAFETY * (gamma(4, d) * y + gamma(2, d))
        t = (0.5 * (1 + np.tanh(0.5 * x.astype(dt)))).astype(np.float64)
        assert (np.abs(t - y) <= bound).all(), d
    f64_bound = SAFETY * (gamma(4, "f64") * y + gamma(2, "f64"))
    in_f32 = (1 / (1 + np.exp(-x.astype(np.float32)))).astype(np.float64)
    assert (np.abs(in_f32 - y) > f64_bound).any(), "float32 arithmetic passed a float64 bound"
    assert UNIT_ROUNDOFF["f32"] > 1e8 * UNIT_ROUNDOFF["f64"]


@pytest.mark.parametrize("kind", ["normal", "onehot"])
@pytest.mark.parametrize("N,C", [(2, 10), (5, 3), (16, 100)])
def test_unshifted_softmax_within_the_softmax_bound_where_exp_does_not_overflow(
        kind: str, N: int, C: int) -> None:
    """softmax(x) = exp(x) / sum exp(x), no max subtracted: exp's argument is exact, so p
    keeps the relative error gamma_C the log-sum-exp analysis gives, and the loss's log S is
    max + log sum exp(x - max): the |max| and |log S| terms of the bound cover it."""
    case = Case("softmax", N=N, C=C, dtype="f32", kind=kind)
    a = make_inputs(case)
    truth = reference(case, a)
    x = a["x"]
    labels = a["t"].argmax(axis=1) if a["t"].ndim == 2 else a["t"]
    e = np.exp(x)
    p = e / e.sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(N), labels]).mean()
    dx = p.copy()
    dx[np.arange(N), labels] -= 1
    dx = dx * (np.float32(a["dout"]) / N)
    for name, got in (("loss", loss), ("dx", dx)):
        err = np.abs(np.float64(got) - truth[name].value)
        assert (err <= truth[name].bound).all(), f"{name}: {(err / truth[name].bound).max()}"
