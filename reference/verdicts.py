"""Check one case: seeded inputs, the implementation's run, the reference, the verdicts."""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType

import numpy as np
from layercheck.cases import curricula, registry
from layercheck.cases.adapters import Run, run_class
from layercheck.cases.case import CURRICULA_LAYERS, DROPOUT_LAYERS, Case
from layercheck.cases.inputs import make_inputs
from layercheck.reference import dropout_judge
from layercheck.reference.compare import compare
from layercheck.reference.diagnose_curricula import keep_diagnosis
from layercheck.reference.diagnosis import Diagnosis
from layercheck.reference.expected import Truth
from layercheck.reference.result import Result

RunFn = Callable[[Case, dict], Run]


def module_runner(mod: ModuleType) -> RunFn:
    """Run cases in this process through a trusted module's class API (e.g. impl); batch
    norm's test-mode cases run backward too (judged against PyTorch's eval mode)."""
    def run(case: Case, arrays: dict) -> Run:
        if case.layer in CURRICULA_LAYERS:
            return curricula.run_class(mod, case, arrays, eval_backward=True)
        return run_class(mod, case, arrays)
    return run


def truth_for(case: Case) -> tuple[dict, Truth | None, str | None]:
    """(inputs, truth, None), or (inputs, None, PyTorch's reason) for a rejected case."""
    from layercheck.reference.oracle import (  # torch, only when a truth is computed
        Rejected,
        reference,
    )

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
    out = "loss" if case.layer in registry.losses() else "out"
    res = Result(case.id, case.layer, "forward", out, "fail", params=case.params())
    if run.missing:
        res.status = "missing"
        return res.diagnose([Diagnosis("missing")])
    if run.error_type == "ValueError" and run.error_phase == "forward":
        res.status = "pass"
        return res.diagnose([Diagnosis("rejected_ok", {"error": run.error})])
    if run.error:
        return res.diagnose([Diagnosis("rejected_by_torch", {"rejected": rejected,
                                                             "error": run.error})])
    return res.diagnose([Diagnosis("rejection_missing", {"rejected": rejected})])


def _state_dtype(case: Case, name: str, value: object) -> object:
    """Running statistics kept in float64 for a float32 case, as the notes' zeros(D) start
    them, are judged after rounding to float32 (state, not an output; the bound allows it)."""
    if (name.startswith("running_") and case.dtype == "f32" and type(value) is np.ndarray
            and value.dtype == np.float64):
        return value.astype(np.float32)
    return value


def _keep(case: Case, exp, arrays: dict, run: Run) -> Result:
    """The keep-rate verdict: a binomial test of the kept count (reference/dropout_judge).
    A training run's masks (out and curricula.AGAINS, forwards on the same input) are
    judged together (dropout_judge.judge_masks); where the further forwards are missing,
    the mask cannot be told random and the verdict fails."""
    p_value, got = float(exp.bound), float(exp.value)
    if case.train and dropout_judge.inferred_mask(run.outputs.get("out"),
                                                  arrays["x"]) is not None:
        if any(name not in run.outputs for name in curricula.AGAINS):
            why: str | None = dropout_judge.no_repeat_words(run.error)
        else:
            p_value, got, why = dropout_judge.judge_masks(
                case, arrays["x"], run.outputs["out"],
                [run.outputs[name] for name in curricula.AGAINS])
        if why is not None:
            return Result(case.id, case.layer, "forward", "keep", "fail",
                          err_over_bound=math.inf, mismatched=1, size=1,
                          params=case.params(),
                          diagnoses=(Diagnosis("keep_unjudged", {"words": why}),))
    ratio = dropout_judge.keep_ratio(p_value)
    want = dropout_judge.keep_probability(case)
    res = Result(case.id, case.layer, "forward", "keep", "pass" if ratio <= 1 else "fail",
                 max_abs_err=abs(got - want), max_rel_err=abs(got - want) / want,
                 err_over_bound=ratio, mismatched=int(ratio > 1), size=1,
                 params=case.params())
    if ratio > 1:
        res.diagnose([keep_diagnosis(case, got, p_value)])
    return res


def verdicts(case: Case, arrays: dict, truth: Truth | None, rejected: str | None,
             run: Run) -> list[Result]:
    """Judge a `Run` against the truth: one `Result` per expected output."""
    if truth is None:
        return [_rejection(case, rejected or "", run)]
    if case.layer in DROPOUT_LAYERS and case.train:  # the truth follows the drawn mask
        truth = dropout_judge.truth(case, arrays, run.outputs)
    results = []
    for name, exp in truth.items():
        res = Result(case.id, case.layer, exp.phase, name, "error", params=case.params())
        if run.missing:
            res.status = "missing"
            res.diagnose([Diagnosis("missing")])
        elif name == "keep" and "out" in run.outputs:
            res = _keep(case, exp, arrays, run)
        elif name in run.outputs:
            res = compare(case, name, _state_dtype(case, name, run.outputs[name]), exp, arrays)
        elif run.error:
            where = "forward" if run.error_phase == "forward" else "backward"
            res.diagnose([Diagnosis("raised", {"phase": where, "error": run.error})])
        else:
            res.status = "fail"
            res.diagnose([Diagnosis("not_computed")])
        if run.modified and res.status != "missing":
            res.status = "fail" if res.status == "pass" else res.status
            res.add(Diagnosis("modified_in_place", {"names": list(run.modified)}), first=True)
        results.append(res)
    return results
