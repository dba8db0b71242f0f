"""Every writer is total and Markdown is safe: a student's odd text (a lone surrogate, an
undecodable file name, Markdown's own syntax) never stops a batch, never leaves a temporary
file and never puts a live link, image, tag or heading in a report; Ctrl-C keeps what was
finished and prints the command that goes on."""

from __future__ import annotations

import html
import io
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from argparse import Namespace
from pathlib import Path

import pytest
from layercheck.cases.case import Case
from layercheck.reference.result import Result
from layercheck.reports import student_cli, student_render
from layercheck.reports.cli import main
from layercheck.reports.escape import for_stream, md_code, md_text, valid_data, valid_text
from layercheck.reports.grading.checker import Shrunk, StudentReport
from layercheck.reports.grading_bench import inlined
from layercheck.reports.student_cli import _write, write_report

ROOT = Path(__file__).parent.parent
EVIL = "evil.example"
# the red team's example: a lone surrogate and Markdown's image and link syntax
ATTACK = f"bad \ud800 ![x](http://{EVIL}/a.png) [click](http://{EVIL})"
INJECTIONS = {
    "image": f"![x](http://{EVIL}/a.png)",
    "inline link": f"[click](http://{EVIL})",
    "autolink": f"<http://{EVIL}>",
    "bare url": f"see http://{EVIL}/x now",
    "www": f"www.{EVIL}",
    "e-mail": f"mail me@{EVIL}",
    "reference link": f"[click][r]\n\n[r]: http://{EVIL}",
    "html tag": "<img src=x onerror=alert(1)>",
    "heading": "ok\n# You passed",
    "setext heading": "You passed\n===",
    "code span": "x `` <b>y</b> `` z",
    "table pipe": "a | b | c",
    "entity": "&lt;img src=x&gt;",
    "math": "$\\color{green}{PASS}$",
    "emphasis": "**PASS** _all_ ~~fail~~",
    "list start": "1. item",
    "escape": "\\[x](http://e.example)",
}


def _unescaped(md: str, chars: str) -> list[str]:
    """Characters of `chars` in `md` with no backslash escaping them (an even run of
    backslashes before a character escapes only itself)."""
    out = []
    for m in re.finditer(f"[{re.escape(chars)}]", md):
        run = len(md[:m.start()]) - len(md[:m.start()].rstrip("\\"))
        if run % 2 == 0:
            out.append(m.group())
    return out


def _live(md: str) -> list[str]:
    """What in `md` a Markdown renderer could read as a link, image, tag or code span: our
    own <br> and empty comments aside, no raw '<', no unescaped [ ] ` and no bare URL,
    www. name or e-mail address."""
    found = _unescaped(md.replace("<br>", "").replace("<!-- -->", ""), "[]`<*_$|~")
    found += re.findall(r"https?://|www\.|[\w.+-]+@[\w-]+\.\w", md.replace("<br>", " "))
    return found


@pytest.mark.parametrize("text", INJECTIONS.values(), ids=INJECTIONS.keys())
def test_student_text_in_markdown_has_no_live_syntax(text: str) -> None:
    md = md_text(text)
    assert not _live(md), (text, md)
    assert "\n" not in md, "a line break would end a table row or start a block"
    assert not _opens_a_block(md), "at a line's start it would open a block"


def _opens_a_block(md: str) -> bool:
    """Whether `md` at the start of a line opens a list, a heading, a quote or a break."""
    return bool(re.match(r"[ \t]*([-+*]|\d+[.)]|#+|>)([ \t]|$)", md)
                or re.fullmatch(r"[ \t]*[-=_*][-=_* \t]*", md))


LINE_STARTS = ["- item", "+ item", "* item", "1. item", "12) item", "---", "===", "- - -",
               "# x", "> quoted"]


def test_student_text_at_a_line_start_opens_no_block() -> None:
    for text in LINE_STARTS:
        assert not _opens_a_block(md_text(text)), (text, md_text(text))


def test_numbers_stay_as_written_in_markdown_tables() -> None:
    assert [md_text(v) for v in ("-0.5", "1.5e-3", "-inf", "3")] == [
        "-0.5", "1.5e-3", "-inf", "3"]


CODE_SPANS = ["x ``` y", "`", "a`b``c", "<b>bold</b> [l](u)"]


def test_a_code_span_holds_any_backticks() -> None:
    for text in CODE_SPANS:
        span = md_code(text)
        ticks = len(span) - len(span.lstrip("`"))
        assert ticks > max(len(r) for r in re.findall("`*", text)), span
        assert span.endswith("`" * ticks) and text in span


