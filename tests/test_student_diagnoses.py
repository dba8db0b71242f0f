"""What a student reads about a failure: diagnoses that hold or stay silent, errors located in
the student's own code, NumPy-2 and Python-2 fixes named, reproducers that run from the
submission's root, shrinking that never loses the report (tests/students/ fixtures)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from layercheck.cases.case import Case
from layercheck.reference.diagnose import diagnose_values
from layercheck.reference.expected import Expected
from layercheck.reference.explain import drift_hint, locate
from layercheck.reports.grading import checker as checker_module
from layercheck.reports.grading.checker import check_submission
from layercheck.reports.grading.shrink import shrink

STUDENTS = Path(__file__).parent / "students"
PROJECT = Path(__file__).resolve().parents[1]


def _check(name: str, layers: str, shrink_too: bool = False):
    return check_submission(STUDENTS / name, layers=tuple(layers.split(",")),
                            do_shrink=shrink_too, timeout=5.0)


def _not_passed(report, layer: str, output: str | None = None) -> list:
    return [r for r in report.results if r.layer == layer and not r.passed
            and r.status != "missing" and (output is None or r.output == output)]


def _line_of(name: str, text: str) -> int:
    """The 1-based line of `text` in a fixture (so tests do not hard-code line numbers)."""
    lines = (STUDENTS / name).read_text().splitlines()
    return next(i for i, ln in enumerate(lines, 1) if text in ln)


# --- scaling: only when most elements agree -------------------------------------------------

def _exp(value: np.ndarray) -> Expected:
    return Expected("backward", value, np.full(value.shape, 1e-15))


def test_one_wrong_element_of_thirty_is_not_called_scaled() -> None:
    want = np.zeros((1, 1, 5, 6))
    want[0, 0, 2, 3] = 0.7  # a max-pool dx: one window, one element carries the gradient
    got = want.copy()
    got[0, 0, 2, 3] *= 3.30922
    words = diagnose_values(Case("pool", N=1, C=1, H=5, W=6), "dx", got, _exp(want),
                            got != want, None)
    assert "1 of 30 elements" in words
    assert "scaled" not in words, f"one wrong element must not be called a scaling: {words}"


def test_every_element_scaled_is_called_scaled() -> None:
    want = np.random.default_rng(0).normal(size=(2, 3, 5))
    got = 3.25 * want
    words = diagnose_values(Case("affine", N=2, C=15, H=1, W=1), "dx", got, _exp(want),
                            np.ones(want.shape, bool), None)
    assert "scaled by 3.25" in words, words


def test_a_scalar_loss_is_never_called_scaled() -> None:
    want = np.asarray(1.7)
    words = diagnose_values(Case("softmax", N=2, C=10), "loss", np.asarray(52.19),
                            Expected("forward", want, np.asarray(1e-15)), np.asarray(True),
                            None)
    assert "scaled" not in words, words


def test_dx_scaled_in_every_element_is_diagnosed_as_scaled() -> None:
    r = _check("bad_affine_dx_scaled.py", "affine")
    dx = _not_passed(r, "affine", "dx")
    several = [x for x in dx if " of 1 elements" not in x.diagnosis]  # one element: no evidence
    assert several and all("scaled by 2.5" in x.diagnosis for x in several), \
        next(x.message() for x in several if "scaled by 2.5" not in x.diagnosis)


def test_one_tripled_window_is_never_called_scaled_even_when_shrunk() -> None:
    r = _check("bad_pool_first_window_tripled.py", "pool", shrink_too=True)
    dx = _not_passed(r, "pool", "dx")
    assert dx, "the tripled gradient of the first window was not flagged"
    said = [x.diagnosis for x in dx] + [s.diagnosis for s in r.shrunk]
    assert r.shrunk, "no smallest failing case was found"
    scaled = [d for d in said if "scaled" in d]
    assert not scaled, scaled[:1]


# --- softmax: one-hot versus index labels ---------------------------------------------------

def test_loss_written_for_one_hot_labels_is_diagnosed_as_a_label_mixup() -> None:
    r = _check("bad_softmax_onehot_only.py", "softmax")
    bad = _not_passed(r, "softmax")
    assert bad, "a loss that cannot take class indices passed"
    valued = [x for x in bad if x.status == "fail"]
    assert valued and all("one-hot" in x.diagnosis for x in valued), valued[0].message()
    assert not [x for x in bad if "scaled" in x.diagnosis], "a label mixup called a scaling"
    raised = [x for x in bad if x.status == "error"]
    assert raised and all("class indices" in x.diagnosis for x in raised), raised[0].message()
    onehot = [x for x in r.results if x.layer == "softmax" and "onehot" in x.id]
    assert onehot and all(x.passed for x in onehot), "one-hot labels are this loss's own case"


def test_epsilon_in_the_loss_is_not_called_a_label_mixup() -> None:
    r = _check("bad_softmax_eps.py", "softmax")
    loss = _not_passed(r, "softmax", "loss")
    assert loss and all("epsilon" in x.diagnosis for x in loss), loss[0].message()
    assert not [x for x in loss if "one-hot" in x.diagnosis or "indices" in x.diagnosis]


# --- max pooling: zero padding versus assigned gradients ------------------------------------

def test_assigned_overlapping_gradients_are_diagnosed_as_missing_accumulation() -> None:
    r = _check("bad_pool_assign.py", "pool")
    dx = _not_passed(r, "pool", "dx")
    assert dx and all("accumulated (+=)" in x.diagnosis for x in dx), dx[0].message()
    assert not _not_passed(r, "pool", "out"), "forward is right in this fixture"
    assert not [x for x in dx if "padding counted as zero" in x.diagnosis]


def test_zero_padding_is_not_called_a_missing_accumulation() -> None:
    r = _check("bad_pool_zero_pad.py", "pool")
    dx = _not_passed(r, "pool", "dx")
    assert dx, "zero padding changed no gradient"
    wrong = [x for x in dx if "(+=)" in x.diagnosis]
    assert not wrong, f"zero padding diagnosed as '+=': {wrong[0].message()}"
    assert any("padding counted as zero" in x.diagnosis for x in dx), dx[0].message()


# --- stubs: not implemented, not "None after backward" --------------------------------------

@pytest.mark.parametrize("name,layers", [("bad_stub_book.py", "conv,relu"),
                                         ("bad_stub_cs231n.py", "conv,relu")])
def test_stub_is_reported_not_implemented(name: str, layers: str) -> None:
    r = _check(name, layers)
    conv, relu_dx = _not_passed(r, "conv"), _not_passed(r, "relu", "dx")
    assert conv and relu_dx
    for x in conv + relu_dx:
        assert "not implemented" in x.diagnosis, x.message()
        assert "after backward" not in x.diagnosis and "store it" not in x.diagnosis, \
            x.message()
    assert not _not_passed(r, "relu", "out"), "relu forward is implemented in the fixture"


def test_unstored_gradient_is_not_called_a_stub() -> None:
    r = _check("bad_conv_dw_unstored.py", "conv")
    dW = _not_passed(r, "conv", "dW")
    assert dW and all("store it (self.dW" in x.diagnosis for x in dW), dW[0].message()
    assert not [x for x in dW if "not implemented" in x.diagnosis]
    assert not _not_passed(r, "conv", "dx") and not _not_passed(r, "conv", "out")


# --- errors: located in the student's own code ----------------------------------------------

def test_missing_backward_is_named_and_never_located_in_our_code() -> None:
    r = _check("bad_no_backward.py", "relu")
    dx = _not_passed(r, "relu", "dx")
    assert dx and all("Relu has no backward method" in x.diagnosis for x in dx), \
        dx[0].message()
    for x in dx:
        assert not any(f in x.diagnosis for f in ("sandbox.py", "worker.py", "adapters.py",
                                                  "serve.py", " line ")), x.message()


def test_numpy2_removals_are_located_at_the_students_line_with_the_fix() -> None:
    r = _check("bad_numpy2_removed.py", "affine,relu")
    name = "bad_numpy2_removed.py"
    for layer, call, fix in (("affine", "np.product(", "use np.prod"),
                             ("relu", "np.float(", "use float or np.float64")):
        bad = _not_passed(r, layer, "out")
        line = _line_of(name, call)
        assert bad, f"{layer}: the NumPy-2 removal was not flagged"
        for x in bad:
            assert f"at {name} line {line}" in x.diagnosis, x.message()
            assert fix in x.diagnosis, x.message()
            assert "__init__.py" not in x.diagnosis, x.message()


@pytest.mark.parametrize("layer,code,fix", [
    ("pool", "xrange(", "use range"),
    ("conv", "np.zeros((N, FN, out_h", "use // or int(...)"),
    ("affine", ".iteritems()", "use .items()"),
])
def test_python2_leftovers_are_located_at_the_students_line_with_the_fix(
        layer: str, code: str, fix: str) -> None:
    name = "bad_py2_leftovers.py"
    r = _check(name, layer)
    bad = _not_passed(r, layer, "out")
    assert bad and all(x.status == "error" for x in bad)
    line = _line_of(name, code)
    for x in bad:
        assert f"at {name} line {line}" in x.diagnosis, x.message()
        assert fix in x.diagnosis, x.message()


def test_locate_takes_the_last_frame_inside_the_submission(tmp_path: Path) -> None:
    student = tmp_path / "repo" / "common" / "layers.py"
    tb = (f'Traceback (most recent call last):\n'
          f'  File "{PROJECT}/cases/sandbox/inside/main.py", line 271, in run\n    run_class(m)\n'
          f'  File "{student}", line 12, in forward\n    n = np.product(x.shape)\n'
          f'  File "{sys.prefix}/lib/python3.11/site-packages/numpy/__init__.py", line 400,'
          f' in __getattr__\n    raise AttributeError(msg)\n')
    assert locate(tb, tmp_path / "repo") == " at common/layers.py line 12: n = np.product(x.shape)"
    ours_only = "".join(tb.splitlines(keepends=True)[:3])
    assert locate(ours_only, tmp_path / "repo") == "", "a frame of ours was blamed"


@pytest.mark.parametrize("error,fix", [
    ("AttributeError: module 'numpy' has no attribute 'asscalar'", "a.item()"),
    ("AttributeError: `np.NaN` was removed in the NumPy 2.0 release. Use `np.nan` instead.",
     "np.nan"),
    ("AttributeError: module 'numpy' has no attribute 'cumproduct'", "np.cumprod"),
    ("NameError: name 'xrange' is not defined", "range"),
    ("AttributeError: 'dict' object has no attribute 'iteritems'", ".items()"),
    ("TypeError: 'map' object is not subscriptable", "list(...)"),
    ("TypeError: slice indices must be integers or None or have an __index__ method", "//"),
])
def test_drift_hint_names_the_replacement(error: str, fix: str) -> None:
    assert fix in drift_hint(error)


@pytest.mark.parametrize("error", [
    "AttributeError: 'NoneType' object has no attribute 'T'",
    "AttributeError: module 'numpy' has no attribute 'conv2d'",
    "NameError: name 'im2col' is not defined",
])
def test_drift_hint_stays_silent_on_ordinary_errors(error: str) -> None:
    assert drift_hint(error) == ""


# --- reproducers and shrinking --------------------------------------------------------------

def test_reproducer_imports_from_the_submissions_root_and_runs_there() -> None:
    layers = STUDENTS / "repos" / "book_bad" / "common" / "layers.py"
    r = check_submission(layers, layers=("conv",), do_shrink=True)
    assert r.load_error is None, r.load_error
    dW = [s for s in r.shrunk if s.output == "dW"]
    assert dW, "the wrong dW was not shrunk"
    text = dW[0].reproducer
    assert "import common.layers as m" in text and "import layers" not in text, text
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    run = subprocess.run([sys.executable, "-c", text], cwd=layers.parents[1], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"the reproducer fails from the root:\n{run.stderr}"
    assert float(run.stdout.strip().splitlines()[-1]) > 1e-6, run.stdout


def test_shrinking_skips_candidates_whose_check_crashes() -> None:
    case = Case("conv", N=2, C=3, H=5, W=5, F=2)

    def crashes(c: Case) -> bool:
        raise ValueError("zero-size array to reduction operation maximum which has no identity")

    assert shrink(case, crashes) == case


def test_a_failing_reproducer_drops_that_reproducer_not_the_report(monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise ValueError("zero-size array to reduction operation maximum which has no identity")

    monkeypatch.setattr(checker_module, "reproducer", broken)
    r = check_submission(STUDENTS / "bad_affine_dx_scaled.py", layers=("affine",),
                         do_shrink=True)
    assert _not_passed(r, "affine", "dx"), "the verdicts were lost"
    assert not r.shrunk
    assert any("no reproducer for affine dx" in w for w in r.warnings), r.warnings
    assert r.exit_code() == 1


def test_error_raised_deep_inside_numpy_is_located_at_the_students_call() -> None:
    name = "bad_pad_spec.py"
    r = _check(name, "relu")
    out = _not_passed(r, "relu", "out")
    assert out and all(x.status == "error" for x in out)
    line = _line_of(name, "np.pad(")
    for x in out:
        assert f"at {name} line {line}" in x.diagnosis, x.message()


def test_numpy2_removal_at_import_names_the_line_and_the_fix() -> None:
    name = "bad_numpy2_at_import.py"
    r = _check(name, "relu")
    assert r.exit_code() == 2 and r.load_error, "a file NumPy 2 cannot import was loaded"
    line = _line_of(name, "np.float(")
    assert f"{name} line {line}" in r.load_error, r.load_error
    assert "use float or np.float64" in r.load_error, r.load_error
    assert "__init__.py" not in r.load_error and "release note" not in r.load_error, \
        r.load_error


def test_whole_window_overwrite_is_diagnosed_as_missing_accumulation() -> None:
    r = _check("bad_pool_window_overwrite.py", "pool")
    dx = _not_passed(r, "pool", "dx")
    said = [x for x in dx if "accumulated (+=)" in x.diagnosis]
    assert len(said) >= 0.9 * len(dx), next(x.message() for x in dx if x not in said)
    padding = [x for x in dx if "padding" in x.diagnosis]  # a case both faults fit stays silent
    assert not padding, padding[0].message()


def test_wrong_everywhere_under_overlap_is_not_called_a_missing_accumulation() -> None:
    r = _check("bad_conv_dx_crop.py", "conv")
    dx = _not_passed(r, "conv", "dx")
    assert dx, "the wrongly cropped dx was not flagged"
    wrong = [x for x in dx if "(+=)" in x.diagnosis]
    assert not wrong, f"a crop error called a missing '+=': {wrong[0].message()}"
    assert not _not_passed(r, "conv", "dW") and not _not_passed(r, "conv", "out")


# --- shapes: two slips named ------------------------------------------------------------------

def test_empty_crop_at_pad_zero_is_named() -> None:
    r = _check("bad_conv_crop_pad_zero.py", "conv")
    dx = _not_passed(r, "conv", "dx")
    assert dx and all("empty when pad = 0" in x.diagnosis for x in dx), dx[0].message()
    flagged = {r.cases[x.id].pad for x in dx}
    assert flagged == {(0, 0)}, f"only pad = 0 should fail, got {flagged}"


def test_swapped_height_and_width_is_named() -> None:
    r = _check("bad_pool_hw_swapped.py", "pool")
    out = [x for x in _not_passed(r, "pool", "out") if "wrong shape" in x.diagnosis]
    assert out and all("height and width are swapped" in x.diagnosis for x in out), \
        out[0].message()


def test_a_wrong_output_size_is_not_called_swapped_or_empty() -> None:
    r = _check("bad_out_size.py", "conv")
    out = [x for x in _not_passed(r, "conv") if "wrong shape" in x.diagnosis]
    assert out, "bad_out_size gave no wrong shape"
    named = [x for x in out if "swapped" in x.diagnosis or "empty when" in x.diagnosis]
    assert not named, named[0].message()


def test_divisibility_assert_is_explained_against_pytorchs_floor() -> None:
    r = _check("bad_conv_assert_divisible.py", "conv")
    out = _not_passed(r, "conv", "out")
    assert out and all(x.status == "error" for x in out)
    assert all("PyTorch takes floor(" in x.diagnosis for x in out), out[0].message()
    other = _check("bad_crash_forward.py", "pool")  # an assert-free crash: no such words
    assert not [x for x in other.results if "PyTorch takes floor(" in x.diagnosis]


def test_notebook_error_names_the_cell_line_and_fix() -> None:
    r = check_submission(STUDENTS / "bad_numpy2_notebook.ipynb", layers=("relu",),
                         do_shrink=False, timeout=5.0)
    dx = _not_passed(r, "relu", "dx")
    assert dx, "the NumPy-2 removal in the notebook was not flagged"
    for x in dx:
        assert "bad_numpy2_notebook.ipynb, cell 4 line 7: n = np.product" in x.diagnosis, \
            x.message()
        assert "use np.prod" in x.diagnosis, x.message()
    assert not _not_passed(r, "relu", "out")


def test_functional_reproducer_runs_from_the_submissions_folder() -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    for name, output, says in (("bad_functional_dw_half.py", "dW", None),
                               ("bad_functional_db.py", "db", "expected shape (1,)")):
        r = check_submission(STUDENTS / name, layers=("conv",), do_shrink=True)
        assert not [w for w in r.warnings if "no reproducer" in w], r.warnings
        shrunk = [s for s in r.shrunk if s.output == output]
        assert shrunk, f"{name}: the wrong {output} was not shrunk"
        text = shrunk[0].reproducer
        run = subprocess.run([sys.executable, "-c", text], cwd=STUDENTS, env=env,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, f"the reproducer fails:\n{text}\n{run.stderr}"
        last = run.stdout.strip().splitlines()[-1]
        if says is None:
            assert float(last) > 1e-6, f"the reproducer shows no error: {last}"
        else:
            assert says in last, f"the reproducer hides the shape error: {last}"
