"""Plain-words diagnoses for the curricula's other layers (issue 13).

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
from layercheck.cases.case import DROPOUT_LAYERS, NORM_LAYERS, Case
from layercheck.reference.bounds import UNIT_ROUNDOFF
from layercheck.reference.dropout_judge import FALSE_ALARM, keep_probability, scale

if TYPE_CHECKING:
    from layercheck.reference.expected import Expected

MOMENTUM = 0.9


def keep_words(case: Case, rate: float, p_value: float) -> str:
    """Why the kept share fails the binomial test, with the likely mix-up named."""
    want = keep_probability(case)
    head = (f"kept {rate:.3f} of the elements where the keep probability is {want:g} "
            f"(binomial test p-value {p_value:.2g} < {FALSE_ALARM:g})")
    if abs(rate - (1 - want)) < abs(rate - want):
        if case.layer == "dropout":
            return (f"{head}: dropout_ratio is the probability of dropping (the notes: "
                    f"mask = rand(...) > dropout_ratio), used here as the keep probability")
        return (f"{head}: p is the probability of keeping (CS231n: mask = (rand(...) < p) "
                f"/ p), used here as the drop probability")
    return head


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
    if case.layer in ("batchnorm", "spatialbn") and not case.train:
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


def _norm_words(case: Case, output: str, a: np.ndarray, exp: Expected, inputs: dict) -> str:
    """The mistake whose out, dx or dgamma the student's values equal ('' for none)."""
    def same(**mistake: object) -> bool:
        cand = _norm_out(case, inputs, **mistake)  # type: ignore[arg-type]
        return cand is not None and _matches(case, a, cand[output], exp)

    words = _norm_mistake(case, same)
    if words and output != "out":
        words += f" ({output} follows from forward's mistake)"
    return words


def _norm_mistake(case: Case, same) -> str:
    eps = case.eps_value
    train = case.train or case.layer in ("layernorm", "groupnorm")
    if train and same(ddof=1):
        return ("normalized with the unbiased variance (divides by m - 1): normalization "
                "divides by the biased variance, mean((x - mu)**2) (np.var's default ddof=0)")
    if same(eps_outside=True):
        return (f"eps is added outside the square root: normalize by sqrt(var + eps) "
                f"(eps = {eps:g}), not sqrt(var) + eps")
    if case.layer == "batchnorm" and case.train and case.ndim == 4 and same(how="per_channel"):
        return ("statistics per channel: the notes' BatchNormalization flattens 4-D input "
                "per sample, x.reshape(N, -1), and keeps one mean and variance per feature")
    if case.layer == "spatialbn" and case.train and same(how="per_feature"):
        return ("statistics per feature (c, h, w) instead of per channel: spatial batch norm "
                "averages over N, H and W (x.transpose(0, 2, 3, 1).reshape(-1, C) before "
                "batchnorm_forward, and back)")
    if case.layer == "groupnorm":
        if same(how="interleaved"):
            return ("groups split along the wrong axis: channel c went to group c % G. Group "
                    "g holds the consecutive channels g*C/G .. (g+1)*C/G - 1: "
                    "x.reshape(N, G, C // G, H, W)")
        if same(how="across_batch"):
            return ("groups formed across the batch (x.reshape(G, -1)): each sample has its "
                    "own statistics, x.reshape(N, G, -1)")
    if case.layer in ("batchnorm", "spatialbn") and not case.train and same(batch=True):
        return ("test mode normalized with the batch's statistics: test mode must use "
                "running_mean and running_var")
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
                   inputs: dict) -> str:
    if not case.train:  # judged exactly: any difference is a change
        return (f"{output} changed in test mode: test mode only reads the running "
                f"statistics; update them in training only")
    if not np.any(a) and np.any(exp.value):
        return (f"{output} was not updated in training (still zeros): running = momentum "
                f"* running + (1 - momentum) * batch statistic, every forward in training")
    if output == "running_var" and _matches(case, a, _running(case, inputs, output, ddof=1),
                                            exp):
        return ("running_var uses the unbiased batch variance (PyTorch's convention); the "
                "curricula (the notes, CS231n) keep the biased one, mean((x - mu)**2): "
                "checked against the curricula's definition")
    if _matches(case, a, _running(case, inputs, output, momentum=1 - MOMENTUM), exp):
        return (f"{output}: momentum weighs the batch (PyTorch's momentum=0.1 convention); "
                f"the curricula's is running = momentum * running + (1 - momentum) * batch "
                f"with momentum = 0.9")
    if case.steps > 1 and _matches(case, a, _running(case, {**inputs, "xs": None}, output),
                                   exp):
        return (f"{output} holds only the last batch's update: the running statistics must "
                f"carry over from one forward to the next (keep them on the layer or in "
                f"bn_param)")
    return ""


