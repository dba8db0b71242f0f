"""Adapter for the CS231n-style functional API (`conv_forward_naive(x, w, b, conv_param)`, ...).

`run_functional` is the entry point: it runs each layer through the adapter its registry
record names (`run_core_functional` here, cases/curricula.py for the curricula's layers).
Only numpy is imported here, so it runs inside the sandboxed worker. softmax_loss(x, y)
returns d(loss)/dx: the caller judges it with dout = 1 (see
`layercheck.cases.adapters.convention_inputs`).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from layercheck.cases import curricula
from layercheck.cases.case import Case
from layercheck.cases.run import Run, handed, modified_inputs, snapshot


def supports(case: Case) -> bool:
    """Whether the functional API can express the case (square stride/pad, no extras)."""
    unit = case.unit
    if unit.adapter == "curricula":
        return curricula.supports_functional(case)
    if not unit.functions or not case.batched:
        return False
    if case.dilation != (1, 1) or case.groups != 1 or not case.bias or case.ceil_mode:
        return False
    if isinstance(case.pad, str) or case.stride[0] != case.stride[1]:
        return False
    if case.pad[0] != case.pad[1] or (unit.role == "pool" and case.pad != (0, 0)):
        return False
    return not (unit.role == "loss" and case.kind == "onehot")


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


def run_core_functional(mod: ModuleType, case: Case, arrays: dict[str, Any], variant: int = 0,
                        seen: dict[str, Any] | None = None,
                        entering: Callable[[Any], None] | None = None) -> Run:
    """The classic layers' functions; `variant` indexes the layer's pairs (1: *_fast)."""
    run = Run()
    pairs = case.unit.functions
    if variant >= len(pairs) or not hasattr(mod, pairs[variant].forward):
        run.missing = True
        return run
    fwd_name, bwd_name = pairs[variant].forward, pairs[variant].backward
    a = handed(arrays, seen)
    phase = "forward"
    try:
        value, cache = _forward(getattr(mod, fwd_name), case, a)
        if case.unit.role == "loss":
            run.outputs["loss"], run.outputs["dx"] = value, cache
        else:
            run.outputs["out"] = snapshot(value)
            phase = "backward"
            bwd = getattr(mod, bwd_name, None)
            if bwd is None:
                raise NameError(f"{bwd_name} is not defined")
            if entering is not None:
                entering(run.outputs["out"])
            grads = bwd(a["dout"], cache)
            if case.unit.has_weights:
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


# The functional API's adapter per registry adapter key (registry.ADAPTERS names these).
FUNCTIONAL_ADAPTERS: dict[str, Callable[..., Run]] = {
    "core": run_core_functional, "curricula": curricula.run_functional}


def run_functional(mod: ModuleType, case: Case, arrays: dict[str, Any], variant: int = 0,
                   seen: dict[str, Any] | None = None,
                   entering: Callable[[Any], None] | None = None) -> Run:
    """Run one case through the module's functions; `variant` indexes the layer's pairs in
    the registry (0: the main pair; 1: *_fast, or batchnorm_backward_alt).

    `seen`, when given, receives the very arrays the student was handed; `entering`, when
    given, is called with forward's output just before backward is called.
    """
    adapter = FUNCTIONAL_ADAPTERS[case.unit.adapter]
    return adapter(mod, case, arrays, variant, seen, entering)
