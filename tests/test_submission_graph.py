"""One pass over a submission's files: the shared file rules and module graph, a parse whose
cost the submission cannot move, hashing only what the intake keeps, every API a file
offers, and notebooks read as Jupyter would run them."""

from __future__ import annotations

import json
import os
import time
import tracemalloc
from pathlib import Path

import nbformat
import pytest
from layercheck.cases.sandbox import isolation
from layercheck.cases.submission import graph, intake, notebook
from layercheck.cases.submission.notebook import read_cells
from layercheck.cases.submission.survey import LoadError, VolumeError, load
from layercheck.reports.grading.batch import check_one, exit_code, grader_error
from layercheck.reports.grading.checker import check_submission
from nbformat.v4 import new_code_cell, new_notebook

STUDENTS = Path(__file__).parent / "students"
RELU = (STUDENTS / "good_loops.py").read_text()
OPTIONS = {"layers": ("relu",), "do_shrink": False, "timeout": 10.0}


def _peak(fn) -> tuple[object, int]:
    """fn()'s result (or the exception it raised) and the peak of memory it allocated."""
    tracemalloc.start()
    try:
        try:
            out: object = fn()
        except Exception as e:
            out = e
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------- the parse is bounded

def _statements_folder(tmp_path: Path, unit: str, files: int, size: int) -> Path:
    """A layer file beside `files` files of `size` bytes of one repeated statement, each
    mentioning a layer (so the survey reads it)."""
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "layers.py").write_text(RELU)
    for i in range(files):
        (sub / f"junk{i}.py").write_text("# Relu\n" + unit * (size // len(unit)))
    return sub


def test_a_folder_of_generated_statements_is_refused_before_it_is_parsed(tmp_path) -> None:
    # the red team's example at its real size: 3.8 MiB of `a;a;a;...` (1.6 GB, 27 s before)
    sub = _statements_folder(tmp_path, "a;", files=8, size=480 << 10)
    t0 = time.monotonic()
    err, peak = _peak(lambda: load(sub))
    assert isinstance(err, VolumeError), err
    assert "junk0.py" in str(err) and "tokens" in str(err), err
    assert time.monotonic() - t0 < 5 and peak < 64 << 20, (time.monotonic() - t0, peak)
    r = check_one(str(sub), OPTIONS)
    assert exit_code(r) == 2 and not grader_error(r) and "tokens" in r.load_error


@pytest.mark.parametrize("unit", ["x=(" + "a," * 40 + ")\n", "f(a)[b].c\n", "a\n"],
                         ids=["tuples", "calls", "newlines"])
def test_many_small_files_within_the_file_cap_meet_the_submission_cap(
        tmp_path, monkeypatch, unit: str) -> None:
    sub = _statements_folder(tmp_path, unit, files=6, size=6000)
    monkeypatch.setattr(graph, "MAX_FILE_TOKENS", 100_000)
    monkeypatch.setattr(graph, "MAX_PARSED_TOKENS", 8_000)
    with pytest.raises(VolumeError, match="tokens"):
        load(sub)
    monkeypatch.setattr(graph, "MAX_PARSED_TOKENS", 1_000_000)
    assert load(sub).path.name == "layers.py", "within the caps the same folder loads"


def test_parsing_time_per_submission_is_capped(tmp_path, monkeypatch) -> None:
    sub = _statements_folder(tmp_path, "a = 1\n", files=3, size=3000)
    monkeypatch.setattr(graph, "MAX_PARSE_SECONDS", 0.0)
    with pytest.raises(VolumeError, match="parsing the submission took over"):
        load(sub)


def test_a_tree_too_large_to_keep_is_not_cached(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(graph, "MAX_CACHED_TOKENS", 4000)
    big, small = tmp_path / "big.py", tmp_path / "small.py"
    big.write_text("a = 1\n" * 1000)  # ~4000 rough tokens: over a quarter of the cache
    small.write_text("a = 1\n")
    assert graph.parse(big) is not graph.parse(big), "a large tree must not stay in memory"
    assert graph.parse(small) is graph.parse(small), "a small one is parsed once"
    assert graph._cached_tokens <= 4000


def test_rough_tokens_never_undercount_the_parsers_tokens() -> None:
    import io
    import tokenize

    for src in (RELU, "a;" * 50, "x = (a, b)[0]\n", "s = 'a b c'  # note\n", "f'{a}{b}'\n"):
        real = [t for t in tokenize.generate_tokens(io.StringIO(src).readline)
                if t.type not in (tokenize.NL, tokenize.INDENT, tokenize.DEDENT,
                                  tokenize.ENDMARKER, tokenize.COMMENT)]
        implicit = 1  # the NEWLINE the tokenizer adds at the end of the source
        assert graph.rough_tokens(src) >= len(real) - implicit, src[:30]


# ---------------------------------------------------------------- notebooks read once

def _notebook(path: Path, outputs: list, code: str = RELU) -> Path:
    nb = {"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": [
        {"cell_type": "code", "source": code, "metadata": {}, "outputs": [],
         "execution_count": 1},
        {"cell_type": "code", "source": "print('x')", "metadata": {}, "outputs": outputs,
         "execution_count": 2}]}
    path.write_text(json.dumps(nb))
    return path


def test_a_large_notebook_is_read_once_outside_the_graders_memory(tmp_path,
                                                                  monkeypatch) -> None:
    one = {"output_type": "stream", "name": "stdout", "text": "a"}
    nb = _notebook(tmp_path / "hw.ipynb", [one] * 500_000)  # 27 MB of small outputs
    assert nb.stat().st_size > 25 << 20
    reads = []
    real = notebook.code_cells
    monkeypatch.setattr(notebook, "code_cells", lambda *a: reads.append(a) or real(*a))
    t0 = time.monotonic()
    sub, peak = _peak(lambda: load(nb))
    assert not isinstance(sub, Exception), sub
    assert sub.api == "class" and "Relu" in sub.names
    assert len(reads) == 1, f"the notebook must be read once, not {len(reads)} times"
    assert peak < 32 << 20, f"the grader held {peak >> 20} MB reading the notebook"
    assert time.monotonic() - t0 < 15


def test_a_notebook_its_reader_cannot_hold_is_the_students_load_error(tmp_path,
                                                                      monkeypatch) -> None:
    nb = _notebook(tmp_path / "hw.ipynb", [{"n": 1}] * 1_500_000)  # ~1.5M small objects
    monkeypatch.setattr(notebook, "READER_MEMORY", 96 << 20)
    with pytest.raises(LoadError, match=r"cannot read the notebook hw\.ipynb"):
        load(nb)
    r = check_one(str(nb), OPTIONS)
    assert exit_code(r) == 2 and not grader_error(r), r.load_error or grader_error(r)


def test_a_version_3_notebook_is_read_from_its_worksheets(tmp_path) -> None:
    nb = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": [
        {"cell_type": "heading", "level": 1, "source": ["Layers"]},
        {"cell_type": "code", "input": RELU.splitlines(keepends=True), "outputs": []}]}]}
    (tmp_path / "old.ipynb").write_text(json.dumps(nb))
    cells = read_cells(tmp_path / "old.ipynb")
    assert [c.number for c in cells] == [2] and "class Relu" in cells[0].source


