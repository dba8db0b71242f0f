"""The notes' code as printed (tests/students/seed_notes.py) is a real student: the checker
must report its actual defects, each at its layer and phase."""

from __future__ import annotations

from pathlib import Path

import pytest
from layercheck.reports.grading.checker import StudentReport, check_submission

SEED = Path(__file__).parent / "students" / "seed_notes.py"


@pytest.fixture(scope="module")
def report() -> StudentReport:
    return check_submission(SEED, dtypes=("f64", "f32"))


def _diags(report: StudentReport, layer: str, output: str, dtype: str | None = None) -> list:
    return [r for r in report.results if r.layer == layer and r.output == output
            and (dtype is None or r.params.get("dtype") == dtype)]


def test_conv_backward_reads_what_forward_never_stored(report) -> None:
    for out in ("dx", "dW", "db"):
        rs = _diags(report, "conv", out)
        assert rs and all(r.status == "error" for r in rs)
        assert all("self.col.T" in r.diagnosis and "never stored" in r.diagnosis for r in rs)


def test_conv_forward_right_in_float64_wrong_dtype_in_float32(report) -> None:
    assert all(r.passed for r in _diags(report, "conv", "out", "f64"))
    f32 = _diags(report, "conv", "out", "f32")
    assert f32 and all("wrong dtype" in r.diagnosis and "float64" in r.diagnosis for r in f32)
    assert "conv out: fails in every case with float32 and in none with float64" in \
        report.patterns


def test_pooling_backward_returns_nothing(report) -> None:
    rs = [r for r in _diags(report, "pool", "dx") if r.status == "fail"]
    assert rs and any("return dx" in r.diagnosis for r in rs)


def test_pooling_output_size_ignores_pad(report) -> None:
    padded = [r for r in _diags(report, "pool", "out", "f64") if r.params["pad"] != 0]
    unpadded = [r for r in _diags(report, "pool", "out", "f64") if r.params["pad"] == 0]
    assert all(r.passed for r in unpadded)
    errors = [r for r in padded if r.status == "error"]
    assert errors and all("cannot reshape" in r.diagnosis for r in errors)
    # where the sizes happen to agree, the zero padding of im2col shows instead
    assert any("padding counted as zero" in r.diagnosis for r in padded)


def test_book_layers_defects(report) -> None:
    # the book's conventions pass: Relu.backward zeroing dout in place is a warning (values
    # right), SoftmaxWithLoss.backward(dout=1) ignoring dout is right for a terminal loss
    assert all(r.passed for r in _diags(report, "relu", "dx", "f64"))
    assert any(w.startswith("relu: backward modifies dout in place") for w in report.warnings)
    assert all(r.passed for r in _diags(report, "softmax", "dx", "f64"))
    assert any("1e-07" in r.diagnosis for r in _diags(report, "softmax", "loss", "f64"))
    assert all(r.passed for r in _diags(report, "affine", "out"))


def test_smallest_failing_cases_come_with_a_reproducer(report) -> None:
    conv = [s for s in report.shrunk if s.layer == "conv"]
    assert conv and conv[0].case.startswith("conv-N1-C1-")
    assert "import seed_notes as m" in conv[0].reproducer
    assert report.exit_code() == 1
