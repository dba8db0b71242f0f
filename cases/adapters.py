"""Adapters: run one case through an implementation's API and collect its raw outputs.

`run_class` is the class API's entry point: it runs each layer through the adapter its
registry record names (`run_core_class` here for the classic layers, cases/curricula.py
for the others). Only numpy is imported here, so the same code runs inside a sandboxed
worker process.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
from layercheck.cases import curricula, registry
from layercheck.cases.case import Case
from layercheck.cases.run import (  # also imported from here by callers
    Missing,
    Run,
    call_backward,
    handed,
    modified_inputs,
    snapshot,
)

# Tables other modules import, derived from the registry (cases/registry.py).
CLASS_NAMES = registry.class_names()  # the classes students are graded on; impl/ has more
# Functional (CS231n-style) names per layer: (forward, backward) pairs, naive first.
FUNCTION_NAMES = registry.function_names()
LOSS_LAYERS = registry.losses()  # terminal losses: dx judged at dout = 1


def _p(v: tuple[int, int] | str) -> int | tuple[int, int] | str:
    """A pair as the notes' API takes it: an int where both values agree."""
    return v if isinstance(v, str) or v[0] != v[1] else v[0]


def _extras(case: Case, names: tuple[str, ...]) -> dict[str, Any]:
    """Keyword arguments beyond the notes' API, passed only when not at their default."""
    defaults = {"dilation": (1, 1), "groups": 1, "ceil_mode": False,
                "count_include_pad": True, "divisor_override": None}
    return {n: _p(getattr(case, n)) if n == "dilation" else getattr(case, n)
            for n in names if getattr(case, n) != defaults[n]}


def _layer(mod: ModuleType, case: Case, a: dict[str, Any]) -> Any:
    name = case.unit.class_name
    cls = getattr(mod, name, None)
    if cls is None:
        raise Missing(name)
    kh, kw = case.kernel
    s, p = _p(case.stride), _p(case.pad)
    if case.layer == "conv":
        return cls(a["W"], a["b"], s, p, **_extras(case, ("dilation", "groups")))
    if case.layer == "pool":
        return cls(kh, kw, s, p, **_extras(case, ("dilation", "ceil_mode")))
    if case.layer == "avgpool":
        names = ("ceil_mode", "count_include_pad", "divisor_override")
        return cls(kh, kw, s, p, **_extras(case, names))
    if case.unit.has_weights:
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


def run_core_class(mod: ModuleType, case: Case, arrays: dict[str, Any]) -> Run:
    """The classic layers' class API: construct, forward, backward; read dW and db."""
    run = Run()
    a = handed(arrays)
    phase = "forward"
    try:
        layer = _layer(mod, case, a)
        if case.unit.role == "loss":
            run.outputs["loss"] = snapshot(layer.forward(a["x"], a["t"]))
        else:
            run.outputs["out"] = snapshot(layer.forward(a["x"]))
        phase = "backward"
        run.outputs["dx"] = call_backward(layer, a["dout"][()] if a["dout"].ndim == 0
                                          else a["dout"])
        if case.unit.has_weights:
            run.outputs["dW"] = getattr(layer, "dW", None)
            if case.bias:
                run.outputs["db"] = getattr(layer, "db", None)
    except Missing:
        run.missing = True
    except Exception as e:  # the implementation's own failure, reported as data
        run.record_error(phase, e)
    run.modified = modified_inputs(arrays, a)
    return run


# The class API's adapter per registry adapter key (registry.ADAPTERS names these).
CLASS_ADAPTERS: dict[str, Callable[[ModuleType, Case, dict[str, Any]], Run]] = {
    "core": run_core_class, "curricula": curricula.run_class}


def run_class(mod: ModuleType, case: Case, arrays: dict[str, Any]) -> Run:
    """Run the notes' class API: construct, forward, backward; read the layer's state."""
    return CLASS_ADAPTERS[case.unit.adapter](mod, case, arrays)
