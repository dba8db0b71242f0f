"""`layercheck.check_file`: the Python/notebook API returns a report that shows itself."""

from __future__ import annotations

from pathlib import Path

import layercheck
import pytest

STUDENTS = Path(__file__).parent / "students"


def test_check_file_of_a_correct_student_passes_and_renders_a_table() -> None:
    r = layercheck.check_file(STUDENTS / "good_loops.py", layers=("relu",), shrink=False)
    assert r.passed and r.exit_code == 0 and r.failures() == []
    page = r._repr_html_()
    assert "all checked cases pass" in page and "<table>" in page and "relu" in page
    assert "relu" in repr(r)


def test_check_file_of_a_wrong_student_shows_the_failure_and_its_diagnosis() -> None:
    r = layercheck.check_file(STUDENTS / "bad_relu_grad0.py", layers=("relu",))
    assert not r.passed and r.exit_code == 1
    page = r._repr_html_()
    assert "background:#fde2e2" in page, "the failing relu backward row must be marked"
    assert "Smallest failing case for relu dx" in page and "x == 0" in page
    backward = next(x for x in r.rows() if x["phase"] == "backward")
    assert backward["passed"] < backward["cases"]


def test_check_file_of_a_missing_path_says_so() -> None:
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        layercheck.check_file("no/such/file.py")
