"""Plain-words diagnoses for a mismatching output, where the pattern is recognisable."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from layercheck.cases.case import Case
from layercheck.cases.inputs import output_shape, pad_amounts
from layercheck.reference import diagnose_curricula
from layercheck.reference.bounds import UNIT_ROUNDOFF

SCALE_SHARE = 0.9  # "scaled by c" needs at least this share of the elements to carry it

if TYPE_CHECKING:
    from layercheck.reference.expected import Expected


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
    if a.size == 0 or not bad.any():
        return "no element to show"
    err = np.abs(a - exp.value)
    err = np.where(bad, np.nan_to_num(err, nan=np.inf), -1.0)
    i = np.unravel_index(int(np.argmax(err)), a.shape)
    idx = tuple(int(j) for j in i)
    return (f"worst at index {idx}: got {a[i]!r}, expected {exp.value[i]!r} "
            f"(bound {exp.bound[i]:.3g})")


def _window_cover(case: Case, x: np.ndarray, tied_only: bool) -> np.ndarray:
    """How many windows (or tied-maximum windows) cover each input element."""
    import torch  # here, not at import: a cached-truth run needs no torch
    import torch.nn.functional as Fn

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
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(err == 0, 0.0, err / exp.bound)
    # float32 arithmetic lands far beyond the float64 bound, but within the float32 one
    return bool(finite.all() and (err <= exp.bound * scale * 4).all()
                and ratio.max() > scale / 1e4)


def _close(case: Case, a: np.ndarray, cand: np.ndarray, exp: Expected) -> np.ndarray:
    """Elementwise: whether `a` equals a candidate (wrong) result up to rounding."""
    cand = np.asarray(cand, dtype=np.float64)
    tol = 8 * exp.bound + 8 * UNIT_ROUNDOFF[case.dtype] * np.abs(cand) + 1e-300
    with np.errstate(invalid="ignore"):
        return np.abs(a - cand) <= tol


def _matches(case: Case, a: np.ndarray, cand: np.ndarray, exp: Expected) -> bool:
    """Whether `a` equals a candidate (wrong) result up to rounding."""
    if np.shape(cand) != a.shape:
        return False
    return bool(np.all(_close(case, a, cand, exp)))


def _scale(case: Case, a: np.ndarray, exp: Expected) -> tuple[float, int] | None:
    """(c, k) where a == c * truth (c != 1) in k elements, at least SCALE_SHARE of them all
    and each with a clearly non-zero truth, else None: a scale fitted to a few elements (or
    to one scalar) is no evidence, so it is not claimed."""
    want = exp.value
    n = want.size
    if n < 2 or a.shape != want.shape or not np.isfinite(a).all():
        return None
    big = np.abs(want) > 1e-3 * max(float(np.abs(want).max(initial=0)), 1e-300)
    if big.sum() < SCALE_SHARE * n:
        return None
    c = float(np.median(a[big] / want[big]))
    if abs(c - 1) < 1e-6:
        return None
    k = int((_close(case, a, c * want, exp) & big).sum())
    return (c, k) if k >= SCALE_SHARE * n and k >= 2 else None


def _batch_factor(case: Case, a: np.ndarray, exp: Expected) -> float | None:
    """N or 1/N where a is the truth times that (a sum for a mean or the reverse), else None.

    A named hypothesis, so it is checked on every element, scalars included."""
    N = case.N
    if N < 2 or a.shape != exp.value.shape or not np.any(exp.value):
        return None
    for c in (float(N), 1.0 / N):
        if _matches(case, a, c * exp.value, exp):
            return c
    return None


def _scale_words(case: Case, output: str, c: float, inputs: dict | None,
                 k: int | None = None, n: int | None = None) -> str:
    N = case.N
    dout = None if inputs is None or inputs.get("dout") is None else inputs["dout"]
    if case.layer == "softmax" and output == "dx" and dout is not None and np.ndim(dout) == 0:
        if np.isclose(c, 1 / float(dout)):
            return ("dx ignores the upstream gradient dout: backward(dout) must return "
                    "dout * (y - t) / N, not (y - t) / N")
    if np.isclose(c, N) and N > 1:
        return f"{output} is N = {N} times too large: divide by the batch size (a mean, not a sum)"
    if np.isclose(c, 1 / N) and N > 1:
        return f"{output} is divided by the batch size N = {N}: it should be a sum, not a mean"
    if c == 0:
        return f"{output} is all zeros"
    share = f" (in {k} of {n} elements)" if k is not None and n is not None and k < n else ""
    return f"{output} is the truth scaled by {c:.6g}{share}"


def _label_mixups(x: np.ndarray, t: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(words, loss, dx) a loss would give that reads the labels the other way round.

    Index labels (N,) read as one-hot broadcast over the rows (possible when N == C or N == 1,
    as in shrunk cases); one-hot labels (N, C) read as indices after an int cast."""
    N, C = x.shape
    z = x - x.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    out = []
    if t.ndim == 1 and t.shape[0] in (C, 1):
        tt = np.broadcast_to(t.astype(np.float64), p.shape)
        words = ("the loss treats the labels t as one-hot (N, C), but t holds class indices "
                 "(N,): accept both (if t.ndim == 1, pick y[np.arange(N), t]; the book's "
                 "cross_entropy_error does t = t.argmax(axis=1) only for one-hot t)")
        with np.errstate(divide="ignore", invalid="ignore"):
            for eps in (0.0, 1e-7):
                out.append((words, np.asarray(-np.sum(tt * np.log(p + eps)) / N), (p - tt) / N))
    if t.ndim == 2 and N in (C, 1):
        ti = t.astype(np.int64)
        rows = np.broadcast_to(np.arange(N), ti.shape)
        words = ("the loss treats the labels t as class indices (N,), but t is one-hot "
                 "(N, C) here: convert it first (if t.ndim == 2: t = t.argmax(axis=1))")
        d = p.copy()
        d[rows, ti] -= 1
        with np.errstate(divide="ignore", invalid="ignore"):
            for eps in (0.0, 1e-7):
                out.append((words, np.asarray(-np.sum(np.log(p[rows, ti] + eps)) / N), d / N))
    return out


