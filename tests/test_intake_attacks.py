"""Attacks on how a submission is taken in (red-team findings 1-3, 5-8, 10, 15a, 15c): each
test builds its own tiny submission and says how it is held. The intake's private copy
(layercheck.cases.submission.intake) is what the loader, the hash, the Dask pack and the
sandbox see."""

from __future__ import annotations

import importlib.util
import os
import py_compile
import tempfile
import tracemalloc
from pathlib import Path

import nbformat
import pytest
from layercheck.cases.sandbox import isolation
from layercheck.cases.submission import graph, intake
from layercheck.cases.submission.survey import LoadError, load, parse
from layercheck.reports.cli import main
from layercheck.reports.grading.batch import check_one, content_hash, exit_code, grader_error, pack
from layercheck.reports.grading.checker import check_submission
from layercheck.reports.student_cli import output_names
from nbformat.v4 import new_code_cell, new_notebook

RELU_RIGHT = """import numpy as np
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
"""
RELU_WRONG = RELU_RIGHT.replace("out[self.mask] = 0", "pass").replace("dx[self.mask] = 0",
                                                                     "pass")
OPTIONS = {"layers": ("relu",), "do_shrink": False, "timeout": 10.0}
needs_sandbox = pytest.mark.skipif(isolation.probe() is not None,
                                   reason=f"no isolation here: {isolation.probe()}")


@pytest.fixture(autouse=True)
def private_tmp(tmp_path, monkeypatch):
    """Private copies go under tmp_path/copies, so each test can see they are removed."""
    d = tmp_path / "copies"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    yield d
    assert not list(d.iterdir()), "every private copy must be removed after the check"


def _statuses(report) -> set[str]:
    return {r.status for r in report.results}


def _text(report) -> str:
    return " ".join([str(report.load_error), *(r.diagnosis or "" for r in report.results),
                     *(p["detail"] for p in report.policy), *report.warnings])


# ---------------------------------------------------------------- 1, 15c: symbolic links

@needs_sandbox
def test_a_notebook_or_file_linked_to_another_students_is_not_graded_as_ones_own(
        tmp_path) -> None:
    bob, alice = tmp_path / "subs" / "bob", tmp_path / "subs" / "alice"
    bob.mkdir(parents=True)
    alice.mkdir()
    (bob / "layers.py").write_text(RELU_RIGHT)
    (alice / "layers.py").symlink_to("../bob/layers.py")
    r = check_one(str(alice), {**OPTIONS, "each": [str(tmp_path / "subs")]})
    assert r.load_error is not None and not r.results, "alice must not get bob's grade"
    assert "symbolic link" in r.load_error, f"the load error must say why: {r.load_error}"
    solution = tmp_path / "solution.py"
    solution.write_text(RELU_RIGHT)
    (alice / "layers.py").unlink()
    (alice / "layers.py").symlink_to(solution)  # an absolute link out of the folder
    with pytest.raises(LoadError):  # the loader alone (no intake): a load error, not ValueError
        load(alice)
    r = check_one(str(alice), OPTIONS)
    assert exit_code(r) == 2 and not r.results, r.load_error


def test_an_each_entry_that_is_itself_a_link_is_refused(tmp_path) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    (tmp_path / "bob.py").write_text(RELU_RIGHT)
    (subs / "alice.py").symlink_to(tmp_path / "bob.py")
    r = check_one(str(subs / "alice.py"), {**OPTIONS, "each": [str(subs)]})
    assert exit_code(r) == 2 and "symbolic link" in r.load_error, r.load_error


# ---------------------------------------------------------------- 2: import roots

SNOOP = """import os
try:
    from . import anything
except ImportError:
    pass
class Relu:
    def forward(self, x):
        here = os.path.dirname(os.path.abspath(__file__))
        seen = sorted(os.listdir(here)) + sorted(os.listdir(os.path.dirname(here)))
        raise RuntimeError("SEEN " + " ".join(seen))
    def backward(self, dout):
        return dout
"""


