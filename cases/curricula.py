"""Adapters for the curricula's other layers, both APIs; runs inside the worker.

Only numpy, the standard library and layercheck.cases (registry, case, inputs, run) are
imported here. The layers, their names and outputs are records of cases/registry.py.

The notes' classes: ``Sigmoid()``, ``BatchNormalization(gamma, beta, momentum=0.9,
running_mean=None, running_var=None)`` with ``forward(x, train_flg)``, ``Dropout(
dropout_ratio)``; impl/ adds the others under the names in CLASS_NAMES. CS231n's
functions: ``batchnorm_forward(x, gamma, beta, bn_param)`` -> (out, cache),
``batchnorm_backward(dout, cache)`` (or ``_alt``) -> (dx, dgamma, dbeta), the spatial and
layer/group variants, ``dropout_forward(x, dropout_param)`` (inverted, ``p`` keeps) and
``svm_loss(x, y)`` -> (loss, dx).

Batch norm's training cases first run forward on the case's earlier batches (``xs``) so
that the running statistics after several steps can be judged; the momentum passed is the
curricula's 0.9. A student's test-mode batch-norm case is judged on its forward only (out,
and the running statistics, which test mode must leave unchanged): neither the notes nor
CS231n define backward after a test-mode forward (the notes' backward reads what only a
training forward stores; CS231n's test-mode cache is whatever the student returns), so
backward is not called and dx, dgamma and dbeta are not among its outputs
(`student_outputs`). impl/'s own conformance (``eval_backward=True``) still judges them.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
from layercheck.cases import registry
from layercheck.cases.case import Case
from layercheck.cases.inputs import outputs
from layercheck.cases.run import Missing, Run, call_backward, handed, modified_inputs, snapshot

# Tables other modules import, derived from the registry (cases/registry.py).
LAYERS = registry.family("curricula")
CLASS_NAMES = {k: v for k, v in registry.class_names(students=False).items() if k in LAYERS}
# the notes define these three; the others are impl/'s own
BOOK_CLASSES = tuple(k for k in registry.class_names() if k in LAYERS)
FUNCTION_NAMES = {k: v for k, v in registry.function_names().items() if k in LAYERS}
LOSS_LAYERS = tuple(k for k in registry.losses() if k in LAYERS)
NORMS = registry.norms()  # gamma and beta: dgamma and dbeta are outputs
BATCH_NORMS = registry.batch_norms()  # running statistics, a train/test mode
DROPOUTS = registry.dropouts()
MOMENTUM = 0.9
# A dropout training case runs forward three more times on the same input (new seeds for
# CS231n's dropout_param) after its backward; these outputs hold what came back, so the
# judge can refuse a mask that never changes, cycles or shifts (dropout_judge.judge_masks).
AGAINS = ("out_again", "out_again2", "out_again3")
AGAIN = AGAINS[0]
BN_GRADS = ("dx", "dgamma", "dbeta")


def forward_only(case: Case) -> bool:
    """Whether a student's case is judged on forward alone: test-mode batch norm."""
    return case.unit.test_forward_only and not case.train


def student_outputs(case: Case) -> tuple[str, ...]:
    """The outputs a student's case is judged on: layercheck.cases.inputs.outputs, less batch
    norm's gradients in test mode (see `forward_only`)."""
    names = outputs(case)
    return tuple(o for o in names if o not in BN_GRADS) if forward_only(case) else names


def _flat(v: Any, size: int) -> Any:
    """A gradient for a per-channel parameter as (size,) when it holds size values."""
    return v.reshape(size) if type(v) is np.ndarray and v.size == size else v


def _triple(grads: Any, name: str) -> tuple[Any, Any, Any]:
    if not isinstance(grads, tuple | list) or len(grads) != 3:
        raise TypeError(f"{name} must return (dx, dgamma, dbeta), got "
                        f"{type(grads).__name__}")
    return grads[0], grads[1], grads[2]


def _pair(result: Any, name: str) -> tuple[Any, Any]:
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise TypeError(f"{name} must return a pair (value, cache), got "
                        f"{type(result).__name__}")
    return result[0], result[1]


# --- the notes' class API (and impl/) -------------------------------------------------


def _make(mod: ModuleType, case: Case, a: dict) -> Any:
    name = case.unit.class_name
    cls = getattr(mod, name, None)
    if cls is None:
        raise Missing(name)
    L = case.layer
    eps = {} if case.eps is None else {"eps": case.eps}
    if L in BATCH_NORMS:
        return cls(a["gamma"], a["beta"], MOMENTUM, a.get("running_mean"),
                   a.get("running_var"), **eps)
    if L == "layernorm":
        return cls(a["gamma"], a["beta"], **eps)
    if L == "groupnorm":
        return cls(a["gamma"], a["beta"], case.groups, **eps)
    if L in DROPOUTS:
        return cls(case.rate)
    if L == "lrn":
        return cls(*case.lrn)
    return cls()


