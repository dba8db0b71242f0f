"""Seeded input arrays for a case: the same arrays go to both sides."""

from __future__ import annotations

import hashlib
import hmac
import math
from typing import NamedTuple

import numpy as np
from layercheck.cases import registry
from layercheck.cases.case import NORM_LAYERS, Case

# Input kinds per layer (each record's `kinds`). "ties": small integers, so windows hold
# equal maxima; "negative": all values < 0, so zero padding would win a max; "nan": a few NaNs.
KINDS = registry.input_kinds()
WINDOWED = registry.windowed()
POOLING = registry.pooling()
BATCH_NORMS = registry.batch_norms()


def pad_amounts(case: Case) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) padding, with PyTorch's split for 'same'."""
    if case.pad == "valid":
        return (0, 0, 0, 0)
    if case.pad == "same":
        out = []
        for k, d in zip(case.kernel, case.dilation, strict=True):
            total = d * (k - 1)
            out += [total // 2, total - total // 2]
        return tuple(out)  # type: ignore[return-value]
    ph, pw = case.pad
    return (ph, ph, pw, pw)


def _pool_size(size: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    num = size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)
    out = num // s + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1
    return out


def output_shape(case: Case) -> tuple[int, ...] | None:
    """Output shape PyTorch gives for the case, or None where the size is < 1."""
    N, C, H, W = case.N, case.C, case.H, case.W
    role = case.unit.role
    if role in ("map", "norm", "dropout"):  # the output has x's shape
        return case.x_shape
    if role == "loss":
        return ()
    if role == "affine":
        return (N, case.F)
    if min(case.stride) < 1 or min(case.dilation) < 1:
        return None
    t, b, l, r = pad_amounts(case)
    (kh, kw), (sh, sw), (dh, dw) = case.kernel, case.stride, case.dilation
    if role == "conv":
        oh = (H + t + b - dh * (kh - 1) - 1) // sh + 1
        ow = (W + l + r - dw * (kw - 1) - 1) // sw + 1
        channels = case.F
    else:
        oh = _pool_size(H, kh, sh, t, dh, case.ceil_mode)
        ow = _pool_size(W, kw, sw, l, dw, case.ceil_mode)
        channels = C
    if oh < 1 or ow < 1:
        return None
    shape = (N, channels, oh, ow)
    return shape if case.batched else shape[1:]


def _x(case: Case, rng: np.random.Generator) -> np.ndarray:
    shape = case.x_shape
    if case.kind == "ties":
        return rng.integers(-2, 3, size=shape).astype(np.float64)
    if case.kind == "negative":
        return -np.abs(rng.standard_normal(shape)) - 0.5
    if case.kind == "large":
        return 1000.0 + 30.0 * rng.standard_normal(shape)
    if case.kind == "wide":  # exp overflows in float32 past |x| = 88
        return 40.0 * rng.standard_normal(shape)
    if case.kind == "shifted":  # mean far from zero: E[x^2] - E[x]^2 cancels
        return 5.0 + 0.5 * rng.standard_normal(shape)
    x = rng.standard_normal(shape)
    if case.kind == "nan":
        flat = x.reshape(-1)
        flat[rng.choice(flat.size, size=max(1, flat.size // 10), replace=False)] = np.nan
    return x


def draw_seed(case: Case, key: bytes = b"") -> int:
    """The seed of a case's arrays. Without a key it is `case.seed`, from the public id:
    anyone with layercheck draws the same arrays. With a key (a course's secret; for hidden
    cases the secret and a fresh draw of the grader's) it is an HMAC-SHA256 of the id, so
    the arrays cannot be predicted without the key, and a table of answers made offline
    with the public tool matches nothing. The id stays the same either way."""
    if not key:
        return case.seed
    digest = hmac.new(key, case.id.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "little")


def make_inputs(case: Case, seed: int | None = None) -> dict[str, np.ndarray | None]:
    """x, W, b, t and the upstream gradient dout, in the case's dtype, drawn from `seed`
    (default `case.seed`; see `draw_seed`).

    Values are drawn in float64 and rounded once to the dtype, so the float64 truth
    sees exactly the values the implementation sees. dout is None where the output
    shape is invalid (an error case).
    """
    rng = np.random.default_rng(case.seed if seed is None else seed)
    dt = case.np_dtype
    x = _x(case, rng)
    W = b = t = None
    if case.layer == "conv":
        kh, kw = case.kernel
        fan_in = case.C // max(case.groups, 1) * kh * kw
        W = rng.standard_normal((case.F, max(case.C // max(case.groups, 1), 1), kh, kw))
        W /= math.sqrt(max(fan_in, 1))
        b = rng.standard_normal(case.F) if case.bias else None
    elif case.layer == "affine":
        D = case.C * case.H * case.W
        W = rng.standard_normal((D, case.F)) / math.sqrt(D)
        b = rng.standard_normal(case.F)
    elif case.unit.role == "loss":
        t = rng.integers(0, case.C, size=case.N)
        if case.kind == "onehot":
            t = np.eye(case.C)[t]
    shape = output_shape(case)
    dout = None if shape is None else rng.standard_normal(shape)
    if case.unit.role == "loss":
        dout = np.array(rng.uniform(0.5, 2.0))
    arrays = {"x": x, "W": W, "b": b, "dout": dout}
    if case.layer in NORM_LAYERS:
        arrays.update(_norm_inputs(case, rng))
    out = {k: None if v is None else np.array(v, dtype=dt, order="C") for k, v in arrays.items()}
    out["t"] = t if t is None or t.ndim == 1 else t.astype(dt)
    return out


def norm_features(case: Case) -> int:
    """How many gamma/beta values a normalization case has (features or channels)."""
    if case.layer == "batchnorm":
        return math.prod(case.x_shape[1:])
    return case.C


def _norm_inputs(case: Case, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """gamma, beta; running statistics (test mode); the earlier batches (training steps)."""
    D = norm_features(case)
    out = {"gamma": 1.0 + 0.5 * rng.standard_normal(D), "beta": rng.standard_normal(D)}
    if case.layer in BATCH_NORMS:
        if not case.train:
            out["running_mean"] = 0.5 * rng.standard_normal(D)
            out["running_var"] = rng.uniform(0.5, 2.0, D)
        elif case.steps > 1:
            out["xs"] = np.stack([_x(case, rng) for _ in range(case.steps - 1)])
    return out


class Rejection(NamedTuple):
    """Why PyTorch rejects a configuration, and the parameter to blame."""

    param: str
    reason: str

    def __str__(self) -> str:
        return self.reason


def rejection(case: Case) -> Rejection | None:
    """Why PyTorch rejects the case's configuration, or None where it accepts it.

    Predicted from the arguments alone, so tests know the error cases before running;
    tests/test_cases.py checks the prediction against PyTorch on every grid case.
    """
    windowed = case.layer in WINDOWED
    if windowed:
        if min(case.stride) < 1:
            return Rejection("stride", f"stride must be >= 1, got {case.stride}")
        if min(case.dilation) < 1:
            return Rejection("dilation", f"dilation must be >= 1, got {case.dilation}")
        if isinstance(case.pad, str):
            if case.pad == "same" and max(case.stride) > 1:
                return Rejection("stride", "padding='same' needs stride 1")
        elif min(case.pad) < 0:
            return Rejection("pad", f"pad must be >= 0, got {case.pad}")
    if case.layer == "conv" and (case.C % case.groups or case.F % case.groups):
        return Rejection("groups", f"groups={case.groups} must divide C={case.C}, F={case.F}")
    if case.layer in POOLING and any(
            p > k // 2 for p, k in zip(case.pad, case.kernel, strict=True)):
        return Rejection("pad", f"pad {case.pad} should be at most half of kernel {case.kernel}")
    if case.layer == "groupnorm" and (case.groups < 1 or case.C % case.groups):
        return Rejection("G", f"G={case.groups} groups must divide C={case.C}")
    if (case.layer in BATCH_NORMS and case.train
            and math.prod(case.x_shape) // norm_features(case) < 2):
        return Rejection("x", "training needs more than one value per channel")
    if case.layer == "avgpool" and case.divisor_override == 0:
        return Rejection("divisor_override", "divisor_override must be non-zero")
    if windowed and output_shape(case) is None:
        return Rejection("kernel", "kernel larger than the padded input (output size < 1)")
    return None


def outputs(case: Case) -> tuple[str, ...]:
    """Names of the outputs a valid case is judged on: its record's `outputs`, less db
    without a bias and less its `train_only` outputs in test mode."""
    unit = case.unit
    return tuple(o for o in unit.outputs if (o != "db" or case.bias)
                 and (case.train or o not in unit.train_only))


def has_empty_window(case: Case) -> bool:
    """True where some pooling window holds padding only.

    PyTorch's max pooling then outputs -inf and sends that window's gradient to an
    element outside the window (its CPU kernel's start index), a quirk no grid asks
    implementations to copy.
    """
    if case.layer not in POOLING or rejection(case) is not None:
        return False
    shape = output_shape(case)
    t, _, l, _ = pad_amounts(case)
    for size, k, s, p, d, n_out in zip((case.H, case.W), case.kernel, case.stride, (t, l),
                                       case.dilation, shape[-2:], strict=True):
        for o in range(n_out):
            if not any(0 <= o * s - p + d * i < size for i in range(k)):
                return True
    return False
