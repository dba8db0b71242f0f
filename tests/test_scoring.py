"""One scoring model: a batch graded with --json --gradescope --prairielearn, then
class-report, gives every student the same share everywhere; `*_fast` aliases change no
score; a file offering both APIs is graded on both, the worse score standing."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import layercheck
import pytest
from layercheck.reference.result import Result
from layercheck.reports.cli import main
from layercheck.reports.gradescope import results_json
from layercheck.reports.grading.checker import StudentReport, check_submission
from layercheck.reports.grading.scoring import (
    POLICY_POINTS,
    Hidden,
    Score,
    compute,
    phase_points,
)
from layercheck.reports.grading_bench import inlined
from layercheck.reports.prairielearn import pl_results

STUDENTS = Path(__file__).parent / "students"
FAST_ALIASES = ("\nconv_forward_fast = conv_forward_naive\n"
                "conv_backward_fast = conv_backward_naive\n"
                "max_pool_forward_fast = max_pool_forward_naive\n"
                "max_pool_backward_fast = max_pool_backward_naive\n")


def _without_softmax() -> str:
    """good_functional with its softmax_loss misnamed: a graded layer missing."""
    text = (STUDENTS / "good_functional.py").read_text()
    assert "def softmax_loss(" in text, "fixture changed"
    return text.replace("def softmax_loss(", "def softmax_los(")


def _class(folder: Path) -> dict[str, str]:
    """A small class: right, one bug, not loaded, a layer missing, with *_fast aliases."""
    files = {"good_functional": (STUDENTS / "good_functional.py").read_text(),
             "bad_pool_tie_last": inlined("bad_pool_tie_last.py"),
             "bad_functional_db": inlined("bad_functional_db.py") + FAST_ALIASES,
             "not_loaded": "def conv_forward_naive(x, w, b, conv_param)\n    return x\n",
             "no_softmax": _without_softmax()}
    for name, text in files.items():
        (folder / f"{name}.py").write_text(text)
    return files


def test_one_batch_gives_every_student_one_share_in_all_four_outputs(tmp_path) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    names = _class(subs)
    js, gs, pl, book = (tmp_path / d for d in ("json", "gs", "pl", "book"))
    main(["check", "--each", str(subs), "--json", str(js), "--gradescope", str(gs),
          "--prairielearn", str(pl), "--quiet", "--no-shrink", "--no-progress", "--jobs", "2"])
    assert main(["class-report", str(js), "--out", str(book)]) == 0
    rows = {r["student"]: r for r in csv.DictReader((book / "gradebook.csv").open())}
    shares = {}
    for name in names:
        data = json.loads((js / f"{name}.json").read_text())
        mine = data["score"]["fraction"]
        g = json.loads((gs / f"{name}.results.json").read_text())
        g_share = g["score"] / sum(t["max_score"] for t in g["tests"])
        p = json.loads((pl / f"{name}.results.json").read_text())
        book_share = float(rows[name]["total"]) / 100
        for where, share in (("Gradescope", g_share), ("gradebook", book_share)):
            assert share == pytest.approx(mine, abs=1e-4), f"{name}: {where} {share} vs {mine}"
        if p["gradable"]:
            assert p["score"] == pytest.approx(mine, abs=1e-4), f"{name}: PrairieLearn"
        shares[name] = mine
    assert shares["good_functional"] == 1.0
    assert 0 < shares["bad_pool_tie_last"] < 1 and 0 < shares["bad_functional_db"] < 1
    assert shares["not_loaded"] == 0.0
    maxima = {sum(t["max_score"] for t in json.loads(f.read_text())["tests"])
              for f in gs.glob("*.results.json")}
    assert len(maxima) == 1, f"one maximum for the whole class, got {maxima}"

    # not loaded: PrairieLearn's 'cannot be graded', said once; the gradebook says why
    p = json.loads((pl / "not_loaded.results.json").read_text())
    assert p["gradable"] is False and p["format_errors"]
    assert p["message"].count("could not be loaded") <= 1
    assert rows["not_loaded"]["status"] == "not loaded" and rows["not_loaded"]["reason"]

    # a missing layer: advice a student can act on, no command-line flag
    g = json.loads((gs / "no_softmax.results.json").read_text())
    soft = [t for t in g["tests"] if t["name"].startswith("softmax ")]
    assert soft and all(t["score"] == 0 for t in soft)
    assert "softmax_los" in soft[0]["output"] and "softmax_loss" in soft[0]["output"]
    texts = " ".join(t["output"] for t in g["tests"]) + g["output"]
    assert not re.search(r"(^|\s)--[a-z]", texts), "no command-line flags for students"


def test_fast_aliases_change_no_score(tmp_path) -> None:
    base = inlined("bad_functional_db.py")
    scores = []
    for i, text in enumerate((base, base + FAST_ALIASES)):
        path = tmp_path / f"s{i}.py"
        path.write_text(text)
        r = check_submission(path, do_shrink=False)
        scores.append((r.score.earned, r.score.possible))
        if i:
            assert any(x.variant == "fast" for x in r.results), "the variants were run"
            assert r.score.unscored_variants > 0
    assert scores[0] == scores[1] and scores[0][0] < scores[0][1]


def test_a_phase_test_speaks_of_its_own_phase_only() -> None:
    r = StudentReport("a.py", api="class", layers=("conv",), required=("conv",))
    r.results = [Result("conv-a", "conv", "forward", "out", "pass"),
                 Result("conv-a", "conv", "backward", "dx", "fail", diagnosis="dx is wrong")]
    tests = {t["name"]: t for t in results_json(r)["tests"]}
    assert "dx is wrong" in tests["conv backward"]["output"]
    assert "dx" not in tests["conv forward"]["output"], tests["conv forward"]["output"]


def test_the_score_splits_hidden_cases_without_changing_the_total() -> None:
    r = StudentReport("a.py", api="class", layers=("conv",), required=("conv",))
    for i in range(20):
        r.results.append(Result(f"conv-{i}", "conv", "forward", "out",
                                "pass" if i % 3 else "fail"))
    plain, split = compute(r), compute(r, Hidden(0.5))
    assert split.earned == pytest.approx(plain.earned)
    item = split.items[0]
    assert 0 < item.hidden_cases < item.cases
    assert item.visible_earned + item.hidden_earned == pytest.approx(item.earned)
    back = Score.from_json(json.loads(json.dumps(split.to_json())))
    assert back.earned == pytest.approx(split.earned) and back.possible == split.possible


def test_the_maximum_is_the_configuration_not_what_the_file_defines() -> None:
    r = StudentReport("a.py", api="class", required=("relu", "conv"))
    r.results = [Result("relu-a", "relu", "forward", "out", "pass"),
                 Result("relu-a", "relu", "backward", "dx", "pass"),
                 Result("avgpool-a", "avgpool", "forward", "out", "pass")]  # not graded
    s = compute(r)
    want = sum(p for layer in ("relu", "conv") for _, p in phase_points(layer))
    assert s.possible == pytest.approx(want + POLICY_POINTS)
    assert s.earned == pytest.approx(sum(p for _, p in phase_points("relu")) + POLICY_POINTS)
    loaded_not = StudentReport("b.py", required=("relu", "conv"), load_error="syntax error")
    assert compute(loaded_not).possible == s.possible and compute(loaded_not).earned == 0
    assert pl_results(loaded_not)["gradable"] is False


def _both_apis() -> str:
    """A class file whose max pool pads with zeros, plus functional wrappers that are
    right and two stubs, so that detection alone would pick the functional API: graded as
    class it fails, as functional it would pass."""
    stubs = ("\ndef batchnorm_forward(x, gamma, beta, bn_param):\n    pass\n"
             "\ndef dropout_forward(x, dropout_param):\n    pass\n")
    return (inlined("bad_pool_zero_pad.py") + "\n"
            + (STUDENTS / "good_functional.py").read_text() + stubs)


def test_a_file_offering_both_apis_is_graded_on_both_and_the_worse_stands(tmp_path) -> None:
    path = tmp_path / "both.py"
    path.write_text(_both_apis())
    as_class = check_submission(path, api="class", do_shrink=False)
    as_functions = check_submission(path, api="functional", do_shrink=False)
    assert as_class.score.fraction < as_functions.score.fraction == 1.0
    detected = check_submission(path, do_shrink=False)
    assert detected.api == "class" and set(detected.offered) == {"class", "functional"}
    assert detected.score.fraction == pytest.approx(as_class.score.fraction)
    assert any("both APIs" in w for w in detected.warnings)


def test_check_file_gives_the_same_score_as_the_report(tmp_path) -> None:
    path = tmp_path / "tie.py"
    path.write_text(inlined("bad_pool_tie_last.py"))
    r = layercheck.check_file(path, layers=("pool", "relu"), shrink=False)
    assert 0 < r.score.fraction < 1
    assert r.score.possible == pytest.approx(
        sum(p for layer in ("pool", "relu") for _, p in phase_points(layer)) + POLICY_POINTS)
    assert r.score.text() in r._repr_html_() and r.score.text() in repr(r)
    rows = {(x["layer"], x["phase"]): x for x in r.rows()}
    assert rows[("pool", "backward")]["points"] < rows[("pool", "backward")]["max_points"]
    assert sum(x["points"] for x in rows.values()) + POLICY_POINTS == pytest.approx(
        r.score.earned)
