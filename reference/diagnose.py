"""Diagnoses of a mismatching output, as data (reference/diagnosis.py renders them).

A cause is named only where a check on the failing case confirms it: the student's values
equal, up to rounding, what that one mistake gives on this case's inputs (a simulation of
the mistake), and the mistake changes this case's result. Where no cause is confirmed, the
diagnosis gives the pattern only: how many elements differ, the worst one, and where they lie
(border, overlap, tied windows, some channels).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from layercheck.cases import registry
from layercheck.cases.case import Case
from layercheck.cases.inputs import output_shape, pad_amounts
from layercheck.reference import diagnose_curricula
from layercheck.reference.bounds import UNIT_ROUNDOFF
from layercheck.reference.diagnosis import Diagnosis, render

SCALE_SHARE = 0.9  # "scaled by c" needs at least this share of the elements to carry it
WINDOWED = registry.windowed()
MAX_SIM_SIZE = 20000  # simulations by loops run only on arrays up to this size
LOSS_LAYERS = registry.losses()
PARAM_GRADS = ("dW", "db", "dgamma", "dbeta")

if TYPE_CHECKING:
    from layercheck.reference.expected import Expected


def shape_hint(case: Case, output: str) -> str:
    """What the right shape is and the formula that gives it."""
    if output == "out" and case.layer in WINDOWED:
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


def _plain(v: object) -> object:
    """A NumPy scalar as the Python number it holds (facts stay JSON-able)."""
    return v.item() if isinstance(v, np.generic) else v


def _worst_facts(a: np.ndarray, exp: Expected, bad: np.ndarray) -> dict:
    if a.size == 0 or not bad.any():
        return {}
    err = np.abs(a - exp.value)
    err = np.where(bad, np.nan_to_num(err, nan=np.inf), -1.0)
    i = np.unravel_index(int(np.argmax(err)), a.shape)
    return {"worst_index": tuple(int(j) for j in i), "got": _plain(a[i]),
            "expected": _plain(exp.value[i]), "bound": float(exp.bound[i])}


def _close(case: Case, a: np.ndarray, cand: np.ndarray, exp: Expected) -> np.ndarray:
    """Elementwise: whether `a` equals a candidate (wrong) result up to rounding."""
    cand = np.asarray(cand, dtype=np.float64)
    tol = 8 * exp.bound + 8 * UNIT_ROUNDOFF[case.dtype] * np.abs(cand) + 1e-300
    with np.errstate(invalid="ignore"):
        return np.abs(a - cand) <= tol


def _matches(case: Case, a: np.ndarray, cand: np.ndarray | None, exp: Expected) -> bool:
    """Whether `a` equals a candidate (wrong) result up to rounding."""
    if cand is None or np.shape(cand) != a.shape:
        return False
    return bool(np.all(_close(case, a, cand, exp)))


def _differs(case: Case, cand: np.ndarray | None, exp: Expected) -> bool:
    """Whether a candidate mistake changes this case's result (else it is no evidence)."""
    return cand is not None and not _matches(case, exp.value, cand, exp)


def _confirmed(case: Case, a: np.ndarray, cand: np.ndarray | None, exp: Expected) -> bool:
    """The student's values are the mistake's, and the mistake shows on this case."""
    return _matches(case, a, cand, exp) and _differs(case, cand, exp)


# --- float32 arithmetic --------------------------------------------------------------------


def _is_float32_level(case: Case, output: str, a: np.ndarray, exp: Expected, bad: np.ndarray,
                      inputs: dict | None) -> bool:
    """Confirmed when every error lies within (a few times) the float32 bound, the worst is
    far beyond the float64 one, and either the wrong values are float32 numbers (a float32
    buffer or cast of the result leaves values float32 holds exactly) or they are the truth
    of the inputs rounded to float32 (a cast of the input)."""
    if case.dtype != "f64":
        return False
    scale = UNIT_ROUNDOFF["f32"] / UNIT_ROUNDOFF["f64"]
    err = np.abs(a - exp.value)
    if not np.isfinite(err).all():
        return False
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(err == 0, 0.0, err / exp.bound)
    if not ((err <= exp.bound * scale * 4).all() and ratio.max() > scale / 1e4):
        return False
    wrong = a[bad]
    with np.errstate(over="ignore"):
        held = wrong.astype(np.float32).astype(np.float64) == wrong
    if held.mean() >= SCALE_SHARE:
        return True
    return _rounded_inputs_match(case, output, a, exp, inputs)


