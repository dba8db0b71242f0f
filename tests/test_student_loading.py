"""Real submissions as they come: import roots, which file, names, notebooks, leftovers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from layercheck.cases.submission.names import NameMapError, parse_name_map, resolve
from layercheck.cases.submission.notebook import read_cells
from layercheck.cases.submission.survey import LoadError, choose_file, load
from layercheck.reports.cli import main
from layercheck.reports.grading.checker import check_submission
from layercheck.reports.student_cli import submissions
from nbformat.v4 import new_code_cell, new_notebook

STUDENTS = Path(__file__).parent / "students"
REPOS = STUDENTS / "repos"
BOOK = REPOS / "book"


def _failures(report) -> list[str]:
    return [r.message() for r in report.results if r.status not in ("pass",)][:5]


# ---------------------------------------------------------------- import roots

def test_package_file_is_imported_from_the_repository_root() -> None:
    sub = load(BOOK / "common" / "layers.py")
    assert sub.root == BOOK.resolve(), "common/layers.py imports common.util: root is above"
    assert sub.module == "common.layers"
    r = check_submission(BOOK / "common" / "layers.py", layers=("conv", "pool"),
                         do_shrink=False)
    assert r.load_error is None, r.load_error
    assert r.exit_code() == 0, _failures(r)


def test_chapter_script_with_star_import_from_common_is_graded() -> None:
    sub = load(BOOK / "ch07" / "simple_convnet.py")
    assert sub.root == BOOK.resolve(), "`from common.layers import *` resolves one level up"
    assert {"conv", "relu", "affine", "softmax"} <= set(sub.layers())
    r = check_submission(BOOK / "ch07" / "simple_convnet.py", layers=("conv", "softmax"),
                         do_shrink=False)
    assert r.exit_code() == 0, r.load_error or _failures(r)


def test_relative_imports_work_in_a_package_without_init() -> None:
    path = REPOS / "relative" / "mynet" / "layers.py"
    sub = load(path)
    assert sub.module == "mynet.layers" and sub.root == (REPOS / "relative").resolve()
    r = check_submission(path, layers=("affine", "relu", "softmax"), do_shrink=False)
    assert r.exit_code() == 0, r.load_error or _failures(r)


# ---------------------------------------------------------------- which file

def test_folder_is_one_submission_and_every_output_names_the_graded_file(tmp_path,
                                                                          capsys) -> None:
    out = tmp_path / "r.json"
    md = tmp_path / "r.md"
    rc = main(["check", str(BOOK), "--layers", "relu", "--no-shrink", "--json", str(out),
               "--md", str(md)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "graded file: common/layers.py" in printed
    assert '"file": "common/layers.py"' in out.read_text()
    assert "Graded file: `common/layers.py`" in md.read_text()


def _vendored_repo(tmp_path: Path) -> Path:
    """The student's ch07/my_pool.py next to a book copy whose Pooling pads with zeros."""
    repo = tmp_path / "repo"
    shutil.copytree(REPOS / "vendored", repo)
    shutil.copytree(BOOK / "common", repo / "common")
    layers = repo / "common" / "layers.py"
    text = layers.read_text().replace("fill=-np.inf", "fill=0.0")
    assert text != layers.read_text()
    layers.write_text(text)
    return repo


def test_own_file_is_graded_over_a_vendored_book_copy(tmp_path) -> None:
    repo = _vendored_repo(tmp_path)
    assert choose_file(repo) == (repo / "ch07" / "my_pool.py").resolve()
    r = check_submission(repo, layers=("pool",), do_shrink=False)
    assert r.file == "ch07/my_pool.py"
    assert r.exit_code() == 0, r.load_error or _failures(r)  # the copy fails pad > 0


