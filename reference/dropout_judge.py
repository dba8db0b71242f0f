"""Dropout has no twin value for value: its truth is built from the mask it drew.

The mask is inferred from the forward output (an element is kept where out != 0; inputs
are drawn with no zeros), then:
- out: kept values must be x times the curriculum's scale (the notes: 1, not inverted;
  CS231n and F.dropout: 1/p) and dropped values 0. The scale 1/p rounds once to the dtype
  and the product once: err <= gamma_2 |out| (exact for the notes);
- dx: dout times the same mask and scale (backward must reuse forward's mask);
- keep: the kept count must pass a two-sided binomial test against the asked keep
  probability at a false-alarm rate of FALSE_ALARM (err/bound is log(1/p-value) over
  log(1/FALSE_ALARM), so it passes at <= 1 like every other output).
Only numpy is used, so cached truths and this judge run without PyTorch.
"""

from __future__ import annotations

import math

import numpy as np

from cases.case import Case
from reference.bounds import SAFETY, gamma
from reference.expected import Expected, Truth

FALSE_ALARM = 1e-9


def keep_probability(case: Case) -> float:
    """The probability of keeping an element: 1 - dropout_ratio (notes) or p (CS231n)."""
    return 1.0 - case.rate if case.layer == "dropout" else case.rate


def scale(case: Case) -> float:
    """What a kept value is multiplied by in training."""
    return 1.0 if case.layer == "dropout" else 1.0 / case.rate


def binomial_p_value(k: int, n: int, p: float) -> float:
    """Two-sided exact binomial test: the probability of an outcome at most as likely as k."""
    if n == 0:
        return 1.0
    if p <= 0 or p >= 1:
        return 1.0 if k == round(n * p) else 0.0
    ks = np.arange(n + 1)
    logpmf = np.array([math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                       for i in ks]) + ks * math.log(p) + (n - ks) * math.log1p(-p)
    here = logpmf[k]
    pmf = np.exp(logpmf[logpmf <= here + 1e-7])
    return float(min(1.0, pmf.sum()))


def inferred_mask(out: object, x: np.ndarray) -> np.ndarray | None:
    """Kept elements (out != 0), or None where `out` is not an array of x's shape."""
    if type(out) is not np.ndarray or out.shape != x.shape:
        return None
    return np.asarray(out != 0)


def truth(case: Case, arrays: dict, outputs: dict) -> Truth:
    """Training truth for out and dx from the implementation's own mask, and the keep test.

    Without a usable forward output the mask is unknown: out and dx are then judged
    against no element kept, which fails with the shape or type message first.
    """
    x = np.asarray(arrays["x"], dtype=np.float64)
    dout = np.asarray(arrays["dout"], dtype=np.float64)
    kept = inferred_mask(outputs.get("out"), arrays["x"])
    known = kept is not None
    if kept is None:
        kept = np.zeros(x.shape, dtype=bool)
    s = scale(case)
    k = 0 if s == 1.0 else 2
    out = np.where(kept, x * s, 0.0)
    dx = np.where(kept, dout * s, 0.0)
    d = case.dtype
    truth_ = {
        "out": Expected("forward", out, SAFETY * gamma(k, d) * np.abs(out) if k
                        else np.zeros(x.shape)),
        "dx": Expected("backward", dx, SAFETY * gamma(k, d) * np.abs(dx) if k
                       else np.zeros(x.shape)),
    }
    n, kept_n, p = kept.size, int(kept.sum()), keep_probability(case)
    pv = binomial_p_value(kept_n, n, p) if known else 0.0
    # the keep-rate "value" is the observed rate; its "bound" is expressed through the
    # p-value: judge_keep turns it into err/bound
    truth_["keep"] = Expected("forward", np.asarray(kept_n / max(n, 1)),
                              np.asarray(pv))
    return truth_


def keep_ratio(p_value: float) -> float:
    """err/bound of the keep test: log(1/p-value) / log(1/FALSE_ALARM) (pass at <= 1)."""
    if p_value <= 0:
        return math.inf
    return math.log(1 / p_value) / math.log(1 / FALSE_ALARM)


def repeated_mask(case: Case, arrays: dict, outputs: dict, again: object) -> str | None:
    """Why the mask is not drawn at random, or None: a second training forward on the same
    input (`again`, CS231n: with another seed) that keeps exactly the same elements, or that
    raised or returned no array. Judged only where two independent draws would agree with a
    chance below FALSE_ALARM (a tiny input could repeat its mask by chance)."""
    first = inferred_mask(outputs.get("out"), arrays["x"])
    if first is None:
        return None  # out is judged (and fails) on its own
    second = inferred_mask(again, arrays["x"])
    if second is None:
        return ("a second training forward on the same input raised or returned no array "
                "of x's shape: dropout must draw a new mask on every call")
    p = keep_probability(case)
    agree = p * p + (1 - p) * (1 - p)  # one element kept or dropped by both draws
    if agree >= 1 or first.size * math.log(agree) > math.log(FALSE_ALARM):
        return None
    if not np.array_equal(first, second):
        return None
    draw = ("mask = np.random.rand(*x.shape) > dropout_ratio" if case.layer == "dropout"
            else "mask = (np.random.rand(*x.shape) < p) / p, after np.random.seed(seed) only "
                 "where dropout_param has a seed")
    return (f"the same mask on two training calls with the same input (all {first.size} "
            f"elements kept or dropped alike; by chance: below {FALSE_ALARM:g}): a fixed or "
            f"input-derived mask is not dropout; draw it at random on every call ({draw})")