def _rounded_inputs_match(case: Case, output: str, a: np.ndarray, exp: Expected,
                          inputs: dict | None) -> bool:
    """Whether the values are the truth of this case's inputs rounded to float32 (x alone,
    or every float input): a cast of the input, the rest computed in float64."""
    if inputs is None:
        return False
    from layercheck.reference.oracle import Rejected, reference  # torch, only here

    def rounded(v: object) -> object:
        if type(v) is np.ndarray and v.dtype == np.float64:
            return v.astype(np.float32).astype(np.float64)
        return v

    tries = [{**inputs, "x": rounded(inputs.get("x"))},
             {k: rounded(v) for k, v in inputs.items()}]
    for arrays in tries:
        try:
            truth = reference(case, arrays)
        except (Rejected, KeyError, ValueError, TypeError):
            continue
        if output in truth and _matches(case, a, truth[output].value, exp):
            return True
    return False


# --- scalings ------------------------------------------------------------------------------


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


def _scale_diagnosis(case: Case, output: str, c: float, inputs: dict | None,
                     k: int | None = None, n: int | None = None) -> Diagnosis:
    N = case.N
    dout = None if inputs is None or inputs.get("dout") is None else inputs["dout"]
    if case.layer == "softmax" and output == "dx" and dout is not None and np.ndim(dout) == 0:
        if np.isclose(c, 1 / float(dout)):
            return Diagnosis("dout_ignored", {"factor": c})
    # N times the truth is a sum for a mean only where the output is a batch mean (a loss,
    # a loss layer's dx), and 1/N a mean for a sum only in a parameter's gradient (summed
    # over the batch); and only for N >= 3: at N = 2 a halving or doubling is as likely.
    if np.isclose(c, N) and N >= 3 and (output == "loss" or case.layer in LOSS_LAYERS):
        return Diagnosis("sum_not_mean", {"output": output, "N": N})
    if np.isclose(c, 1 / N) and N >= 3 and output in PARAM_GRADS:
        return Diagnosis("mean_not_sum", {"output": output, "N": N})
    if c == 0:
        return Diagnosis("all_zero", {"output": output})
    return Diagnosis("scaled", {"output": output, "factor": c, "k": k, "n": n})


# --- softmax, bias -------------------------------------------------------------------------