def test_a_file_that_imports_and_overrides_the_library_is_graded(tmp_path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(BOOK / "common", repo / "common")
    (repo / "mine.py").write_text("from common.layers import *\n\n\n"
                                  "class Relu:\n    pass\n")
    assert choose_file(repo) == (repo / "mine.py").resolve()


def test_file_option_picks_the_graded_file_and_a_wrong_one_lists_candidates(tmp_path) -> None:
    repo = _vendored_repo(tmp_path)
    sub = load(repo, file="common/layers.py")
    assert sub.graded == "common/layers.py"
    with pytest.raises(LoadError, match=r"files defining layers: .*ch07/my_pool\.py"):
        load(repo, file="ch07/nope.py")
    rc = main(["check", str(repo), "--file", "common/layers.py", "--layers", "pool",
               "--no-shrink"])
    assert rc == 1, "the book copy pads with zeros: pooling with pad > 0 must fail"


def test_a_path_is_one_submission_and_each_lists_the_entries(tmp_path) -> None:
    (tmp_path / "a.py").write_text("")
    (tmp_path / "b").mkdir()
    (tmp_path / "c.ipynb").write_text("{}")
    (tmp_path / "notes.txt").write_text("")
    assert submissions([str(tmp_path)]) == [str(tmp_path)]
    assert submissions([], [str(tmp_path)]) == [str(tmp_path / n) for n in ("a.py", "b",
                                                                            "c.ipynb")]
    with pytest.raises(SystemExit):
        main(["check", "--each", str(tmp_path / "a.py")])


# ---------------------------------------------------------------- names

def test_aliases_and_layer_suffix_are_recognised() -> None:
    sub = load(STUDENTS / "good_aliases.py")
    assert sub.name_map == {"Convolution": "ConvolutionLayer", "Pooling": "MaxPooling",
                            "Affine": "AffineLayer", "Relu": "ReLU",
                            "SoftmaxWithLoss": "SoftmaxWithLossLayer"}
    r = check_submission(STUDENTS / "good_aliases.py",
                         layers=("conv", "pool", "affine", "relu", "softmax"),
                         do_shrink=False)
    assert r.exit_code() == 0, _failures(r)


@pytest.mark.parametrize("name, layer", [("relu", "Relu"), ("RELU", "Relu"),
                                         ("Relu_Layer", "Relu"), ("MaxPool2d", "Pooling"),
                                         ("Conv2d", "Convolution"), ("Conv", "Convolution"),
                                         ("AvgPool", "AvgPooling")])
def test_alias_spellings(name: str, layer: str) -> None:
    assert resolve("class", {name}) == {layer: name}


def test_missing_layer_says_did_you_mean_and_the_name_map_fixes_it(capsys) -> None:
    path = str(STUDENTS / "bad_misnamed.py")
    assert main(["check", path, "--layers", "conv", "--no-shrink"]) == 1
    assert "did you mean Convolve?" in capsys.readouterr().out
    assert main(["check", path, "--layers", "conv", "--no-shrink",
                 "--name", "conv=Convolve"]) == 0


def test_bad_name_map_entries_are_refused_with_the_syntax() -> None:
    assert parse_name_map(["conv=MyConv,relu_forward=my_relu"]) == {
        "conv": "MyConv", "relu_forward": "my_relu"}
    for bad in ("conv", "nolayer=X", "conv=1x"):
        with pytest.raises(NameMapError, match="--name"):
            parse_name_map([bad])


# ---------------------------------------------------------------- notebooks

def test_notebook_is_graded_from_its_definitions_without_running_other_cells() -> None:
    nb = BOOK / "ch07" / "hw_layers.ipynb"
    cells = read_cells(nb)
    kept = "".join(c.source for c in cells)
    assert "while True" not in kept and "urlopen" not in kept and "print(r.forward" not in kept
    relu = next(c for c in cells if "class Relu" in c.source)
    assert relu.source.splitlines()[0] == "class Relu:", "cell line numbers are kept"
    # the training cell loops forever: a 2 s timeout proves it never runs
    r = check_submission(nb, layers=("relu", "affine", "conv"), do_shrink=False, timeout=2.0)
    assert r.exit_code() == 0, r.load_error or _failures(r)


def _notebook(tmp_path: Path, *sources: str) -> Path:
    path = tmp_path / "hw.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(s) for s in sources]), str(path))
    return path


def test_notebook_errors_name_the_cell_and_the_line(tmp_path) -> None:
    nb = _notebook(tmp_path, "import numpy as np",
                   "class Relu:\n    scale = undefined_name\n")
    r = check_submission(nb, layers=("relu",), do_shrink=False)
    assert r.exit_code() == 2
    assert "NameError" in r.load_error and "cell 2 line 2" in r.load_error, r.load_error
    nb = _notebook(tmp_path, "class Relu:\n    def forward(self, x):\n        print x\n")
    r = check_submission(nb, layers=("relu",), do_shrink=False)
    assert r.exit_code() == 2 and "cell 1, line 3" in r.load_error, r.load_error


# ---------------------------------------------------------------- leftovers

@pytest.mark.parametrize("name", ["good_ipython_top.py", "good_matplotlib_import.py"])
def test_display_leftovers_import_and_are_no_violation(name: str) -> None:
    r = check_submission(STUDENTS / name, layers=("relu", "softmax"), do_shrink=False)
    assert r.load_error is None, r.load_error
    assert r.policy == [], f"the grader's stand-ins count against the student: {r.policy}"
    assert r.exit_code() == 0, _failures(r)


def test_python2_file_gets_a_clear_message(tmp_path) -> None:
    f = tmp_path / "old.py"
    f.write_text("import numpy as np\n\nclass Relu:\n    def forward(self, x):\n"
                 "        print 'x', x\n")
    r = check_submission(f, do_shrink=False)
    assert r.exit_code() == 2
    assert "old.py line 5" in r.load_error and "print" in r.load_error, r.load_error


def test_functions_are_never_taken_for_a_class_alias(tmp_path) -> None:
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "functions.py").write_text(
        "def relu(x):\n    return x\n\n\ndef softmax_loss(x, t):\n    return 0\n")
    (tmp_path / "ch7").mkdir()
    (tmp_path / "ch7" / "cnn.py").write_text(
        "from common.functions import *\n\n\nclass Convolution:\n    pass\n")
    sub = load(tmp_path / "ch7" / "cnn.py")
    assert sub.api == "class" and sub.name_map == {}, "relu() is a function, not Relu"
    assert sub.layers() == ["conv"]


