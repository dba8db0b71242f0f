"""What an implementation's run returns (`Run`), and the helpers every adapter shares: hand
it copies of the arrays, call backward, notice inputs changed in place.

Only numpy and the standard library are imported here: it runs inside the sandboxed worker.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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


def snapshot(v: Any) -> Any:
    """A copy of an array the implementation returned (it may change it later), else v."""
    return v.copy() if type(v) is np.ndarray else v


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