def run_class(mod: ModuleType, case: Case, arrays: dict[str, Any], *,
              eval_backward: bool = False) -> Any:
    """Construct, forward (after the earlier batches), backward; read the layer's state.

    A test-mode batch-norm case stops after forward (`forward_only`) unless
    `eval_backward` (impl/'s own conformance against PyTorch's eval mode).
    """
    run = Run()
    a = handed(arrays)
    L = case.layer
    phase = "forward"
    try:
        layer = _make(mod, case, a)
        if L in LOSS_LAYERS:
            run.outputs["loss"] = snapshot(layer.forward(a["x"], a["t"]))
        elif L in (*BATCH_NORMS, *DROPOUTS):
            for xb in (a["xs"] if a.get("xs") is not None else ()):
                layer.forward(xb.copy(), True)
            run.outputs["out"] = snapshot(layer.forward(a["x"], case.train))
        else:
            run.outputs["out"] = snapshot(layer.forward(a["x"]))
        if L in BATCH_NORMS:
            _state(run, layer)
        backward = not forward_only(case) or eval_backward
        if backward and (case.train or "dx" not in case.unit.train_only):
            phase = "backward"
            dout = a["dout"][()] if a["dout"].ndim == 0 else a["dout"]
            run.outputs["dx"] = call_backward(layer, dout)
        if backward and L in NORMS:
            size = a["gamma"].size
            run.outputs["dgamma"] = _flat(getattr(layer, "dgamma", None), size)
            run.outputs["dbeta"] = _flat(getattr(layer, "dbeta", None), size)
        if L in DROPOUTS and case.train:
            for name in AGAINS:
                run.outputs[name] = _again(lambda: layer.forward(a["x"].copy(), True))
    except Missing:
        run.missing = True
    except Exception as e:  # the implementation's own failure, reported as data
        run.record_error(phase, e)
    run.modified = modified_inputs(arrays, a)
    return run


def _again(forward: Callable[[], Any]) -> Any:
    """A second training forward's output (a copy), None where it raised."""
    try:
        return snapshot(forward())
    except Exception:  # judged as "no second mask" (layercheck.reference.dropout_judge)
        return None


def _state(run: Any, layer: Any) -> None:
    """Running statistics right after forward (before backward could touch them)."""
    for name in ("running_mean", "running_var"):
        run.outputs[name] = snapshot(getattr(layer, name, None))


# --- CS231n's functions --------------------------------------------------------------------


def seed_of(case: Case) -> int:
    """The dropout_param seed a case passes (from its id, so reruns draw the same mask)."""
    return case.seed % (2**31)


def _forward(f: Any, case: Case, a: dict, param: dict, x: np.ndarray) -> tuple[Any, Any]:
    L, name = case.layer, getattr(f, "__name__", "forward")
    if L in LOSS_LAYERS:
        return _pair(f(x, a["t"]), name)
    if L in DROPOUTS:
        return _pair(f(x, param), name)
    if L == "groupnorm":
        shape = (1, case.C, 1, 1)
        return _pair(f(x, a["gamma"].reshape(shape), a["beta"].reshape(shape), case.groups,
                       param), name)
    return _pair(f(x, a["gamma"], a["beta"], param), name)


def _param(case: Case, a: dict) -> dict:
    L = case.layer
    if L in DROPOUTS:
        return {"mode": "train" if case.train else "test", "p": case.rate,
                "seed": seed_of(case)}
    param: dict[str, Any] = {"eps": case.eps_value}
    if L in BATCH_NORMS:
        param.update(mode="train" if case.train else "test", momentum=MOMENTUM)
        if not case.train:
            param.update(running_mean=a["running_mean"], running_var=a["running_var"])
    return param


