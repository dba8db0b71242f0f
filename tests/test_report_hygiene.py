"""The grader's handling of what a submission controls (red-team findings 4, 9, 11-14, 15b,
15d): the graded layer set comes from configuration and a missing layer scores 0 everywhere;
"did you mean" hints stay cheap; student text cannot drive a terminal, run as a spreadsheet
formula, break a Markdown table or stall the class report; reproducers never paste a file
name into code; a dropout mask that never changes fails."""

from __future__ import annotations

import ast
import csv
import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from layercheck.cases import curricula, registry
from layercheck.cases.adapters import Run
from layercheck.cases.case import Case
from layercheck.cases.inputs import make_inputs
from layercheck.cases.sandbox.wire import text as wire_text
from layercheck.cases.submission import names as naming
from layercheck.reference.result import Result
from layercheck.reference.verdicts import verdicts
from layercheck.reports import class_report
from layercheck.reports.class_report import diagnosis_key, read_student, write_class_report
from layercheck.reports.cli import main
from layercheck.reports.escape import csv_cell
from layercheck.reports.gradescope import results_json
from layercheck.reports.grading.checker import StudentReport, check_submission
from layercheck.reports.grading.scoring import POLICY_POINTS
from layercheck.reports.grading.shrink import reproducer
from layercheck.reports.student_cli import (
    MAX_NAME_BYTES,
    batch_footer,
    batch_table,
    output_names,
    report_json,
    terminal_summary,
)
from layercheck.reports.student_render import student_markdown

ROOT = Path(__file__).parent.parent
CLASSIC = {"conv", "pool", "affine", "relu", "softmax"}  # README: both curricula's layers
ESC = ("\x1b[2J\x1b[H\x1b]0;owned-title\x07\x1b[32mALL 72 CASES PASS\x1b[0m\r\x9b31m"
       "\u202e")
INJECT = "x |\n| relu | pass | 36/36 |\n<img src=x onerror=alert(1)> <script>alert(2)</script>"
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

# A correct Relu (the notes' way), an Affine whose forward raises a hostile text, decoy
# names for the hint search, and two of the curricula's classes that nobody configured.
SUBMISSION = f'''import numpy as np

MESSAGE = {ESC + INJECT!r}


class Relu:
    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dx = dout.copy()
        dx[self.mask] = 0
        return dx


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        raise RuntimeError(MESSAGE)

    def backward(self, dout):
        return dout


class Sigmoid:
    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class Dropout:
    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return dout * self.mask
''' + "".join(f"Conv{i:08d} = 1\n" for i in range(3000))


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[StudentReport, dict[str, int]]:
    """The submission checked once with no --layers; how often each hint was computed."""
    folder = tmp_path_factory.mktemp("hygiene")
    path = folder / "partial.py"
    path.write_text(SUBMISSION)
    calls: dict[str, int] = {}
    real = naming.did_you_mean
    mp = pytest.MonkeyPatch()

    def counted(missing: str, *args: object, **kwargs: object) -> str:
        calls[missing] = calls.get(missing, 0) + 1
        return real(missing, *args, **kwargs)

    mp.setattr(naming, "did_you_mean", counted)
    try:
        report = check_submission(path, do_shrink=False, timeout=10.0)
    finally:
        mp.undo()
    assert report.grader_error is None and report.load_error is None, (
        report.grader_error or report.load_error)
    return report, calls


# ---------------------------------------------------------------- 4: graded layers


def test_default_grades_the_classic_layers_not_what_the_student_defines(checked) -> None:
    report, _ = checked
    assert set(report.layers) == CLASSIC, (
        f"without --layers the notes' classic layers are graded; got {report.layers}")
    assert not {r.layer for r in report.results} & {"sigmoid", "dropout"}, (
        "a curricula layer the student defines but nobody configured was graded")
    assert set(report.required_missing()) == {"conv", "pool", "softmax"}
    assert report.exit_code() == 1, "a submission missing graded layers must exit 1"