def _gfm(doc: str) -> str:
    """`doc` rendered as GitHub renders Markdown (cmark-gfm, raw HTML let through)."""
    cmarkgfm = pytest.importorskip("cmarkgfm")
    from cmarkgfm.cmark import Options

    return cmarkgfm.github_flavored_markdown_to_html(doc, options=Options.CMARK_OPT_UNSAFE)


def test_student_text_renders_as_itself_in_github_markdown() -> None:
    """Where cmark-gfm (GitHub's renderer) is installed: each variant, in a paragraph, a
    table cell, a list item, a heading and beside a link definition, renders as the text
    the student wrote, with no element of its own; at a line's start it opens no block; a
    code span holds any backticks."""
    for name, text in INJECTIONS.items():
        md = md_text(text)
        for doc in (f"{md}\n", f"| a | b |\n|---|---|\n| {md} | 1 |\n", f"- {md}\n",
                    f"### {md}\n", f"{md}\n\n[r]: http://{EVIL}\n"):
            page = _gfm(doc)
            assert not re.search(r"<(a|img|code|em|strong|del|h[1245]|ol|hr)\b", page), (
                name, doc, page)
            assert page.count("<h3>") <= 1, (name, "a heading added", page)
            assert page.count("<td>") in (0, 2), (name, "a cell split or added", page)
        page = _gfm(f"{md}\n").strip().removeprefix("<p>").removesuffix("</p>")
        shown = html.unescape(re.sub(r"<br\s*/?>", "\n", page).replace("<!-- -->", ""))
        assert shown == text, (name, "the reader sees exactly what the student wrote")
    for text in LINE_STARTS:
        page = _gfm(f"para\n\n{md_text(text)}\n")
        assert not re.search(r"<(ul|ol|hr|h\d|blockquote)\b", page), (text, page)
    for text in CODE_SPANS:
        page = _gfm(md_code(text) + "\n")
        assert page.count("<code>") == 1 and html.unescape(
            re.search("<code>(.*)</code>", page).group(1)) == text


def _attacked_report(name: str = "st\udcffudent [x](http://evil.example).py") -> StudentReport:
    """A report whose every student-controlled text carries the attack."""
    r = StudentReport(name, api="class", layers=("pool",), required=("pool",))
    params = Case("pool", N=1, C=1, H=4, W=4, kernel=(2, 2)).params()
    r.results = [Result(f"pool-{i}", "pool", "forward", "out", "error", diagnosis=ATTACK,
                        params=params) for i in range(60)]
    r.patterns = [f"pool out: {ATTACK}"]
    r.warnings = [f"warning {ATTACK}"]
    r.policy = [{"rule": "no-framework", "detail": f"policy {ATTACK}"}]
    r.file = "a`b`` <i>.py"
    r.shrunk = [Shrunk("pool", "out", "pool-0", "pool-1", ATTACK,
                       f"raise ValueError({ATTACK!r})\n```\n# [x](http://{EVIL})")]
    return r


def test_a_students_markdown_report_carries_no_live_link_from_the_student() -> None:
    md = student_render.student_markdown(_attacked_report())
    outside_code = re.sub(r"^(`{3,}).*?^\1$", "", md, flags=re.S | re.M)  # reproducer fences
    assert f"http://{EVIL}" not in outside_code and "![" not in outside_code
    page = _gfm(md)
    assert "<a " not in page and "<img" not in page, "no link or image from the student"
    assert page.count("<h1>") == 1


def test_student_pages_give_the_feedback_before_the_table_and_name_no_missing_file() -> None:
    report = _attacked_report("alice.py")
    md = student_render.student_markdown(report)
    page = student_render.student_html(report)
    assert md.index("## Feedback") < md.index("## Not passed")
    assert page.index("id='feedback'") < page.index("id='not-passed'")
    assert "results.csv" not in md and "results.csv" not in page, "files it never writes"
    assert "60 outputs did not pass, 1 distinct" in md, "60 alike errors are one row"
    table = md[md.index("## Not passed"):md.index("## Errors per layer")]
    rows = [ln for ln in table.splitlines() if ln.startswith("| pool-")]
    assert len(rows) == 1 and rows[0].split("|")[2].strip() == "60", rows


def _args(tmp_path: Path, **outputs: bool) -> Namespace:
    names = ("json", "md", "html", "gradescope", "prairielearn")
    suffix = {"json": ".json", "md": ".md", "html": ".html", "gradescope": ".gs.json",
              "prairielearn": ".pl.json"}
    return Namespace(**{n: str(tmp_path / f"out{suffix[n]}") if outputs.get(n, True) else None
                        for n in names})


