"""Diagnoses (as data) for the curricula's other layers.

Each diagnosis names a known mistake only where the student's values equal that mistake's
result up to rounding (the same test reference/diagnose.py uses), so it holds across the
elements or stays silent. Where the curricula differ from PyTorch on purpose (biased
running variance, momentum 0.9, the notes' eps 10e-7), the words say which definition is
checked. numpy only.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from layercheck.cases import registry
from layercheck.cases.case import DROPOUT_LAYERS, NORM_LAYERS, Case
from layercheck.reference.bounds import UNIT_ROUNDOFF
from layercheck.reference.diagnosis import Diagnosis
from layercheck.reference.dropout_judge import FALSE_ALARM, keep_probability, scale

if TYPE_CHECKING:
    from layercheck.reference.expected import Expected

MOMENTUM = 0.9


def keep_diagnosis(case: Case, rate: float, p_value: float) -> Diagnosis:
    """Why the kept share fails the binomial test, with the mix-up named where the share is
    nearer the swapped probability (keep for drop) than the right one."""
    want = keep_probability(case)
    facts = {"rate": rate, "want": want, "p_value": p_value, "alarm": FALSE_ALARM,
             "layer": case.layer}
    if abs(rate - (1 - want)) < abs(rate - want):
        return Diagnosis("keep_rate_swapped", facts)
    return Diagnosis("keep_rate", facts)


def keep_words(case: Case, rate: float, p_value: float) -> str:
    """`keep_diagnosis` in words."""
    return keep_diagnosis(case, rate, p_value).words()


def _matches(case: Case, a: np.ndarray, cand: np.ndarray, exp: Expected) -> bool:
    """Whether `a` equals a candidate (wrong) result up to rounding."""
    if np.shape(cand) != a.shape:
        return False
    cand = np.asarray(cand, dtype=np.float64)
    tol = 8 * exp.bound + 8 * UNIT_ROUNDOFF[case.dtype] * np.abs(cand) + 1e-300
    with np.errstate(invalid="ignore"):
        return bool(np.all(np.abs(a - cand) <= tol))


# --- normalizations ------------------------------------------------------------------------


def _grouping(case: Case, X: np.ndarray, how: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """X arranged for the statistics, the right way or a known wrong one."""
    N = X.shape[0]
    if how == "per_feature":  # batch statistics of every (c, h, w) separately
        return X.reshape(N, -1), (0,)
    if how == "per_channel":  # one statistic per channel over N, H, W
        return X, (0, 2, 3)
    if how == "interleaved":  # channel c in group c % G instead of c // (C / G)
        G = case.groups
        return X.reshape(N, X.shape[1] // G, G, *X.shape[2:]), (1, 3, 4)
    if how == "across_batch":  # groups formed over the whole batch: x.reshape(G, -1)
        return X.reshape(case.groups, -1), (1,)
    if how == "per_sample_all":  # layer norm over all of (C, H, W): G = 1
        return X.reshape(N, -1), (1,)
    L = case.layer
    if L == "batchnorm":
        return X.reshape(N, -1), (0,)
    if L == "spatialbn":
        return X, (0, 2, 3)
    if L == "layernorm":
        return X, (1,)
    return X.reshape(N, case.groups, -1), (2,)


def _norm_out(case: Case, inputs: dict, ddof: int = 0, eps_outside: bool = False,
              how: str = "right", batch: bool = False) -> dict[str, np.ndarray] | None:
    """out, dx and dgamma of the normalization computed with one known mistake (dx in the
    closed form on the mistaken xn and std: what the usual backward forms compute);
    `batch`: a test-mode case normalized with the batch's statistics."""
    if batch:
        from dataclasses import replace

        case = replace(case, train=True)
    X = np.asarray(inputs["x"], dtype=np.float64)
    G = np.asarray(inputs["gamma"], dtype=np.float64)
    B = np.asarray(inputs["beta"], dtype=np.float64)
    dout = np.asarray(inputs["dout"], dtype=np.float64)
    eps = case.eps_value
    flat = case.layer == "batchnorm"
    x2 = X.reshape(X.shape[0], -1) if flat else X
    d2 = dout.reshape(x2.shape)
    shape = (1, G.size) + (1,) * (x2.ndim - 2)
    g = G.reshape(shape) * d2
    if case.layer in registry.batch_norms() and not case.train:
        mu = np.asarray(inputs["running_mean"], dtype=np.float64).reshape(shape)
        var = np.asarray(inputs["running_var"], dtype=np.float64).reshape(shape)
        sd = np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)
        xn, dx = (x2 - mu) / sd, g / sd
    else:
        try:
            xg, axes = _grouping(case, x2.reshape(X.shape) if how != "right" else x2, how)
        except ValueError:
            return None
        m = math.prod(xg.shape[i] for i in axes)
        if m - ddof <= 0:
            return None
        mu = xg.mean(axis=axes, keepdims=True)
        var = ((xg - mu) ** 2).sum(axis=axes, keepdims=True) / (m - ddof)
        sd = np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)
        xng = (xg - mu) / sd
        gg = g.reshape(xg.shape)
        dx = (gg - gg.mean(axis=axes, keepdims=True)
              - xng * (gg * xng).mean(axis=axes, keepdims=True)) / sd
        xn = xng.reshape(x2.shape)
    sum_axes = tuple(i for i in range(x2.ndim) if i != 1)
    return {"out": (G.reshape(shape) * xn + B.reshape(shape)).reshape(X.shape),
            "dx": dx.reshape(X.shape), "dgamma": (d2 * xn).sum(axis=sum_axes)}