def test_missing_layers_fail_the_footer_and_score_0_in_gradescope(checked) -> None:
    report, _ = checked
    assert "1 fail (exit 1)" in batch_footer([report], 1.0, 1)
    gs = results_json(report)
    max_score = sum(t["max_score"] for t in gs["tests"])
    assert max_score == pytest.approx(registry.max_points(tuple(CLASSIC)) + POLICY_POINTS), (
        "Gradescope's maximum must be fixed by the configured layers (their registry "
        f"points + the policy's), whatever the student defines; got {max_score}")
    for layer in ("conv", "pool", "softmax"):
        mine = [t for t in gs["tests"] if t["name"].startswith(f"{layer} ")]
        assert mine and all(t["score"] == 0 and t["max_score"] > 0 for t in mine), (
            f"missing layer {layer} must appear with score 0: {mine}")


def test_configured_curricula_layer_is_graded_and_maximum_follows_configuration(
        tmp_path) -> None:
    report = StudentReport("x.py", api="class", layers=("relu", "dropout"),
                           required=("relu", "dropout"))
    report.results = [Result("relu-a", "relu", "forward", "out", "pass"),
                      Result("relu-a", "relu", "backward", "dx", "pass"),
                      Result("dropout-a", "dropout", "forward", "out", "missing"),
                      Result("dropout-a", "dropout", "backward", "dx", "missing")]
    assert report.required_missing() == ["dropout"] and report.exit_code() == 1
    gs = results_json(report)
    assert sum(t["max_score"] for t in gs["tests"]) == pytest.approx(
        registry.max_points(("relu", "dropout")) + POLICY_POINTS)
    assert gs["score"] == pytest.approx(registry.max_points(("relu",)) + POLICY_POINTS), (
        "the missing dropout scores 0")


def test_class_report_counts_a_missing_layer_as_0(checked, tmp_path) -> None:
    report, _ = checked
    (tmp_path / "partial.json").write_text(json.dumps(report_json(report)))
    student = read_student(tmp_path / "partial.json")
    assert not isinstance(student, str), student
    passing = tuple(x for x in report.required
                    if all(r.passed for r in report.results if r.layer == x))
    assert "relu" in passing and "conv" not in passing
    assert student.layer_score("relu") == 100.0 and student.layer_score("conv") == 0.0
    earned = registry.max_points(passing) + (0 if report.policy else POLICY_POINTS)
    assert student.total() == pytest.approx(
        100.0 * earned / (registry.max_points(report.required) + POLICY_POINTS)), (
        "the class-report total is the score: a missing layer's points count as 0")


# ---------------------------------------------------------------- 9: hints


def test_did_you_mean_is_computed_once_per_missing_name(checked) -> None:
    report, calls = checked
    assert calls and all(n == 1 for n in calls.values()), (
        f"the hint must be computed once per missing layer, not per case: {calls}")
    conv = [r for r in report.results if r.layer == "conv"]
    assert len(conv) > 1 and len({r.diagnosis for r in conv}) == 1


def test_hint_search_compares_a_bounded_pool(monkeypatch) -> None:
    seen: list[int] = []
    real = naming.difflib.get_close_matches

    def spy(word, possibilities, *args, **kwargs):
        seen.append(len(possibilities))
        return real(word, possibilities, *args, **kwargs)

    monkeypatch.setattr(naming.difflib, "get_close_matches", spy)
    decoys = {f"Conv{i:08d}" for i in range(20000)} | {"Convolutio"}
    hits = naming.suggestions("Convolution", decoys)
    assert seen and max(seen) <= 1000, f"difflib compared {max(seen)} names"
    assert "Convolutio" in hits, f"the near name must still be suggested: {hits}"


# ---------------------------------------------------------------- 11: control characters


def test_wire_text_drops_control_characters_but_keeps_newline_and_tab() -> None:
    got = wire_text(ESC + "a\tb\nc")
    assert got is not None and not CONTROLS.search(got), repr(got)
    assert got.endswith("a\tb\nc") and "ALL 72 CASES PASS" in got


def test_student_error_reaches_the_terminal_without_escapes(checked) -> None:
    report, _ = checked
    affine = [r for r in report.results if r.layer == "affine" and r.status == "error"]
    assert affine and "owned-title" in affine[0].diagnosis, "the error text should be shown"
    assert not CONTROLS.search(affine[0].diagnosis), repr(affine[0].diagnosis)