def _label_mixups(x: np.ndarray, t: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(cause code, loss, dx) a loss would give that reads the labels the other way round.

    Index labels (N,) read as one-hot broadcast over the rows (possible when N == C or N == 1,
    as in shrunk cases); one-hot labels (N, C) read as indices after an int cast."""
    N, C = x.shape
    z = x - x.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    out = []
    if t.ndim == 1 and t.shape[0] in (C, 1):
        tt = np.broadcast_to(t.astype(np.float64), p.shape)
        words = "labels_as_onehot"
        with np.errstate(divide="ignore", invalid="ignore"):
            for eps in (0.0, 1e-7):
                out.append((words, np.asarray(-np.sum(tt * np.log(p + eps)) / N), (p - tt) / N))
    if t.ndim == 2 and N in (C, 1):
        ti = t.astype(np.int64)
        rows = np.broadcast_to(np.arange(N), ti.shape)
        words = "labels_as_index"
        d = p.copy()
        d[rows, ti] -= 1
        with np.errstate(divide="ignore", invalid="ignore"):
            for eps in (0.0, 1e-7):
                out.append((words, np.asarray(-np.sum(np.log(p[rows, ti] + eps)) / N), d / N))
    return out


def _softmax(case: Case, output: str, a: np.ndarray, exp: Expected,
             inputs: dict) -> list[Diagnosis]:
    x = np.asarray(inputs["x"], dtype=np.float64)
    t = np.asarray(inputs["t"])
    labels = t.argmax(axis=1) if t.ndim == 2 else t
    if not np.isfinite(a).all() and case.kind == "large":
        # confirmed: the unshifted exp overflows on these logits (the truth is finite)
        with np.errstate(over="ignore"):
            if not np.isfinite(np.exp(x)).all():
                return [Diagnosis("softmax_overflow", {"max_logit": float(np.abs(x).max())})]
    if x.ndim == 2:
        for code, loss, dx in _label_mixups(x, t):
            if _confirmed(case, a, loss if output == "loss" else dx, exp):
                return [Diagnosis(code)]
    if output == "loss":
        z = x - x.max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        picked = p[np.arange(len(labels)), labels]
        with np.errstate(divide="ignore"):
            for eps in (1e-7, 1e-8, 1e-10, 1e-12):
                if _confirmed(case, a, np.asarray(-np.log(picked + eps).mean()), exp):
                    return [Diagnosis("log_eps", {"eps": eps})]
    return []


def _bias(case: Case, a: np.ndarray, exp: Expected, inputs: dict) -> list[Diagnosis]:
    b = inputs.get("b")
    if b is None:
        return []
    b = np.asarray(b, dtype=np.float64)
    axis = 1
    shape = [1] * a.ndim
    shape[axis] = b.size
    base = exp.value - b.reshape(shape)
    if _confirmed(case, a, base, exp):
        return [Diagnosis("bias_missing")]
    for ax in range(a.ndim):
        if ax != axis and a.shape[ax] == b.size:
            shape = [1] * a.ndim
            shape[ax] = b.size
            if _confirmed(case, a, base + b.reshape(shape), exp):
                return [Diagnosis("bias_axis", {"axis": ax})]
    return []


def _conv_out(case: Case, x: np.ndarray, W: np.ndarray, b: np.ndarray,
              pads: tuple[int, int, int, int]) -> np.ndarray:
    """conv2d with explicit (top, bottom, left, right) zero padding."""
    import torch  # here, not at import: a cached-truth run needs no torch
    import torch.nn.functional as Fn

    t, bo, l, r = pads
    xt = Fn.pad(torch.tensor(x), (l, r, t, bo))
    return Fn.conv2d(xt, torch.tensor(W), torch.tensor(b), stride=case.stride,
                     dilation=case.dilation).numpy()


def _conv_forward(case: Case, a: np.ndarray, exp: Expected, inputs: dict) -> list[Diagnosis]:
    """Mistakes of conv's forward, each confirmed by running it: the kernel flipped (a true
    convolution), and the padding put on one side only."""
    if case.groups != 1 or not case.batched or isinstance(case.pad, str):
        return []
    x, W, b = (np.asarray(inputs[k], dtype=np.float64) for k in ("x", "W", "b"))
    pads = pad_amounts(case)
    if _confirmed(case, a, _conv_out(case, x, W[:, :, ::-1, ::-1].copy(), b, pads), exp):
        return [Diagnosis("flipped_kernel", {"output": "out"})]
    t, bo, l, r = pads
    for side, alt in (("after", (0, t + bo, 0, l + r)), ("before", (t + bo, 0, l + r, 0))):
        if alt != pads and _confirmed(case, a, _conv_out(case, x, W, b, alt), exp):
            return [Diagnosis("pad_one_sided", {"side": side, "pad": (t, l)})]
    return []


# --- windowed layers' dx: the gradient as a sum of one image per kernel offset -------------


def _geometry(case: Case) -> tuple[tuple[int, int, int, int], tuple[int, int], dict]:
    t, b, l, r = pad_amounts(case)
    kw = dict(kernel_size=case.kernel, dilation=case.dilation, stride=case.stride)
    return (t, b, l, r), (case.H + t + b, case.W + l + r), kw


def _fold(case: Case, dcol: np.ndarray) -> np.ndarray:
    """dcol (B, C, K, L), one column per window and kernel offset, summed into the padded
    image (B, C, Hp, Wp): col2im, done by PyTorch's fold."""
    import torch
    import torch.nn.functional as Fn

    _, size, kw = _geometry(case)
    B, C, K, L = dcol.shape
    return Fn.fold(torch.tensor(np.ascontiguousarray(dcol).reshape(B, C * K, L)), size,
                   **kw).numpy()


