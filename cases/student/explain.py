"""Plain words for a student's wrong shape or exception, located in the student's own code."""

from __future__ import annotations

import math
import re
from pathlib import Path

from cases.case import Case
from reference.diagnose import shape_hint


def shape_words(case: Case, output: str, got: tuple[int, ...]) -> str:
    """What a wrong shape most likely means, from the shape that came back."""
    want_x = case.x_shape
    if output == "dx" and case.layer == "affine" and got == (case.N, math.prod(want_x[1:])):
        return (f"dx was left flat {got}: reshape it to the input's shape {want_x} "
                f"(dx.reshape(*x.shape))")
    if output == "dW" and case.layer == "affine" and got == (case.F, case.C * case.H * case.W):
        return "dW is transposed: for out = x @ W, dW = x.T @ dout, shaped like W (D, F)"
    if output == "db":
        if got and got[0] == case.N and case.N != case.F:
            return "db still has the batch axis: sum dout over the batch (and spatial) axes"
        if case.layer == "conv":
            return "db must have shape (F,): sum dout over axes (0, 2, 3)"
    if output == "dW" and case.layer == "conv" and len(got) == 2:
        return ("dW was left as a matrix: reshape it to W's shape (F, C, kh, kw) after "
                "transposing")
    return ""


def diagnose_error(case: Case, phase: str | None, error: str, tb: str | None) -> str:
    """Plain words for an exception the implementation raised, with its own source line."""
    where = ""
    if tb:
        lines = [ln.strip() for ln in tb.strip().splitlines()]
        frames = [i for i, ln in enumerate(lines) if ln.startswith("File ")]
        if frames:
            i = frames[-1]
            m = re.match(r'File "(.*)", line (\d+)', lines[i])
            loc = f"{Path(m.group(1)).name} line {m.group(2)}" if m else lines[i]
            code = lines[i + 1] if i + 1 < len(lines) and not lines[i + 1].startswith(
                ("Traceback", "File ")) else ""
            where = f" at {loc}" + (f": {code}" if code else "")
    hint = ""
    if "'NoneType' object has no attribute" in error or (
            "NoneType" in error and phase == "backward"):
        hint = ("backward uses something forward never stored (still None): keep what "
                "backward needs in forward (self.x = x, self.col = col, self.col_W = col_W)")
    elif "cannot reshape array" in error and phase == "forward":
        hint = ("the output size used in forward disagrees with the data. " + shape_hint(
            case, "out"))
    elif "cannot be interpreted as an integer" in error or "must be an integer" in error:
        hint = "a size computed with / is a float: use // for output sizes"
    elif "operands could not be broadcast" in error:
        hint = "shapes do not line up (check reshape/transpose order and the bias shape)"
    text = f"{phase or 'the run'} raised {error}{where}"
    return f"{text}. {hint}" if hint else text