def test_terminal_summary_and_batch_table_strip_control_characters() -> None:
    report = StudentReport(f"/subs/evil{ESC}.py", api="class", layers=("relu",),
                           required=("relu",))
    report.results = [Result("relu-a", "relu", "forward", "out", "error",
                             diagnosis=f"forward raised {ESC}")]
    report.policy = [{"rule": "sandbox", "detail": f"forged {ESC}"}]
    report.warnings = [f"warn {ESC}"]
    for out in (terminal_summary(report), batch_table([report])):
        assert not CONTROLS.search(out), repr(CONTROLS.search(out))
        assert "ALL 72 CASES PASS" in out  # shown as text, not hidden
    loaded = StudentReport("x.py", load_error=f"SyntaxError {ESC}")
    assert not CONTROLS.search(terminal_summary(loaded))


# ---------------------------------------------------------------- 12: CSV formulas


def test_gradebook_csv_cells_never_start_a_formula(tmp_path) -> None:
    results = tmp_path / "json"
    results.mkdir()
    evil = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    data = {"implementation": "/subs/=cmd|' -C calc'!A0.py", "api": "class", "policy":
            [{"rule": "sandbox", "detail": d} for d in evil],
            "cases": [{"id": "relu-a", "layer": "relu", "phase": "forward", "output": "out",
                       "status": "fail", "diagnosis": "=1+1 wrong"}], "exit_code": 1}
    (results / "s.json").write_text(json.dumps(data))
    write_class_report(results, tmp_path / "out")
    for name in ("gradebook.csv", "diagnoses.csv"):
        with (tmp_path / "out" / name).open(newline="") as f:
            cells = [c for row in csv.reader(f) for c in row]
        bad = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
        assert not bad, f"{name}: cells a spreadsheet would run as formulas: {bad}"
    with (tmp_path / "out" / "gradebook.csv").open(newline="") as f:
        row = next(csv.DictReader(f))
    assert row["student"] == "'=cmd|' -C calc'!A0", "the name is kept, as text"


# ---------------------------------------------------------------- 13: Markdown


def test_markdown_cells_cannot_add_rows_or_html() -> None:
    report = StudentReport("/subs/a<b>|c.py", api="class", layers=("relu",),
                           required=("relu",))
    report.results = [Result("relu-a", "relu", "forward", "out", "error",
                             diagnosis=f"forward raised RuntimeError: {INJECT}"),
                      Result("relu-a", "relu", "backward", "dx", "pass")]
    report.policy = [{"rule": "sandbox", "detail": INJECT}]
    report.warnings = [INJECT]
    report.file = "a`b\n| x |.py"
    md = student_markdown(report)
    assert "\n| x |" not in md, "a file name broke out of its code span"
    assert "<img" not in md and "<script" not in md, "raw HTML from the student's text"
    assert "&lt;img" in md, "the text should still be shown, escaped"
    assert not any(line.startswith("| relu | pass") for line in md.splitlines()), (
        "a newline in a cell let the student add a table row")


def test_markdown_of_an_unloadable_file_escapes_the_error() -> None:
    md = student_markdown(StudentReport("x.py", load_error=INJECT))
    assert "<script" not in md and "\n| relu" not in md


# ---------------------------------------------------------------- 14: class-report regex


def test_diagnosis_key_never_runs_its_regexes_on_long_text(monkeypatch) -> None:
    lengths: list[int] = []
    real = re.sub

    def spy(pattern, repl, string, *args, **kwargs):
        lengths.append(len(string))
        return real(pattern, repl, string, *args, **kwargs)

    monkeypatch.setattr(class_report.re, "sub", spy)
    key = diagnosis_key("a." * 600 + " student.py")  # 1,211 characters
    assert lengths and max(lengths) <= 1000, f"a regex ran on {max(lengths)} characters"
    assert key


# ---------------------------------------------------------------- 15b: reproducer