def _softmax(case: Case, output: str, a: np.ndarray, exp: Expected, inputs: dict) -> str:
    x = np.asarray(inputs["x"], dtype=np.float64)
    t = np.asarray(inputs["t"])
    labels = t.argmax(axis=1) if t.ndim == 2 else t
    if not np.isfinite(a).all() and case.kind == "large":
        return ("exp overflowed on large logits: subtract each row's maximum before exp "
                "(softmax(x) = softmax(x - max x))")
    if x.ndim == 2:
        for words, loss, dx in _label_mixups(x, t):
            if _matches(case, a, loss if output == "loss" else dx, exp):
                return words
    if output == "loss":
        z = x - x.max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        picked = p[np.arange(len(labels)), labels]
        with np.errstate(divide="ignore"):
            for eps in (1e-7, 1e-8, 1e-10, 1e-12):
                if _matches(case, a, np.asarray(-np.log(picked + eps).mean()), exp):
                    return (f"the loss is -log(y + {eps:g}): the epsilon shifts it by up to "
                            f"{eps:g}/y. Compute it from log-softmax (x - max - log sum exp) "
                            f"with no epsilon")
    return ""


def _bias(case: Case, a: np.ndarray, exp: Expected, inputs: dict) -> str:
    b = inputs.get("b")
    if b is None:
        return ""
    b = np.asarray(b, dtype=np.float64)
    axis = 1
    shape = [1] * a.ndim
    shape[axis] = b.size
    base = exp.value - b.reshape(shape)
    if _matches(case, a, base, exp):
        return "the bias b is not added to the output"
    for ax in range(a.ndim):
        if ax != axis and a.shape[ax] == b.size:
            shape = [1] * a.ndim
            shape[ax] = b.size
            if _matches(case, a, base + b.reshape(shape), exp):
                return (f"bias added along axis {ax} instead of the channel/feature axis "
                        f"{axis} (b must broadcast as b.reshape(1, F, 1, 1) for conv, "
                        f"(1, F) for affine)")
    return ""


