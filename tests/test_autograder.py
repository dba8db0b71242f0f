"""The Gradescope autograder zip (run against a fake /autograder tree), per-test visibility,
hidden cases reported honestly, and PrairieLearn's results.json."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from layercheck.reference.result import Result
from layercheck.reports.cli import main
from layercheck.reports.gradescope import HIDDEN_SUFFIX, POLICY_TEST, Grading, results_json
from layercheck.reports.grading.checker import StudentReport
from layercheck.reports.grading.options import GradingOptions
from layercheck.reports.grading.scoring import phase_points
from layercheck.reports.prairielearn import pl_results

STUDENTS = Path(__file__).parent / "students"
CONV = dict(phase_points("conv"))  # the registry's points of conv's phases


def _report(failing: set[str], n: int = 40) -> StudentReport:
    """A conv report of n cases (out and dx each); the cases in `failing` fail dx."""
    r = StudentReport("alice.py", api="class", layers=("conv",))
    for i in range(n):
        cid = f"conv-N1-C1-H5W5-F1-k3-s1-p{i}-f64-normal"
        r.results.append(Result(cid, "conv", "forward", "out", "pass"))
        bad = cid in failing
        r.results.append(Result(cid, "conv", "backward", "dx", "fail" if bad else "pass",
                                diagnosis="wrong dx" if bad else ""))
    return r


def test_hidden_failures_are_counted_in_the_visible_test_never_called_all_passed() -> None:
    grading = Grading(hidden_share=0.5)
    ids = [f"conv-N1-C1-H5W5-F1-k3-s1-p{i}-f64-normal" for i in range(40)]
    hidden = [i for i in ids if grading.is_hidden(i)]
    assert 5 < len(hidden) < 35, "the stable hash should hide about half of the cases"
    d = results_json(_report(set(hidden[:3])), grading)
    tests = {t["name"]: t for t in d["tests"]}
    shown = tests["conv backward"]
    assert "3 of" in shown["output"] and "hidden cases fail in conv backward" in shown["output"]
    assert "all" not in shown["output"].split(";")[1], shown["output"]
    assert shown["score"] == shown["max_score"], "the visible cases all pass"
    hid = tests["conv backward" + HIDDEN_SUFFIX]
    assert hid["visibility"] == "after_published" and hid["score"] < hid["max_score"]
    assert shown["max_score"] + hid["max_score"] == pytest.approx(CONV["backward"])
    assert d["score"] < sum(t["max_score"] for t in d["tests"])


def test_visibility_patterns_apply_per_test_and_bad_settings_are_named() -> None:
    grading = Grading(visibility={"policy*": "hidden"}, default_visibility="after_due_date")
    d = results_json(_report(set()), grading)
    vis = {t["name"]: t["visibility"] for t in d["tests"]}
    assert vis[POLICY_TEST] == "hidden" and vis["conv forward"] == "after_due_date"
    with pytest.raises(ValueError, match="unknown Gradescope visibility 'secret'"):
        Grading(default_visibility="secret")
    with pytest.raises(ValueError, match="unknown grading setting"):
        Grading.from_json({"hiden_share": 0.3})


def test_without_grading_options_results_json_has_no_visibility_fields() -> None:
    d = results_json(_report({"conv-N1-C1-H5W5-F1-k3-s1-p0-f64-normal"}))
    assert all("visibility" not in t for t in d["tests"]) and "visibility" not in d
    assert d["tests"][1]["score"] == pytest.approx(CONV["backward"] * 39 / 40)


def test_prairielearn_score_is_a_fraction_and_a_grader_error_is_not_gradable() -> None:
    d = pl_results(_report({"conv-N1-C1-H5W5-F1-k3-s1-p0-f64-normal"}))
    assert d["gradable"] is True and 0 < d["score"] < 1
    assert {"name", "points", "max_points", "output"} <= set(d["tests"][0])
    assert d["score"] == pytest.approx(sum(t["points"] for t in d["tests"])
                                       / sum(t["max_points"] for t in d["tests"]), abs=1e-4)
    broken = StudentReport("bob.py")
    broken.grader_error = "grader error: the grading process died"
    e = pl_results(broken)
    assert e["gradable"] is False and any("process died" in x for x in e["format_errors"])
    assert "process died" not in e["message"], "said once, in format_errors"


def _autograder(tmp_path: Path, *options: str) -> Path:
    out = tmp_path / "autograder.zip"
    assert main(["gradescope-autograder", "--out", str(out), "--layers", "relu", *options]) == 0
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        assert {"setup.sh", "run_autograder", "requirements.txt", "autograder.json"} <= names
        assert {"layercheck/reports/grading/checker.py", "layercheck/pyproject.toml"} <= names
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
        assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
        z.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):  # at least valid bash
        r = subprocess.run(["bash", "-n", str(root / "source" / script)], capture_output=True,
                           text=True)
        assert r.returncode == 0, f"{script}: {r.stderr}"
    setup = (root / "source" / "setup.sh").read_text()
    assert "-r requirements.txt" in setup and "layercheck.reports.grading.autograder warm" in setup
    reqs = (root / "source" / "requirements.txt").read_text().splitlines()
    assert any(r.startswith("torch==") for r in reqs) and any(r.startswith("numpy==")
                                                             for r in reqs)
    assert all("==" in r for r in reqs), "every requirement must be pinned"
    return root


def _run_autograder(root: Path, submission: str, text: str | None = None) -> dict:
    sub = root / "submission"
    sub.mkdir(exist_ok=True)
    (sub / "layers.py").write_text(text if text is not None
                                   else (STUDENTS / submission).read_text())
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "LAYERCHECK_PYTHON": sys.executable}
    r = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env,
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_run_autograder_in_a_fake_autograder_tree_grades_the_submission(tmp_path) -> None:
    root = _autograder(tmp_path, "--hidden-share", "0.3", "--visibility", "policy*=hidden")
    good = _run_autograder(root, "good_loops.py")
    assert good["score"] == sum(t["max_score"] for t in good["tests"]) > 0
    names = [t["name"] for t in good["tests"]]
    assert "relu backward" in names and "relu backward" + HIDDEN_SUFFIX in names
    assert {t["name"]: t["visibility"] for t in good["tests"]}[POLICY_TEST] == "hidden"
    # ReLU's output halved: every case fails, the hidden ones included, and the visible
    # test says so in numbers
    source = (STUDENTS / "good_loops.py").read_text()
    relu = "return np.where(x > 0, x, np.zeros_like(x))"
    wrong = source.replace(relu, relu + " * 0.5")
    assert wrong != source
    bad = _run_autograder(root, "", wrong)
    shown = next(t for t in bad["tests"] if t["name"] == "relu forward")
    assert "hidden cases fail in relu forward" in shown["output"], shown["output"]
    assert bad["score"] < good["score"]


def test_the_config_names_the_api_and_reads_back_as_one_options_object(tmp_path) -> None:
    out = tmp_path / "autograder.zip"
    assert main(["gradescope-autograder", "--out", str(out), "--api", "functional",
                 "--layers", "relu,conv", "--hidden-share", "0.25"]) == 0
    with zipfile.ZipFile(out) as z:
        cfg = json.loads(z.read("autograder.json"))
    assert cfg["api"] == "functional" and cfg["layers"] == ["relu", "conv"]
    options = GradingOptions.from_config(cfg)
    assert options.api == "functional" and options.layers == ("relu", "conv")
    assert options.hidden_share == 0.25 and options.climb is False
    assert pickle.loads(pickle.dumps(options)) == options  # travels to a pool or Dask
    assert dict(options)["api"] == "functional"  # older callers read it as a mapping
    with pytest.raises(TypeError, match="unknown grading option"):
        GradingOptions.coerce({"layer": ("relu",)})
    with pytest.raises(ValueError, match="unknown API"):
        GradingOptions(api="book")
