"""One class with every parent-side attack beside honest classmates (tests/attack_batch.py):
the honest reports are written and clean, no attacker comes out clean, the grader process
stays under 1 GiB, and the class report reads the whole class."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
OUTPUTS = (("json", ".json"), ("md", ".md"), ("html", ".html"), ("gs", ".json"),
           ("pl", ".json"))


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, str]]:
    out = tmp_path_factory.mktemp("attack-batch")
    run = subprocess.run([sys.executable, str(HERE / "attack_batch.py"), str(out)],
                         capture_output=True, text=True, timeout=600)
    assert "the grader process's peak RSS" in run.stdout, run.stdout[-3000:] + run.stderr[-3000:]
    sys.path.insert(0, str(HERE))
    try:
        from attack_batch import build
    finally:
        sys.path.remove(str(HERE))
    kinds = build(out / "kinds", full=False)
    return out, run.stdout, kinds


def _report(out: Path, folder: str, name: str, suffix: str) -> Path:
    found = sorted((out / folder).glob(f"{name}*{suffix}"))
    assert found, f"no {folder} report for {name}: {sorted((out / folder).iterdir())}"
    return found[0]


@pytest.mark.slow
def test_every_honest_classmate_gets_every_report_and_it_is_clean(graded) -> None:
    out, _, kinds = graded
    for name in (n for n, k in kinds.items() if k == "honest"):
        for folder, suffix in OUTPUTS:
            assert _report(out, folder, name, suffix).stat().st_size > 0
        d = json.loads(_report(out, "json", name, ".json").read_text())
        assert d["exit_code"] == 0 and d["score"]["earned"] == d["score"]["possible"] > 0, (
            name, d["exit_code"], d["score"])
        assert not d["policy"] and not d["warnings"] and not d.get("load_error"), name


@pytest.mark.slow
def test_no_attacker_comes_out_clean_and_none_is_a_grader_error(graded) -> None:
    out, _, kinds = graded
    for name, kind in kinds.items():
        d = json.loads(_report(out, "json", name, ".json").read_text())
        assert d["exit_code"] != 3, f"{name}: a student's attack became a grader error: {d}"
        if kind == "attack":
            assert d["exit_code"] in (1, 2) and d["score"]["earned"] < d["score"]["possible"], (
                f"{name} came out clean: exit {d['exit_code']}, score {d['score']}")


@pytest.mark.slow
def test_no_student_text_injects_markdown_or_html(graded) -> None:
    out, _, _ = graded
    md = _report(out, "md", "surrogate_md", ".md").read_text()
    assert "](http" not in md.replace("\\](", ""), "a live Markdown link or image"
    assert "<img" not in md
    html = _report(out, "html", "surrogate_md", ".html").read_text()
    assert "<img src=x" not in html


@pytest.mark.slow
def test_the_grader_process_stays_under_one_gib_and_hashing_is_counted(graded) -> None:
    _, stdout, _ = graded
    assert "Reading and hashing the submissions took" in stdout, stdout[-2000:]
    peak = float(re.search(r"peak RSS: (\d+) MiB", stdout).group(1))
    assert peak < 1024, f"the grader process peaked at {peak:.0f} MiB"


@pytest.mark.slow
def test_the_class_report_reads_the_whole_class(graded) -> None:
    out, _, kinds = graded
    run = subprocess.run([sys.executable, "-m", "layercheck.reports.cli", "class-report",
                          str(out / "json"), "--out", str(out / "class")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    book = (out / "class" / "gradebook.csv").read_text()
    assert all(name in book for name in kinds), book
