"""Dropout has no twin value for value: its truth is built from the mask it drew.

The mask is inferred from the forward output (an element is kept where out != 0; inputs
are drawn with no zeros), then:
- out: kept values must be x times the curriculum's scale (the notes: 1, not inverted;
  CS231n and F.dropout: 1/p) and dropped values 0. The scale 1/p rounds once to the dtype
  and the product once: err <= gamma_2 |out| (exact for the notes);
- dx: dout times the same mask and scale (backward must reuse forward's mask);
- keep: the kept count must pass a two-sided binomial test against the asked keep
  probability at a false-alarm rate of FALSE_ALARM (err/bound is log(1/p-value) over
  log(1/FALSE_ALARM), so it passes at <= 1 like every other output). Students' runs hold
  MASK_DRAWS training forwards on the same input (`judge_masks`): each mask's count is
  tested, each pair's agreement against p^2 + (1-p)^2, and no mask may repeat another,
  as is or shifted along the flattened input (all tests together: FALSE_ALARM).
Only numpy is used, so cached truths and this judge run without PyTorch.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from layercheck.cases.case import Case
from layercheck.reference.bounds import SAFETY, gamma
from layercheck.reference.expected import Expected, Truth

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
    logpmf = _logpmf(n, p)
    here = logpmf[k]
    pmf = np.exp(logpmf[logpmf <= here + 1e-7])
    return float(min(1.0, pmf.sum()))


@functools.lru_cache(maxsize=32)
def _logpmf(n: int, p: float) -> np.ndarray:
    """log P(k) of Binomial(n, p) for k = 0..n (cached: a case tests one n at two rates)."""
    ks = np.arange(n + 1)
    return np.array([math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                     for i in ks]) + ks * math.log(p) + (n - ks) * math.log1p(-p)


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


# the training forwards on one input whose masks are compared (the first is `out`; the
# others are layercheck.cases.curricula.AGAINS): a fixed mask, one cycling through two or
# three masks, or one shifted along the input on every call all show up among four
MASK_DRAWS = 4
MAX_SHIFT = 64  # offsets along the flattened input at which one mask may repeat another


def _draw(case: Case) -> str:
    return ("mask = np.random.rand(*x.shape) > dropout_ratio" if case.layer == "dropout"
            else "mask = (np.random.rand(*x.shape) < p) / p, after np.random.seed(seed) only "
                 "where dropout_param has a seed")


def no_repeat_words(error: str | None) -> str:
    """Why the masks could not be compared: the further training forwards never ran."""
    why = f" (the case stopped first: {error})" if error else ""
    return (f"the {MASK_DRAWS - 1} further training forwards on the same input did not run"
            f"{why}, so the mask could not be checked for being drawn at random")


def _tests(n: int, q: float) -> tuple[int, int]:
    """(all tests, largest offset judged) for MASK_DRAWS masks of n elements: a keep test per
    mask, an agreement test per pair, and an equality test per pair and offset -S..S, where
    an equality at the overlap n - S is decisive (q^(n-S) times the tests <= FALSE_ALARM);
    the largest offset is -1 where even two identical masks could agree by chance."""
    pairs = MASK_DRAWS * (MASK_DRAWS - 1) // 2
    for shift in range(min(MAX_SHIFT, n - 1), -1, -1):
        total = MASK_DRAWS + pairs + pairs * (2 * shift + 1)
        if q < 1 and (n - shift) * math.log(q) + math.log(total) <= math.log(FALSE_ALARM):
            return total, shift
    return MASK_DRAWS + pairs, -1


def _shifted(a: np.ndarray, b: np.ndarray, limit: int) -> int | None:
    """The offset s in -limit..limit with b[i + s] == a[i] wherever both exist, or None."""
    n = a.size
    for s in range(limit + 1):
        for off in ((s, -s) if s else (0,)):
            if off >= 0 and np.array_equal(b[off:], a[:n - off]):
                return off
            if off < 0 and np.array_equal(b[:n + off], a[-off:]):
                return off
    return None


def judge_masks(case: Case, x: np.ndarray, out: object,
                agains: list[object]) -> tuple[float, float, str | None]:
    """The masks of MASK_DRAWS training forwards on the same input (`out`, then `agains`)
    judged together: (p-value, kept share, None) for the keep verdict, or (0, kept share,
    why) where the masks are not independent random draws: a repeated output missing or
    not an array of x's shape, two masks alike or one a shifted copy of another, or two
    masks agreeing on a share of elements far from p^2 + (1-p)^2. The p-value is the
    smallest of the keep tests (each mask's kept count) and the pairwise agreement tests
    times their number, so a right dropout fails with a chance below FALSE_ALARM."""
    first = inferred_mask(out, x)
    masks = [first] + [inferred_mask(a, x) for a in agains]
    if first is None:
        return 0.0, 0.0, None  # out is judged (and fails) on its own
    if any(m is None for m in masks):
        return 0.0, float(first.mean()), (
            "a further training forward on the same input raised or returned no array of "
            "x's shape: dropout must draw a new mask on every call")
    flat = [m.ravel() for m in masks]
    n, p = first.size, keep_probability(case)
    q = p * p + (1 - p) * (1 - p)  # one element kept or dropped by both draws
    total, limit = _tests(n, q)
    pairs = [(i, j) for i in range(len(flat)) for j in range(i + 1, len(flat))]
    for i, j in pairs:
        off = _shifted(flat[i], flat[j], limit) if limit >= 0 else None
        if off == 0:
            return 0.0, float(first.mean()), (
                f"the same mask on training calls {i + 1} and {j + 1} with the same input (all "
                f"{n} elements kept or dropped alike; by chance: below {FALSE_ALARM:g}): a "
                f"fixed or input-derived mask is not dropout; draw it at random on every call "
                f"({_draw(case)})")
        if off is not None:
            return 0.0, float(first.mean()), (
                f"the mask of training call {j + 1} is that of call {i + 1} shifted by {off} "
                f"element(s) along the flattened input (by chance: below {FALSE_ALARM:g}): a "
                f"pattern moved on every call is not dropout; draw each mask at random "
                f"({_draw(case)})")
    tests = [(binomial_p_value(int(m.sum()), n, p), "keep", k) for k, m in enumerate(flat)]
    tests += [(binomial_p_value(int((flat[i] == flat[j]).sum()), n, q), "agree", (i, j))
              for i, j in pairs]
    pv, kind, which = min(tests, key=lambda t: t[0])
    adjusted = min(1.0, pv * total)
    if kind == "keep" or keep_ratio(adjusted) <= 1:
        k = which if kind == "keep" else 0
        return adjusted, float(flat[k].mean()), None
    i, j = which
    alike = int((flat[i] == flat[j]).sum())
    return 0.0, float(first.mean()), (
        f"training calls {i + 1} and {j + 1} on the same input keep or drop alike {alike} of "
        f"{n} elements where independent masks agree on about {q * n:.0f} (binomial test "
        f"p-value {adjusted:.2g} < {FALSE_ALARM:g}): each call must draw a new, independent "
        f"mask ({_draw(case)})")
