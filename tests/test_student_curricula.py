"""Meta-tests for the curricula layers' student check (issue 13): the good fixtures pass in
both APIs, and every mutant is flagged at the right layer and output, with its diagnosis."""

from __future__ import annotations

from pathlib import Path

import pytest
from layercheck.reports.grading.checker import check_submission

STUDENTS = Path(__file__).parent / "students"

# mutant -> (layer, output that must fail with the words, words in its diagnosis)
MUTANTS = {
    "bad_bn_unbiased": ("batchnorm", "out", "unbiased variance"),
    "bad_bn_eps_outside": ("batchnorm", "out", "eps is added outside the square root"),
    "bad_bn_running_frozen": ("batchnorm", "running_mean", "not updated in training"),
    "bad_bn_test_update": ("batchnorm", "running_var", "changed in test mode"),
    "bad_spatialbn_per_feature": ("spatialbn", "out", "per feature (c, h, w) instead of per "
                                                      "channel"),
    "bad_gn_wrong_axis": ("groupnorm", "out", "groups split along the wrong axis"),
    "bad_dropout_no_rescale": ("invdropout", "out", "not rescaled"),
    "bad_dropout_wrong_factor": ("invdropout", "out", "scaled by 1/(1 - p)"),
    "bad_dropout_redraw": ("dropout", "dx", "different mask from forward's"),
    "bad_svm_counts_correct": ("svm", "loss", "margin of the correct class is counted"),
}
# outputs a mutant must leave passing (its mistake is elsewhere)
UNTOUCHED = {
    "bad_bn_running_frozen": ("out", "dx", "dgamma", "dbeta"),
    "bad_bn_test_update": ("out", "dx", "dgamma", "dbeta"),
    "bad_dropout_redraw": ("out", "keep"),
    "bad_dropout_no_rescale": ("keep",),
    "bad_svm_counts_correct": ("dx",),
}


@pytest.mark.parametrize("name,api,layers", [
    ("good_curricula_book", "class", {"sigmoid", "batchnorm", "dropout"}),
    ("good_curricula_cs231n", "functional",
     {"batchnorm", "spatialbn", "layernorm", "groupnorm", "invdropout", "svm"}),
])
def test_good_curricula_students_pass_every_checked_case(name: str, api: str,
                                                         layers: set[str]) -> None:
    # the curricula's layers are graded only where configured (--layers), never by default
    report = check_submission(STUDENTS / f"{name}.py", layers=tuple(sorted(layers)),
                              do_shrink=False)
    assert report.api == api, report.load_error or report.grader_error
    checked = {r.layer for r in report.results if r.status != "missing"}
    assert checked == layers, f"{name}: expected the curricula layers {layers} checked"
    bad = [r.message() for r in report.results if r.layer in layers and not r.passed]
    assert not bad, f"{name} should pass:\n" + "\n".join(bad[:5])


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_flagged_at_its_layer_and_output(name: str) -> None:
    layer, output, words = MUTANTS[name]
    report = check_submission(STUDENTS / f"{name}.py", layers=(layer,), do_shrink=False)
    assert report.grader_error is None and report.load_error is None, (
        report.grader_error or report.load_error)
    mine = [r for r in report.results if r.layer == layer]
    assert mine, f"{name}: layer {layer} was not checked"
    failing = [r for r in mine if r.output == output and r.status == "fail"]
    assert failing, f"{name}: no {layer} {output} failure; statuses: " + ", ".join(
        sorted({f'{r.output}:{r.status}' for r in mine}))
    assert any(words in r.diagnosis for r in failing), (
        f"{name}: the {layer} {output} diagnosis should say {words!r}; got: "
        f"{failing[0].diagnosis}")
    for out in UNTOUCHED.get(name, ()):
        wrong = [r.message() for r in mine if r.output == out and not r.passed]
        assert not wrong, f"{name}: {out} should pass (the mistake is elsewhere): {wrong[0]}"
