"""impl/'s own networks and optimizers, judged as a student's are: for `layercheck report`
and, without `--impl`, the conformance suite (kept apart from the grading engine, which
never imports impl/)."""

from __future__ import annotations

import time

from layercheck import impl
from layercheck.cases import net_cases, optim_cases, registry
from layercheck.cases.optim_cases import OptimCase
from layercheck.cases.sandbox.handle import Worker
from layercheck.cases.submission.survey import Submission
from layercheck.reference.result import Result
from layercheck.reports.grading.units import (
    UnitCase,
    api_of,
    arrays_of,
    case_time_limit,
    graded_units,
    inputs_of,
    results,
    unit_cases,
)


def impl_results(names: tuple[str, ...] | list[str] | None, dtypes: tuple[str, ...],
                 seconds: dict[str, float] | None = None) -> list[Result]:
    """impl/'s optimizers (both curricula's forms) and networks (its SimpleConvNet) judged
    as a student's are, in this process (impl/ is ours): every unit impl/ defines, or those
    among `names`. `seconds` gets each case's wall time by id, as the layers' do."""
    wanted = registry.names(None)[len(registry.names()):] if names is None else names
    out: list[Result] = []
    for name in graded_units(tuple(wanted)):
        for api in registry.unit(name).apis():
            if not all(hasattr(impl, n) for n in registry.unit(name).called_names(api)):
                continue  # impl/ has no such network
            for case in unit_cases(name, api, dtypes):
                t0 = time.perf_counter()
                inputs = inputs_of(case)
                run = (optim_cases.run(impl, case, inputs) if isinstance(case, OptimCase)
                       else net_cases.run(impl, case, inputs))  # type: ignore[arg-type]
                out += results(case, inputs, run)
                if seconds is not None:
                    seconds[case.id] = time.perf_counter() - t0
    return out



def suite_results(case: UnitCase, worker: Worker | None = None,
                  sub: Submission | None = None) -> list[Result] | str:
    """The case's Result rows for the implementation under test: a student's (its sandboxed
    `worker` and `sub`) or, without one, impl/; a text is why the case is skipped."""
    api = api_of(case)
    called = registry.unit(case.layer).called_names(api)
    if sub is not None and sub.api != api:
        return f"the {sub.api} API has no {case.api} {case.layer}"
    has = worker.has if worker is not None else {n for n in called if hasattr(impl, n)}
    if not any(n in has for n in called):
        return f"{called[0]} is not defined"
    inputs = inputs_of(case)
    if worker is None:
        run = (optim_cases.run(impl, case, inputs) if isinstance(case, OptimCase)
               else net_cases.run(impl, case, inputs))  # type: ignore[arg-type]
    else:
        run = worker.run_unit(case, arrays_of(case, inputs),
                              timeout=case_time_limit(case, worker.timeout, float("inf")))
    return results(case, inputs, run, None if sub is None else sub.root)
