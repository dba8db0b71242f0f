"""What an independent review of the grader found, each as it was tried and a variant: a
deep folder, a link loop named in an exception, NaN in --json, a notebook of non-ASCII
code, a '|' in a file name. None may stop a batch or become the grader's error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from layercheck.cases.submission import graph
from layercheck.reports.grading.checker import StudentReport
from layercheck.reports.student_cli import batch_table

RELU = ("import numpy as np\n\n\nclass Relu:\n    def forward(self, x):\n"
        "        self.mask = x <= 0\n        return np.where(self.mask, 0, x)\n\n"
        "    def backward(self, dout):\n        return np.where(self.mask, 0, dout)\n")


def _check(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "layercheck.reports.cli", "check", *args,
                           "--layers", "relu", "--quiet", "--no-shrink"],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


def _nest(top: Path, depth: int) -> list[str]:
    """`depth` folders nested in `top`, made one by one (pathlib's mkdir recurses)."""
    made, d = [], str(top)
    os.makedirs(d, exist_ok=True)
    for _ in range(depth):
        d = os.path.join(d, "d")
        os.mkdir(d)
        made.append(d)
    return made


def _unnest(made: list[str]) -> None:
    for d in reversed(made):  # shutil.rmtree recurses too
        os.rmdir(d)


@pytest.mark.parametrize("depth", [graph.MAX_DEPTH + 1, 1100])
def test_a_folder_nested_too_deep_is_its_load_error_and_the_batch_goes_on(
        tmp_path: Path, depth: int) -> None:
    subs = tmp_path / "subs"
    (subs / "mallory").mkdir(parents=True)
    (subs / "mallory" / "layers.py").write_text(RELU)
    made = _nest(subs / "mallory", depth)
    (subs / "alice.py").write_text(RELU)
    run = _check("--each", str(subs), "--json", str(tmp_path / "json"), cwd=tmp_path)
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    alice = json.loads((tmp_path / "json" / "alice.json").read_text())
    mallory = json.loads((tmp_path / "json" / "mallory.json").read_text())
    assert alice["exit_code"] == 0, alice
    _unnest(made)
    assert mallory["exit_code"] == 2 and "nested" in mallory["load_error"], mallory


def test_walking_a_deep_tree_never_recurses(tmp_path: Path) -> None:
    made = _nest(tmp_path / "t", 1100)
    try:
        with pytest.raises(graph.TooDeep):
            list(graph.walk(tmp_path / "t"))
        assert len(list(graph.walk(made[1049]))) == 51  # the last 51 folders: within the cap
    finally:
        _unnest(made)


def test_a_link_loop_named_in_an_exception_is_the_students_failure(tmp_path: Path) -> None:
    """The grader never asks the file system about a path from a student's text."""
    subs = tmp_path / "subs"
    (subs / "mallory").mkdir(parents=True)
    os.symlink("b", subs / "mallory" / "a")
    os.symlink("a", subs / "mallory" / "b")
    guesses = [f"{subs}/mallory/a/x.py", "subs/mallory/b/y.py", "../subs/mallory/a/x.py"]
    fake = "\\n".join(f'  File "{g}", line 1' for g in guesses)
    (subs / "mallory" / "layers.py").write_text(RELU.replace(
        "        self.mask = x <= 0\n", f"        raise ValueError('boom\\n{fake}')\n"))
    run = _check("--each", str(subs), "--json", str(tmp_path / "json"), "--prairielearn",
                 str(tmp_path / "pl"), cwd=tmp_path)
    report = json.loads((tmp_path / "json" / "mallory.json").read_text())
    assert report["exit_code"] == 1 and not report.get("grader_error"), (report, run.stderr)
    pl = json.loads(next((tmp_path / "pl").glob("mallory*")).read_text())
    assert pl["gradable"] is True, pl


def test_the_json_report_is_strict_json_when_outputs_are_nan_or_infinite(
        tmp_path: Path) -> None:
    (tmp_path / "nan.py").write_text(
        "import numpy as np\n\n\nclass Relu:\n    def forward(self, x):\n"
        "        return np.full_like(x, np.nan)\n\n    def backward(self, dout):\n"
        "        return np.full_like(dout, np.inf)\n")
    _check(str(tmp_path / "nan.py"), "--json", str(tmp_path / "r.json"), cwd=tmp_path)

    def refuse(word: str) -> None:
        raise ValueError(f"not strict JSON: {word}")

    report = json.loads((tmp_path / "r.json").read_text(), parse_constant=refuse)
    assert report["exit_code"] == 1


@pytest.mark.parametrize("char", ["\U0001F600", "\u4e2d"])
def test_a_notebook_of_non_ascii_code_within_the_caps_loads(tmp_path: Path,
                                                             char: str) -> None:
    """Its reader's reply escapes each such character in up to 12 bytes."""
    comment = "# " + char * 100 + "\n"
    source = comment * 1500 + RELU  # ~150,000 characters, under the code cap
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
          "cells": [{"cell_type": "code", "metadata": {}, "execution_count": None,
                     "outputs": [], "source": source.splitlines(keepends=True)}]}
    path = tmp_path / "layers.ipynb"
    path.write_text(json.dumps(nb))
    run = _check(str(path), "--json", str(tmp_path / "r.json"), cwd=tmp_path)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["exit_code"] == 0, (report.get("load_error"), run.stderr[-1000:])


def test_a_column_separator_in_a_file_name_keeps_the_batch_table_aligned() -> None:
    reports = [StudentReport("a|b|c.py"), StudentReport("plain.py")]
    lines = batch_table(reports, ["relu"]).splitlines()
    assert len({line.count("|") for line in lines}) == 1, "\n".join(lines)
