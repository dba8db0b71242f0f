"""The catalogue of students' optimizers (tests/students/optim/): correct files pass every
case of their API; each single-bug file is flagged at the right step, parameter and value,
with its cause named."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from layercheck.cases import optim_cases as oc
from layercheck.reference import optim_judge as oj

FOLDER = Path(__file__).parent / "students" / "optim"

CORRECT = {
    "good_book_optimizers.py": "book",
    "good_book_other_forms.py": "book",
    "good_cs231n_optim.py": "cs231n",
    "good_cs231n_other_forms.py": "cs231n",
}

# file: (rule, api, dtype, kind, step, output, words of the diagnosis); the first failure is
# judged on W1 (the first parameter), except where `output` names a config entry.
WRONG = {
    "bad_book_sgd_ascent.py": ("sgd", "book", "f32", "normal", 1, "param", "gradient ascent"),
    "bad_book_sgd_rebinds.py": ("sgd", "book", "f64", "normal", 1, "param",
                                "instead of updating them in place"),
    "bad_book_sgd_returns.py": ("sgd", "book", "f64", "normal", 1, "param",
                                "returned a dict and left params unchanged"),
    "bad_book_momentum_sign.py": ("momentum", "book", "f32", "normal", 1, "param",
                                  "gradient ascent"),
    "bad_book_momentum_lr_twice.py": ("momentum", "book", "f32", "normal", 1, "param",
                                      "learning rate twice"),
    "bad_book_momentum_no_state.py": ("momentum", "book", "f64", "normal", 2, "param",
                                      "does not keep its state"),
    "bad_book_nesterov_old_v.py": ("nesterov", "book", "f32", "normal", 1, "param",
                                   "with the old v"),
    "bad_book_adagrad_eps_inside.py": ("adagrad", "book", "f32", "small", 1, "param",
                                       "inside the square root"),
    "bad_book_adagrad_no_eps.py": ("adagrad", "book", "f32", "sparse", 1, "param",
                                   "leaves eps out"),
    "bad_book_rmsprop_decay_swapped.py": ("rmsprop", "book", "f32", "normal", 1, "param",
                                          "swaps decay_rate"),
    "bad_book_rmsprop_no_sqrt.py": ("rmsprop", "book", "f64", "normal", 1, "param",
                                    "without the square root"),
    "bad_book_adam_torch_eps.py": ("adam", "book", "f32", "small", 1, "param",
                                   "bias-corrected sqrt(v_hat)"),
    "bad_book_adam_no_bias_correction.py": ("adam", "book", "f32", "normal", 1, "param",
                                            "leaves out the bias corrections"),
    "bad_book_adam_t_frozen.py": ("adam", "book", "f64", "normal", 2, "param",
                                  "does not increment t"),
    "bad_book_adam_iter_zero.py": ("adam", "book", "f64", "normal", 1, "param",
                                   "t must be incremented before it is used"),
    "bad_cs231n_sgd_unchanged.py": ("sgd", "cs231n", "f64", "normal", 1, "param",
                                    "update is not applied"),
    "bad_cs231n_momentum_not_stored.py": ("momentum", "cs231n", "f64", "normal", 1,
                                          "velocity", "must be kept in config"),
    "bad_cs231n_momentum_float64.py": ("momentum", "cs231n", "f32", "normal", 1, "param",
                                       "dtype float64, expected float32"),
    "bad_cs231n_rmsprop_eps_inside.py": ("rmsprop", "cs231n", "f32", "small", 1, "param",
                                         "inside the square root"),
    "bad_cs231n_adam_t_after.py": ("adam", "cs231n", "f32", "normal", 1, "param",
                                   "t must be incremented before it is used"),
    "bad_cs231n_adam_no_bias_correction.py": ("adam", "cs231n", "f64", "small", 1, "param",
                                              "leaves out the bias corrections"),
    "bad_cs231n_adam_book_eps.py": ("adam", "cs231n", "f32", "small", 1, "param",
                                    "uncorrected sqrt(v)"),
    "bad_cs231n_adam_betas_swapped.py": ("adam", "cs231n", "f32", "normal", 1, "param",
                                         "swaps beta"),
    "bad_cs231n_adam_state_reset.py": ("adam", "cs231n", "f32", "normal", 2, "param",
                                       "does not keep its state"),
}


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"optim_student_{name[:-3]}", FOLDER / name)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _first(mod: ModuleType, case: oc.OptimCase) -> oj.StepVerdict | None:
    inputs = oc.make_inputs(case)
    return oj.first_failure(oj.judge(case, inputs, oc.run(mod, case, inputs)))


def test_catalogue_lists_every_file_and_each_is_labelled() -> None:
    files = {p.name for p in FOLDER.glob("*.py")}
    assert files == set(CORRECT) | set(WRONG)
    for name in files:
        doc = ast.get_docstring(ast.parse((FOLDER / name).read_text()))
        assert doc and doc.startswith("Correct" if name in CORRECT else "Wrong"), name


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_student_passes_every_case_of_its_api(name: str) -> None:
    mod, api = _load(name), CORRECT[name]
    cases = [c for c in oc.grid() if c.api == api] + [oc.OptimCase(r, api, 3, 6)
                                                      for r in oc.DEFAULTS[api]]
    bad = [f"{c.id}: {v.where}: {v.diagnosis}" for c in cases if (v := _first(mod, c))]
    assert not bad, bad[:3]


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_student_is_flagged_where_and_why(name: str) -> None:
    rule, api, dtype, kind, step, output, words = WRONG[name]
    v = _first(_load(name), oc.OptimCase(rule, api, 2, 4, dtype, kind))
    assert v is not None, "not flagged"
    assert (v.status, v.step, v.param, v.output) == ("fail", step, "W1", output), v
    assert words in v.diagnosis, v.diagnosis
    # values were compared (not a missing entry or a dtype refused before comparing)
    assert v.mismatched or output != "param" or "dtype" in words


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_student_is_flagged_on_its_rule_in_the_grid(name: str) -> None:
    rule, api = WRONG[name][:2]
    mod = _load(name)
    flagged = [c for c in oc.grid() if c.api == api and c.rule == rule and _first(mod, c)]
    assert flagged


# The cause code each single-bug file is grouped under (reference/diagnosis.py)
CODES = {
    "bad_book_sgd_ascent.py": "gradient_ascent", "bad_book_sgd_rebinds.py": "params_rebound",
    "bad_book_sgd_returns.py": "update_returned", "bad_book_momentum_sign.py": "gradient_ascent",
    "bad_book_momentum_lr_twice.py": "lr_twice",
    "bad_book_momentum_no_state.py": "state_not_kept",
    "bad_book_nesterov_old_v.py": "nesterov_old_v",
    "bad_book_adagrad_eps_inside.py": "eps_placement",
    "bad_book_adagrad_no_eps.py": "eps_missing",
    "bad_book_rmsprop_decay_swapped.py": "decay_swapped",
    "bad_book_rmsprop_no_sqrt.py": "sqrt_missing",
    "bad_book_adam_torch_eps.py": "eps_placement",
    "bad_book_adam_no_bias_correction.py": "bias_correction_missing",
    "bad_book_adam_t_frozen.py": "t_not_incremented",
    "bad_book_adam_iter_zero.py": "bias_correction_zero",
    "bad_cs231n_sgd_unchanged.py": "update_not_applied",
    "bad_cs231n_rmsprop_eps_inside.py": "eps_placement",
    "bad_cs231n_adam_t_after.py": "bias_correction_zero",
    "bad_cs231n_adam_no_bias_correction.py": "bias_correction_missing",
    "bad_cs231n_adam_book_eps.py": "eps_placement",
}


@pytest.mark.parametrize("name", sorted(CODES))
def test_wrong_student_carries_its_cause_as_a_code(name: str) -> None:
    rule, api, dtype, kind, *_ = WRONG[name]
    v = _first(_load(name), oc.OptimCase(rule, api, 2, 4, dtype, kind))
    assert v is not None
    causes = [d.code for d in v.diagnoses if d.is_cause]
    assert causes == [CODES[name]], v.diagnoses
    assert v.result(oc.OptimCase(rule, api, 2, 4, dtype, kind)).causes == (CODES[name],)


def test_a_missing_state_entry_is_a_fact_with_its_words() -> None:
    v = _first(_load("bad_cs231n_momentum_not_stored.py"),
               oc.OptimCase("momentum", "cs231n", 2, 4))
    assert v is not None and v.diagnoses[0].code == "state_missing"
    assert not v.diagnoses[0].is_cause