def test_reproducer_never_pastes_a_file_name_into_code(tmp_path) -> None:
    weird = tmp_path / "l;__import__('os').system('id')#.py"
    weird.write_text(SUBMISSION.split("class Affine")[0])
    root = tmp_path
    sub = SimpleNamespace(module=weird.stem, path=weird, root=root, name_map={}, api="class")
    case = Case("relu", N=1, C=1, H=2, W=3)
    code = reproducer(case, sub, "dx")
    tree = ast.parse(code)
    imported = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in n.names}
    assert not any("__import__" in n or ";" in n for n in imported), imported
    assert not any(isinstance(n, ast.Attribute) and n.attr == "system"
                   for n in ast.walk(tree)), "the file name became code"
    assert any(isinstance(n, ast.Constant) and n.value == str(weird)
               for n in ast.walk(tree)), "the file should be loaded from its path literal"
    run = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                         text=True, timeout=120, env={"PYTHONPATH": str(ROOT),
                                                      "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr[-2000:]
    assert float(run.stdout.strip().splitlines()[-1]) == 0.0  # the Relu is right


def test_reproducer_comment_cannot_end_its_line(tmp_path) -> None:
    sub = SimpleNamespace(module="layers", path=tmp_path / "layers.py",
                          root=Path("/tmp/x\nimport os; os.system('id')"), name_map={},
                          api="class")
    tree = ast.parse(reproducer(Case("relu", N=1, C=1, H=2, W=3), sub, "out"))
    assert not any(isinstance(n, ast.Attribute) and n.attr == "system"
                   for n in ast.walk(tree)), "a folder name escaped the comment"


# ---------------------------------------------------------------- 15d: dropout


FIXED_MASK_BOOK = '''import numpy as np


class Dropout:
    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio

    def forward(self, x, train_flg=True):
        if train_flg:  # evenly spread, right keep rate, but the same on every call
            self.mask = np.random.default_rng(0).random(x.shape) > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return dout * self.mask
'''

FIXED_MASK_CS231N = '''import numpy as np


def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if mode == "train":  # ignores the seed: the same mask for every seed
        mask = (np.random.default_rng(0).random(x.shape) < p) / p
        return x * mask, (dropout_param, mask)
    return x, (dropout_param, None)


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    return dout * mask if dropout_param["mode"] == "train" else dout
'''


@pytest.mark.parametrize("source,layer", [(FIXED_MASK_BOOK, "dropout"),
                                          (FIXED_MASK_CS231N, "invdropout")])
def test_a_mask_that_never_changes_fails_the_keep_test(tmp_path, source: str,
                                                       layer: str) -> None:
    path = tmp_path / "fixed_mask.py"
    path.write_text(source)
    report = check_submission(path, layers=(layer,), do_shrink=False)
    assert report.load_error is None and report.grader_error is None, (
        report.load_error or report.grader_error)
    keep = [r for r in report.results if r.output == "keep"]
    assert keep and all(r.status == "fail" for r in keep), (
        "a fixed mask must fail every training case's keep test: "
        + ", ".join(f"{r.id}:{r.status}" for r in keep))
    assert all("same mask" in r.diagnosis for r in keep), keep[0].diagnosis
    others = [r.message() for r in report.results if r.output != "keep" and not r.passed]
    assert not others, f"the values are right for its own mask: {others[:3]}"
    assert report.exit_code() == 1


# A pattern with the right keep rate, moved one element along the input on every call (the
# notes' class), or by the seed (CS231n's function: seeds differ by one between draws).
SHIFTING_BOOK = '''import numpy as np


class Dropout:
    calls = 0

    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio

    def forward(self, x, train_flg=True):
        if train_flg:
            Dropout.calls += 1
            base = np.random.default_rng(7).random(x.size) > self.dropout_ratio
            self.mask = np.roll(base, Dropout.calls).reshape(x.shape)
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return dout * self.mask
'''

SHIFTING_CS231N = '''import numpy as np


def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if mode == "train":  # the seed moves one fixed pattern instead of seeding a draw
        base = np.random.default_rng(7).random(x.size) < p
        mask = np.roll(base, dropout_param.get("seed", 0)).reshape(x.shape) / p
        return x * mask, (dropout_param, mask)
    return x, (dropout_param, None)


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    return dout * mask if dropout_param["mode"] == "train" else dout
'''

# Random masks, but the third training call on an input raises.
THIRD_CALL_RAISES = '''import numpy as np


class Dropout:
    calls = 0

    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio

    def forward(self, x, train_flg=True):
        if train_flg:
            Dropout.calls += 1
            if Dropout.calls % 4 == 3:
                raise RuntimeError("only two masks per input")
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return dout * self.mask
'''


@pytest.mark.parametrize("source,layer,words", [
    (SHIFTING_BOOK, "dropout", "shifted by"),
    (SHIFTING_CS231N, "invdropout", "shifted by"),
    (THIRD_CALL_RAISES, "dropout", "raised or returned no array"),
])
def test_a_shifted_or_unrepeatable_mask_fails_the_keep_test(tmp_path, source: str,
                                                            layer: str, words: str) -> None:
    path = tmp_path / "moving_mask.py"
    path.write_text(source)
    report = check_submission(path, layers=(layer,), do_shrink=False)
    assert report.load_error is None and report.grader_error is None, (
        report.load_error or report.grader_error)
    keep = [r for r in report.results if r.output == "keep"]
    assert keep and all(r.status == "fail" for r in keep), (
        "every training case's keep test must fail: "
        + ", ".join(f"{r.id}:{r.status}" for r in keep))
    assert all(words in r.diagnosis for r in keep), keep[0].diagnosis


@pytest.mark.parametrize("source,layer,api", [(SHIFTING_BOOK, "dropout", "class"),
                                              (SHIFTING_CS231N, "invdropout", "functional")])
def test_keep_reproducer_prints_the_mask_verdict(tmp_path, source: str, layer: str,
                                                 api: str) -> None:
    path = tmp_path / "moving.py"
    path.write_text(source)
    sub = SimpleNamespace(module="moving", path=path, root=tmp_path, name_map={}, api=api)
    code = reproducer(Case(layer, N=1, C=1, H=8, W=8, rate=0.5), sub, "keep")
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120, env={"PYTHONPATH": str(ROOT),
                                                      "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr[-2000:]
    assert "shifted by" in run.stdout, f"the reproducer should show why keep fails: {run.stdout}"


def _dropout_run(masks: list[np.ndarray], arrays: dict) -> Run:
    """A run of the notes' dropout whose training forwards kept `masks` (out first)."""
    outputs = {"out": arrays["x"] * masks[0], "dx": arrays["dout"] * masks[0]}
    outputs.update({name: arrays["x"] * m
                    for name, m in zip(curricula.AGAINS, masks[1:], strict=False)})
    return Run(outputs=outputs)


def test_masks_missing_a_repeat_or_agreeing_too_often_fail_but_random_ones_pass() -> None:
    case = Case("dropout", N=4, C=8, H=8, W=8, rate=0.5)
    arrays = make_inputs(case)
    rng = np.random.default_rng(3)

    def keep(masks: list[np.ndarray]) -> Result:
        results = verdicts(case, arrays, {}, None, _dropout_run(masks, arrays))
        return next(r for r in results if r.output == "keep")

    random = [rng.random(arrays["x"].shape) > 0.5 for _ in range(4)]
    assert keep(random).passed, keep(random).diagnosis
    missing = keep(random[:1])  # the further forwards never came back (worker, error)
    assert missing.status == "fail" and "did not run" in missing.diagnosis, (
        "a run without its repeated forwards must fail keep, not skip the mask check")
    # each later mask copies 90% of the first: right keep rate, no shift, not independent
    close = [random[0]] + [np.where(rng.random(m.shape) < 0.9, random[0], m)
                           for m in random[1:]]
    got = keep(close)
    assert got.status == "fail" and "independent masks agree" in got.diagnosis, (
        got.diagnosis)


# ---------------------------------------------------------------- N7, N8: output names

RELU_ONLY = SUBMISSION.split("class Affine")[0]


def test_long_names_are_capped_with_a_stable_hash_and_stay_distinct() -> None:
    long_a, long_b = "a" * 250 + "1.py", "a" * 250 + "2.py"
    wide = "é" * 150 + ".py"  # 300 bytes in UTF-8
    names = output_names([f"/subs/{long_a}", f"/subs/{long_b}", f"/subs/{wide}"])
    got = list(names.values())
    assert all(len(n.encode()) <= MAX_NAME_BYTES for n in got), [len(n.encode()) for n in got]
    assert len(set(got)) == 3, f"capped names must stay distinct: {got}"
    assert got[2].startswith("é" * 10), "a cut must not split a character"
    again = output_names([f"/subs/{long_b}", f"/subs/{long_a}"])
    assert again[f"/subs/{long_a}"] == names[f"/subs/{long_a}"], (
        "a capped name must not depend on the other submissions or their order")


def test_output_names_replace_controls_newlines_bidi_and_separators() -> None:
    evil = ["/subs/\x1b[2J\x1b]0;pwn\x07.py", "/subs/line\nbreak.py", "/subs/\u202egnp.py.py",
            "/subs/back\\slash.py", "/subs/del\x7f\x9b.py", "/subs/sep\u2028x.py"]
    names = output_names(evil)
    for target, name in names.items():
        assert not re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069/\\\\]",
                             name), f"{target!r} -> {name!r}"
    assert names["/subs/line\nbreak.py"] == "line_break", "replaced by '_', not dropped"