def test_folder_whose_layer_file_is_python2_names_that_file(tmp_path) -> None:
    (tmp_path / "cs231n").mkdir()
    (tmp_path / "cs231n" / "layers.py").write_text(
        "def affine_forward(x, w, b):\n    print 'x'\n    return x, None\n")
    (tmp_path / "README.md").write_text("assignment 2\n")
    with pytest.raises(LoadError, match=r"cs231n/layers\.py defines the layers .* line 2"):
        load(tmp_path)


def test_gradescope_output_names_the_graded_file(tmp_path) -> None:
    gs = tmp_path / "results.json"
    assert main(["check", str(BOOK), "--layers", "relu", "--no-shrink", "--gradescope",
                 str(gs)]) == 0
    out = json.loads(gs.read_text())["output"]
    assert "Graded file: common/layers.py" in out and "Warning: relu: backward modifies" in out


def test_notebook_cell_magics_keep_python_cells_and_drop_others(tmp_path) -> None:
    nb = _notebook(tmp_path, "%%time\nclass Relu:\n    pass\n",
                   "%%bash\nclass Affine: echo not python\n",
                   "%%writefile other.py\nclass Pooling:\n    pass\n")
    kept = "".join(c.source for c in read_cells(nb))
    assert "class Relu" in kept and "Affine" not in kept and "Pooling" not in kept


def test_an_archive_is_refused_with_what_to_do(tmp_path) -> None:
    z = tmp_path / "alice.zip"
    z.write_bytes(b"PK\x03\x04")
    with pytest.raises(LoadError, match="extract it"):
        load(z)


def test_notebook_importing_its_own_module_next_to_it_is_graded(tmp_path) -> None:
    (tmp_path / "helpers.py").write_text(
        "import numpy as np\n\n\ndef relu(x):\n"
        "    return np.where(x > 0, x, 0.0).astype(x.dtype)\n")
    nb = _notebook(tmp_path, "from helpers import relu\nimport numpy as np",
                   "class Relu:\n    def forward(self, x):\n        self.x = x\n"
                   "        return relu(x)\n\n    def backward(self, dout):\n"
                   "        return np.where(self.x > 0, dout, 0.0).astype(dout.dtype)\n")
    assert load(nb).needs_root(), "the worker must see helpers.py"
    (tmp_path / "alone").mkdir()
    alone = _notebook(tmp_path / "alone", "class Relu:\n    pass\n")
    assert not load(alone).needs_root(), "a notebook importing nothing of its own needs itself"
    r = check_submission(nb, layers=("relu",), do_shrink=False)
    assert r.exit_code() == 0, r.load_error or _failures(r)


def test_name_map_to_a_name_the_file_lacks_is_a_load_error_with_a_suggestion() -> None:
    with pytest.raises(LoadError, match="defines no Convolv; did you mean Convolve"):
        load(STUDENTS / "bad_misnamed.py", names={"conv": "Convolv"})


def test_assignment_stub_loads_and_fails_as_not_implemented() -> None:
    r = check_submission(STUDENTS / "bad_stub_functional.py", layers=("affine", "relu"),
                         do_shrink=False)
    assert r.load_error is None and r.api == "functional"
    assert r.exit_code() == 1
    out = [x for x in r.results if x.output == "out"]
    assert out and all(x.status == "fail" and "not implemented" in x.diagnosis for x in out)