def test_every_writer_writes_a_report_holding_lone_surrogates(tmp_path) -> None:
    report = _attacked_report()
    args = _args(tmp_path)
    write_report(report, args, many=False)
    for name in ("json", "md", "html", "gradescope", "prairielearn"):
        data = Path(getattr(args, name)).read_bytes()
        text = data.decode("utf-8")  # valid UTF-8, or this raises
        assert "\\ud800" in text or "\\\\ud800" in text, name
    doc = json.loads(Path(args.json).read_text(encoding="utf-8"))
    strings = json.dumps(doc, ensure_ascii=False)
    strings.encode("utf-8")  # nothing read back is a lone surrogate (a class report reads it)
    assert not list(tmp_path.glob(".*.tmp")), "no temporary file left"


def test_an_interrupted_or_failed_write_leaves_no_temporary(tmp_path) -> None:
    target = tmp_path / "taken"
    target.mkdir()  # a folder where the report should go: the final rename fails
    with pytest.raises(OSError):
        _write(target, "text")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def _fake_batch(reports: dict[str, StudentReport]):
    def run(todo, options, jobs, on_done, *rest, **kw):
        for t in todo:
            on_done(t, reports[Path(t).stem])
    return run


def test_a_report_that_cannot_be_written_is_that_students_grader_error_row(
        tmp_path, monkeypatch, capsys) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    names = ["alice", "bob", "carol", "dave"]
    for n in names:
        (subs / f"{n}.py").write_text("# a submission\n")
    reports = {n: StudentReport(str(subs / f"{n}.py"), api="class", seconds=0.1) for n in names}
    reports["bob"] = _attacked_report(str(subs / "bob.py"))
    real = student_render.student_markdown

    def markdown(report: StudentReport) -> str:
        if Path(report.implementation).stem == "carol":
            raise RuntimeError("a renderer's bug")
        return real(report)

    monkeypatch.setattr(student_cli, "run_local", _fake_batch(reports))
    monkeypatch.setattr(student_render, "student_markdown", markdown)
    out = tmp_path / "out"
    rc = main(["check", "--each", str(subs), "--md", str(out / "md"), "--json",
               str(out / "json"), "--quiet", "--no-progress"])
    cap = capsys.readouterr()
    assert rc == 3, "a report not written is a grader error (exit 3) for its row"
    assert "cannot write the report (RuntimeError: a renderer's bug)" in cap.err
    assert sorted(p.stem for p in (out / "json").glob("*.json")) == ["alice", "bob", "dave"], (
        "carol has no --json, so --resume checks her again")
    assert sorted(p.stem for p in (out / "md").glob("*.md")) == ["alice", "bob", "dave"]
    rows = {ln.split("|")[1].strip(): ln for ln in cap.out.splitlines() if ".py" in ln}
    assert rows["carol.py"].split("|")[2].strip() == "3" and rows["bob.py"].split("|")[
        2].strip() == "1"
    assert not list(out.rglob("*.tmp"))


def test_printing_a_students_text_never_raises_on_a_terminal_that_cannot_encode_it(
        tmp_path, monkeypatch) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "bob.py").write_text("# a submission\n")
    report = _attacked_report(str(subs / "bob.py"))
    ascii_out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr(sys, "stdout", ascii_out)
    monkeypatch.setattr(student_cli, "run_local", _fake_batch({"bob": report}))
    assert main(["check", str(subs / "bob.py"), "--no-progress"]) == 1
    ascii_out.flush()
    printed = ascii_out.buffer.getvalue().decode("ascii")
    assert "\\ud800" in printed, "the surrogate is shown as its escape"


def test_stream_and_data_helpers_are_total() -> None:
    assert valid_text("a\ud800b\udcff") == "a\\ud800b\\udcff"
    assert valid_data({"k\ud800": ["x\ud800", ("y",)]}) == {"k\\ud800": ["x\\ud800", ["y"]]}
    ascii_stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    assert for_stream("✗ \ud800", ascii_stream) == "\\u2717 \\ud800"


# ------------------------------------------------------------------ whole batches


def _cli(*argv: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "layercheck.reports.cli", *argv],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, **kw)