# ---------------------------------------------------------------- notebooks as Jupyter runs them

def test_a_scratch_cell_never_blocks_the_layers() -> None:
    nb = STUDENTS / "good_notebook_scratch.ipynb"
    cells = {c.number: c for c in read_cells(nb, is_layer=lambda n: n == "Relu")}
    kept = "".join(c.source for c in cells.values())
    assert "np.array" not in kept and "mask = (x <= 0)" not in kept, (
        "the scratch `x` and the `mask` that reads it go together")
    assert "THRESHOLD = int('0')" in kept, "an assignment the layer needs is kept, call or not"
    assert "np.load" not in kept and "plot_history()" not in kept
    assert cells[7].optional == (2,), "plot_history is no layer's: it may fail and be skipped"
    assert cells[5].optional == () and cells[6].optional == ()
    r = check_submission(nb, layers=("relu",), do_shrink=False)
    assert r.load_error is None and r.exit_code() == 0, r.load_error


def test_a_failing_statement_a_layer_needs_names_its_cell_and_line() -> None:
    nb = STUDENTS / "bad_notebook_layer_needs_missing_data.ipynb"
    r = check_submission(nb, layers=("relu",), do_shrink=False)
    assert r.exit_code() == 2 and "FileNotFoundError" in r.load_error, r.load_error
    assert "cell 2 line 1" in r.load_error, r.load_error


def test_definitions_and_the_assignments_they_need_are_kept_consistently(tmp_path) -> None:
    path = tmp_path / "hw.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(s) for s in (
        "import numpy as np\nEPS = 1e-8\nscale = EPS * 2\nunused = 3",
        "W = np.random.randn(3)\nb = W + 1",  # scratch: nothing defined reads W or b
        "def helper(x):\n    return x * scale",
        "class Affine:\n    def forward(self, x):\n        return helper(x)",
        "for i in range(10**9):\n    EPS = i")]), str(path))
    cells = read_cells(path, is_layer=lambda n: n == "Affine")
    kept = "".join(c.source for c in cells)
    assert "EPS = 1e-8" in kept and "scale = EPS * 2" in kept, "needed through helper"
    assert "unused" not in kept and "np.random" not in kept and "b = W" not in kept
    assert "range(10**9)" not in kept, "a loop is never run at load"


# ---------------------------------------------------------------- hashing before grading

