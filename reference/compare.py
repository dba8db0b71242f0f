"""Compare one output of an implementation with the float64 truth, within the bound."""

from __future__ import annotations

import numbers

import numpy as np
from layercheck.cases.case import Case
from layercheck.reference.diagnose import findings, shape_hint
from layercheck.reference.diagnosis import Diagnosis
from layercheck.reference.expected import Expected
from layercheck.reference.result import Result


def _as_array(actual: object, output: str) -> tuple[np.ndarray | None, Diagnosis | None]:
    """The value as an exact ndarray, or None with the reason it is not acceptable."""
    if type(actual) is np.ndarray:
        return actual, None
    if output == "loss" and isinstance(actual, numbers.Real | np.generic):
        return np.asarray(actual), None
    if actual is None:
        return None, Diagnosis("returned_none")
    kind = type(actual)
    return None, Diagnosis("wrong_type", {"type": f"{kind.__module__}.{kind.__qualname__}"})


def compare(case: Case, output: str, actual: object, exp: Expected,
            inputs: dict | None = None) -> Result:
    """One `Result`: type, shape, dtype and finiteness first, then values against the bound."""
    res = Result(case.id, case.layer, exp.phase, output, "fail", params=case.params())
    a, why = _as_array(actual, output)
    if a is None:
        return res.diagnose([why] if why is not None else [])
    want = exp.value
    if a.shape != want.shape and not (output == "loss" and a.size == 1):
        return res.diagnose([Diagnosis("shape", {"expected": tuple(want.shape),
                                                 "got": tuple(a.shape),
                                                 "hint": shape_hint(case, output)})])
    a = a.reshape(want.shape)
    if a.dtype != np.dtype(case.np_dtype) and not (output == "loss" and a.dtype.kind == "f"
                                                   and type(actual) is float):
        return res.diagnose([Diagnosis("dtype", {"dtype": str(case.np_dtype),
                                                 "got": str(a.dtype)})])
    if a.dtype.kind != "f":
        return res.diagnose([Diagnosis("dtype_kind", {"got": str(a.dtype)})])
    a64 = a.astype(np.float64)
    nan_ok = np.isnan(a64) & np.isnan(want)
    same_inf = np.isinf(want) & (a64 == want)
    with np.errstate(invalid="ignore"):
        err = np.where(nan_ok | same_inf, 0.0, np.abs(a64 - want))
    err = np.where(np.isnan(err), np.inf, err)
    b = exp.bound
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(err == 0, 0.0, err / b)
        rel = np.where(err == 0, 0.0, err / np.abs(want))
    bad = ratio > 1
    res.size = int(a.size)
    res.mismatched = int(bad.sum())
    res.max_abs_err = float(err.max()) if a.size else 0.0
    res.max_rel_err = float(np.nan_to_num(rel, nan=np.inf).max()) if a.size else 0.0
    res.err_over_bound = float(ratio.max()) if a.size else 0.0
    if a.size:
        worst = np.unravel_index(int(np.argmax(ratio)), a.shape)
        res.worst_index = tuple(int(i) for i in worst)
    if res.mismatched == 0:
        res.status = "pass"
        return res
    return res.diagnose(findings(case, output, a64, exp, bad, inputs))