def _parts(case: Case, dcol: np.ndarray) -> np.ndarray:
    """One padded image per kernel offset (K, B, C, Hp, Wp): what each window contributes
    to an element, told apart by the offset at which the window covers it."""
    out = []
    for k in range(dcol.shape[2]):
        one = np.zeros_like(dcol)
        one[:, :, k] = dcol[:, :, k]
        out.append(_fold(case, one))
    return np.stack(out)


def _crop(case: Case, img: np.ndarray, at: tuple[int, int] | None = None) -> np.ndarray:
    (t, _, l, _), _, _ = _geometry(case)
    oy, ox = (t, l) if at is None else at
    return img[..., oy:oy + case.H, ox:ox + case.W]


def _pool_cols(case: Case, x: np.ndarray) -> np.ndarray:
    """Max pooling's windows (N, C, K, L) of x padded with -inf."""
    import torch
    import torch.nn.functional as Fn

    (t, b, l, r), _, kw = _geometry(case)
    N, C, H, W = x.shape
    xp = Fn.pad(torch.tensor(x), (l, r, t, b), value=-np.inf).reshape(N * C, 1, H + t + b,
                                                                      W + l + r)
    cols = Fn.unfold(xp, **kw).numpy()
    return cols.reshape(N, C, cols.shape[1], cols.shape[2])


def _dcol(case: Case, inputs: dict, variant: str = "right") -> np.ndarray | None:
    """The gradient's columns (B, C, K, L) for dx of conv, max or average pooling, computed
    the right way or with one known mistake: "flipped" (conv with W flipped), "axes_swapped"
    (col2im with the kernel's height and width axes swapped), "tie_last"/"tie_all" (max
    pooling's gradient to the last maximum of a window, or to every maximum). None where
    the case is beyond this model."""
    x, dout = inputs.get("x"), inputs.get("dout")
    if (x is None or dout is None or not case.batched or case.ceil_mode
            or np.ndim(x) != 4 or np.ndim(dout) != 4):
        return None
    x = np.asarray(x, dtype=np.float64)
    dout = np.asarray(dout, dtype=np.float64)
    N = x.shape[0]
    kh, kw = case.kernel
    K, L = kh * kw, dout.shape[2] * dout.shape[3]
    if case.layer == "conv":
        if case.groups != 1 or inputs.get("W") is None:
            return None
        W = np.asarray(inputs["W"], dtype=np.float64)
        if variant == "flipped":
            W = W[:, :, ::-1, ::-1]
        F, C = W.shape[:2]
        dcol = np.einsum("fck,nfl->nckl", W.reshape(F, C, K), dout.reshape(N, F, L))
    elif case.layer == "pool":
        if not np.isfinite(x).all():
            return None
        cols = _pool_cols(case, x)
        if cols.shape[3] != L:
            return None
        g = dout.reshape(N, x.shape[1], 1, L)
        top = cols.max(axis=2, keepdims=True)
        if variant == "tie_all":
            dcol = (cols == top) * g
        else:
            k = (K - 1 - np.argmax(cols[:, :, ::-1], axis=2) if variant == "tie_last"
                 else np.argmax(cols, axis=2))
            dcol = (np.arange(K)[None, None, :, None] == k[:, :, None, :]) * g
    elif case.layer == "avgpool":
        if case.divisor_override is not None or not case.count_include_pad:
            return None
        dcol = np.broadcast_to(dout.reshape(N, x.shape[1], 1, L) / K,
                               (N, x.shape[1], K, L)).copy()
    else:
        return None
    if variant == "axes_swapped":
        if kh != kw:
            return None
        B, C = dcol.shape[:2]
        dcol = dcol.reshape(B, C, kh, kw, L).transpose(0, 1, 3, 2, 4).reshape(B, C, K, L)
    return dcol