def test_hashing_reads_only_what_the_intake_keeps(tmp_path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "layers.py").write_text(RELU)
    with open(sub / "blob.bin", "wb") as f:
        f.truncate(64 << 20)  # sparse
    for i in range(800):  # the red team's example: one file under 800 hard-linked names
        os.link(sub / "blob.bin", sub / f"blob{i}.bin")
    d = intake.content_digest(sub)
    assert d.bytes < 1 << 20 and d.files == 1, d
    assert d.seconds < 2, f"hashing took {d.seconds:.1f} s"
    (sub / "layers.py").write_text(RELU + "\n# changed\n")
    assert intake.content_digest(sub).sha256 != d.sha256, "a kept file's change counts"
    for i in range(800):
        os.unlink(sub / f"blob{i}.bin")
    with open(sub / "blob.bin", "r+b") as f:  # one big data file, left out by the intake
        f.write(b"x")
    d2 = intake.content_digest(sub)
    assert d2.bytes < 1 << 20 and d2.sha256 != d.sha256, d2


def test_hashing_stops_at_its_total_cap(tmp_path, monkeypatch) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    for i in range(5):
        (sub / f"m{i}.py").write_text("x = 1\n" * 2000)
    monkeypatch.setattr(intake, "MAX_HASHED_BYTES", 25_000)
    d = intake.content_digest(sub)
    assert d.bytes <= 25_000 and d.files == 2, d
    missing = intake.content_digest(tmp_path / "nowhere")  # a value, never an exception
    assert missing.files == 0 and missing.sha256 != d.sha256


def test_a_lone_files_digest_counts_the_modules_it_imports(tmp_path) -> None:
    (tmp_path / "helpers.py").write_text("def relu(x):\n    return x\n")
    (tmp_path / "hw.py").write_text("from helpers import relu\n" + RELU)
    d = intake.content_digest(tmp_path / "hw.py")
    (tmp_path / "helpers.py").write_text("def relu(x):\n    return -x\n")
    assert intake.content_digest(tmp_path / "hw.py").sha256 != d.sha256
    assert intake.content_digest(tmp_path / "hw.py", entry=True).files == 1


# ---------------------------------------------------------------- one module graph

def test_intake_survey_and_mounts_read_the_same_graph(tmp_path, monkeypatch) -> None:
    repo = tmp_path / "repo"
    (repo / "common").mkdir(parents=True)
    (repo / "common" / "__init__.py").write_text("from .util import *\n")
    (repo / "common" / "util.py").write_text("def im2col(x):\n    return x\n")
    (repo / "common" / "unused.py").write_text("x = 1\n")
    (repo / "net.py").write_text("from common import im2col\n" + RELU)
    with intake.take_in(repo / "net.py") as taken:
        copied = sorted(p.relative_to(taken.top) for p in taken.top.rglob("*.py"))
        sub = load(taken.target)
        assert sorted(p.relative_to(sub.root) for p in sub.graph.files) == copied
        parsed = []
        monkeypatch.setattr(graph, "parse", lambda *a: parsed.append(a))
        mounts = isolation.submission_mounts(sub.path, sub.root, False)
        assert not parsed, "the mounts reuse the survey's graph"
        assert sorted(Path(h) for h, _ in mounts.binds) == sorted(sub.graph.files)
    assert intake.SKIP_DIRS is graph.SKIP_DIRS and intake.TOPS is graph.TOPS


# ---------------------------------------------------------------- every API a file offers

FUNCTIONAL = '''
def relu_forward(x):
    return x * (x > 0), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def affine_forward(x, w, b):
    raise NotImplementedError


def affine_backward(dout, cache):
    raise NotImplementedError


def conv_forward_naive(x, w, b, conv_param):
    raise NotImplementedError
'''


ONE_CLASS = """import numpy as np


class Pooling:
    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        return x
"""


def test_a_file_offering_both_apis_offers_both_and_stubs_never_shrink_it(tmp_path) -> None:
    f = tmp_path / "hw.py"
    f.write_text(RELU)
    assert load(f).apis == ("class",)
    f.write_text(RELU + FUNCTIONAL)
    sub = load(f)
    assert sub.apis == ("class", "functional") and sub.api == "class"
    assert sub.for_api("functional").layers() == sub.layers("functional")
    assert set(sub.layers("functional")) == {"conv", "affine", "relu"}
    # the red team's shape: one class, then functional wrappers and stubs outnumbering it
    f.write_text(ONE_CLASS + FUNCTIONAL)
    sub = load(f)
    assert sub.api == "functional" and sub.apis == ("functional", "class"), (
        "the class the file defines is still graded")
    assert sub.layers("class") == ["pool"]
    assert load(f, api="class").apis == ("class",), "an API the configuration names is the one"
    with pytest.raises(ValueError, match="unknown API"):
        load(f, api="torch")