def test_relative_star_import_brings_the_layers_in(tmp_path) -> None:
    pkg = tmp_path / "hw" / "pkg"
    shutil.copytree(REPOS / "relative" / "mynet", pkg)
    (pkg / "__init__.py").write_text("")
    (pkg / "net.py").write_text("from .layers import *\n")
    sub = load(pkg / "net.py")
    assert sub.module == "pkg.net" and {"affine", "relu", "softmax"} <= set(sub.layers())
    r = check_submission(pkg / "net.py", layers=("relu",), do_shrink=False)
    assert r.exit_code() == 0, r.load_error or _failures(r)


def test_import_root_never_climbs_past_a_repository_top_or_the_folder_given(tmp_path) -> None:
    (tmp_path / "common").mkdir()  # outside the repository: must not be taken as its own
    (tmp_path / "common" / "util.py").write_text("")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "ch07").mkdir()
    (repo / "ch07" / "layers.py").write_text(
        "from common.util import im2col\n\n\nclass Relu:\n    pass\n")
    # common/ resolves only above the repository: the file's own folder stays the root,
    # as `python ch07/layers.py` would have it (and the import fails there, not here)
    assert load(repo / "ch07" / "layers.py").root == (repo / "ch07").resolve()
    assert load(repo).root == (repo / "ch07").resolve()
    (repo / ".git").rmdir()
    assert load(repo).root == (repo / "ch07").resolve(), "never above the folder given"
    assert load(repo / "ch07" / "layers.py").root == tmp_path.resolve(), (
        "without a repository top, a single file's imports may resolve a few levels up")


def test_broken_or_empty_notebook_gets_a_clear_message(tmp_path) -> None:
    bad = tmp_path / "broken.ipynb"
    bad.write_text("{not json")
    with pytest.raises(LoadError, match=r"cannot read the notebook broken\.ipynb"):
        load(bad)
    with pytest.raises(LoadError, match="defines no layer"):
        load(_notebook(tmp_path, "import numpy as np\nx = np.ones(3)\nprint(x)"))


def test_notebook_import_of_an_unavailable_module_costs_nothing_until_used(tmp_path) -> None:
    relu = ("class Relu:\n    def forward(self, x):\n        self.x = x\n"
            "        return np.where(x > 0, x, 0.0).astype(x.dtype)\n\n"
            "    def backward(self, dout):\n"
            "        return np.where(self.x > 0, dout, 0.0).astype(dout.dtype)\n")
    nb = _notebook(tmp_path, "import numpy as np\nimport pandas_nowhere as pd\n"
                             "from data_nowhere.loader import load_mnist", relu)
    r = check_submission(nb, layers=("relu",), do_shrink=False)
    assert r.exit_code() == 0, r.load_error or _failures(r)
    used = _notebook(tmp_path, "import numpy as np\nimport pandas_nowhere as pd",
                     relu.replace("self.x = x", "self.x = x; pd.DataFrame()"))
    r = check_submission(used, layers=("relu",), do_shrink=False)
    bad = [x.diagnosis for x in r.results if not x.passed]
    assert bad and "pandas_nowhere is not available to graded code" in bad[0], bad[:1]
    assert "cell 1 line 2" in bad[0]


def test_importing_the_graders_own_packages_never_moves_the_root(tmp_path) -> None:
    for name in ("impl", "reference", "mine"):
        (tmp_path / name).mkdir()
    f = tmp_path / "hw" / "layers.py"
    f.parent.mkdir()
    layer = "\n\nclass Relu:\n    pass\n"
    f.write_text("import impl\nimport reference" + layer)
    assert load(f).root == f.parent.resolve(), "impl/reference are the grader's, not the student's"
    f.write_text("import impl\nimport mine" + layer)
    assert load(f).root == tmp_path.resolve()  # a package of the student's own does move it


@pytest.mark.parametrize("line, fix", [
    ("print 'x', x", "print(...)"), ("except ValueError, e:", "except E as e:"),
    ("raise ValueError, 'bad'", "raise E(message)"), ("mode = 0777", "0o17"),
    ("exec 'x = 1'", "exec(...)")])
def test_python2_syntax_is_named_with_its_python3_spelling(tmp_path, line: str,
                                                           fix: str) -> None:
    f = tmp_path / "old.py"
    f.write_text(f"try:\n    pass\n{line}\n    pass\n" if line.startswith("except")
                 else f"{line}\n")
    with pytest.raises(LoadError, match="Python 2 code") as e:
        load(f)
    assert fix in str(e.value)


@pytest.mark.parametrize("line", ["printer = (1", "x = 1.05 +", "def f(:"])
def test_python3_syntax_errors_get_no_python2_hint(tmp_path, line: str) -> None:
    f = tmp_path / "new.py"
    f.write_text(line + "\n")
    with pytest.raises(LoadError, match="syntax error") as e:
        load(f)
    assert "Python 2" not in str(e.value)