def _windowed_dx(case: Case, a: np.ndarray, exp: Expected, inputs: dict) -> list[Diagnosis]:
    """Mistakes of a windowed layer's dx, each confirmed on this case's own gradient."""
    if a.size > MAX_SIM_SIZE or a.ndim != 4:
        return []
    right = _dcol(case, inputs)
    if right is None:
        return []
    padded = _fold(case, right)
    if not _matches(case, exp.value, _crop(case, padded), exp):
        return []  # the model does not reproduce the truth here: it confirms nothing
    (t, b, l, r), _, _ = _geometry(case)
    for oy in range(t + b + 1):  # cut from the padded gradient at the wrong offset
        for ox in range(l + r + 1):
            if (oy, ox) != (t, l) and _confirmed(case, a, _crop(case, padded, (oy, ox)), exp):
                return [Diagnosis("pad_crop", {"offset": (oy, ox), "pad": (t, l)})]
    named = {"flipped": "flipped_kernel", "axes_swapped": "col2im_axes_swapped",
             "tie_last": "tie_break", "tie_all": "tie_break"}
    for variant in (("flipped", "axes_swapped") if case.layer == "conv" else
                    ("tie_last", "tie_all", "axes_swapped") if case.layer == "pool" else
                    ("axes_swapped",)):
        dcol = _dcol(case, inputs, variant)
        if dcol is not None and _confirmed(case, a, _crop(case, _fold(case, dcol)), exp):
            facts: dict = {"output": "dx"}
            if variant.startswith("tie_"):
                facts = {"rule": variant[4:], "moved": variant == "tie_last"}
            return [Diagnosis(named[variant], facts)]
    if (_confirmed(case, a, _crop(case, _last_offset(case, right)), exp)
            or (case.layer != "pool" and _assigned(case, a, exp, right))):
        return [Diagnosis("overlap_assign", {"output": "dx"}, "overlap")]
    return []


def _last_offset(case: Case, dcol: np.ndarray) -> np.ndarray:
    """col2im with '=' for '+=': offset by offset in row-major order, each kernel offset's
    windows overwrite what the earlier offsets wrote (the padded image)."""
    parts = _parts(case, dcol)
    ones = _parts(case, np.ones((1, 1, *dcol.shape[2:])))[:, 0, 0]
    img = np.zeros(parts.shape[1:])
    for part, on in zip(parts, ones, strict=True):
        img = np.where(on > 0, part, img)
    return img


def _assigned(case: Case, a: np.ndarray, exp: Expected, dcol: np.ndarray) -> bool:
    """Whether the gradient was assigned (=) where it should accumulate (+=): every wrong
    element lies under several windows and holds exactly one window's share of the gradient
    (the last writer's; the truth minus it is the overlap sum the assignment lost), and the
    elements under one window are all right."""
    parts = _crop(case, _parts(case, dcol))
    ones = _crop(case, _parts(case, np.ones((1, 1, *dcol.shape[2:]))))[:, 0, 0]
    cover = np.broadcast_to(ones.sum(axis=0), a.shape)
    bad = ~_close(case, a, exp.value, exp)
    if not bad.any() or not (cover > 1)[bad].all():
        return False
    own = np.zeros(a.shape, dtype=bool)
    for part, on in zip(parts, ones, strict=True):
        lost = ~_close(case, exp.value, part, exp)  # this share alone is not the truth
        own |= (on > 0)[None, None] & _close(case, a, part, exp) & lost
    return bool(own[bad].all())


# --- max pooling: zero padding and '=' for '+=', told apart by simulating each variant -----


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