def test_a_failed_report_write_is_an_error_row_and_a_nonzero_exit(tmp_path, capsys) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    long_name = "a" * 250 + ".py"
    for name in (long_name, "bob.py"):
        (subs / name).write_text(RELU_ONLY)
    out = tmp_path / "json"
    (out / "bob.json").mkdir(parents=True)  # a folder where bob's report must go
    code = main(["check", "--each", str(subs), "--layers", "relu", "--no-shrink", "--quiet",
                 "--no-progress", "--json", str(out), "--md", str(tmp_path / "md")])
    table = capsys.readouterr().out
    assert code != 0, "a report that could not be written must not exit 0"
    row = next(line for line in table.splitlines() if line.startswith("| bob.py"))
    assert "grader error" in row, f"bob's row should say its report was not written: {row}"
    written = sorted(p.name for p in out.iterdir() if p.is_file())
    assert len(written) == 1 and written[0].startswith("a" * 100), written
    assert len(written[0].encode()) <= MAX_NAME_BYTES + len(".json"), written[0]
    assert len(list((tmp_path / "md").glob("a*.md"))) == 1, "the long name's Markdown"
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")], "a temporary left"


def test_csv_cells_drop_control_characters_before_the_formula_guard() -> None:
    assert csv_cell("\x1b[2J\x07ok\u202e") == "[2Jok"
    assert csv_cell("\x1b=1+1") == "'=1+1", "a formula hidden behind a control character"
    assert csv_cell(3) == 3 and csv_cell(None) is None


