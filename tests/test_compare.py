"""The comparison itself: correct results in any summation order pass, wrong ones fail."""

from __future__ import annotations

import numpy as np
from layercheck.cases.case import Case
from layercheck.cases.inputs import make_inputs
from layercheck.reference.compare import compare
from layercheck.reference.diagnosis import render
from layercheck.reference.oracle import reference

AFFINE32 = Case("affine", N=3, C=8, H=6, W=6, F=5, dtype="f32")
AFFINE64 = Case("affine", N=3, C=8, H=6, W=6, F=5, dtype="f64")
POOL = Case("pool", N=2, C=3, H=7, W=6, kernel=(3, 3), stride=(2, 2), pad=(1, 1))


def _truth(case: Case):
    arrays = make_inputs(case)
    return arrays, reference(case, arrays)


def _affine_sequential(x: np.ndarray, W: np.ndarray, b: np.ndarray, reverse: bool) -> np.ndarray:
    """x @ W + b summed term by term in the inputs' dtype, in the given order."""
    x = x.reshape(len(x), -1)
    out = b[None, :].repeat(len(x), axis=0)
    order = range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])
    for d in order:
        out = out + x[:, d, None] * W[d]
    return out


def test_correct_float32_result_passes_in_either_summation_order() -> None:
    a, truth = _truth(AFFINE32)
    for reverse in (False, True):
        y = _affine_sequential(a["x"], a["W"], a["b"], reverse)
        assert y.dtype == np.float32
        res = compare(AFFINE32, "out", y, truth["out"])
        assert res.passed, res.message()
        assert res.err_over_bound < 0.5, res.message()


def test_correct_float64_result_passes_in_reverse_order() -> None:
    a, truth = _truth(AFFINE64)
    res = compare(AFFINE64, "out", _affine_sequential(a["x"], a["W"], a["b"], True),
                  truth["out"])
    assert res.passed, res.message()


def test_float32_arithmetic_on_float64_inputs_fails_by_orders_of_magnitude() -> None:
    a, truth = _truth(AFFINE64)
    f32 = {k: a[k].astype(np.float32) for k in ("x", "W", "b")}
    y = (f32["x"].reshape(3, -1) @ f32["W"] + f32["b"]).astype(np.float64)
    res = compare(AFFINE64, "out", y, truth["out"], a)
    assert res.status == "fail"
    assert res.err_over_bound > 1e3, res.message()
    assert "float32" in res.diagnosis


def test_max_pool_one_ulp_off_fails() -> None:
    a, truth = _truth(POOL)
    y = truth["out"].value.copy()
    y[1, 2, 0, 1] = np.nextafter(y[1, 2, 0, 1], np.inf)
    res = compare(POOL, "out", y, truth["out"], a)
    assert res.status == "fail" and res.mismatched == 1
    assert res.worst_index == (1, 2, 0, 1)
    exact = compare(POOL, "out", truth["out"].value.copy(), truth["out"], a)
    assert exact.passed and exact.err_over_bound == 0


def test_wrong_shape_fails_with_the_formula() -> None:
    a, truth = _truth(POOL)
    res = compare(POOL, "out", np.zeros((2, 3, 3, 3)), truth["out"], a)
    assert res.status == "fail"
    assert "wrong shape" in res.diagnosis and "floor(" in res.diagnosis
    assert str(truth["out"].value.shape) in res.diagnosis


def test_wrong_dtype_fails() -> None:
    a, truth = _truth(AFFINE32)
    y = truth["out"].value  # right values, float64 instead of float32
    res = compare(AFFINE32, "out", y, truth["out"], a)
    assert res.status == "fail" and "wrong dtype" in res.diagnosis


def test_ndarray_subclass_and_non_arrays_are_rejected() -> None:
    a, truth = _truth(AFFINE64)
    y = truth["out"].value
    for bad, says in ((y.view(np.recarray), "recarray"), (y.tolist(), "builtins.list"),
                      (None, "returned None")):
        res = compare(AFFINE64, "out", bad, truth["out"], a)
        assert res.status == "fail" and says in res.diagnosis, res.diagnosis


def test_nan_where_truth_is_finite_fails() -> None:
    a, truth = _truth(AFFINE64)
    y = truth["out"].value.copy()
    y[0, 0] = np.nan
    res = compare(AFFINE64, "out", y, truth["out"], a)
    assert res.status == "fail" and "non-finite" in res.diagnosis


def test_max_pool_nan_output_matches_nan_truth() -> None:
    case = Case("pool", N=1, C=2, H=6, W=6, kernel=(2, 2), stride=(2, 2), kind="nan")
    a, truth = _truth(case)
    assert np.isnan(truth["out"].value).any()
    assert compare(case, "out", truth["out"].value.copy(), truth["out"], a).passed


def test_failures_carry_their_findings_as_codes_and_the_words_render_them() -> None:
    arrays, truth = _truth(AFFINE64)
    exp = truth["out"]
    wrong_shape = compare(AFFINE64, "out", exp.value[:, :2].copy(), exp, arrays)
    wrong_dtype = compare(AFFINE64, "out", exp.value.astype(np.float32), exp, arrays)
    none = compare(AFFINE64, "out", None, exp, arrays)
    no_bias = compare(AFFINE64, "out", exp.value - arrays["b"][None, :], exp, arrays)
    assert wrong_shape.codes == ("shape",) and wrong_shape.diagnoses[0].facts["got"] == (3, 2)
    assert wrong_dtype.codes == ("dtype",) and none.codes == ("returned_none",)
    assert no_bias.codes == ("values", "bias_missing") and no_bias.causes == ("bias_missing",)
    for res in (wrong_shape, wrong_dtype, none, no_bias):
        assert res.diagnosis and res.diagnosis == render(res.diagnoses)
        assert res.row()["codes"] == " ".join(res.codes)


def test_an_unrecognised_difference_names_no_cause_only_where() -> None:
    arrays, truth = _truth(POOL)
    exp = truth["out"]
    got = exp.value.copy()
    got[:, 1] += 0.5  # one channel off, for no known reason
    res = compare(POOL, "out", got, exp, arrays)
    assert res.status == "fail" and res.causes == ()
    assert res.diagnoses[0].pattern == "some_channels"
    assert res.diagnoses[0].facts["channels"] == [1]
