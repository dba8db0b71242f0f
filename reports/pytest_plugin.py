"""The pytest plugin (a `pytest11` entry point): `--impl PATH` and the conformance fixtures.

`pytest --impl STUDENT.py`, from any folder, runs the packaged conformance suite
(layercheck.reports.conformance) against the student's file in a sandboxed worker, with the
suite's ids; cases the student's API cannot express are skipped with the reason. Without
--impl the suite checks impl/.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import Any

import pytest
from layercheck import impl
from layercheck.cases import curricula
from layercheck.cases.case import Case
from layercheck.cases.submission.survey import LoadError
from layercheck.reference.result import Result
from layercheck.reference.verdicts import RunFn, check, module_runner
from layercheck.reports import unit_runs
from layercheck.reports.grading import units
from layercheck.reports.grading.checker import StudentSession
from layercheck.reports.grading.shrink import reproducer as student_reproducer

SUITE = "layercheck.reports.conformance"
_STUDENT: dict[str, StudentSession] = {}
_IMPL: RunFn = module_runner(impl)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("layercheck")
    group.addoption("--impl", metavar="STUDENT.py", default=None,
                    help="run layercheck's conformance suite against a student's file "
                         "(sandboxed) instead of layercheck's own impl/")
    group.addoption("--impl-timeout", type=float, default=5.0,
                    help="seconds per case for --impl (default 5)")


def _suite_path() -> Path:
    return Path(importlib.util.find_spec(SUITE).origin).resolve()


def pytest_configure(config: pytest.Config) -> None:
    """With --impl, load the student's file once, up front (a file that cannot be loaded is
    a usage error with the reason, not thousands of errors), and run the packaged suite
    unless paths were given."""
    path = config.getoption("--impl", default=None)
    if path is None:
        return
    target = Path(config.invocation_params.dir, path).resolve()
    try:
        session = StudentSession(target, timeout=config.getoption("--impl-timeout"))
    except LoadError as e:
        raise pytest.UsageError(f"--impl {path}: {e}") from e
    _STUDENT["session"] = session
    config.add_cleanup(session.close)
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = [str(_suite_path())]


def pytest_pycollect_makemodule(module_path: Path, parent: Any) -> pytest.Module | None:
    """The packaged suite is imported by its package name (never by file path, which would
    give the same file a second module name)."""
    if module_path.resolve() == _suite_path():
        return _Suite.from_parent(parent, path=module_path)
    return None


class _Suite(pytest.Module):
    def _getobj(self) -> Any:
        return importlib.import_module(SUITE)


@functools.cache
def _student_results(case: Case) -> dict[str, Result]:
    return _STUDENT["session"].results(case)


@functools.cache
def _impl_results(case: Case) -> dict[str, Result]:
    return {r.output: r for r in check(case, _IMPL)}


class Results:
    """results(case) -> {output: Result}, computed once per case and process; and a
    reproducer that runs the implementation under test."""

    def __call__(self, case: Case) -> dict[str, Result]:
        session = _STUDENT.get("session")
        if session is None:
            return _impl_results(case)
        why = session.skip_reason(case)
        if why:
            pytest.skip(why)
        return _StudentResults(case, _student_results(case))

    def unit(self, case: units.UnitCase) -> list[Result]:
        """A network's or optimizer's Result rows (layercheck.reports.grading.units), the
        case skipped where the implementation under test has no such unit."""
        session = _STUDENT.get("session")
        found = (unit_runs.suite_results(case) if session is None else
                 unit_runs.suite_results(case, session.checker.worker, session.sub))
        if isinstance(found, str):
            pytest.skip(found)
        return found

    def reproducer(self, case: Case, output: str) -> str:
        """Lines that recompute the case with the implementation under test."""
        session = _STUDENT.get("session")
        if session is not None:
            return student_reproducer(case, session.sub, output)
        return ("from layercheck.cases.case import Case; "
                "from layercheck.reference.verdicts import check, module_runner; "
                "from layercheck import impl\n"
                f"for r in check({case!r}, module_runner(impl)): print(r.message())")


@pytest.fixture(scope="session")
def results() -> Results:
    """The implementation under test: a student's file with --impl, else impl/."""
    return Results()


class _StudentResults(dict):
    """A student's results: a gradient of a test-mode batch norm is skipped, not a
    KeyError (students are not asked for backward after test mode)."""

    def __init__(self, case: Case, results: dict[str, Result]) -> None:
        super().__init__(results)
        self.case = case

    def __missing__(self, output: str) -> Result:
        if curricula.forward_only(self.case) and output in curricula.BN_GRADS:
            pytest.skip(f"{output}: students are not asked for backward after a "
                        f"test-mode batch-norm forward")
        raise KeyError(output)
