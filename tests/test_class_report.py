"""`layercheck class-report`: gradebook, stride x pad failure rates, common diagnoses with
an example student, score histogram, from a folder of --json reports."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from layercheck.reports.class_report import histogram, read_class, stride_pad
from layercheck.reports.cli import main
from layercheck.reports.grading.scoring import POLICY_POINTS, phase_points

P = dict(phase_points("conv"))  # the registry's points per phase
R = dict(phase_points("relu"))


def _case(cid: str, layer: str, output: str, status: str, diagnosis: str = "") -> dict:
    phase = "forward" if output in ("out", "loss") else "backward"
    return {"id": cid, "layer": layer, "phase": phase, "output": output, "status": status,
            "max_abs_err": None, "err_over_bound": None, "diagnosis": diagnosis}


CONV = [f"conv-N1-C1-H7W5-F1-k3-s{s}-p{p}-f64-normal" for s in (1, 2) for p in (0, 1)]


def _student(folder: Path, name: str, bad_pad: bool, relu_bad: bool = False,
             **extra: object) -> None:
    """conv: 4 cases; with bad_pad, dx fails where pad is 1 (2 of 4 cases)."""
    cases = []
    for cid in CONV:
        fails = bad_pad and cid.endswith("-p1-f64-normal")
        cases.append(_case(cid, "conv", "out", "pass"))
        cases.append(_case(cid, "conv", "dx", "fail" if fails else "pass",
                           f"{3 + len(name)} of 35 elements (8.6%) exceed the error bound: "
                           f"padding not removed in col2im; worst at index (0, 1)"
                           if fails else ""))
    cases.append(_case("relu-N1-C1-H4W5-f64-ties", "relu", "out", "pass"))
    cases.append(_case("relu-N1-C1-H4W5-f64-ties", "relu", "dx", "fail" if relu_bad else "pass",
                       "gradient at x == 0 differs" if relu_bad else ""))
    data = {"implementation": f"/course/subs/{name}.py", "api": "class", "summary": {},
            "policy": [], "cases": cases, "exit_code": 1 if bad_pad or relu_bad else 0,
            **extra}
    (folder / f"{name}.json").write_text(json.dumps(data))


def test_class_report_tables_match_the_class(tmp_path, capsys) -> None:
    res = tmp_path / "json"
    res.mkdir()
    _student(res, "ann", bad_pad=False)
    _student(res, "ben", bad_pad=True)
    _student(res, "cy", bad_pad=True, relu_bad=True)
    (res / "dan.json").write_text(json.dumps({
        "implementation": "/course/subs/dan.py", "api": None, "summary": {}, "policy": [],
        "cases": [], "load_error": "syntax error in dan.py line 3", "exit_code": 2}))
    (res / "notes.json").write_text("[1, 2]")  # not a report: skipped and named
    out = tmp_path / "class"
    assert main(["class-report", str(res), "--out", str(out)]) == 0

    book = {r["student"]: r for r in csv.DictReader((out / "gradebook.csv").open())}
    assert set(book) == {"ann", "ben", "cy", "dan"}
    # points: a phase's points shared among its cases; the total adds the policy's
    half_conv = P["forward"] + P["backward"] / 2  # dx fails in 2 of 4 cases
    assert float(book["ann"]["conv"]) == 100.0
    assert float(book["ben"]["conv"]) == round(100 * half_conv / sum(P.values()), 1)
    assert float(book["cy"]["relu"]) == round(100 * R["forward"] / sum(R.values()), 1)
    assert float(book["ben"]["relu"]) == 100.0
    cy = 100 * (half_conv + R["forward"] + POLICY_POINTS) / (
        sum(P.values()) + sum(R.values()) + POLICY_POINTS)
    assert abs(float(book["cy"]["total"]) - cy) < 0.01
    assert book["dan"]["status"] == "not loaded" and float(book["dan"]["total"]) == 0.0
    assert "syntax error in dan.py line 3" in book["dan"]["reason"], "says why not loaded"

    heat = {(r["layer"], r["stride"], r["pad"]): r for r in
            csv.DictReader((out / "heatmap.csv").open())}
    assert heat[("conv", "1", "1")]["failed"] == "2" and heat[("conv", "1", "1")]["checked"] == "3"
    assert heat[("conv", "2", "0")]["failed"] == "0"

    diag = list(csv.DictReader((out / "diagnoses.csv").open()))
    top = diag[0]
    assert "padding not removed in col2im" in top["diagnosis"] and top["students"] == "2"
    assert top["example_student"] in ("ben", "cy")
    assert top["example_case"].split()[0] in CONV and top["example_case"].endswith("(dx)")
    assert any(d["students"] == "1" and "x == #" in d["diagnosis"] for d in diag)

    page = (out / "index.html").read_text()
    for words in ("Failure rate per layer over stride", "Most common diagnoses", "<svg",
                  "Gradebook", "notes.json: not a layercheck --json report"):
        assert words in page, f"the page should show {words!r}"

    students, _ = read_class(res)
    ben = 100 * (half_conv + sum(R.values()) + POLICY_POINTS) / (
        sum(P.values()) + sum(R.values()) + POLICY_POINTS)
    bins = [0] * 10
    for total in (100.0, ben, cy, 0.0):
        bins[min(int(total // 10), 9)] += 1
    assert histogram(students) == bins


def test_stride_and_pad_are_read_from_case_ids() -> None:
    assert stride_pad("conv-N2-C3-H6W7-F4-k3-s2-p1-f64-normal") == ("2", "1")
    assert stride_pad("pool-N1-C1-H7W5-k2x3-s1x2-p0-f32-ties") == ("1x2", "0")
    assert stride_pad("affine-N1-C2-H3W3-F2-f64-normal") is None


def test_empty_or_missing_results_folder_is_a_clear_error(tmp_path, capsys) -> None:
    assert main(["class-report", str(tmp_path / "nope")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["class-report", str(tmp_path)]) == 2
    assert "no layercheck --json reports" in capsys.readouterr().err


def _browser() -> str | None:
    import shutil

    return next((b for b in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(b)), None)


def test_the_page_renders_in_a_headless_browser(tmp_path) -> None:
    import subprocess

    import pytest

    browser = _browser()
    if browser is None:
        pytest.skip("no headless Chromium on this machine (apt-get install chromium)")
    res = tmp_path / "json"
    res.mkdir()
    _student(res, "ann", bad_pad=False)
    _student(res, "ben", bad_pad=True)
    out = tmp_path / "class"
    assert main(["class-report", str(res), "--out", str(out)]) == 0
    page = (out / "index.html").as_uri()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run([browser, *flags, "--dump-dom", page], capture_output=True,
                         text=True, timeout=120).stdout
    assert dom.count("<table") == 3 and "<svg" in dom, "heat map, diagnoses and gradebook"
    assert "50%" in dom, "conv at stride 1, pad 1: 1 of 2 (student, case) pairs fails"
    shot = tmp_path / "page.png"
    subprocess.run([browser, *flags, "--window-size=1000,1200", f"--screenshot={shot}", page],
                   capture_output=True, timeout=120)
    from PIL import Image

    colours = Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 20, "the screenshot is blank"


def test_diagnoses_are_grouped_by_their_codes_not_their_words(tmp_path) -> None:
    res = tmp_path / "json"
    res.mkdir()
    # the same cause, worded differently (another version's words): one finding
    for name, n, words in (("ann", 2, "db is N = 2 times too large"),
                           ("ben", 4, "db sums over the batch (4 samples)")):
        cause = {"code": "sum_not_mean", "facts": {"output": "db", "N": n}, "pattern": None}
        case = {**_case(CONV[0], "conv", "db", "fail", words), "diagnoses": [cause]}
        data = {"implementation": f"/subs/{name}.py", "api": "class", "policy": [],
                "cases": [case], "exit_code": 1}
        (res / f"{name}.json").write_text(json.dumps(data))
    assert main(["class-report", str(res), "--out", str(tmp_path / "out")]) == 0
    diag = list(csv.DictReader((tmp_path / "out" / "diagnoses.csv").open()))
    assert len(diag) == 1 and diag[0]["students"] == "2", diag
    assert diag[0]["diagnosis"].startswith("conv: ") and "N = #" in diag[0]["diagnosis"]


def test_a_results_file_holding_a_lone_surrogate_does_not_stop_the_class_report(
        tmp_path) -> None:
    """A --json file written by an older run or another tool, with a raw lone surrogate in a
    student's text: the class report is written for everyone, that text escaped."""
    import json

    from layercheck.reports.class_report import write_class_report

    bad = {"implementation": "eve\ud800.py", "cases": {}, "exit_code": 2,
           "load_error": "SyntaxError: \ud800 here"}
    res = tmp_path / "json"
    res.mkdir()
    (res / "ann.json").write_text(json.dumps({"implementation": "ann.py", "cases": {},
                                              "exit_code": 0}))
    (res / "eve.json").write_text(json.dumps(bad))  # the escape: a lone surrogate once read
    (res / "bob.json").write_text(json.dumps({**bad, "implementation": "bob\ud800.py"},
                                             ensure_ascii=False),
                                  encoding="utf-8", errors="surrogatepass")  # raw bytes
    paths = write_class_report(res, tmp_path / "class")
    book = (tmp_path / "class" / "gradebook.csv").read_text(encoding="utf-8")
    assert "ann.py" in book and "eve\\ud800.py" in book and "bob" in book, book
    assert all(p.exists() for p in paths)
