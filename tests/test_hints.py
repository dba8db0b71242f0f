"""Hints attached to a raised exception: each fires on its slip and stays silent elsewhere."""

from __future__ import annotations

from layercheck.cases.case import Case
from layercheck.reference.explain import error_diagnosis

RELU = Case("relu", N=1, C=1, H=2, W=2)


def _hint(phase: str, error: str) -> str | None:
    d = error_diagnosis(RELU, phase, error, None)
    return d.facts.get("hint")


def test_an_attribute_backward_reads_but_forward_never_set_is_named() -> None:
    d = error_diagnosis(RELU, "backward", "AttributeError: 'Relu' object has no attribute 'x'",
                        None)
    assert d.facts.get("hint") == "never_set" and d.facts.get("attr") == "x", d.facts
    assert "self.x" in d.words() and "forward never set" in d.words(), d.words()


def test_the_never_set_hint_stays_silent_outside_its_slip() -> None:
    assert _hint("forward", "AttributeError: 'Relu' object has no attribute 'x'") != "never_set"
    assert _hint("backward", "AttributeError: 'NoneType' object has no attribute 'T'") \
        == "unstored"
    assert _hint("backward", "AttributeError: 'Relu' object has no attribute 'backward'") \
        == "no_method"
    assert _hint("backward", "ValueError: operands could not be broadcast") != "never_set"
