"""The smallest failing case: shrink batch, channels, filters and size while it still fails,
and a few-line reproducer a student can paste."""

from __future__ import annotations

import dataclasses
import keyword
from collections.abc import Callable
from pathlib import Path
from typing import Any

from layercheck.cases import curricula, registry
from layercheck.cases.case import Case
from layercheck.cases.functional import supports
from layercheck.cases.inputs import rejection

MAX_STEPS = 40


def _smaller(case: Case) -> list[Case]:
    """Candidates one step smaller than `case`, most helpful first."""
    out = []
    for name in ("N", "C", "F"):
        if getattr(case, name) > 1:
            out.append(dataclasses.replace(case, **{name: 1}))
    if case.unit.family == "core" and not case.unit.flat:  # x is (N, C, H, W)
        for name in ("H", "W"):
            if getattr(case, name) > 1:
                out.append(dataclasses.replace(case, **{name: getattr(case, name) - 1}))
    if case.unit.role == "loss" and case.unit.family == "core" and case.C > 2:
        out.append(dataclasses.replace(case, C=2))
    return out


def _fails(still_fails: Callable[[Case], bool], cand: Case) -> bool:
    """Whether a candidate still fails; a candidate whose check itself fails is skipped."""
    try:
        return bool(still_fails(cand))
    except Exception:  # a crash while judging a candidate is no evidence: skip it
        return False


def shrink(case: Case, still_fails: Callable[[Case], bool], api: str = "class") -> Case:
    """Greedy shrinking: take any smaller valid case that still fails, until none does.

    A candidate whose check raises is skipped, so shrinking never crashes its caller.
    """
    steps = 0
    changed = True
    while changed and steps < MAX_STEPS:
        changed = False
        for cand in _smaller(case):
            try:
                if rejection(cand) is not None or (api == "functional"
                                                   and not supports(cand)):
                    continue
            except Exception:  # an invalid candidate is not a step
                continue
            steps += 1
            if _fails(still_fails, cand):
                case, changed = cand, True
                break
            if steps >= MAX_STEPS:
                break
    return case


def _class_call(case: Case, names: dict[str, str]) -> list[str]:
    s = case.stride[0] if case.stride[0] == case.stride[1] else case.stride
    p = case.pad if isinstance(case.pad, str) or case.pad[0] != case.pad[1] else case.pad[0]
    kh, kw = case.kernel
    unit = case.unit
    args = {"conv": f"(a['W'], a['b'], stride={s}, pad={p})",
            "pool": f"({kh}, {kw}, stride={s}, pad={p})",
            "affine": "(a['W'], a['b'])"}.get(unit.role, "()")
    make = f"layer = {names[case.layer]}{args}"
    if unit.role == "loss":
        return [make, "got = {'loss': layer.forward(a['x'], a['t'])}",
                "got['dx'] = layer.backward(a['dout'][()])"]
    lines = [make, "got = {'out': layer.forward(a['x'])}",
             "got['dx'] = layer.backward(a['dout'])"]
    if unit.has_weights:
        lines.append("got['dW'], got['db'] = layer.dW, layer.db")
    return lines


def _functional_call(case: Case, n: dict[str, str]) -> list[str]:
    s, p = case.stride[0], case.pad[0] if not isinstance(case.pad, str) else 0
    kh, kw = case.kernel
    return {
        "conv": [f"out, cache = {n['conv_forward_naive']}(a['x'], a['W'], a['b'], "
                 f"{{'stride': {s}, 'pad': {p}}})",
                 f"dx, dW, db = {n['conv_backward_naive']}(a['dout'], cache)",
                 "got = dict(out=out, dx=dx, dW=dW, db=db)"],
        "pool": [f"out, cache = {n['max_pool_forward_naive']}(a['x'], {{'pool_height': {kh}, "
                 f"'pool_width': {kw}, 'stride': {s}}})",
                 f"got = dict(out=out, dx={n['max_pool_backward_naive']}(a['dout'], cache))"],
        "affine": [f"out, cache = {n['affine_forward']}(a['x'], a['W'], a['b'])",
                   f"dx, dW, db = {n['affine_backward']}(a['dout'], cache)",
                   "got = dict(out=out, dx=dx, dW=dW, db=db)"],
        "relu": [f"out, cache = {n['relu_forward']}(a['x'])",
                 f"got = dict(out=out, dx={n['relu_backward']}(a['dout'], cache))"],
        "softmax": [f"loss, dx = {n['softmax_loss']}(a['x'], a['t'])",
                    "got = dict(loss=loss, dx=dx)"],
    }[case.layer]


