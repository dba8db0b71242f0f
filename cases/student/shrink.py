"""The smallest failing case: shrink batch, channels, filters and size while it still fails,
and a few-line reproducer a student can paste."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from cases.case import Case
from cases.inputs import rejection
from cases.student.functional import supports

MAX_STEPS = 40


def _smaller(case: Case) -> list[Case]:
    """Candidates one step smaller than `case`, most helpful first."""
    out = []
    for name in ("N", "C", "F"):
        if getattr(case, name) > 1:
            out.append(dataclasses.replace(case, **{name: 1}))
    if case.layer in ("conv", "pool", "avgpool", "affine", "relu"):
        for name in ("H", "W"):
            if getattr(case, name) > 1:
                out.append(dataclasses.replace(case, **{name: getattr(case, name) - 1}))
    if case.layer == "softmax" and case.C > 2:
        out.append(dataclasses.replace(case, C=2))
    return out


def shrink(case: Case, still_fails: Callable[[Case], bool], api: str = "class") -> Case:
    """Greedy shrinking: take any smaller valid case that still fails, until none does."""
    steps = 0
    changed = True
    while changed and steps < MAX_STEPS:
        changed = False
        for cand in _smaller(case):
            if rejection(cand) is not None or (api == "functional" and not supports(cand)):
                continue
            steps += 1
            if still_fails(cand):
                case, changed = cand, True
                break
            if steps >= MAX_STEPS:
                break
    return case


def _class_call(case: Case) -> list[str]:
    s = case.stride[0] if case.stride[0] == case.stride[1] else case.stride
    p = case.pad if isinstance(case.pad, str) or case.pad[0] != case.pad[1] else case.pad[0]
    kh, kw = case.kernel
    make = {
        "conv": f"layer = m.Convolution(a['W'], a['b'], stride={s}, pad={p})",
        "pool": f"layer = m.Pooling({kh}, {kw}, stride={s}, pad={p})",
        "avgpool": f"layer = m.AvgPooling({kh}, {kw}, stride={s}, pad={p})",
        "affine": "layer = m.Affine(a['W'], a['b'])",
        "relu": "layer = m.Relu()",
        "softmax": "layer = m.SoftmaxWithLoss()",
    }[case.layer]
    if case.layer == "softmax":
        return [make, "got = {'loss': layer.forward(a['x'], a['t'])}",
                "got['dx'] = layer.backward(a['dout'][()])"]
    lines = [make, "got = {'out': layer.forward(a['x'])}",
             "got['dx'] = layer.backward(a['dout'])"]
    if case.layer in ("conv", "affine"):
        lines.append("got['dW'], got['db'] = layer.dW, layer.db")
    return lines


def _functional_call(case: Case) -> list[str]:
    s, p = case.stride[0], case.pad[0] if not isinstance(case.pad, str) else 0
    kh, kw = case.kernel
    return {
        "conv": [f"out, cache = m.conv_forward_naive(a['x'], a['W'], a['b'], "
                 f"{{'stride': {s}, 'pad': {p}}})",
                 "dx, dW, db = m.conv_backward_naive(a['dout'], cache)",
                 "got = dict(out=out, dx=dx, dW=dW, db=db)"],
        "pool": [f"out, cache = m.max_pool_forward_naive(a['x'], {{'pool_height': {kh}, "
                 f"'pool_width': {kw}, 'stride': {s}}})",
                 "got = dict(out=out, dx=m.max_pool_backward_naive(a['dout'], cache))"],
        "affine": ["out, cache = m.affine_forward(a['x'], a['W'], a['b'])",
                   "dx, dW, db = m.affine_backward(a['dout'], cache)",
                   "got = dict(out=out, dx=dx, dW=dW, db=db)"],
        "relu": ["out, cache = m.relu_forward(a['x'])",
                 "got = dict(out=out, dx=m.relu_backward(a['dout'], cache))"],
        "softmax": ["a['dout'] = a['dout'] * 0 + 1  # softmax_loss returns d(loss)/dx",
                    "loss, dx = m.softmax_loss(a['x'], a['t'])",
                    "got = dict(loss=loss, dx=dx)"],
    }[case.layer]


def case_source(case: Case) -> str:
    """`Case(...)` with only the fields that differ from their defaults."""
    fields = [f"{case.layer!r}"]
    for f in dataclasses.fields(case)[1:]:
        v = getattr(case, f.name)
        if v != f.default:
            fields.append(f"{f.name}={v!r}")
    return f"Case({', '.join(fields)})"


def reproducer(case: Case, module: str, output: str, api: str = "class") -> str:
    """A few lines that recompute the case from the student's folder and print the error."""
    call = _class_call(case) if api == "class" else _functional_call(case)
    return "\n".join([
        "from cases.case import Case; from cases.inputs import make_inputs",
        "from reference.oracle import reference",
        f"import {module} as m",
        f"case = {case_source(case)}",
        "a = make_inputs(case)",
        *call,
        "truth = reference(case, a)",
        f"print(abs(got['{output}'] - truth['{output}'].value).max())",
    ])
