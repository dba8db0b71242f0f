"""A student's test-mode batch norm is judged on forward only (out and the unchanged running
statistics): neither the notes nor CS231n define backward after a test-mode forward. impl/'s
own conformance still judges dx, dgamma and dbeta against PyTorch's eval mode."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from layercheck import impl
from layercheck.cases import curricula
from layercheck.cases.adapters import convention_inputs
from layercheck.cases.case import Case
from layercheck.cases.inputs import make_inputs
from layercheck.reference.verdicts import check, module_runner
from layercheck.reports.grading.checker import check_submission, missing_results

STUDENTS = Path(__file__).parent / "students"
PROJECT = Path(__file__).resolve().parents[1]
GRADS = {"dx", "dgamma", "dbeta"}
TEST_MODE = Case("batchnorm", N=4, C=3, train=False)


def _fixture(name: str):
    spec = importlib.util.spec_from_file_location(name, STUDENTS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name,layers", [
    ("good_bn_book_testmode", ("batchnorm",)),
    ("good_bn_cs231n_testmode", ("batchnorm", "spatialbn")),
])
def test_student_batchnorm_without_test_mode_backward_passes(name: str,
                                                             layers: tuple) -> None:
    report = check_submission(STUDENTS / f"{name}.py", layers=layers, do_shrink=False)
    bad = [r.message() for r in report.results if not r.passed]
    assert report.exit_code() == 0, (f"{name} should pass (backward is not asked for after "
                                     f"a test-mode forward):\n" + "\n".join(bad[:5]))
    test_ids = {i for i, c in report.cases.items() if c.layer in layers and not c.train}
    assert test_ids, f"{name}: no test-mode case of {layers} was checked"
    judged = {(r.id, r.output) for r in report.results if r.id in test_ids}
    for case_id in test_ids:
        assert {(case_id, o) for o in ("out", "running_mean", "running_var")} <= judged, (
            f"{case_id}: a test-mode case must still judge out and the running statistics")
    assert not {o for _, o in judged} & GRADS, "no gradient is judged after test mode"


def test_the_book_fixture_really_cannot_run_backward_after_test_mode() -> None:
    """Guards the fixture above: were backward still called, it would raise."""
    mod = _fixture("good_bn_book_testmode")
    arrays = convention_inputs(TEST_MODE, make_inputs(TEST_MODE))
    run = curricula.run_class(mod, TEST_MODE, arrays, eval_backward=True)
    assert run.error_phase == "backward" and run.error, (
        "good_bn_book_testmode's backward should fail after a test-mode forward")
    student = curricula.run_class(mod, TEST_MODE, arrays)
    assert student.error is None and not GRADS & set(student.outputs), student.outputs


def test_impl_conformance_still_judges_gradients_in_eval_mode() -> None:
    results = {r.output: r for r in check(TEST_MODE, module_runner(impl))}
    assert GRADS <= set(results), f"impl/ eval-mode outputs judged: {sorted(results)}"
    assert all(results[o].passed for o in GRADS), [results[o].message() for o in GRADS]


def test_missing_layer_rows_name_no_gradient_for_a_test_mode_case() -> None:
    rows = missing_results(TEST_MODE, "BatchNormalization is not defined")
    assert [r.output for r in rows] == ["out", "running_mean", "running_var"]
    train = missing_results(Case("batchnorm", N=4, C=3), "not defined")
    assert GRADS <= {r.output for r in train}, "a training case still expects gradients"


def test_test_mode_update_is_flagged_and_its_reproducer_calls_no_backward() -> None:
    report = check_submission(STUDENTS / "bad_bn_test_update.py", layers=("batchnorm",))
    shrunk = [s for s in report.shrunk if s.output in ("running_mean", "running_var")]
    assert shrunk, f"the test-mode update was not shrunk: {report.warnings}"
    text = shrunk[0].reproducer
    assert "backward" not in text, f"a test-mode reproducer calls backward:\n{text}"
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    run = subprocess.run([sys.executable, "-c", text], cwd=STUDENTS, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"the reproducer fails:\n{text}\n{run.stderr}"
    assert float(run.stdout.strip().splitlines()[-1]) > 1e-6, "the reproducer shows no error"


def test_a_missing_backward_alt_skips_the_alternative_pair_instead_of_failing_it(tmp_path):
    """CS231n's batchnorm_backward_alt is optional: without it, batchnorm_forward alone must
    not make the '(fast)' pair run and fail with 'batchnorm_backward_alt is not defined'."""
    src = (STUDENTS / "good_bn_cs231n_testmode.py").read_text()
    cut = src.replace("def batchnorm_backward_alt(dout, cache):\n"
                      "    return batchnorm_backward(dout, cache)\n", "")
    assert cut != src, "fixture changed: it no longer defines batchnorm_backward_alt"
    path = tmp_path / "layers.py"
    path.write_text(cut)
    report = check_submission(path, layers=("batchnorm",), do_shrink=False)
    bad = [(r.id, r.output, r.diagnosis) for r in report.results if not r.passed]
    assert report.exit_code() == 0, f"exit {report.exit_code()}: {bad[:3]}"
    assert not any(r.variant for r in report.results)
