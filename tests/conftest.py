"""Shared fixtures: the implementation under test and cached per-case results."""

from __future__ import annotations

import functools

import pytest

import impl
from cases.case import Case
from cases.runner import RunFn, check, module_runner
from reference.result import Result


@functools.cache
def _results(case: Case, runner_key: str) -> dict[str, Result]:
    return {r.output: r for r in check(case, _RUNNERS[runner_key])}


_RUNNERS: dict[str, RunFn] = {"impl": module_runner(impl)}


@pytest.fixture(scope="session")
def runner_key() -> str:
    """Which implementation the conformance suite checks (impl/ unless told otherwise)."""
    return "impl"


@pytest.fixture(scope="session")
def results(runner_key: str):
    """results(case) -> {output: Result}, computed once per case and process."""
    return lambda case: _results(case, runner_key)
