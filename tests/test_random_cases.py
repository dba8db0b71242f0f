"""Random cases drawn by Hypothesis; a failure shrinks to the smallest failing case.

``make test`` draws LAYERCHECK_EXAMPLES (default 25) per layer; ``make hypothesis``
draws 500 per layer.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from layercheck import impl
from layercheck.cases.case import Case
from layercheck.cases.inputs import has_empty_window
from layercheck.reference.verdicts import check, module_runner

EXAMPLES = int(os.environ.get("LAYERCHECK_EXAMPLES", "25"))
RUN = module_runner(impl)
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

small = st.integers(1, 3)
pairs = st.tuples(small, small)


@st.composite
def windowed(draw: st.DrawFn, layer: str) -> Case:
    """A conv or pooling case over every argument PyTorch takes, valid or not."""
    kernel = draw(st.tuples(st.integers(1, 4), st.integers(1, 4)))
    common = dict(
        N=draw(small), H=draw(st.integers(1, 9)), W=draw(st.integers(1, 9)), kernel=kernel,
        stride=draw(pairs), dtype=draw(st.sampled_from(("f32", "f64"))),
        batched=draw(st.booleans()))
    if layer == "conv":
        groups = draw(st.sampled_from((1, 1, 2)))
        pad = draw(st.one_of(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                             st.sampled_from(("same", "valid"))))
        if pad == "same":
            common["stride"] = (1, 1)
        return Case("conv", C=groups * draw(small), F=groups * draw(small), pad=pad,
                    dilation=draw(pairs), groups=groups, bias=draw(st.booleans()), **common)
    pad = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    extra = {"dilation": draw(pairs)} if layer == "pool" else {
        "count_include_pad": draw(st.booleans()),
        "divisor_override": draw(st.one_of(st.none(), st.integers(1, 5)))}
    case = Case(layer, C=draw(small), pad=pad, ceil_mode=draw(st.booleans()),
                kind=draw(st.sampled_from(("normal", "negative", "ties")
                                          if layer == "pool" else ("normal", "negative"))),
                **common, **extra)
    assume(not has_empty_window(case))
    return case


def _assert_all_pass(case: Case) -> None:
    bad = [r.message() for r in check(case, RUN) if not r.passed]
    assert not bad, f"{case!r}\n" + "\n".join(bad)


@SETTINGS
@given(windowed("conv"))
def test_random_conv_cases_match_pytorch(case: Case) -> None:
    _assert_all_pass(case)


@SETTINGS
@given(windowed("pool"))
def test_random_maxpool_cases_match_pytorch(case: Case) -> None:
    _assert_all_pass(case)


@SETTINGS
@given(windowed("avgpool"))
def test_random_avgpool_cases_match_pytorch(case: Case) -> None:
    _assert_all_pass(case)