def test_a_surrogate_batch_writes_every_honest_classmates_reports(tmp_path) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("good_im2col.py", "good_loops.py", "good_windows.py"):
        (subs / name).write_text(inlined(name))
    attacker = inlined("bad_crash_forward.py").replace(
        'raise NotImplementedError("TODO: max pooling")',
        f"raise ValueError({ATTACK!r} + chr(0xdfff))")
    assert "ValueError" in attacker
    (subs / "attacker.py").write_text(attacker)
    out = tmp_path / "out"
    r = _cli("check", "--each", str(subs), "--jobs", "2", "--layers", "pool,affine", "--md",
             str(out / "md"), "--html", str(out / "html"), "--json", str(out / "json"),
             "--quiet", "--no-shrink", "--no-progress")
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    reports = {p.stem: json.loads(p.read_text(encoding="utf-8"))
               for p in (out / "json").glob("*.json")}
    assert sorted(reports) == ["attacker", "good_im2col", "good_loops", "good_windows"]
    for name in ("good_im2col", "good_loops", "good_windows"):
        assert reports[name]["exit_code"] == 0, reports[name]["summary"]
        for kind in ("md", "html"):
            text = (out / kind / f"{name}.{kind}").read_bytes().decode("utf-8")
            assert EVIL not in text and "\\ud800" not in text, (name, kind)
    bad = reports["attacker"]
    assert bad["exit_code"] == 1 and r.returncode == 1, "the attacker fails; nobody is clean"
    assert {c["status"] for c in bad["cases"] if c["layer"] == "pool"} == {"error"}
    md = (out / "md" / "attacker.md").read_bytes().decode("utf-8")
    assert f"](http://{EVIL}" not in md and f"http://{EVIL}" not in md
    assert not list(out.rglob("*.tmp")) and not list(out.rglob(".*.tmp"))
    cr = _cli("class-report", str(out / "json"))
    assert cr.returncode == 0, cr.stdout + cr.stderr


def _as_from_a_terminal() -> None:
    """The command starts as a shell starts it: Ctrl-C's default action, whatever the test
    process's own (a test runner may ignore SIGINT)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_keeps_what_was_finished_and_prints_the_command_that_goes_on(tmp_path) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "a_good.py").write_text(inlined("good_im2col.py"))
    (subs / "b_good.py").write_text(inlined("good_loops.py"))
    (subs / "c_hangs.py").write_text(inlined("bad_hang.py"))  # conv forward never returns
    out = tmp_path / "out"
    argv = ["check", "--each", str(subs), "--jobs", "2", "--layers", "conv", "--timeout", "60",
            "--json", str(out / "json"), "--md", str(out / "md"), "--quiet", "--no-shrink",
            "--no-progress"]
    p = subprocess.Popen([sys.executable, "-m", "layercheck.reports.cli", *argv], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True,  # its own group: Ctrl-C reaches all of it
                         preexec_fn=_as_from_a_terminal)
    try:
        deadline = time.monotonic() + 200
        while len(list((out / "json").glob("*.json"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
        os.killpg(p.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        try:
            _, err = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:  # on a loaded machine the first one may be lost:
            os.killpg(p.pid, signal.SIGINT)  # a user presses Ctrl-C again
            _, err = p.communicate(timeout=40)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == 130, err[-3000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines[-2].startswith("layercheck check: interrupted: 2 of 3 submissions checked")
    assert str(out / "json") in lines[-2] and "1 not checked" in lines[-2]
    assert lines[-1].startswith("Resume with: layercheck check ")
    command = shlex.split(lines[-1].removeprefix("Resume with: "))
    assert command[1:] == [*argv, "--resume"], "the same command, with --resume"
    assert not list(out.rglob("*.tmp"))
    (subs / "c_hangs.py").write_text(inlined("good_windows.py"))  # fixed meanwhile
    r = _cli(*command[1:])
    assert "2 of 3 submissions already checked" in r.stderr, r.stderr[-2000:]
    assert r.returncode == 0 and len(list((out / "md").glob("*.md"))) == 3


def test_ctrl_c_without_a_json_folder_says_what_resuming_needs(tmp_path, monkeypatch,
                                                               capsys) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    for n in ("alice", "bob"):
        (subs / f"{n}.py").write_text("# a submission\n")

    def stopped(todo, options, jobs, on_done, *rest, **kw):
        on_done(todo[0], StudentReport(todo[0], api="class"))
        raise KeyboardInterrupt

    monkeypatch.setattr(student_cli, "run_local", stopped)
    rc = main(["check", "--each", str(subs), "--md", str(tmp_path / "md"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 130
    assert "interrupted: 1 of 2 submissions checked, their reports are kept (--md " in err
    assert "Nothing can be resumed without --json FOLDER" in err and "Traceback" not in err
    assert [p.name for p in (tmp_path / "md").iterdir()] == ["alice.md"]