@needs_sandbox
@pytest.mark.parametrize("each", [True, False], ids=["each-entry", "file-given"])
def test_a_loose_file_sees_no_solutions_outputs_or_other_students(tmp_path, each) -> None:
    course = tmp_path / "course"
    for d in ("subs", "solutions", "out"):
        (course / d).mkdir(parents=True)
    (course / "solutions" / "layers.py").write_text(RELU_RIGHT)
    (course / "out" / "bob.json").write_text("{}")
    (course / "subs" / "bob.py").write_text(RELU_RIGHT)
    carol = course / "subs" / "carol.py"
    carol.write_text(SNOOP)
    r = check_one(str(carol), {**OPTIONS, "each": [str(course / "subs")] if each else []})
    seen = " ".join(d.diagnosis or "" for d in r.results)
    assert "SEEN" in seen, f"the snooping Relu must have run: {r.load_error}"
    for name in ("solutions", "bob.json", "bob.py", "out"):
        assert name not in seen.split("SEEN", 1)[1], f"the worker saw {name}: {seen[:300]}"
    with intake.take_in(carol, entry=True) as taken:
        assert load(taken.target).root == taken.target.parent, \
            "an --each entry's import root is its own folder"


# ---------------------------------------------------------------- 3: bytecode

@needs_sandbox
def test_a_stale_pyc_compiled_from_a_right_relu_is_never_imported(tmp_path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    right = tmp_path / "right" / "layers.py"
    right.parent.mkdir()
    right.write_text(RELU_RIGHT)
    (sub / "layers.py").write_text(RELU_WRONG)
    pyc = Path(importlib.util.cache_from_source(str(sub / "layers.py")))
    py_compile.compile(str(right), cfile=str(pyc), dfile=str(sub / "layers.py"),
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    assert pyc.is_file()
    r = check_one(str(sub), OPTIONS)
    assert "fail" in _statuses(r), "the wrong layers.py must be graded, not its stale .pyc"
    h1 = content_hash(sub)
    pyc.write_bytes(b"junk")
    assert content_hash(sub) == h1, "bytecode is not part of the submission's content"
    # the worker itself ignores __pycache__ (no intake: the original folder is mounted)
    pyc.unlink()
    py_compile.compile(str(right), cfile=str(pyc), dfile=str(sub / "layers.py"),
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    r = check_submission(sub, **OPTIONS)
    assert "fail" in _statuses(r), "the worker must not read a shipped __pycache__"
    with intake.take_in(sub) as taken:
        assert not [p for p in taken.top.rglob("*") if p.suffix == ".pyc"]


# ---------------------------------------------------------------- 5, 6: hashing, caps

@needs_sandbox
def test_a_file_name_that_is_not_utf8_costs_no_row(tmp_path) -> None:
    subs = tmp_path / "subs"
    (subs / "eve").mkdir(parents=True)
    (subs / "eve" / "layers.py").write_text(RELU_RIGHT)
    bad = os.path.join(os.fsencode(subs / "eve"), b"notes\xff.txt")
    with open(bad, "wb") as f:
        f.write(b"x")
    (subs / "ann.py").write_text(RELU_RIGHT)
    assert content_hash(subs / "eve") != content_hash(subs / "ann.py")
    out = tmp_path / "json"
    rc = main(["check", "--each", str(subs), "--layers", "relu", "--no-shrink", "--quiet",
               "--json", str(out)])
    assert rc == 0, "both submissions are right; a stray file name changes nothing"
    assert sorted(p.name for p in out.iterdir()) == ["ann.json", "eve.json"]


def test_hashing_reads_in_chunks_and_a_failure_is_not_an_exception(tmp_path) -> None:
    big = tmp_path / "sub" / "data.bin"
    big.parent.mkdir()
    with open(big, "wb") as f:
        f.truncate(256 << 20)  # sparse: no disk used
    tracemalloc.start()
    try:
        content_hash(big.parent)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"hashing held {peak >> 20} MB at once: read in chunks"
    unreadable = tmp_path / "gone"
    unreadable.mkdir()
    (unreadable / "x.py").write_text("")
    os.chmod(unreadable / "x.py", 0)
    content_hash(unreadable)  # as root it is readable; either way no exception


def test_too_many_or_too_large_files_are_the_students_load_error(tmp_path, monkeypatch) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "layers.py").write_text(RELU_RIGHT)
    for i in range(6):
        (sub / f"data{i}.txt").write_text("x" * 300)
    monkeypatch.setattr(intake, "MAX_FILES", 5)
    r = check_one(str(sub), OPTIONS)
    assert exit_code(r) == 2 and "more than 5 files" in r.load_error, r.load_error
    monkeypatch.setattr(intake, "MAX_FILES", 5000)
    monkeypatch.setattr(intake, "MAX_TOTAL_BYTES", 1000)
    r = check_one(str(sub), OPTIONS)
    assert exit_code(r) == 2 and "MB of files" in r.load_error, r.load_error
    monkeypatch.setattr(intake, "MAX_TOTAL_BYTES", 1 << 30)
    with open(sub / "huge.bin", "wb") as f:
        f.truncate(64 << 20)  # data over MAX_DATA_BYTES: left out and noted, not copied
    with intake.take_in(sub) as taken:
        assert not (taken.target / "huge.bin").exists()
        assert "huge.bin" in " ".join(taken.warnings())


# ---------------------------------------------------------------- 7: parsing

def test_source_the_parser_cannot_take_is_a_load_error_never_a_grader_error(tmp_path) -> None:
    deep = tmp_path / "deep.py"
    deep.write_text(RELU_RIGHT + "a = " + "-" * 200000 + "1\n")
    r = check_one(str(deep), OPTIONS)
    assert exit_code(r) == 2 and not grader_error(r), r.load_error or grader_error(r)
    assert "deep.py" in r.load_error
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "layers.py").write_text(RELU_RIGHT)
    (sub / "decoy.py").write_text("x = 1\n" * (intake.MAX_SOURCE_BYTES // 6 + 1))
    r = check_one(str(sub), OPTIONS)
    assert exit_code(r) == 2 and "decoy.py" in r.load_error, r.load_error
    (sub / "decoy.py").unlink()
    assert parse(sub / "layers.py") is parse(sub / "layers.py"), "each file is parsed once"
    nb = new_notebook(cells=[new_code_cell(RELU_RIGHT),
                             new_code_cell("y = 2\n" * (intake.MAX_SOURCE_BYTES // 6 + 1))])
    nbformat.write(nb, str(tmp_path / "hw.ipynb"))
    r = check_one(str(tmp_path / "hw.ipynb"), OPTIONS)
    assert exit_code(r) == 2 and "KB of code" in r.load_error, r.load_error


# ---------------------------------------------------------------- 8: native code

@needs_sandbox
def test_native_files_a_few_are_dropped_and_reported_many_are_a_load_error(tmp_path) -> None:
    sub = tmp_path / "sub"
    (sub / "bin").mkdir(parents=True)
    (sub / "layers.py").write_text(RELU_RIGHT)
    for i in range(2):
        (sub / "bin" / f"blob{i}").write_bytes(b"\x7fELF" + bytes(12))
    r = check_one(str(sub), OPTIONS)
    assert _statuses(r) == {"pass"}, r.load_error
    shipped = " ".join(p["detail"] for p in r.policy)
    assert "blob0" in shipped and "blob1" in shipped, "dropped native code must be reported"
    for i in range(2, intake.MAX_NATIVE + 2):
        (sub / "bin" / f"blob{i}").write_bytes(b"\x7fELF" + bytes(12))
    r = check_one(str(sub), OPTIONS)
    assert exit_code(r) == 2 and "native" in r.load_error, r.load_error or grader_error(r)


# ---------------------------------------------------------------- 10: output names

def test_report_names_are_distinct_and_do_not_depend_on_order() -> None:
    targets = ["s/alice.py", "s/alice", "s/bob.py", "t/bob.py", "s/carl.ipynb"]
    names = output_names(targets)
    assert len(set(names.values())) == len(targets), names
    assert names["s/alice.py"] != names["s/alice"]
    assert names["s/bob.py"] != names["t/bob.py"]
    assert output_names(list(reversed(targets))) == names, "names must not depend on order"
    assert output_names(["s/dan.py"]) == {"s/dan.py": "dan"}


@needs_sandbox
def test_a_file_and_a_folder_of_the_same_name_both_keep_their_report(tmp_path) -> None:
    subs = tmp_path / "subs"
    (subs / "alice").mkdir(parents=True)
    (subs / "alice.py").write_text(RELU_RIGHT)
    (subs / "alice" / "layers.py").write_text(RELU_WRONG)
    out = tmp_path / "json"
    rc = main(["check", "--each", str(subs), "--layers", "relu", "--no-shrink", "--quiet",
               "--json", str(out)])
    assert rc == 1
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 2, f"one report per submission, none overwritten: {written}"


# ---------------------------------------------------------------- 15a: links, FIFOs

def test_hard_links_fifos_and_bytecode_are_not_copied(tmp_path) -> None:
    secret = tmp_path / "grader_secret.txt"
    secret.write_text("the answer")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "layers.py").write_text(RELU_RIGHT)
    os.link(secret, sub / "notes.txt")
    os.mkfifo(sub / "pipe")
    (sub / "old.pyc").write_bytes(b"x")
    with intake.take_in(sub) as taken:
        copied = sorted(p.name for p in taken.target.iterdir())
        assert copied == ["layers.py"], copied
        said = " ".join(taken.warnings())
        assert "hard link" in said and "pipe" in said, said
    assert not os.path.exists(taken.top), "the copy is removed when the check ends"


def test_a_file_given_on_its_own_takes_only_the_modules_it_imports(tmp_path) -> None:
    repo = tmp_path / "repo"
    (repo / "common").mkdir(parents=True)
    (repo / "ch07").mkdir()
    (repo / "common" / "__init__.py").write_text("")
    (repo / "common" / "layers.py").write_text(RELU_RIGHT)
    (repo / "ch07" / "net.py").write_text("from common.layers import Relu\n")
    (repo / "solutions").mkdir()
    (repo / "solutions" / "answer.py").write_text(RELU_RIGHT)
    with intake.take_in(repo / "ch07" / "net.py") as taken:
        got = sorted(str(p.relative_to(taken.top)) for p in taken.top.rglob("*.py"))
        assert got == ["ch07/net.py", "common/__init__.py", "common/layers.py"], got
        sub = load(taken.target)
        assert sub.root == taken.top and "Relu" in sub.names


def test_the_dask_pack_ships_only_the_private_copy(tmp_path) -> None:
    import io
    import zipfile

    sub = tmp_path / "sub"
    (sub / "__pycache__").mkdir(parents=True)
    (sub / "layers.py").write_text(RELU_RIGHT)
    (sub / "__pycache__" / "layers.cpython-311.pyc").write_bytes(b"x")
    (sub / "link.py").symlink_to(tmp_path / "elsewhere.py")
    name, data = pack(sub)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert name == "sub" and sorted(n for n in names if not n.endswith("/")) == \
        ["sub/layers.py"], names


# ---------------------------------------------------------------- second pass: N1 climbing

def _course(tmp_path: Path) -> Path:
    """course/{solutions/layers.py (right), out/bob.json, subs/}: what lies above a folder of
    loose submissions."""
    course = tmp_path / "course"
    for d in ("subs", "solutions", "out"):
        (course / d).mkdir(parents=True)
    (course / "solutions" / "layers.py").write_text(RELU_RIGHT)
    (course / "out" / "bob.json").write_text("{}")
    return course


def _copied(taken: intake.Intake) -> list[str]:
    return sorted(str(p.relative_to(taken.top)) for p in taken.top.rglob("*") if p.is_file())


def test_relative_imports_never_climb_out_of_a_folder_that_is_no_package(tmp_path) -> None:
    subs = _course(tmp_path) / "subs"
    (subs / "zed.py").write_text("from ..solutions.layers import Relu\n")
    (subs / "yan.py").write_text("from .. import out\n" + RELU_WRONG)
    for name in ("zed.py", "yan.py"):
        with intake.take_in(subs / name) as taken:
            got = _copied(taken)
            assert got in ([name], [f"subs/{name}"]), (
                f"{name}: `from ..` out of a folder without __init__.py must copy nothing "
                f"above it (Python refuses that import too): {got}")


def test_a_lone_file_copies_only_imported_modules_and_says_it_climbed(tmp_path) -> None:
    repo = tmp_path / "repo"
    (repo / "common").mkdir(parents=True)
    (repo / "ch07").mkdir()
    (repo / "common" / "__init__.py").write_text("")
    (repo / "common" / "layers.py").write_text(RELU_RIGHT)
    (repo / "common" / "answers.py").write_text(RELU_RIGHT)  # not imported: never copied
    (repo / "solutions").mkdir()
    (repo / "solutions" / "key.py").write_text(RELU_RIGHT)
    (repo / "ch07" / "net.py").write_text("import common\nimport solutions\n"
                                          "from common import layers\n")
    with intake.take_in(repo / "ch07" / "net.py") as taken:
        got = _copied(taken)
        assert got == ["ch07/net.py", "common/__init__.py", "common/layers.py"], (
            f"only the imported modules' files, never a whole folder an import names: {got}")
        said = " ".join(taken.warnings())
        assert "import root:" in said and "above the file's folder" in said and \
            "common" in said, f"the climb must be said in the report: {said!r}"
    with intake.take_in(repo / "ch07" / "net.py", climb=False) as taken:
        assert _copied(taken) == ["net.py"], "without climbing only the file's own folder"
        assert not any("import root" in w for w in taken.warnings())


@needs_sandbox
def test_the_autograder_never_climbs_above_the_submission_folder(tmp_path) -> None:
    import json

    from layercheck.reports.grading.autograder import run

    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "submission").mkdir()
    (root / "source" / "autograder.json").write_text(json.dumps(
        {"layers": ["relu"], "timeout": 10.0}))
    (root / "source" / "answers.py").write_text(RELU_RIGHT)  # the grader's, not the student's
    for line in ("from source.answers import *", "from ..source.answers import *"):
        (root / "submission" / "hw.py").write_text(line + "\n")
        run(root)
        out = json.loads((root / "results" / "results.json").read_text())
        assert out["score"] == 0, f"{line!r} must not load the grader's files: {out}"


@needs_sandbox
def test_no_climb_and_several_submissions_grade_a_file_from_its_own_folder(tmp_path) -> None:
    subs = _course(tmp_path) / "subs"
    (subs / "alice.py").write_text("from solutions.layers import Relu\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "ann.py").write_text(RELU_RIGHT)
    out = tmp_path / "json"
    assert main(["check", str(subs / "alice.py"), "--layers", "relu", "--no-shrink",
                 "--quiet"]) == 0, "a lone file may climb to where its imports resolve"
    assert main(["check", str(subs / "alice.py"), "--no-climb", "--layers", "relu",
                 "--no-shrink", "--quiet"]) == 2, "--no-climb: solutions/ is not there"
    rc = main(["check", str(subs / "alice.py"), str(tmp_path / "other" / "ann.py"),
               "--layers", "relu", "--no-shrink", "--quiet", "--json", str(out)])
    assert rc == 2, "several submissions at once: none climbs"
    import json
    alice = json.loads((out / "alice.json").read_text())
    assert "solutions" in alice["load_error"], alice["load_error"]


# ---------------------------------------------------------------- N2, N3: --each entries

def _entries(tmp_path: Path) -> Path:
    each = tmp_path / "each"
    (each / "dave").mkdir(parents=True)
    (each / "numpy").mkdir()
    (each / "dave" / "layers.py").write_text(RELU_RIGHT)
    (each / "bob.py").write_text(RELU_RIGHT)
    (each / "alice.py").write_text("from bob import *\n")
    (each / "carl.py").write_text("from dave.layers import Relu\n")
    (each / "numpy.py").write_text("import torch\n" + "#" * 1000 + "\n")
    for i in range(30):
        (each / "numpy" / f"f{i}.txt").write_text("x")
    (each / "ann.py").write_text(RELU_RIGHT)  # imports numpy: the real one
    return each


def test_an_each_file_entry_is_copied_alone_and_told_about_classmates(tmp_path) -> None:
    each = _entries(tmp_path)
    for name, other in (("alice.py", "bob"), ("carl.py", "dave")):
        with intake.take_in(each / name, entry=True) as taken:
            assert _copied(taken) == [name], f"{name} must be copied alone: {_copied(taken)}"
            said = " ".join(taken.warnings())
            assert f"imports {other}, another entry of the folder: not available" in said, said
    with intake.take_in(each / "ann.py", entry=True) as taken:
        assert _copied(taken) == ["ann.py"] and not taken.warnings(), (
            "numpy.py and numpy/ beside it are classmates, never the numpy ann imports")
        assert load(taken.target).forbidden_imports == []
    with intake.take_in(each / "dave", entry=True) as taken:
        assert _copied(taken) == ["dave/layers.py"], "a folder entry is its own tree"


def test_library_names_are_never_mapped_to_files_beside_the_submission(tmp_path) -> None:
    each = _entries(tmp_path)
    (each / "os.py").write_text("x = 1\n")
    (each / "ann.py").write_text("import os\nimport scipy\n" + RELU_RIGHT)
    with intake.take_in(each / "ann.py") as taken:  # a lone file, climbing allowed
        assert _copied(taken) == ["ann.py"], _copied(taken)
    sub = load(each / "ann.py")  # the loader alone, on the original folder
    assert sub.forbidden_imports == [], "numpy.py's `import torch` is not ann's"
    assert sub.local_imports == []


@needs_sandbox
def test_each_entries_never_grade_with_a_classmates_code(tmp_path) -> None:
    each = _entries(tmp_path)
    out = tmp_path / "json"
    main(["check", "--each", str(each), "--layers", "relu", "--no-shrink", "--quiet",
          "--json", str(out)])
    import json
    got = {p.stem: json.loads(p.read_text()) for p in out.iterdir()}
    for name in ("alice", "carl"):
        assert got[name]["exit_code"] == 2, f"{name} must not pass with a classmate's Relu"
        assert "another entry of the folder" in got[name]["load_error"], got[name]
    assert got["ann"]["exit_code"] == 0 and not got["ann"]["policy"], got["ann"]
    assert got["bob"]["exit_code"] == 0 and got["dave"]["exit_code"] == 0


# ---------------------------------------------------------------- N4: recursion

def test_a_long_star_import_chain_is_a_load_error_or_loads_never_a_recursion(tmp_path) -> None:
    sub = tmp_path / "chain"
    sub.mkdir()
    n = 1200
    for i in range(n):
        (sub / f"m{i:04d}.py").write_text(f"from m{i + 1:04d} import *\n")
    (sub / f"m{n:04d}.py").write_text("z = 1\n")
    (sub / "layers.py").write_text("from m0000 import *\n" + RELU_RIGHT)
    s = load(sub / "layers.py")
    assert "Relu" in s.names, "the layer file loads; the chain is followed without recursion"
    r = check_one(str(sub / "layers.py"), {**OPTIONS, "climb": False})
    assert not grader_error(r), grader_error(r)


def test_recursion_or_memory_errors_while_loading_are_load_errors(tmp_path,
                                                                   monkeypatch) -> None:
    from layercheck.cases.submission import survey as loader

    f = tmp_path / "layers.py"
    f.write_text(RELU_RIGHT)

    def deep(*a, **k):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(loader, "detect_apis", deep)
    with pytest.raises(LoadError, match="RecursionError"):
        load(f)
    monkeypatch.setattr(loader, "import_root", deep)
    r = check_one(str(f), OPTIONS)
    assert exit_code(r) == 2 and "RecursionError" in r.load_error, \
        r.load_error or grader_error(r)


# ---------------------------------------------------------------- N5: volume

def test_only_files_mentioning_layers_are_parsed_within_a_volume_cap(tmp_path,
                                                                     monkeypatch) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "layers.py").write_text(RELU_RIGHT)
    for i in range(30):
        (sub / f"junk{i:02d}.py").write_text("f(a, b, c)\n" * 2000)
    parsed: list[str] = []
    real_parse = graph.parse

    def spy(path, budget=None):
        parsed.append(Path(path).name)
        return real_parse(path, budget)

    monkeypatch.setattr(graph, "parse", spy)
    assert load(sub).path.name == "layers.py"
    assert not [p for p in parsed if p.startswith("junk")], f"junk was parsed: {parsed[:5]}"
    for i in range(5):
        (sub / f"more{i}.py").write_text(f"# a Relu helper\nx{i} = 1\n" * 400)
    monkeypatch.setattr(graph, "MAX_PARSED_BYTES", 20 << 10)
    with pytest.raises(LoadError, match="--file"):
        load(sub)
    monkeypatch.setattr(graph, "MAX_PARSED_BYTES", 4 << 20)
    monkeypatch.setattr(graph, "MAX_PARSED_FILES", 3)
    with pytest.raises(LoadError, match="3 files"):
        load(sub)
    assert load(sub, file="layers.py").path.name == "layers.py", "--file is the way out"


def test_a_notebook_with_too_many_cells_is_refused(tmp_path, monkeypatch) -> None:
    from nbformat.v4 import new_markdown_cell

    nb = new_notebook(cells=[new_code_cell(RELU_RIGHT)]
                      + [new_markdown_cell("x") for _ in range(60)])
    nbformat.write(nb, str(tmp_path / "hw.ipynb"))
    monkeypatch.setattr(graph, "MAX_NOTEBOOK_CELLS", 50)
    with pytest.raises(LoadError, match="61 cells, over the 50"):
        load(tmp_path / "hw.ipynb")