def test_batch_table_keeps_one_line_per_row_when_a_name_has_a_newline() -> None:
    reports = [StudentReport(f"/subs/line{sep}break.py", api="class", layers=("relu",),
                             required=("relu",)) for sep in ("\n", "\r\n", "\u2028", "\x85")]
    lines = batch_table(reports).splitlines()
    assert len(lines) == 2 + len(reports), "\n".join(lines)
    assert all("line break.py" in line for line in lines[2:]), lines


# ---------------------------------------------------------------- N9: graded layers shown


def test_check_help_states_the_default_layers_from_the_checker(capsys) -> None:
    from layercheck.reports.grading.checker import DEFAULT_LAYERS

    with pytest.raises(SystemExit):
        main(["check", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    layers_help = text[text.index("--layers LAYERS the graded layers"):]
    stated = layers_help.split("default: ", 1)[1].split(";", 1)[0]
    assert stated.split(",") == list(DEFAULT_LAYERS["class"]), (
        f"--help states the default as {stated!r}")
    assert "avgpool" in layers_help.split(";", 1)[1][:200], "avgpool: only when named"


def test_batch_table_lists_only_the_graded_layers_when_nothing_loaded() -> None:
    reports = [StudentReport(f"/subs/{n}.py", load_error="SyntaxError") for n in "ab"]
    header = batch_table(reports, ("relu",)).splitlines()[0]
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert columns == ["file", "exit", "relu", "policy", "seconds"], columns
    header = batch_table(reports).splitlines()[0]
    assert "avgpool" not in header and "dropout" not in header and "conv" in header, header
