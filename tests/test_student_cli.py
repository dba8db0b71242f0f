"""`layercheck check` end to end: exit codes, --json format, Gradescope results, batches."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from layercheck.cases.sandbox.wire import WireError, decode
from layercheck.reports.cli import main
from layercheck.reports.gradescope import POLICY_TEST
from layercheck.reports.grading_bench import inlined

STUDENTS = Path(__file__).parent / "students"
STATUSES = {"pass", "fail", "error", "timeout", "missing"}


def _check(*argv: str) -> int:
    return main(["check", *argv])


def test_correct_file_exits_0_and_writes_json_in_the_issue_format(tmp_path, capsys) -> None:
    out = tmp_path / "r.json"
    rc = _check(str(STUDENTS / "good_im2col.py"), "--layers", "pool,softmax", "--json",
                str(out))
    assert rc == 0
    d = json.loads(out.read_text())
    assert {"implementation", "api", "summary", "policy", "cases"} <= set(d)
    assert d["api"] == "class" and d["policy"] == []
    assert set(d["summary"]) == {"total", *STATUSES}
    assert d["summary"]["total"] == len(d["cases"]) == d["summary"]["pass"]
    keys = {"id", "layer", "phase", "output", "variant", "status", "max_abs_err",
            "err_over_bound", "diagnosis", "diagnoses"}
    assert all(set(c) == keys and c["status"] in STATUSES for c in d["cases"])
    assert "softmax" in capsys.readouterr().out


def test_wrong_file_exits_1_with_gradescope_partial_credit(tmp_path) -> None:
    gs = tmp_path / "results.json"
    md, page = tmp_path / "r.md", tmp_path / "r.html"
    rc = _check(str(STUDENTS / "bad_pool_tie_last.py"), "--layers", "pool", "--gradescope",
                str(gs), "--md", str(md), "--html", str(page))
    assert rc == 1
    assert "tie-breaking" in md.read_text() and "Smallest failing case" in md.read_text()
    assert page.read_text().startswith("<!DOCTYPE html>")
    tests = json.loads(gs.read_text())["tests"]
    assert [t["name"] for t in tests] == ["pool forward", "pool backward", POLICY_TEST]
    fwd, bwd, policy = tests
    assert policy["score"] == policy["max_score"] > 0
    assert fwd["score"] == fwd["max_score"]
    assert 0 < bwd["score"] < bwd["max_score"]
    assert "tie-breaking" in bwd["output"]


@pytest.mark.parametrize("source, words", [
    ("def f(:\n", "syntax error in broken.py line 1"),
    ("import not_a_module_anywhere\nclass Convolution: pass\n", "ModuleNotFoundError"),
    ("x = 1\n", "defines no layer"),
])
def test_unloadable_file_exits_2_with_the_reason_and_a_zero_gradescope(
        tmp_path, capsys, source: str, words: str) -> None:
    f = tmp_path / "broken.py"
    f.write_text(source)
    gs = tmp_path / "gs.json"
    assert _check(str(f), "--gradescope", str(gs)) == 2
    assert words in capsys.readouterr().out
    d = json.loads(gs.read_text())
    assert d["tests"] and all(t["score"] == 0 for t in d["tests"])


def test_missing_required_layer_fails(tmp_path) -> None:
    assert _check(str(STUDENTS / "good_loops.py"), "--layers", "relu", "--no-shrink") == 0
    assert _check(str(STUDENTS / "good_loops.py"), "--layers", "relu,avgpool",
                  "--no-shrink") == 1


def test_folder_of_submissions_with_jobs_gives_a_table_and_one_report_each(tmp_path) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("good_im2col.py", "bad_relu_grad0.py"):
        shutil.copy(STUDENTS / name, subs / name)
    # a submission as a folder, importing its own package (from common.util import ...)
    pkg = subs / "alice"
    (pkg / "common").mkdir(parents=True)
    (pkg / "common" / "__init__.py").write_text("")
    shutil.copy(STUDENTS / "good_im2col.py", pkg / "common" / "util.py")
    (pkg / "layers.py").write_text("from common.util import Relu, Affine\n")
    # self-contained: an --each entry never imports another entry
    (subs / "bad_relu_grad0.py").write_text(inlined("bad_relu_grad0.py"))
    out = tmp_path / "json"
    r = subprocess.run([sys.executable, "-m", "layercheck.reports.cli", "check", "--each",
                        str(subs), "--layers", "relu", "--jobs", "2", "--json", str(out), "--quiet",
                        "--no-shrink"],
                       capture_output=True, text=True, timeout=120,
                       cwd=Path(__file__).parent.parent)
    assert r.returncode == 1, r.stderr
    assert "| file" in r.stdout and "bad_relu_grad0.py" in r.stdout
    reports = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    assert reports["alice"]["summary"]["pass"] == reports["alice"]["summary"]["total"] > 0
    assert reports["good_im2col"]["summary"]["fail"] == 0
    assert reports["bad_relu_grad0"]["summary"]["fail"] > 0


def test_worker_replies_are_never_unpickled() -> None:
    evil = pickle.dumps(Path("/"))  # a pickle is not a frame body: refused, never loaded
    with pytest.raises(WireError):
        decode(evil, b"")


@pytest.mark.parametrize("student, rule", [("bad_system.py", "sandbox")])
def test_policy_violation_is_its_own_zero_gradescope_test(tmp_path, student: str,
                                                          rule: str) -> None:
    gs = tmp_path / "results.json"
    rc = _check(str(STUDENTS / student), "--layers", "affine", "--no-shrink", "--gradescope",
                str(gs))
    assert rc == 1
    d = json.loads(gs.read_text())
    policy = [t for t in d["tests"] if t["name"] == POLICY_TEST]
    assert len(policy) == 1 and policy[0]["score"] == 0 < policy[0]["max_score"]
    assert f"Policy violation ({rule})" in policy[0]["output"]
    assert f"Policy violation ({rule})" in d["output"]
    layers = [t for t in d["tests"] if t["name"] != POLICY_TEST]
    assert [t["name"] for t in layers] == ["affine forward", "affine backward"]
    assert all(t["score"] == t["max_score"] for t in layers)  # the layers are correct
    assert d["score"] == sum(t["max_score"] for t in layers)
