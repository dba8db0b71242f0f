"""Judge an optimizer run against the truth, step by step, and name the cause of a failure.

Steps are judged in order; the first step where any value leaves its bound is the last one
judged (later values start from wrong ones). A failure is explained, where possible, by the
formula variant of reference/optim_oracle.py that the implementation's values follow.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from layercheck.cases.optim_cases import OptimCase, OptimInputs, OptimRun
from layercheck.reference.diagnosis import OPTIM_VARIANT_CODE, Diagnosis, unit_words
from layercheck.reference.expected import Expected
from layercheck.reference.optim_oracle import (
    PHASE,
    RULE_VARIANTS,
    StepTruth,
    formula_trajectory,
    truth,
)
from layercheck.reference.result import Result


@dataclass
class StepVerdict:
    """One value after one step: a parameter (`output` 'param') or a CS231n config entry."""

    case_id: str
    layer: str
    step: int
    param: str
    output: str
    status: str  # pass | fail | error | missing
    max_abs_err: float | None = None
    err_over_bound: float | None = None
    worst_index: tuple[int, ...] | None = None
    mismatched: int | None = None
    size: int | None = None
    diagnoses: tuple[Diagnosis, ...] = ()  # the findings as codes and facts

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def diagnosis(self) -> str:
        """The findings in words (reference/diagnosis.py's templates, joined by '; ')."""
        return unit_words(self.diagnoses)

    @property
    def where(self) -> str:
        """'W1 after step 2', "config['m'] of W1 after step 1"."""
        what = self.param if self.output == "param" else f"config['{self.output}'] of {self.param}"
        return f"{what} after step {self.step}"

    def result(self, case: OptimCase) -> Result:
        """As the project's `Result` record (phase 'update'; output 'W1@2' or 'W1.m@1')."""
        out = self.param if self.output == "param" else f"{self.param}.{self.output}"
        return Result(self.case_id, self.layer, PHASE, f"{out}@{self.step}", self.status,
                      max_abs_err=self.max_abs_err, err_over_bound=self.err_over_bound,
                      worst_index=self.worst_index, mismatched=self.mismatched,
                      size=self.size, diagnosis=self.diagnosis, diagnoses=self.diagnoses,
                      params=case.params())


def compare_value(actual: object, exp: Expected, dtype: str, integer: bool = False
                  ) -> tuple[bool, dict, str]:
    """(ok, metrics, why): type, shape, dtype, then every element within the bound."""
    if integer:  # CS231n's t: a number equal to the truth's
        if isinstance(actual, numbers.Real) and not isinstance(actual, bool) \
                and float(actual) == float(exp.value):
            return True, {}, ""
        return False, {}, f"is {actual!r}, expected {int(exp.value)}"
    if actual is None:
        return False, {}, "is missing (None)"
    if not isinstance(actual, np.ndarray):
        kind = type(actual)
        return False, {}, f"is a {kind.__module__}.{kind.__qualname__}, expected a numpy.ndarray"
    want = exp.value
    if actual.shape != want.shape:
        return False, {}, f"has shape {actual.shape}, expected {want.shape}"
    if actual.dtype != np.dtype(dtype):
        return False, {}, f"has dtype {actual.dtype}, expected {dtype} (the parameters' dtype)"
    a = actual.astype(np.float64)
    with np.errstate(invalid="ignore"):
        err = np.abs(a - want)
    err = np.where(np.isnan(err), np.inf, err)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(err == 0, 0.0, err / exp.bound)
    bad = ratio > 1
    m = {"size": int(a.size), "mismatched": int(bad.sum()),
         "max_abs_err": float(err.max()) if a.size else 0.0,
         "err_over_bound": float(ratio.max()) if a.size else 0.0}
    if a.size:
        m["worst_index"] = tuple(int(i) for i in np.unravel_index(int(np.argmax(ratio)),
                                                                   a.shape))
    if not bad.any():
        return True, m, ""
    if not np.isfinite(a).all():
        return False, m, f"holds {int((~np.isfinite(a)).sum())} non-finite values"
    return False, m, f"{m['mismatched']}/{m['size']} values outside the bound"


def _worst(case: OptimCase, run: OptimRun, traj: list[StepTruth], upto: int) -> float:
    """How far the run's parameters stray from `traj` over steps 1..upto, in units of its
    bounds (inf where a value has the wrong type, shape or dtype)."""
    worst = 0.0
    for i in range(upto):
        for k, exp in traj[i].params.items():
            ok, m, _ = compare_value(run.params[i].get(k), exp, case.np_dtype)
            if not m:
                return 0.0 if ok else np.inf
            worst = max(worst, m["err_over_bound"])
    return worst


def _unchanged(inputs: OptimInputs, run: OptimRun, step: int) -> bool:
    before = inputs.params if step == 1 else run.params[step - 2]
    now = run.params[step - 1]
    return all(isinstance(now.get(k), np.ndarray) and np.shape(now[k]) == np.shape(v)
               and np.array_equal(now[k], v) for k, v in before.items())


def explain(case: OptimCase, inputs: OptimInputs, run: OptimRun, step: int
            ) -> Diagnosis | None:
    """The cause of a failure first seen at `step`: a rebinding, no change at all, or the
    formula variant whose values the run follows (the closest one where several do)."""
    rebound = [k for s, k in run.rebound if s == step]
    if rebound:
        return Diagnosis("params_rebound", {"names": str(rebound)})
    if _unchanged(inputs, run, step):
        if run.returned:
            return Diagnosis("update_returned", {"type": str(run.returned[0][1])})
        return Diagnosis("update_not_applied", {"step": step})
    fits = []
    for name in RULE_VARIANTS[case.rule]:
        if name in ("torch_eps", "book_eps") and (name == "torch_eps") != (case.api == "book"):
            continue  # the curriculum's own placement
        worst = _worst(case, run, formula_trajectory(case, inputs, name), step)
        if worst <= 1:
            fits.append((worst, name))
    if fits:
        name = min(fits)[1]
        return Diagnosis(OPTIM_VARIANT_CODE[name], {"variant": name})
    if case.rule == "adam" and not np.isfinite(
            np.concatenate([np.ravel(v) for v in run.params[step - 1].values()
                            if isinstance(v, np.ndarray)] or [np.zeros(0)])).all():
        return Diagnosis("bias_correction_zero")
    return None


def judge(case: OptimCase, inputs: OptimInputs, run: OptimRun,
          expected: list[StepTruth] | None = None) -> list[StepVerdict]:
    """Verdicts for every value of every step up to and including the first failing step."""
    L, cid = case.layer, case.id
    if run.missing:
        return [StepVerdict(cid, L, 1, "*", "param", "missing",
                            diagnoses=(Diagnosis("rule_missing"),))]
    expected = truth(case, inputs) if expected is None else expected
    out: list[StepVerdict] = []
    for i, st in enumerate(expected, start=1):
        if i > len(run.params):
            why = run.error or "stopped: no array was returned to continue with"
            out.append(StepVerdict(cid, L, i, "*", "param", "error",
                                   diagnoses=(Diagnosis("unit_error", {"error": why}),)))
            return out
        failed: list[tuple[StepVerdict, Diagnosis]] = []
        for k, exp in st.params.items():
            ok, m, why = compare_value(run.params[i - 1].get(k), exp, case.np_dtype)
            v = StepVerdict(cid, L, i, k, "param", "pass" if ok else "fail", **m)
            out.append(v)
            if not ok:
                failed.append((v, Diagnosis("optim_value", {"where": v.where, "why": why})))
            for name, sexp in st.state.get(k, {}).items():
                got = run.state[i - 1][k].get(name)
                ok, m, why = compare_value(got, sexp, case.np_dtype, integer=name == "t")
                v = StepVerdict(cid, L, i, k, name, "pass" if ok else "fail", **m)
                out.append(v)
                if not ok:
                    fact = Diagnosis("optim_value", {"where": v.where, "why": why})
                    if got is None:
                        fact = Diagnosis("state_missing", {"where": v.where, "name": name})
                    failed.append((v, fact))
        if failed:
            cause = explain(case, inputs, run, i)
            for v, fact in failed:
                v.diagnoses = (fact, *((cause,) if cause is not None else ()))
            return out
    return out


def first_failure(verdicts: list[StepVerdict]) -> StepVerdict | None:
    """The first verdict that is not a pass (step order, then parameter order)."""
    return next((v for v in verdicts if not v.passed), None)
