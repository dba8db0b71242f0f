"""The curricula's own conventions pass: a loss layer's backward at dout = 1 (or with no
argument), a side effect on dout is a warning; changing x in forward stays a failure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from layercheck.cases.adapters import call_backward, convention_inputs
from layercheck.cases.case import Case
from layercheck.cases.inputs import make_inputs
from layercheck.reports.grading.checker import check_submission

STUDENTS = Path(__file__).parent / "students"


def _bad(report) -> list[str]:
    return [r.message() for r in report.results if not r.passed][:5]


def test_loss_layer_is_judged_at_dout_one_for_both_apis() -> None:
    case = Case("softmax", N=3, C=4)
    arrays = convention_inputs(case, make_inputs(case))
    assert arrays["dout"].shape == () and arrays["dout"] == 1.0
    relu = Case("relu", 2, 3, 4, 4)
    assert convention_inputs(relu, make_inputs(relu))["dout"].shape == (2, 3, 4, 4)


@pytest.mark.parametrize("name", ["good_book_softmax.py", "good_doutless.py"])
def test_book_softmax_ignoring_dout_or_taking_none_passes(name: str) -> None:
    r = check_submission(STUDENTS / name, layers=("softmax",), do_shrink=False)
    assert r.exit_code() == 0, _bad(r)
    assert r.summary()["pass"] == r.summary()["total"] > 0


def test_dout_modified_in_backward_is_a_warning_and_never_the_forward_output() -> None:
    r = check_submission(STUDENTS / "good_inplace_dout.py", layers=("relu",), do_shrink=False)
    assert r.exit_code() == 0, _bad(r)
    out = [x for x in r.results if x.output == "out"]
    assert out and all(x.passed and "modified" not in x.diagnosis for x in out)
    assert len(r.warnings) == 1 and r.warnings[0].startswith("relu: backward modifies dout")
    assert "values are right" in r.warnings[0]
    assert r.to_json()["warnings"] == r.warnings


def test_correct_file_gets_no_warning() -> None:
    r = check_submission(STUDENTS / "good_im2col.py", layers=("relu",), do_shrink=False)
    assert r.exit_code() == 0 and r.warnings == []


def test_x_modified_in_forward_still_fails() -> None:
    r = check_submission(STUDENTS / "bad_inplace.py", layers=("relu",), do_shrink=False)
    assert r.exit_code() == 1
    assert any("modified in place: x" in x.diagnosis for x in r.results if not x.passed)


class _NoArg:
    calls = 0

    def backward(self):
        self.calls += 1
        return "dx"


class _RaisesInside:
    calls = 0

    def backward(self, dout):
        self.calls += 1
        raise TypeError("unsupported operand type(s): missing 1 required positional argument")


def test_backward_without_argument_is_called_without_one() -> None:
    layer = _NoArg()
    assert call_backward(layer, np.ones(2)) == "dx" and layer.calls == 1


def test_type_error_inside_backward_is_the_students_and_not_retried() -> None:
    layer = _RaisesInside()
    with pytest.raises(TypeError, match="unsupported operand"):
        call_backward(layer, np.ones(2))
    assert layer.calls == 1