def _pool_sim(case: Case, x: np.ndarray, dout: np.ndarray | None, pad_value: float,
              accumulate: bool | str) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Max pooling by plain loops with a given padding value, the gradient accumulated (+=)
    or assigned (=, the last window wins; "window": the whole window overwritten with
    mask * dout): the student variants to tell apart. None where the case is beyond this
    simple model (dilation, ceil mode, no batch axis)."""
    if case.dilation != (1, 1) or case.ceil_mode or not case.batched or x.ndim != 4:
        return None
    t, b, l, r = pad_amounts(case)
    (kh, kw), (sh, sw) = case.kernel, case.stride
    xp = np.pad(np.asarray(x, dtype=np.float64), ((0, 0), (0, 0), (t, b), (l, r)),
                constant_values=pad_value)
    N, C, Hp, Wp = xp.shape
    oh, ow = (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
    if oh < 1 or ow < 1 or (dout is not None and dout.shape != (N, C, oh, ow)):
        return None
    out = np.empty((N, C, oh, ow))
    dxp = None if dout is None else np.zeros_like(xp)
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].reshape(N, C, -1)
            k = win.argmax(axis=2)  # the first maximum, as PyTorch
            out[:, :, i, j] = np.take_along_axis(win, k[..., None], 2)[..., 0]
            if dxp is not None:
                for n in range(N):
                    for c in range(C):
                        y, z = i * sh + k[n, c] // kw, j * sw + k[n, c] % kw
                        g = dout[n, c, i, j]
                        if accumulate == "window":
                            dxp[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw] = 0.0
                        dxp[n, c, y, z] = dxp[n, c, y, z] + g if accumulate is True else g
    dx = None if dxp is None else dxp[:, :, t:t + x.shape[2], l:l + x.shape[3]]
    return out, dx


def _pool_words(case: Case, output: str, a: np.ndarray, exp: Expected,
                inputs: dict) -> str:
    """Zero padding versus '=' for '+=', told apart by simulating each variant."""
    x, dout = inputs.get("x"), inputs.get("dout")
    if x is None or (output == "dx" and dout is None) or a.size > 20000:
        return ""
    padded = any(pad_amounts(case))
    overlap = any(s < k for s, k in zip(case.stride, case.kernel, strict=True))
    g = None if output == "out" else np.asarray(dout, dtype=np.float64)
    zero_words = ("padding counted as zero, so it wins over negative inputs. PyTorch pads max "
                  "pooling with -inf: padding never wins" if output == "out" else
                  "padding counted as zero won the max, so the gradient went to the padding. "
                  "PyTorch pads max pooling with -inf: padding never wins")
    assign_words = ("only where windows overlap (stride < kernel): gradients from overlapping "
                    "windows must be accumulated (+=), not assigned")
    variants: list[tuple[float, bool | str, str]] = []
    if padded:
        variants.append((0.0, True, zero_words))
    if overlap and output == "dx":
        variants += [(-np.inf, False, assign_words), (-np.inf, "window", assign_words)]
        if padded:
            both = f"{zero_words}; and {assign_words}"
            variants += [(0.0, False, both), (0.0, "window", both)]
    sims: dict[tuple[float, bool | str], np.ndarray | None] = {}

    def result(pad_value: float, acc: bool | str) -> np.ndarray | None:
        if (pad_value, acc) not in sims:
            sim = _pool_sim(case, x, g, pad_value, acc)
            sims[pad_value, acc] = None if sim is None else sim[0 if output == "out" else 1]
        return sims[pad_value, acc]

    fits = []
    for pad_value, acc, words in variants:
        got = result(pad_value, acc)
        if got is None or not _matches(case, a, got, exp):
            continue
        # evidence: each fault the words claim changes this case's result on its own
        other_pad = result(-np.inf, acc) if pad_value == 0.0 else None
        other_acc = result(pad_value, True) if acc is not True else None
        if any(o is not None and _matches(case, got, o, exp) for o in (other_pad, other_acc)):
            continue
        fits.append(words)
    fits = list(dict.fromkeys(fits))
    return fits[0] if len(fits) == 1 else ""  # two faults fit this case: it cannot tell


def _at_border(case: Case, bad: np.ndarray) -> bool:
    """Whether every bad element lies within the padding's reach of an edge."""
    t, b, l, r = pad_amounts(case)
    H, W = bad.shape[-2:]
    band = np.zeros((H, W), dtype=bool)
    band[:t], band[H - b:], band[:, :l], band[:, W - r:] = True, True, True, True
    return bool(bad.any() and not (bad & ~band).any())


def _flipped_kernel(case: Case, a: np.ndarray, exp: Expected, inputs: dict) -> bool:
    x, W, b = (np.asarray(inputs[k], dtype=np.float64) for k in ("x", "W", "b"))
    import torch
    import torch.nn.functional as Fn

    t, _, l, _ = pad_amounts(case)
    y = Fn.conv2d(torch.tensor(x), torch.tensor(W[:, :, ::-1, ::-1].copy()), torch.tensor(b),
                  stride=case.stride, padding=(t, l))
    return _matches(case, a, y.numpy(), exp)


def diagnose_values(case: Case, output: str, a: np.ndarray, exp: Expected,
                    bad: np.ndarray, inputs: dict | None) -> str:
    """A sentence on what the mismatch looks like; the worst element always ends it.

    Recognising is best effort: a recogniser that fails says nothing rather than crash."""
    n, k = bad.size, int(bad.sum())
    head = f"{k} of {n} elements ({100 * k / max(n, 1):.1f}%) exceed the error bound"
    try:
        worst = _worst(a, exp, bad)
    except Exception:  # an odd array (empty, object dtype) must not lose the verdict
        worst = "worst element not shown"
    try:
        words = _recognise(case, output, a, exp, bad, inputs)
    except Exception:
        words = ""
    return f"{head}: {words}; {worst}" if words else f"{head}; {worst}"


