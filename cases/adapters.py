"""Adapters: run one case through an implementation's API and collect its raw outputs.

Only numpy is imported here, so the same code runs inside a sandboxed worker process.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from cases.case import Case

CLASS_NAMES = {
    "conv": "Convolution", "pool": "Pooling", "avgpool": "AvgPooling",
    "affine": "Affine", "relu": "Relu", "softmax": "SoftmaxWithLoss",
}


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
        """Keep the implementation's own exception as data: phase, type, text, traceback."""
        self.error_phase, self.error_type = phase, type(e).__name__
        self.error = f"{type(e).__name__}: {e}"
        self.traceback = "".join(traceback.format_exception(e, limit=-4))


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


def run_class(mod: ModuleType, case: Case, arrays: dict[str, Any]) -> Run:
    """Run the notes' class API: construct, forward, backward; read dW and db."""
    run = Run()
    a = {k: None if v is None else v.copy() for k, v in arrays.items()}
    phase = "forward"
    try:
        layer = _layer(mod, case, a)
        if case.layer == "softmax":
            run.outputs["loss"] = _snapshot(layer.forward(a["x"], a["t"]))
        else:
            run.outputs["out"] = _snapshot(layer.forward(a["x"]))
        phase = "backward"
        run.outputs["dx"] = layer.backward(a["dout"][()] if case.layer == "softmax"
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
