"""Meta-test: the checker passes correct student files and flags every wrong one at the
layer and phase where it is wrong, with the right diagnosis (tests/students/)."""

from __future__ import annotations

from pathlib import Path

import pytest
from layercheck.reports.grading.checker import check_submission

STUDENTS = Path(__file__).parent / "students"

CORRECT = {  # file: (layers, dtypes)
    "good_im2col.py": (None, ("f64", "f32")),
    # no AvgPooling: graded on the layers it has (missing graded layers fail, exit 1)
    "good_loops.py": (("conv", "pool", "affine", "relu", "softmax"), ("f64",)),
    "good_windows.py": (None, ("f64", "f32")),
    "good_functional.py": (None, ("f64", "f32")),
    "good_functional_fast.py": (("conv", "pool"), ("f64", "f32")),
    "good_extras.py": (("conv", "pool"), ("f64",)),
}

# file: (layers checked, layer, phase, words the diagnosis must contain, status)
WRONG = {
    "bad_pool_zero_pad.py": ("pool", "pool", "forward", "padding counted as zero", "fail"),
    "bad_pool_tie_last.py": ("pool", "pool", "backward", "tie-breaking", "fail"),
    "bad_col2im_assign.py": ("conv", "conv", "backward", "accumulated", "fail"),
    "bad_out_size.py": ("conv", "conv", "forward", "wrong shape", "fail"),
    "bad_bias_axis.py": ("conv", "conv", "forward", "bias", None),
    "bad_dw_no_transpose.py": ("conv", "conv", "backward", "without transposing back", "fail"),
    "bad_db_batch.py": ("affine", "affine", "backward", "batch axis", "fail"),
    "bad_float32.py": ("conv", "conv", "forward", "float32", "fail"),
    "bad_inplace.py": ("relu", "relu", "forward", "modified in place: x", "fail"),
    "bad_softmax_nomax.py": ("softmax", "softmax", "forward", "maximum before exp", "fail"),
    "bad_softmax_eps.py": ("softmax", "softmax", "forward", "epsilon", "fail"),
    "bad_relu_grad0.py": ("relu", "relu", "backward", "x == 0", "fail"),
    "bad_affine_flat_dx.py": ("affine", "affine", "backward", "reshape", "fail"),
    "bad_hang.py": ("conv,relu", "conv", "forward", "timed out in forward after", "timeout"),
    "bad_crash_forward.py": ("pool", "pool", "forward", "NotImplementedError", "error"),
    "bad_tamper.py": ("conv,relu", "conv", "forward", "all zeros", "fail"),
    "bad_functional_db.py": ("conv", "conv", "backward", "sum dout over axes", "fail"),
    "bad_ceil_ignored.py": ("pool", "pool", "forward", "ceil with ceil_mode", "fail"),
}


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_student_passes_everything(name: str) -> None:
    layers, dtypes = CORRECT[name]
    r = check_submission(STUDENTS / name, layers=layers, dtypes=dtypes, do_shrink=False)
    bad = [x.message() for x in r.results if x.status not in ("pass", "missing")]
    assert not bad, "\n".join(bad[:5])
    assert r.summary()["pass"] > 0 and not r.policy
    assert r.exit_code() == 0


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_student_is_flagged_where_it_is_wrong(name: str) -> None:
    layers, layer, phase, words, status = WRONG[name]
    r = check_submission(STUDENTS / name, layers=tuple(layers.split(",")), do_shrink=False,
                         timeout=2.0)
    assert r.exit_code() == 1
    flagged = [x for x in r.results if x.layer == layer and x.phase == phase and not x.passed]
    assert flagged, f"nothing flagged at {layer} {phase}"
    hits = [x for x in flagged if words in x.diagnosis and (status is None or
                                                            x.status == status)]
    assert hits, f"no {layer} {phase} diagnosis says {words!r}: {flagged[0].message()}"


def test_hanging_student_is_cut_short_and_other_layers_still_run() -> None:
    r = check_submission(STUDENTS / "bad_hang.py", layers=("conv", "relu"), do_shrink=False,
                         timeout=1.0)
    conv = [x for x in r.results if x.layer == "conv"]
    relu = [x for x in r.results if x.layer == "relu"]
    assert conv and all(x.status == "timeout" for x in conv)
    assert relu and all(x.passed for x in relu)
    assert r.seconds < 30


def test_tampering_cannot_hide_an_input_modified_in_place() -> None:
    r = check_submission(STUDENTS / "bad_tamper.py", layers=("relu",), do_shrink=False)
    assert all("input modified in place: x" in x.diagnosis for x in r.results)
    assert not Path("results.json").exists()


def test_importing_torch_is_a_policy_violation_unless_allowed() -> None:
    r = check_submission(STUDENTS / "bad_torch.py", layers=("conv",), do_shrink=False)
    assert [p["rule"] for p in r.policy] == ["no-framework"] and r.exit_code() == 2
    assert "No module named 'torch'" in r.load_error  # torch is not mounted in the sandbox
    r = check_submission(STUDENTS / "bad_torch.py", layers=("conv",), do_shrink=False,
                         allow_torch=True)
    assert not r.policy and r.exit_code() == 0


def test_crash_at_import_cannot_be_loaded() -> None:
    r = check_submission(STUDENTS / "bad_crash_import.py")
    assert r.exit_code() == 2
    assert "RuntimeError: unfinished homework" in r.load_error
    lines = (STUDENTS / "bad_crash_import.py").read_text().splitlines()
    line = next(i for i, ln in enumerate(lines, 1) if ln.startswith("raise"))
    assert f"bad_crash_import.py line {line}" in r.load_error


def test_a_hang_in_backward_is_told_apart_and_forward_is_still_judged() -> None:
    r = check_submission(STUDENTS / "bad_hang_backward.py", layers=("relu",), do_shrink=False,
                         timeout=1.0)
    dx = [x for x in r.results if x.output == "dx"]
    assert dx and all(x.status == "timeout" for x in dx)
    hung = [x for x in dx if "timed out in backward after 1 s" in x.diagnosis]
    assert len(hung) == 3  # then the layer's remaining cases are not run
    out = {x.id: x for x in r.results if x.output == "out"}
    assert all(out[x.id].passed for x in hung)
    assert r.exit_code() == 1


def test_extras_are_checked_only_where_the_class_accepts_them() -> None:
    r = check_submission(STUDENTS / "good_extras.py", layers=("conv", "pool"), do_shrink=False)
    ids = {x.id for x in r.results}
    assert any("-d2" in i and i.startswith("conv") for i in ids)
    assert any("-g2" in i for i in ids) and any("-ceil" in i for i in ids)
    plain = check_submission(STUDENTS / "good_im2col.py", layers=("conv", "pool"),
                             do_shrink=False)
    assert not any(("-d2" in x.id or "-ceil" in x.id or "-g2" in x.id) for x in plain.results)


def test_pytest_impl_runs_extras_only_for_classes_that_take_them() -> None:
    from layercheck.cases.case import Case
    from layercheck.reports.grading.checker import StudentSession

    dilated = Case("conv", C=2, F=4, H=7, W=6, kernel=(3, 3), dilation=(2, 2))
    for name, runs in (("good_extras.py", True), ("good_im2col.py", False)):
        session = StudentSession(STUDENTS / name)
        try:
            why = session.skip_reason(dilated)
            assert (why is None) == runs, f"{name}: {why}"
            if runs:
                assert all(r.passed for r in session.results(dilated).values())
            else:
                assert "dilation" in why
        finally:
            session.close()