def _pool_causes(case: Case, output: str, a: np.ndarray, exp: Expected,
                 inputs: dict) -> list[Diagnosis]:
    """Zero padding versus '=' for '+=', told apart by simulating each variant; a cause is
    named only where exactly one variant fits and each fault it claims changes this case."""
    x, dout = inputs.get("x"), inputs.get("dout")
    if x is None or (output == "dx" and dout is None) or a.size > MAX_SIM_SIZE:
        return []
    padded = any(pad_amounts(case))
    overlap = any(s < k for s, k in zip(case.stride, case.kernel, strict=True))
    g = None if output == "out" else np.asarray(dout, dtype=np.float64)
    zero = Diagnosis("pad_zero_max", {"output": output})
    assign = Diagnosis("overlap_assign", {"output": output}, "overlap")
    variants: list[tuple[float, bool | str, tuple[Diagnosis, ...]]] = []
    if padded:
        variants.append((0.0, True, (zero,)))
    if overlap and output == "dx":
        variants += [(-np.inf, False, (assign,)), (-np.inf, "window", (assign,))]
        if padded:
            variants += [(0.0, False, (zero, assign)), (0.0, "window", (zero, assign))]
    sims: dict[tuple[float, bool | str], np.ndarray | None] = {}

    def result(pad_value: float, acc: bool | str) -> np.ndarray | None:
        if (pad_value, acc) not in sims:
            sim = _pool_sim(case, x, g, pad_value, acc)
            sims[pad_value, acc] = None if sim is None else sim[0 if output == "out" else 1]
        return sims[pad_value, acc]

    fits: list[tuple[Diagnosis, ...]] = []
    for pad_value, acc, found in variants:
        got = result(pad_value, acc)
        if got is None or not _confirmed(case, a, got, exp):
            continue
        # evidence: each fault the diagnosis claims changes this case's result on its own
        other_pad = result(-np.inf, acc) if pad_value == 0.0 else None
        other_acc = result(pad_value, True) if acc is not True else None
        if any(o is not None and _matches(case, got, o, exp) for o in (other_pad, other_acc)):
            continue
        if found not in fits:
            fits.append(found)
    return list(fits[0]) if len(fits) == 1 else []  # two faults fit this case: cannot tell


def _relu(case: Case, a: np.ndarray, exp: Expected, bad: np.ndarray,
          inputs: dict) -> list[Diagnosis]:
    """x >= 0 for x > 0: confirmed where every wrong element has x == 0 and carries dout."""
    x, dout = inputs.get("x"), inputs.get("dout")
    if x is None or dout is None or np.shape(x) != a.shape or np.shape(dout) != a.shape:
        return []
    x, dout = np.asarray(x), np.asarray(dout, dtype=np.float64)
    if (x[bad] == 0).all() and _close(case, a, dout, exp)[bad].all():
        return [Diagnosis("relu_grad_at_zero", {"count": int(bad.sum())})]
    return []


# --- the pattern, where no cause is confirmed ----------------------------------------------


def _band(case: Case, shape: tuple[int, ...], output: str) -> np.ndarray | None:
    """The border band of a windowed layer's 4-D output or dx: for dx the elements within
    pad of an edge, for out the positions whose window reaches into the padding."""
    t, b, l, r = pad_amounts(case)
    if not any((t, b, l, r)) or len(shape) != 4:
        return None
    H, W = shape[-2:]
    band = np.zeros((H, W), dtype=bool)
    if output == "dx":
        band[:t], band[H - b:], band[:, :l], band[:, W - r:] = True, True, True, True
        return band
    if output != "out":
        return None
    (kh, kw), (sh, sw), (dh, dw) = case.kernel, case.stride, case.dilation
    rows = np.arange(H) * sh
    cols = np.arange(W) * sw
    band[(rows < t) | (rows + dh * (kh - 1) >= t + case.H)] = True
    band[:, (cols < l) | (cols + dw * (kw - 1) >= l + case.W)] = True
    return band


