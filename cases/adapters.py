"""Adapters: run one case through an implementation's API and collect its raw outputs.

Only numpy is imported here, so the same code runs inside a sandboxed worker process.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
from layercheck.cases import curricula  # the curricula's other layers (issue 13)
from layercheck.cases.case import Case

CLASS_NAMES = {
    "conv": "Convolution", "pool": "Pooling", "avgpool": "AvgPooling",
    "affine": "Affine", "relu": "Relu", "softmax": "SoftmaxWithLoss",
    **{k: curricula.CLASS_NAMES[k] for k in curricula.BOOK_CLASSES},  # impl/ has the rest
}
# Functional (CS231n-style) names per layer: (forward, backward) pairs, naive first.
FUNCTION_NAMES = {
    "conv": (("conv_forward_naive", "conv_backward_naive"),
             ("conv_forward_fast", "conv_backward_fast")),
    "pool": (("max_pool_forward_naive", "max_pool_backward_naive"),
             ("max_pool_forward_fast", "max_pool_backward_fast")),
    "affine": (("affine_forward", "affine_backward"),),
    "relu": (("relu_forward", "relu_backward"),),
    "softmax": (("softmax_loss", None),),
    **curricula.FUNCTION_NAMES,
}
LOSS_LAYERS = ("softmax", *curricula.LOSS_LAYERS)  # terminal losses: dx judged at dout = 1
_OURS = os.path.dirname(os.path.abspath(__file__)) + os.sep  # frames here are never the student's


class Missing(Exception):
    """The implementation does not define this layer."""


@dataclass
class Run:
    """What an implementation returned for one case (raw objects, not yet judged)."""

    outputs: dict[str, Any] = field(default_factory=dict)
    error_phase: str | None = None  # forward | backward, where it raised
    error: str | None = None  # "ValueError: stride must be >= 1"
    error_type: str | None = None
    traceback: str | None = None
    missing: bool = False
    modified: list[str] = field(default_factory=list)
    seconds: float | None = None

    def record_error(self, phase: str, e: BaseException) -> None:
        """Keep the implementation's own exception as data: phase, type, text, traceback (the
        last 16 frames: deep enough to reach the student's own frame under NumPy's)."""
        self.error_phase, self.error_type = phase, type(e).__name__
        self.error = f"{type(e).__name__}: {e}"
        self.traceback = "".join(traceback.format_exception(e, limit=-16))


def _p(v: tuple[int, int] | str) -> int | tuple[int, int] | str:
    """A pair as the notes' API takes it: an int where both values agree."""
    return v if isinstance(v, str) or v[0] != v[1] else v[0]


def _extras(case: Case, names: tuple[str, ...]) -> dict[str, Any]:
    """Keyword arguments beyond the notes' API, passed only when not at their default."""
    defaults = {"dilation": (1, 1), "groups": 1, "ceil_mode": False,
                "count_include_pad": True, "divisor_override": None}
    return {n: _p(getattr(case, n)) if n == "dilation" else getattr(case, n)
            for n in names if getattr(case, n) != defaults[n]}


def _snapshot(v: Any) -> Any:
    return v.copy() if type(v) is np.ndarray else v


def _layer(mod: ModuleType, case: Case, a: dict[str, Any]) -> Any:
    cls = getattr(mod, CLASS_NAMES[case.layer], None)
    if cls is None:
        raise Missing(CLASS_NAMES[case.layer])
    kh, kw = case.kernel
    s, p = _p(case.stride), _p(case.pad)
    if case.layer == "conv":
        return cls(a["W"], a["b"], s, p, **_extras(case, ("dilation", "groups")))
    if case.layer == "pool":
        return cls(kh, kw, s, p, **_extras(case, ("dilation", "ceil_mode")))
    if case.layer == "avgpool":
        names = ("ceil_mode", "count_include_pad", "divisor_override")
        return cls(kh, kw, s, p, **_extras(case, names))
    if case.layer == "affine":
        return cls(a["W"], a["b"])
    return cls()


def convention_inputs(case: Case, arrays: dict[str, Any]) -> dict[str, Any]:
    """The arrays as the curricula call a layer: a terminal loss's backward gets dout = 1.

    The book's `SoftmaxWithLoss.backward(dout=1)` and CS231n's `softmax_loss` both return
    d(loss)/dx for dout = 1, so the truth is computed for dout = 1 too (either API).
    """
    if case.layer not in LOSS_LAYERS:
        return arrays
    return {**arrays, "dout": np.array(1.0, dtype=case.np_dtype)}


def _binding_error(e: BaseException) -> bool:
    """Whether a TypeError was raised while binding the call's arguments (no frame of the
    callee ran: the innermost frame is ours, not the student's)."""
    if not isinstance(e, TypeError) or "argument" not in str(e):
        return False
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code.co_filename.startswith(_OURS)


def call_backward(layer: Any, dout: Any) -> Any:
    """`layer.backward(dout)`, or `layer.backward()` where backward takes no argument (the
    book's loss layers and some students' layers keep what they need from forward)."""
    try:
        return layer.backward(dout)
    except TypeError as e:
        if not _binding_error(e):
            raise
    return layer.backward()


def run_class(mod: ModuleType, case: Case, arrays: dict[str, Any]) -> Run:
    """Run the notes' class API: construct, forward, backward; read dW and db."""
    if case.layer in curricula.CLASS_NAMES:
        return curricula.run_class(mod, case, arrays)
    run = Run()
    a = handed(arrays)
    phase = "forward"
    try:
        layer = _layer(mod, case, a)
        if case.layer == "softmax":
            run.outputs["loss"] = _snapshot(layer.forward(a["x"], a["t"]))
        else:
            run.outputs["out"] = _snapshot(layer.forward(a["x"]))
        phase = "backward"
        run.outputs["dx"] = call_backward(layer, a["dout"][()] if a["dout"].ndim == 0
                                          else a["dout"])
        if case.layer in ("conv", "affine"):
            run.outputs["dW"] = getattr(layer, "dW", None)
            if case.bias:
                run.outputs["db"] = getattr(layer, "db", None)
    except Missing:
        run.missing = True
    except Exception as e:  # the implementation's own failure, reported as data
        run.record_error(phase, e)
    run.modified = modified_inputs(arrays, a)
    return run


def handed(arrays: dict[str, Any], seen: dict[str, Any] | None = None) -> dict[str, Any]:
    """The implementation's own copies of the case's arrays (`seen`, when given, records
    the very arrays it was handed, for the worker's in-place check)."""
    a = {k: None if v is None else v.copy() for k, v in arrays.items()}
    if seen is not None:
        seen.update(a)
    return a


def modified_inputs(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Names of the input arrays the implementation changed in place."""
    changed = []
    for k, v in before.items():
        w = after.get(k)
        if v is None or w is None:
            continue
        if v.shape != w.shape or not np.array_equal(v, w, equal_nan=v.dtype.kind == "f"):
            changed.append(k)
    return changed
