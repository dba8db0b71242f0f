"""Check one case: seeded inputs, the implementation's run, the reference, the verdicts."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from cases.adapters import Run, run_class
from cases.case import Case
from cases.inputs import make_inputs
from reference.compare import compare
from reference.expected import Truth
from reference.result import Result

RunFn = Callable[[Case, dict], Run]


def module_runner(mod: ModuleType) -> RunFn:
    """Run cases in this process through a trusted module's class API (e.g. impl)."""
    return lambda case, arrays: run_class(mod, case, arrays)


def truth_for(case: Case) -> tuple[dict, Truth | None, str | None]:
    """(inputs, truth, None), or (inputs, None, PyTorch's reason) for a rejected case."""
    from reference.oracle import Rejected, reference  # torch, only when a truth is computed

    arrays = make_inputs(case)
    try:
        return arrays, reference(case, arrays), None
    except Rejected as e:
        return arrays, None, str(e)


def check(case: Case, run_fn: RunFn) -> list[Result]:
    """Forward then backward on the same seeded inputs; one `Result` per output."""
    arrays, truth, rejected = truth_for(case)
    return verdicts(case, arrays, truth, rejected, run_fn(case, arrays))


def _rejection(case: Case, rejected: str, run: Run) -> Result:
    out = "loss" if case.layer == "softmax" else "out"
    res = Result(case.id, case.layer, "forward", out, "fail", params=case.params())
    if run.missing:
        res.status, res.diagnosis = "missing", "layer not defined"
    elif run.error_type == "ValueError" and run.error_phase == "forward":
        res.status, res.diagnosis = "pass", f"rejected as PyTorch does ({run.error})"
    elif run.error:
        res.diagnosis = (f"PyTorch rejects this configuration ({rejected}); expected a "
                         f"ValueError naming the parameter, got {run.error}")
    else:
        res.diagnosis = (f"PyTorch rejects this configuration ({rejected}), but the "
                         f"implementation returned a result: raise ValueError naming the "
                         f"parameter")
    return res


def verdicts(case: Case, arrays: dict, truth: Truth | None, rejected: str | None,
             run: Run) -> list[Result]:
    """Judge a `Run` against the truth: one `Result` per expected output."""
    if truth is None:
        return [_rejection(case, rejected or "", run)]
    results = []
    for name, exp in truth.items():
        res = Result(case.id, case.layer, exp.phase, name, "error", params=case.params())
        if run.missing:
            res.status, res.diagnosis = "missing", "layer not defined"
        elif name in run.outputs:
            res = compare(case, name, run.outputs[name], exp, arrays)
        elif run.error:
            where = "forward" if run.error_phase == "forward" else "backward"
            res.diagnosis = f"{where} raised {run.error}"
        else:
            res.status, res.diagnosis = "fail", "not computed"
        if run.modified and res.status != "missing":
            res.status = "fail" if res.status == "pass" else res.status
            res.diagnosis = (f"input modified in place: {', '.join(run.modified)}. "
                             + res.diagnosis).strip()
        results.append(res)
    return results