def _pattern(case: Case, output: str, a: np.ndarray, bad: np.ndarray,
             inputs: dict | None) -> tuple[str | None, dict]:
    """Where the wrong elements lie (a PATTERNS code and its facts), or (None, {})."""
    if bad.all():
        return ("everywhere", {}) if bad.size > 1 else (None, {})
    if case.layer in WINDOWED and case.batched and a.ndim == 4:
        band = _band(case, a.shape, output)
        if band is not None and band.any() and not (bad & ~band[None, None]).any():
            return "border", {}
        if band is not None and band.any() and not (bad & band[None, None]).any():
            return "interior", {}
    if a.ndim >= 2 and a.shape[1] > 1 and case.layer not in registry.losses():
        hit = bad.reshape(bad.shape[0], bad.shape[1], -1).any(axis=(0, 2))
        if 0 < hit.sum() < hit.size:
            return "some_channels", {"channels": [int(c) for c in np.flatnonzero(hit)]}
    return None, {}


# --- the diagnosis -------------------------------------------------------------------------


def findings(case: Case, output: str, a: np.ndarray, exp: Expected, bad: np.ndarray,
             inputs: dict | None) -> tuple[Diagnosis, ...]:
    """The mismatch as data: a 'values' finding (counts, the worst element, the pattern where
    no cause is confirmed), then the confirmed causes.

    Recognising is best effort: a check that fails confirms nothing rather than crash."""
    facts: dict = {"mismatched": int(bad.sum()), "size": int(bad.size)}
    try:
        facts.update(_worst_facts(a, exp, bad))
    except Exception:  # an odd array (empty, object dtype) must not lose the verdict
        facts["unshown"] = True
    try:
        found = _recognise(case, output, a, exp, bad, inputs)
    except Exception:
        found = []
    pattern = None
    if not any(d.is_cause for d in found):
        try:
            pattern, more = _pattern(case, output, a, bad, inputs)
            facts.update(more)
        except Exception:
            pattern = None
    return (Diagnosis("values", facts, pattern), *found)


def diagnose_values(case: Case, output: str, a: np.ndarray, exp: Expected,
                    bad: np.ndarray, inputs: dict | None) -> str:
    """`findings` in words (the worst element always ends them)."""
    return render(findings(case, output, a, exp, bad, inputs))


def _recognise(case: Case, output: str, a: np.ndarray, exp: Expected, bad: np.ndarray,
               inputs: dict | None) -> list[Diagnosis]:
    want = exp.value
    found = diagnose_curricula.recognise(case, output, a, exp, bad, inputs)
    if found is not None:
        return [found]
    if case.layer == "softmax" and inputs is not None:
        if found_softmax := _softmax(case, output, a, exp, inputs):
            return found_softmax
    if not np.isfinite(a[bad]).all() and np.isfinite(want[bad]).all():
        return [Diagnosis("non_finite", {"count": int((~np.isfinite(a[bad])).sum())})]
    if _is_float32_level(case, output, a, exp, bad, inputs):
        return [Diagnosis("float32_arithmetic")]
    fit = _scale(case, a, exp)
    if fit is not None:
        return [_scale_diagnosis(case, output, fit[0], inputs, fit[1], a.size)]
    c = _batch_factor(case, a, exp)
    if c is not None:
        return [_scale_diagnosis(case, output, c, inputs)]
    if inputs is None:
        return []
    if case.layer in registry.weighted() and output == "out":
        if found_bias := _bias(case, a, exp, inputs):
            return found_bias
        if case.layer == "conv":
            return _conv_forward(case, a, exp, inputs)
    if case.layer == "conv" and output == "dW":
        F = want.shape[0]
        if _confirmed(case, a, want.reshape(F, -1).T.reshape(want.shape), exp):
            return [Diagnosis("dw_no_transpose")]
        if _confirmed(case, a, want[:, :, ::-1, ::-1], exp):
            return [Diagnosis("flipped_kernel", {"output": "dW"})]
    if case.layer == "relu" and output == "dx":
        return _relu(case, a, exp, bad, inputs)
    if case.layer == "pool" and inputs.get("x") is not None:
        if found_pool := _pool_causes(case, output, a, exp, inputs):
            return found_pool
    if output == "dx" and case.layer in WINDOWED:
        return _windowed_dx(case, a, exp, inputs)
    return []