# --- dropout -------------------------------------------------------------------------------


def _dropout_words(case: Case, output: str, a: np.ndarray, exp: Expected,
                   inputs: dict) -> str:
    x = np.asarray(inputs["x"], dtype=np.float64)
    if output == "out" and not case.train:
        if case.layer == "dropout" and _matches(case, a, x, exp):
            return ("test mode returned x unchanged: the notes' dropout is not inverted, "
                    "so test mode outputs x * (1 - dropout_ratio)")
        if case.layer == "invdropout" and _matches(case, a, x * case.rate, exp):
            return ("test mode multiplied by p: inverted dropout already scaled the kept "
                    "values in training, so test mode is the identity (out = x)")
        return ""
    if not case.train:
        return ""
    ref = x if output == "out" else np.asarray(inputs["dout"], dtype=np.float64)
    if output == "dx" and (exp.value != 0).any():
        kept = exp.value != 0
        if not np.array_equal(a != 0, kept):
            same = int(((a != 0) == kept).sum())
            return (f"backward used a different mask from forward's ({a.size - same} of "
                    f"{a.size} elements differ): keep the mask drawn in forward (self.mask "
                    f"or the cache) and reuse it; never draw a new one in backward")
    kept = (a != 0) & (ref != 0)
    if not kept.any():
        return ""
    c = float(np.median(a[kept] / ref[kept]))
    want = scale(case)
    if not np.isclose(c, want, rtol=1e-5):
        if case.layer == "invdropout" and np.isclose(c, 1.0):
            return ("kept values are not rescaled: inverted dropout divides them by p "
                    f"(the keep probability {case.rate:g}), mask = (rand(...) < p) / p")
        if case.layer == "invdropout" and np.isclose(c, 1 / (1 - case.rate)):
            return (f"kept values are scaled by 1/(1 - p) = {c:.4g}: p is the keep "
                    f"probability, scale by 1/p = {want:.4g}")
        if case.layer == "dropout":
            return (f"kept values are scaled by {c:.4g}: the notes' dropout is not inverted, "
                    f"training keeps x unchanged (out = x * mask) and test mode multiplies "
                    f"by 1 - dropout_ratio")
        return f"kept values are scaled by {c:.4g}, expected 1/p = {want:.4g}"
    return ""


# --- SVM loss ---------------------------------------------------------------------------------


def _svm_words(case: Case, output: str, a: np.ndarray, exp: Expected, inputs: dict) -> str:
    X = np.asarray(inputs["x"], dtype=np.float64)
    labels = np.asarray(inputs["t"])
    N = X.shape[0]
    counted = ("the margin of the correct class is counted too (x_y - x_y + 1 = 1 per "
               "sample): sum over j != y_i only (set margins[np.arange(N), y] = 0)")
    if output == "loss" and _matches(case, a, exp.value + 1.0, exp):
        return "the loss is 1 too large: " + counted
    if output == "dx":
        dout = float(np.asarray(inputs["dout"], dtype=np.float64))
        cand = exp.value.copy()
        cand[np.arange(N), labels] -= dout / N
        if _matches(case, a, cand, exp):
            return "dx of the correct class is off by -dout/N: " + counted
    return ""


def recognise(case: Case, output: str, a: np.ndarray, exp: Expected, bad: np.ndarray,
              inputs: dict | None) -> str:
    """Words for a mismatch of a curricula layer's output, or '' (then the generic ones)."""
    if inputs is None:
        return ""
    if case.layer in NORM_LAYERS:
        if output.startswith("running_"):
            return _running_words(case, output, a, exp, inputs)
        if output in ("out", "dx", "dgamma"):
            return _norm_words(case, output, a, exp, inputs)
    if case.layer in DROPOUT_LAYERS:
        return _dropout_words(case, output, a, exp, inputs)
    if case.layer == "svm":
        return _svm_words(case, output, a, exp, inputs)
    return ""
