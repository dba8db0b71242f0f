"""Shared fixtures: the implementation under test and cached per-case results.

`pytest --impl STUDENT.py` runs the conformance suite against a student's file instead of
impl/: the file runs in a sandboxed worker process (cases.student.checker.StudentSession), with
the same test ids; cases the student's API cannot express are skipped with the reason.
"""

from __future__ import annotations

import functools

import pytest
import torch

import impl
from cases.case import Case
from cases.runner import RunFn, check, module_runner
from reference.result import Result

# The oracle's tensors are tiny: one thread is ~10x faster than two on a busy 2-core machine.
torch.set_num_threads(1)

_RUNNERS: dict[str, RunFn] = {"impl": module_runner(impl)}
_STUDENT: dict[str, object] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--impl", metavar="STUDENT.py", default=None,
                     help="run the conformance suite against a student's file (sandboxed) "
                          "instead of impl/")
    parser.addoption("--impl-timeout", type=float, default=5.0,
                     help="seconds per case for --impl (default 5)")


@functools.cache
def _results(case: Case, runner_key: str) -> dict[str, Result]:
    if runner_key == "student":
        return _STUDENT["session"].results(case)  # type: ignore[attr-defined]
    return {r.output: r for r in check(case, _RUNNERS[runner_key])}


def pytest_configure(config: pytest.Config) -> None:
    """With --impl, load the student's file once, up front: a file that cannot be loaded
    is a usage error (exit 4) with the reason, not thousands of errors."""
    path = config.getoption("--impl", default=None)
    if path is None:
        return
    from cases.student.checker import StudentSession
    from cases.student.loader import LoadError

    try:
        session = StudentSession(path, timeout=config.getoption("--impl-timeout"))
    except LoadError as e:
        raise pytest.UsageError(f"--impl {path}: {e}") from e
    _STUDENT["session"] = session
    config.add_cleanup(session.close)


@pytest.fixture(scope="session")
def runner_key() -> str:
    """Which implementation the conformance suite checks (impl/ unless --impl is given)."""
    return "student" if "session" in _STUDENT else "impl"


@pytest.fixture(scope="session")
def results(runner_key: str):
    """results(case) -> {output: Result}, computed once per case and process."""
    def get(case: Case) -> dict[str, Result]:
        if runner_key == "student":
            why = _STUDENT["session"].skip_reason(case)  # type: ignore[attr-defined]
            if why:
                pytest.skip(why)
            return _StudentResults(case, _results(case, runner_key))
        return _results(case, runner_key)
    return get


class _StudentResults(dict):
    """A student's results: a gradient of a test-mode batch norm is skipped, not a
    KeyError (students are not asked for backward after test mode)."""

    def __init__(self, case: Case, results: dict[str, Result]) -> None:
        super().__init__(results)
        self.case = case

    def __missing__(self, output: str) -> Result:
        from cases.student import curricula

        if curricula.forward_only(self.case) and output in curricula.BN_GRADS:
            pytest.skip(f"{output}: students are not asked for backward after a "
                        f"test-mode batch-norm forward")
        raise KeyError(output)
