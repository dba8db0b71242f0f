"""Batches never lose a row: reports written as each submission is done, a grader-side
failure is that submission's row (exit 3), --resume skips what is already checked."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from layercheck.reference.result import Result
from layercheck.reports.cli import main
from layercheck.reports.grading.batch import content_hash, exit_code, grader_error, run_local, slim
from layercheck.reports.grading.checker import StudentReport
from layercheck.reports.grading_bench import inlined
from layercheck.reports.student_cli import batch_table

STUDENTS = Path(__file__).parent / "students"
ROOT = Path(__file__).parent.parent


def each(folder: Path) -> list[str]:
    """Arguments that grade each entry of `folder` as one submission (`--each FOLDER` where
    the command has it, else the folder itself, as before --each existed)."""
    from layercheck.reports.cli import build_parser

    check = build_parser("check")._subparsers._group_actions[0].choices["check"]
    return ["--each", str(folder)] if "--each" in check._option_string_actions \
        else [str(folder)]


def _fake_check(target: str, options: dict) -> StudentReport:
    """Stands in for check_submission in the pool's processes: the grader itself fails on
    'die' (its process is killed) and 'raise' (an exception); the others are fine."""
    name = Path(target).name
    if name == "die":
        os.kill(os.getpid(), signal.SIGKILL)  # the grading process dies (as on a segfault)
    if name == "raise":
        return _raising(target)
    return StudentReport(target, api="class", seconds=0.01)


def _raising(target: str) -> StudentReport:
    from layercheck.reports.grading import batch

    def boom(*args, **kwargs):
        raise RuntimeError("a bug in the grader")

    saved = batch.check_submission
    batch.check_submission = boom
    try:
        return batch.check_one(target, {})
    finally:
        batch.check_submission = saved


def test_a_dying_grader_process_costs_its_own_row_only() -> None:
    names = ["a", "die", "b", "raise", "c", "d"]
    seen: list[tuple[str, StudentReport]] = []
    run_local(names, {}, 2, lambda t, r: seen.append((t, r)), check=_fake_check)
    assert sorted(t for t, _ in seen) == sorted(names), "every submission must get a row"
    by = dict(seen)
    assert "process died" in grader_error(by["die"]), grader_error(by["die"])
    assert "RuntimeError: a bug in the grader" in grader_error(by["raise"])
    assert exit_code(by["die"]) == exit_code(by["raise"]) == 3
    from layercheck.reports.student_render import student_markdown

    assert "Grader error" in student_markdown(by["die"]), "the Markdown report must say so"
    assert all(exit_code(by[n]) == 0 and grader_error(by[n]) is None for n in "abcd")


def _course(tmp_path: Path) -> Path:
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(STUDENTS / "good_im2col.py", subs / "good_im2col.py")
    shutil.copy(STUDENTS / "good_loops.py", subs / "good_loops.py")
    for bad in ("bad_crash_forward.py", "bad_torch.py"):  # crashing; cheating (torch)
        (subs / bad).write_text(inlined(bad))  # self-contained: entries never import others
    return subs


def _cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "layercheck.reports.cli", "check", *argv],
                          capture_output=True, text=True, timeout=240, cwd=ROOT)


def test_crashing_cheating_and_two_honest_with_jobs_2_write_four_correct_reports(
        tmp_path) -> None:
    subs = _course(tmp_path)
    out, gs, pl = tmp_path / "json", tmp_path / "gs", tmp_path / "pl"
    r = _cli(*each(subs), "--jobs", "2", "--layers", "pool,affine", "--json", str(out),
             "--gradescope", str(gs), "--prairielearn", str(pl), "--quiet", "--no-shrink")
    reports = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    assert sorted(reports) == ["bad_crash_forward", "bad_torch", "good_im2col", "good_loops"]
    assert r.returncode == max(d["exit_code"] for d in reports.values()), r.stdout + r.stderr
    for good in ("good_im2col", "good_loops"):
        assert reports[good]["exit_code"] == 0, reports[good]["summary"]
        assert reports[good]["summary"]["pass"] == reports[good]["summary"]["total"] > 0
    crash = reports["bad_crash_forward"]
    pool_cases = [c for c in crash["cases"] if c["layer"] == "pool"]
    assert crash["exit_code"] == 1 and all(c["status"] != "pass" for c in pool_cases)
    assert all(c["status"] == "pass" for c in crash["cases"] if c["layer"] == "affine")
    cheat = reports["bad_torch"]  # held as a policy violation, or refused at import
    flagged = json.dumps(cheat["policy"]) + str(cheat.get("load_error"))
    assert cheat["exit_code"] in (1, 2) and "torch" in flagged, cheat
    assert len(list(gs.glob("*.results.json"))) == 4
    pl_scores = {p.name.split(".")[0]: json.loads(p.read_text())["score"]
                 for p in pl.glob("*.results.json")}
    assert pl_scores["good_loops"] == 1.0 and pl_scores["bad_crash_forward"] < 1.0
    for name, d in reports.items():
        assert d["content_sha256"] == content_hash(subs / f"{name}.py", entry=True)
    assert "4/4 [" in r.stderr and "<" in r.stderr, "a progress bar with an ETA on stderr"
    table = r.stdout
    assert "| file" in table and "cases passed / cases checked" in table
    assert "4 submissions: 2 pass (exit 0)" in table


def test_resume_skips_unchanged_submissions_and_rechecks_changed_ones(tmp_path) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("good_im2col.py", "good_loops.py"):
        shutil.copy(STUDENTS / name, subs / name)
    out = tmp_path / "json"
    args = [*each(subs), "--layers", "relu", "--json", str(out), "--quiet", "--no-shrink",
            "--no-progress"]
    assert _cli(*args).returncode == 0
    first = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    # good_loops changes (now wrong): it alone is checked again
    (subs / "good_loops.py").write_text(inlined("bad_relu_grad0.py"))
    r = _cli(*args, "--resume")
    assert "1 of 2 submissions already checked" in r.stderr, r.stderr
    assert r.returncode == 1, "the resumed row still counts in the exit code"
    assert (out / "good_im2col.json").stat().st_mtime_ns == first["good_im2col.json"]
    redone = json.loads((out / "good_loops.json").read_text())
    assert redone["summary"]["fail"] > 0
    assert redone["content_sha256"] == content_hash(subs / "good_loops.py", entry=True)
    assert "good_im2col.py" in r.stdout and "good_loops.py" in r.stdout  # both rows shown


def test_resume_without_json_folder_is_refused_with_the_reason(tmp_path, capsys) -> None:
    assert main(["check", str(STUDENTS / "good_loops.py"), "--resume"]) == 2
    assert "--resume needs --json" in capsys.readouterr().err


def test_several_submissions_into_a_json_file_is_refused_before_running(tmp_path,
                                                                      capsys) -> None:
    subs = _course(tmp_path)
    f = tmp_path / "taken.json"
    f.write_text("{}")
    assert main(["check", *each(subs), "--json", str(f), "--no-progress"]) == 2
    assert "is a file, but several submissions need a folder" in capsys.readouterr().err
    assert f.read_text() == "{}"


def test_a_slimmed_report_keeps_its_table_row_and_exit_code() -> None:
    r = StudentReport("s.py", api="class", layers=("conv", "relu"), required=("relu",))
    r.results = [Result("c1", "conv", "forward", "out", "pass"),
                 Result("c1", "conv", "backward", "dx", "fail", diagnosis="wrong"),
                 Result("c2", "conv", "forward", "out", "pass"),
                 Result("r1", "relu", "forward", "out", "missing")]
    small = slim(r)
    assert len(small.results) == 3 and {x.status for x in small.results} == {
        "pass", "fail", "missing"}
    assert exit_code(small) == exit_code(r) == 1 and small.required_missing() == ["relu"]
    assert batch_table([small]) == batch_table([r])
    assert "1/2" in batch_table([small]) and "missing" in batch_table([small])


def test_the_grading_benchmark_builds_self_contained_submissions(tmp_path) -> None:
    from layercheck.reports.grading_bench import generate

    files = generate(tmp_path, 8, "mixed")
    assert len({f.read_text() for f in files}) == 8, "every submission has its own content"
    for f in files:
        text = f.read_text()
        compile(text, f.name, "exec")
        assert "import good_" not in text and "from good_" not in text, f.name
    assert sum("_bad_" in f.name for f in files) == 4  # every other one wrong