def run_functional(mod: ModuleType, case: Case, arrays: dict[str, Any], variant: int = 0,
                   seen: dict[str, Any] | None = None,
                   entering: Callable[[Any], None] | None = None) -> Any:
    """Run one case through the module's functions; `variant` 1 is batchnorm_backward_alt.

    `seen` and `entering` as in cases/functional.run_functional (the worker's
    record of the arrays handed over, and its note that backward starts).
    """
    run = Run()
    pairs = FUNCTION_NAMES[case.layer]
    if variant >= len(pairs) or not hasattr(mod, pairs[variant][0]):
        run.missing = True
        return run
    fwd_name, bwd_name = pairs[variant]
    a = handed(arrays, seen)
    param = _param(case, a)
    phase = "forward"
    try:
        fwd = getattr(mod, fwd_name)
        for xb in (a["xs"] if a.get("xs") is not None else ()):
            _forward(fwd, case, a, param, xb.copy())
        value, cache = _forward(fwd, case, a, param, a["x"])
        if case.layer in LOSS_LAYERS:
            run.outputs["loss"], run.outputs["dx"] = value, cache
        else:
            run.outputs["out"] = snapshot(value)
            if case.layer in BATCH_NORMS:
                for name in ("running_mean", "running_var"):
                    run.outputs[name] = snapshot(param.get(name))
            if forward_only(case):  # students only: impl/ has no functional API
                run.modified = modified_inputs(arrays, a)
                return run
            phase = "backward"
            bwd = getattr(mod, bwd_name, None)
            if bwd is None:
                raise NameError(f"{bwd_name} is not defined")
            if entering is not None:
                entering(run.outputs["out"])
            grads = bwd(a["dout"], cache)
            if case.layer in DROPOUTS:
                run.outputs["dx"] = grads
                if case.train:  # further draws with other seeds must give other masks
                    for k, name in enumerate(AGAINS, 1):
                        again = {**param, "seed": seed_of(case) + k}
                        run.outputs[name] = _again(
                            lambda d=again: _forward(fwd, case, a, d, a["x"].copy())[0])
            else:
                dx, dg, db = _triple(grads, bwd_name)
                size = a["gamma"].size
                run.outputs.update(dx=dx, dgamma=_flat(dg, size), dbeta=_flat(db, size))
    except Exception as e:  # the implementation's own failure, reported as data
        run.record_error(phase, e)
    run.modified = modified_inputs(arrays, a)
    return run


def supports_functional(case: Case) -> bool:
    """Whether CS231n's functions can express the case (batchnorm: 2-D input only)."""
    if case.layer not in FUNCTION_NAMES:
        return False
    return not (case.layer == "batchnorm" and case.ndim != 2)


# --- reproducers (reports/grading/shrink.py) --------------------------------------------------


def reproducer_lines(case: Case, api: str, own: dict[str, str]) -> list[str]:
    """Lines computing `got` (and `truth`) for a case; `own` maps names to the student's."""
    L = case.layer
    if api == "class":
        cls = own[CLASS_NAMES[L]]
        args = {"batchnorm": "(a['gamma'], a['beta'], 0.9, a.get('running_mean'), "
                             "a.get('running_var'))",
                "dropout": f"({case.rate!r})"}.get(L, "()")
        lines = [f"layer = {cls}{args}"]
        if L in (*BATCH_NORMS, *DROPOUTS):
            lines += ["for xb in a.get('xs') if a.get('xs') is not None else ():",
                      "    layer.forward(xb.copy(), True)",
                      f"got = {{'out': layer.forward(a['x'], {case.train!r})}}"]
        else:
            lines.append("got = {'out': layer.forward(a['x'])}")
        if L in BATCH_NORMS:
            lines.append("got.update(running_mean=layer.running_mean, "
                         "running_var=layer.running_var)")
        if (case.train or "dx" not in case.unit.train_only) and not forward_only(case):
            lines.append("got['dx'] = layer.backward(a['dout'])")
        if L in BATCH_NORMS and not forward_only(case):
            lines.append("got.update(dgamma=layer.dgamma, dbeta=layer.dbeta)")
    else:
        fwd, bwd = FUNCTION_NAMES[L][0]
        f, b = own.get(fwd, fwd), own.get(bwd or "", bwd)
        param = _param(case, {"running_mean": "RM", "running_var": "RV"})
        shown = repr(param).replace("'RM'", "a['running_mean']").replace(
            "'RV'", "a['running_var']")
        if L in LOSS_LAYERS:
            lines = [f"loss, dx = {f}(a['x'], a['t'])", "got = dict(loss=loss, dx=dx)"]
        else:
            g = ("a['gamma'].reshape(1, -1, 1, 1), a['beta'].reshape(1, -1, 1, 1), "
                 f"{case.groups}, " if L == "groupnorm" else
                 "" if L in DROPOUTS else "a['gamma'], a['beta'], ")
            lines = [f"param = {shown}",
                     "for xb in a.get('xs') if a.get('xs') is not None else ():",
                     f"    {f}(xb.copy(), {g}param)",
                     f"out, cache = {f}(a['x'], {g}param)",
                     "got = {'out': out, **{k: param.get(k) for k in ('running_mean', "
                     "'running_var')}}"]
            if not forward_only(case):  # no backward after a test-mode batch norm
                lines.append(f"got['dx'] = {b}(a['dout'], cache)" if L in DROPOUTS else
                             f"got['dx'], got['dgamma'], got['dbeta'] = {b}(a['dout'], "
                             "cache)")
    if L in DROPOUTS and case.train:
        n = len(AGAINS)
        lines.append(f"again = [layer.forward(a['x'].copy(), True) for _ in range({n})]"
                     if api == "class" else
                     f"again = [{f}(a['x'].copy(), {{**param, 'seed': param['seed'] + k}})[0] "
                     f"for k in range(1, {n + 1})]")
        lines.append("from layercheck.reference.dropout_judge import truth as judge; "
                     "truth = judge(case, a, got)  # the truth follows your mask")
    return lines
