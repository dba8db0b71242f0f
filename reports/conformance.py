"""Conformance: quick and pairwise grid cases, forward and each gradient, against PyTorch.

The suite ships in the package: `pytest --impl STUDENT.py` (the pytest plugin) runs it on a
student's file from any folder, with these ids; the repository's tests run it on impl/.
Select with -k: ``pytest -k "conv and s2 and f32"``, ``pytest -k grad_dW``.
"""

from __future__ import annotations

import pytest
from layercheck.cases.case import Case
from layercheck.cases.grids import grid
from layercheck.cases.inputs import outputs, rejection
from layercheck.reports.grading.units import conformance_cases

CASES = list({c.id: c for c in grid("quick") + grid("pairwise")}.values())
VALID = [c for c in CASES if rejection(c) is None]
INVALID = [c for c in CASES if rejection(c) is not None]


def _params(cases: list[Case], output: str | None = None) -> list:
    return [pytest.param(c, id=c.id) for c in cases if output is None or output in outputs(c)]


def _assert_passes(results, case: Case, output: str) -> None:
    res = results(case)[output]
    assert res.passed, f"{res.message()}\nReproduce:\n{results.reproducer(case, output)}"


@pytest.mark.parametrize("case", _params(VALID))
def test_forward(results, case: Case) -> None:
    _assert_passes(results, case, outputs(case)[0])


@pytest.mark.parametrize("case", _params(VALID, "dx"))
def test_grad_dx(results, case: Case) -> None:
    _assert_passes(results, case, "dx")


@pytest.mark.parametrize("case", _params(VALID, "dW"))
def test_grad_dW(results, case: Case) -> None:
    _assert_passes(results, case, "dW")


@pytest.mark.parametrize("case", _params(VALID, "db"))
def test_grad_db(results, case: Case) -> None:
    _assert_passes(results, case, "db")


@pytest.mark.parametrize("case", _params(INVALID))
def test_rejects_like_pytorch(results, case: Case) -> None:
    _assert_passes(results, case, outputs(case)[0])
    param = rejection(case).param
    res = results(case)[outputs(case)[0]]
    raised = " ".join(str(d.facts.get("error", "")) for d in res.diagnoses
                      if d.code == "rejected_ok")
    assert param in raised, (
        f"{case.id}: the ValueError should name the parameter {param!r}: {res.diagnosis}")


@pytest.mark.parametrize("case", _params(VALID, "dgamma"))
def test_grad_dgamma(results, case: Case) -> None:
    _assert_passes(results, case, "dgamma")


@pytest.mark.parametrize("case", _params(VALID, "dbeta"))
def test_grad_dbeta(results, case: Case) -> None:
    _assert_passes(results, case, "dbeta")


@pytest.mark.parametrize("case", _params(VALID, "running_mean"))
def test_running_stats(results, case: Case) -> None:
    _assert_passes(results, case, "running_mean")
    _assert_passes(results, case, "running_var")


@pytest.mark.parametrize("case", _params(VALID, "keep"))
def test_dropout_keep_rate(results, case: Case) -> None:
    _assert_passes(results, case, "keep")


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in conformance_cases()])
def test_network_or_optimizer(results, case) -> None:
    """Every value of a network (scores, loss, each gradient) or an optimizer (each step)."""
    bad = [r for r in results.unit(case) if not r.passed]
    assert not bad, "\n".join(r.message() for r in bad[:3])
