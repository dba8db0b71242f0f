"""Plain-words diagnoses for a mismatching output, where the pattern is recognisable."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as Fn

from cases.case import Case
from cases.inputs import output_shape, pad_amounts
from reference.bounds import UNIT_ROUNDOFF

if TYPE_CHECKING:
    from reference.oracle import Expected


def shape_hint(case: Case, output: str) -> str:
    """What the right shape is and the formula that gives it."""
    if output == "out" and case.layer in ("conv", "pool", "avgpool"):
        t, b, l, r = pad_amounts(case)
        (kh, kw), (sh, sw), (dh, dw) = case.kernel, case.stride, case.dilation
        rule = ("floor((H + 2*pad - dilation*(kernel-1) - 1) / stride) + 1"
                + (" (ceil with ceil_mode)" if case.ceil_mode else ""))
        return (f"Output height/width = {rule}; here H={case.H}, W={case.W}, pad=({t}+{b}, "
                f"{l}+{r}), kernel=({kh}, {kw}), stride=({sh}, {sw}), dilation=({dh}, {dw}) "
                f"give {output_shape(case)}.")
    if output == "dx":
        return f"dx must have the input's shape {case.x_shape}."
    if output in ("dW", "db"):
        return f"{output} must have the parameter's shape."
    return ""


def _worst(a: np.ndarray, exp: Expected, bad: np.ndarray) -> str:
    err = np.abs(a - exp.value)
    err = np.where(bad, np.nan_to_num(err, nan=np.inf), -1.0)
    i = np.unravel_index(int(np.argmax(err)), a.shape)
    idx = tuple(int(j) for j in i)
    return (f"worst at index {idx}: got {a[i]!r}, expected {exp.value[i]!r} "
            f"(bound {exp.bound[i]:.3g})")


def _window_cover(case: Case, x: np.ndarray, tied_only: bool) -> np.ndarray:
    """How many windows (or tied-maximum windows) cover each input element."""
    xt = torch.tensor(np.asarray(x, dtype=np.float64))
    if not case.batched:
        xt = xt[None]
    N, C, H, W = xt.shape
    t, b, l, r = pad_amounts(case)
    xp = Fn.pad(xt, (l, r, t, b), value=-np.inf).reshape(N * C, 1, H + t + b, W + l + r)
    kw = dict(kernel_size=case.kernel, dilation=case.dilation, stride=case.stride)
    cols = Fn.unfold(xp, **kw)  # (N*C, kh*kw, L)
    if tied_only:
        mx = cols.max(dim=1, keepdim=True).values
        flag = ((cols == mx).sum(dim=1, keepdim=True) > 1).expand_as(cols).double()
    else:
        flag = torch.ones_like(cols)
    cover = Fn.fold(flag, (H + t + b, W + l + r), **kw)[:, 0, t:t + H, l:l + W]
    cover = cover.reshape(N, C, H, W).numpy()
    return cover if case.batched else cover[0]


def _is_float32_level(case: Case, a: np.ndarray, exp: Expected) -> bool:
    if case.dtype != "f64":
        return False
    scale = UNIT_ROUNDOFF["f32"] / UNIT_ROUNDOFF["f64"]
    err = np.abs(a - exp.value)
    finite = np.isfinite(err)
    return bool(finite.all() and (err <= exp.bound * scale * 4).all() and err.max() > 0)


def diagnose_values(case: Case, output: str, a: np.ndarray, exp: Expected,
                    bad: np.ndarray, inputs: dict | None) -> str:
    """A sentence on what the mismatch looks like; the worst element always ends it."""
    n, k = bad.size, int(bad.sum())
    head = f"{k} of {n} elements ({100 * k / n:.1f}%) exceed the error bound"
    worst = _worst(a, exp, bad)
    want = exp.value
    if not np.isfinite(a[bad]).all() and np.isfinite(want[bad]).all():
        return f"{head}: non-finite values (NaN/inf) where the truth is finite; {worst}"
    if _is_float32_level(case, a, exp):
        return (f"{head}, by float32 rounding-level amounts: the float64 case was computed "
                f"in float32 somewhere (a cast or a float32 buffer); {worst}")
    x = None if inputs is None else inputs.get("x")
    if case.layer == "pool" and x is not None:
        if output == "out" and (want[bad] < 0).all() and (a[bad] == 0).all():
            return (f"{head}: padding counted as zero, so it wins over negative inputs. "
                    f"PyTorch pads max pooling with -inf: padding never wins; {worst}")
        if output == "dx" and np.isclose(a.sum(), want.sum()):
            tied = _window_cover(case, x, tied_only=True)
            if (tied[bad] > 0).all():
                return (f"{head}: the gradient went to a different element of windows with "
                        f"tied maxima. PyTorch gives it to the first maximum in row-major "
                        f"window order (tie-breaking difference); {worst}")
    if (output == "dx" and case.layer in ("pool", "avgpool", "conv") and x is not None
            and any(s < k for s, k in zip(case.stride, case.kernel, strict=True))):
        cover = _window_cover(case, x, tied_only=False)
        if (cover[bad] > 1).all() and (np.abs(a) <= np.abs(want) + exp.bound)[bad].all():
            return (f"{head}, only where windows overlap (stride < kernel): gradients from "
                    f"overlapping windows must be accumulated (+=), not assigned; {worst}")
    return f"{head}; {worst}"