def _norm_words(case: Case, output: str, a: np.ndarray, exp: Expected,
                inputs: dict) -> Diagnosis | None:
    """The mistake whose out, dx or dgamma the student's values equal (None for none); the
    mistake must change this case's result, else the match is no evidence."""
    def same(**mistake: object) -> bool:
        cand = _norm_out(case, inputs, **mistake)  # type: ignore[arg-type]
        return (cand is not None and _matches(case, a, cand[output], exp)
                and not _matches(case, exp.value, cand[output], exp))

    code = _norm_mistake(case, same)
    if not code:
        return None
    return Diagnosis(code, {"output": output, "follows": output != "out", "eps": case.eps_value})


def _norm_mistake(case: Case, same) -> str:
    """The cause code of the normalization mistake `same` confirms, or ''."""
    train = case.train or case.layer not in registry.batch_norms()  # no test mode
    if train and same(ddof=1):
        return "unbiased_variance"
    if same(eps_outside=True):
        return "eps_outside_sqrt"
    if case.layer == "batchnorm" and case.train and case.ndim == 4 and same(how="per_channel"):
        return "bn_per_channel"
    if case.layer == "spatialbn" and case.train and same(how="per_feature"):
        return "sbn_per_feature"
    if case.layer == "groupnorm":
        if same(how="interleaved"):
            return "gn_interleaved"
        if same(how="across_batch"):
            return "gn_across_batch"
    if case.layer in registry.batch_norms() and not case.train and same(batch=True):
        return "test_uses_batch_stats"
    return ""


def _running(case: Case, inputs: dict, which: str, ddof: int = 0,
             momentum: float = MOMENTUM) -> np.ndarray:
    """Running statistic after every batch, with a chosen variance and momentum."""
    batches = [*(list(inputs["xs"]) if inputs.get("xs") is not None else []), inputs["x"]]
    r = None
    for xb in batches:
        xg, axes = _grouping(case, np.asarray(xb, dtype=np.float64), "right")
        m = math.prod(xg.shape[i] for i in axes)
        mu = xg.mean(axis=axes).reshape(-1)
        stat = mu if which == "running_mean" else (
            ((xg - xg.mean(axis=axes, keepdims=True)) ** 2).sum(axis=axes).reshape(-1)
            / max(m - ddof, 1))
        r = np.zeros_like(stat) if r is None else r
        r = momentum * r + (1 - momentum) * stat
    return r