def _recognise(case: Case, output: str, a: np.ndarray, exp: Expected, bad: np.ndarray,
               inputs: dict | None) -> str:
    want = exp.value
    if words := diagnose_curricula.recognise(case, output, a, exp, bad, inputs):  # issue 13
        return words
    if case.layer == "softmax" and inputs is not None:
        words = _softmax(case, output, a, exp, inputs)
        if words:
            return words
    if not np.isfinite(a[bad]).all() and np.isfinite(want[bad]).all():
        return "non-finite values (NaN/inf) where the truth is finite"
    if _is_float32_level(case, a, exp):
        return ("by float32 rounding-level amounts: the float64 case was computed in float32 "
                "somewhere (a cast or a float32 buffer)")
    fit = _scale(case, a, exp)
    if fit is not None:
        return _scale_words(case, output, fit[0], inputs, fit[1], a.size)
    c = _batch_factor(case, a, exp)
    if c is not None:
        return _scale_words(case, output, c, inputs)
    x = None if inputs is None else inputs.get("x")
    if case.layer in ("conv", "affine") and output == "out" and inputs is not None:
        words = _bias(case, a, exp, inputs)
        if words:
            return words
        if case.layer == "conv" and case.groups == 1 and case.dilation == (1, 1) \
                and not isinstance(case.pad, str) and _flipped_kernel(case, a, exp, inputs):
            return ("the kernel is flipped (true convolution): CNN layers compute "
                    "cross-correlation, use W as it is")
    if case.layer == "conv" and output == "dW":
        F = want.shape[0]
        if _matches(case, a, want.reshape(F, -1).T.reshape(want.shape), exp):
            return ("dW was reshaped without transposing back: dW = col.T @ dout is "
                    "(C*kh*kw, F), so take dW.transpose(1, 0).reshape(F, C, kh, kw)")
    if case.layer == "relu" and output == "dx" and x is not None:
        if (np.asarray(x)[bad] == 0).all():
            return ("gradient at x == 0 differs: PyTorch's ReLU passes no gradient where "
                    "x == 0 (mask x > 0, not x >= 0)")
    if case.layer == "pool" and x is not None:
        words = _pool_words(case, output, a, exp, inputs)
        if words:
            return words
        # where the simulation applies it has already said whether zero padding explains
        # the result; the guesses below are for cases it cannot model (dilation, ceil mode)
        padded = any(pad_amounts(case)) and _pool_sim(case, x, None, 0.0, True) is None
        if output == "out" and padded and (want[bad] < 0).all() and (a[bad] == 0).all():
            return ("padding counted as zero, so it wins over negative inputs. PyTorch pads "
                    "max pooling with -inf: padding never wins")
        if output == "dx" and padded and case.kind == "negative" and (a[bad] == 0).all():
            return ("padding counted as zero won the max, so the gradient went to the "
                    "padding. PyTorch pads max pooling with -inf: padding never wins")
        if output == "dx" and padded and _at_border(case, bad):
            return ("only at the border, within pad of the edge: padding counted as zero "
                    "took the max there, so the gradient went to the padding. PyTorch pads "
                    "max pooling with -inf: padding never wins")
        if output == "dx":
            tied = _window_cover(case, x, tied_only=True)
            if (tied[bad] > 0).all():
                how = ("the gradient went to a different element of windows with tied "
                       "maxima" if np.isclose(a.sum(), want.sum()) else
                       "windows with tied maxima spread the gradient over several elements")
                return (f"{how}. PyTorch gives it to the first maximum in row-major window "
                        f"order (tie-breaking difference)")
    if (output == "dx" and case.layer in ("pool", "avgpool", "conv") and x is not None
            and not (case.layer == "pool" and any(pad_amounts(case)))  # see _pool_words
            and any(s < k for s, k in zip(case.stride, case.kernel, strict=True))):
        cover = _window_cover(case, x, tied_only=False)
        single = cover == 1
        # evidence: every wrong element lies under several windows, and elements under one
        # window exist and are all right (a bug everywhere is not a missing '+=')
        if (cover[bad] > 1).all() and single.any() and not bad[single].any():
            return ("only where windows overlap (stride < kernel): gradients from "
                    "overlapping windows must be accumulated (+=), not assigned")
    return ""