def import_line(sub: Any, case: Case) -> tuple[str, dict[str, str]]:
    """`import <module> as m` as run from the submission's root (`import common.layers as m`
    in the book's layout), and the student's own names for the layer (aliases kept).

    `sub` is a layercheck.cases.submission.survey.Submission (module, path, root, name_map, api).
    """
    module = getattr(sub, "module", None) or Path(sub.path).stem
    name_map = getattr(sub, "name_map", None) or {}
    wanted = case.unit.called_names(sub.api)
    own = {w: f"m.{name_map.get(w, w)}" for w in wanted}
    if all(part.isidentifier() and not keyword.iskeyword(part) for part in module.split(".")):
        return f"import {module} as m", own
    # a file name that is no module name (`l;__import__('os').system('id')#.py`): never
    # pasted into code, loaded from its path written as a Python literal
    return ("import importlib.util as iu; "
            f"spec = iu.spec_from_file_location('student', {str(sub.path)!r}); "
            "m = iu.module_from_spec(spec); spec.loader.exec_module(m)"), own


def _one_line(text: str) -> str:
    """Text safe inside a `#` comment: no line break or control character can end it."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def case_source(case: Case) -> str:
    """`Case(...)` with only the fields that differ from their defaults."""
    fields = [f"{case.layer!r}"]
    for f in dataclasses.fields(case)[1:]:
        v = getattr(case, f.name)
        if v != f.default:
            fields.append(f"{f.name}={v!r}")
    return f"Case({', '.join(fields)})"


def reproducer(case: Case, sub: Any, output: str, seed: int | None = None) -> str:
    """A few lines that recompute the case and print the error, run from the submission's
    root (the folder its imports resolve from: `import common.layers as m`)."""
    line, own = import_line(sub, case)
    if case.unit.family == "curricula":  # the curricula layers: cases/curricula.py
        call = curricula.reproducer_lines(case, sub.api, own)
    elif sub.api == "class":
        call = _class_call(case, {case.layer: own[case.unit.class_name]})
    else:
        every = {name: f"m.{name}" for name in registry.all_names()}
        call = _functional_call(case, {**every, **own})  # the table names every layer
    return "\n".join([
        f"# run from {_one_line(str(sub.root))} (the folder your imports resolve from)",
        "from layercheck.cases.case import Case; from layercheck.cases.inputs import make_inputs",
        "from layercheck.cases.adapters import convention_inputs; "
        "from layercheck.reference.oracle import reference",
        line,
        f"case = {case_source(case)}",
        "a = convention_inputs(case, make_inputs(case))  # a loss layer's dx at dout = 1"
        if seed in (None, case.seed) else
        f"a = convention_inputs(case, make_inputs(case, seed={seed}))  # the arrays graded",
        *call,
        *(() if "truth = judge" in call[-1] else ("truth = reference(case, a)",)),
        *(_KEEP_LINES if output == "keep" else (
            f"g, w = got['{output}'], truth['{output}'].value",
            "print(abs(g - w).max() if getattr(g, 'shape', None) == w.shape else "
            "f'got {type(g).__name__} {getattr(g, \"shape\", \"\")}, expected shape "
            "{w.shape}')")),
    ])


# dropout's keep verdict: the masks of `got['out']` and the further forwards (`again`)
_KEEP_LINES = (
    "from layercheck.reference.dropout_judge import judge_masks",
    "p, kept, why = judge_masks(case, a['x'], got['out'], again)",
    "print(why or f'kept {kept:.3f}; binomial p-value {p:.2g} (fails below 1e-09)')",
)