def _running_words(case: Case, output: str, a: np.ndarray, exp: Expected,
                   inputs: dict) -> Diagnosis | None:
    f = {"output": output}
    if not case.train:  # judged exactly: any difference is a change
        return Diagnosis("running_changed_in_test", f)
    if not np.any(a) and np.any(exp.value):
        return Diagnosis("running_not_updated", f)
    if output == "running_var" and _matches(case, a, _running(case, inputs, output, ddof=1),
                                            exp):
        return Diagnosis("running_unbiased", f)
    if _matches(case, a, _running(case, inputs, output, momentum=1 - MOMENTUM), exp):
        return Diagnosis("running_momentum_swapped", f)
    if case.steps > 1 and _matches(case, a, _running(case, {**inputs, "xs": None}, output),
                                   exp):
        return Diagnosis("running_last_only", f)
    return None


# --- dropout -------------------------------------------------------------------------------


def _dropout_words(case: Case, output: str, a: np.ndarray, exp: Expected,
                   inputs: dict) -> Diagnosis | None:
    x = np.asarray(inputs["x"], dtype=np.float64)
    if output == "out" and not case.train:
        if case.layer == "dropout" and _matches(case, a, x, exp):
            return Diagnosis("dropout_test_identity")
        if case.layer == "invdropout" and _matches(case, a, x * case.rate, exp):
            return Diagnosis("dropout_test_scaled", {"rate": case.rate})
        return None
    if not case.train:
        return None
    ref = x if output == "out" else np.asarray(inputs["dout"], dtype=np.float64)
    if output == "dx" and (exp.value != 0).any():
        kept = exp.value != 0
        if not np.array_equal(a != 0, kept):
            same = int(((a != 0) == kept).sum())
            return Diagnosis("dropout_mask_redrawn", {"differ": a.size - same, "size": a.size})
    kept = (a != 0) & (ref != 0)
    if not kept.any():
        return None
    c = float(np.median(a[kept] / ref[kept]))
    want = scale(case)
    if np.isclose(c, want, rtol=1e-5):
        return None
    facts = {"factor": c, "want": want, "rate": case.rate}
    if case.layer == "invdropout" and np.isclose(c, 1.0):
        return Diagnosis("dropout_not_rescaled", facts)
    if case.layer == "invdropout" and np.isclose(c, 1 / (1 - case.rate)):
        return Diagnosis("dropout_drop_as_keep", facts)
    if case.layer == "dropout":
        return Diagnosis("dropout_book_scaled", facts)
    return Diagnosis("dropout_wrong_scale", facts)


# --- SVM loss ---------------------------------------------------------------------------------


def _svm_words(case: Case, output: str, a: np.ndarray, exp: Expected,
               inputs: dict) -> Diagnosis | None:
    X = np.asarray(inputs["x"], dtype=np.float64)
    labels = np.asarray(inputs["t"])
    N = X.shape[0]
    if output == "loss" and _matches(case, a, exp.value + 1.0, exp):
        return Diagnosis("svm_counts_correct_loss")
    if output == "dx":
        dout = float(np.asarray(inputs["dout"], dtype=np.float64))
        cand = exp.value.copy()
        cand[np.arange(N), labels] -= dout / N
        if _matches(case, a, cand, exp):
            return Diagnosis("svm_counts_correct_dx")
    return None


def recognise(case: Case, output: str, a: np.ndarray, exp: Expected, bad: np.ndarray,
              inputs: dict | None) -> Diagnosis | None:
    """The confirmed mistake of a curricula layer's output, or None (then the generic
    checks)."""
    if inputs is None:
        return None
    if case.layer in NORM_LAYERS:
        if output.startswith("running_"):
            return _running_words(case, output, a, exp, inputs)
        if output in ("out", "dx", "dgamma"):
            return _norm_words(case, output, a, exp, inputs)
    if case.layer in DROPOUT_LAYERS:
        return _dropout_words(case, output, a, exp, inputs)
    if case.layer == "svm":
        return _svm_words(case, output, a, exp, inputs)
    return None
