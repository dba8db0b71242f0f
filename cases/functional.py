"""Adapter for the CS231n-style functional API (`conv_forward_naive(x, w, b, conv_param)`, ...).

Only numpy is imported here, so it runs inside the sandboxed worker. softmax_loss(x, y)
returns d(loss)/dx: the caller judges it with dout = 1 (see `layercheck.cases.adapters.convention_inputs`).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
from layercheck.cases import curricula
from layercheck.cases.adapters import FUNCTION_NAMES, Run, handed, modified_inputs
from layercheck.cases.case import Case


def supports(case: Case) -> bool:
    """Whether the functional API can express the case (square stride/pad, no extras)."""
    if case.layer in curricula.FUNCTION_NAMES:
        return curricula.supports_functional(case)
    if case.layer not in FUNCTION_NAMES or not case.batched:
        return False
    if case.dilation != (1, 1) or case.groups != 1 or not case.bias or case.ceil_mode:
        return False
    if isinstance(case.pad, str) or case.stride[0] != case.stride[1]:
        return False
    if case.pad[0] != case.pad[1] or (case.layer == "pool" and case.pad != (0, 0)):
        return False
    return not (case.layer == "softmax" and case.kind == "onehot")


def _pair(result: Any, what: str) -> tuple[Any, Any]:
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise TypeError(f"{what} must return a pair {what.split('_')[0]}"
                        f" (value, cache), got {type(result).__name__}")
    return result[0], result[1]


def _forward(f: Any, case: Case, a: dict) -> tuple[Any, Any]:
    s, p = case.stride[0], case.pad[0]
    if case.layer == "conv":
        return _pair(f(a["x"], a["W"], a["b"], {"stride": s, "pad": p}), "forward")
    if case.layer == "pool":
        kh, kw = case.kernel
        return _pair(f(a["x"], {"pool_height": kh, "pool_width": kw, "stride": s}), "forward")
    if case.layer == "affine":
        return _pair(f(a["x"], a["W"], a["b"]), "forward")
    if case.layer == "relu":
        return _pair(f(a["x"]), "forward")
    return _pair(f(a["x"], a["t"]), "softmax_loss")


def run_functional(mod: ModuleType, case: Case, arrays: dict[str, Any], variant: int = 0,
                   seen: dict[str, Any] | None = None,
                   entering: Callable[[Any], None] | None = None) -> Run:
    """Run one case through the module's functions; `variant` 1 picks the *_fast pair.

    `seen`, when given, receives the very arrays the student was handed; `entering`, when
    given, is called with forward's output just before backward is called.
    """
    if case.layer in curricula.FUNCTION_NAMES:
        return curricula.run_functional(mod, case, arrays, variant, seen, entering)
    run = Run()
    pairs = FUNCTION_NAMES[case.layer]
    if variant >= len(pairs) or not hasattr(mod, pairs[variant][0]):
        run.missing = True
        return run
    fwd_name, bwd_name = pairs[variant]
    a = handed(arrays, seen)
    phase = "forward"
    try:
        value, cache = _forward(getattr(mod, fwd_name), case, a)
        if case.layer == "softmax":
            run.outputs["loss"], run.outputs["dx"] = value, cache
        else:
            run.outputs["out"] = value.copy() if type(value) is np.ndarray else value
            phase = "backward"
            bwd = getattr(mod, bwd_name, None)
            if bwd is None:
                raise NameError(f"{bwd_name} is not defined")
            if entering is not None:
                entering(run.outputs["out"])
            grads = bwd(a["dout"], cache)
            if case.layer in ("conv", "affine"):
                if not isinstance(grads, tuple | list) or len(grads) != 3:
                    raise TypeError(f"{bwd_name} must return (dx, dw, db), "
                                    f"got {type(grads).__name__}")
                run.outputs["dx"], run.outputs["dW"], run.outputs["db"] = grads
            else:
                run.outputs["dx"] = grads
    except Exception as e:  # the implementation's own failure, reported as data
        run.record_error(phase, e)
    run.modified = modified_inputs(arrays, a)
    return run
