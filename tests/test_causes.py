"""Causes are named only where confirmed: a catalogue of single-bug students (both APIs, every
graded layer, tests/students/causes/), each labelled with its true cause, or "none" where no
check confirms one. Per layer: right causes, no cause, wrong causes; wrong must be 0. Correct
students with ties, zeros, overlapping windows and padding pass with no cause named."""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from layercheck.cases.case import Case
from layercheck.reference.diagnose import findings
from layercheck.reference.diagnosis import KIND, PATTERNS, TEMPLATES, Diagnosis, render
from layercheck.reference.expected import Expected
from layercheck.reference.result import Result
from layercheck.reports.grading.checker import check_submission

CAUSES = Path(__file__).parent / "students" / "causes"
BASES = ("book_base.py", "cs231n_base.py")


def _header(path: Path, key: str) -> list[str]:
    m = re.search(rf"^# {key}: (.*)$", path.read_text(), re.M)
    assert m, f"{path.name} has no '# {key}:' line"
    return m.group(1).replace(",", " ").split()


CATALOGUE = {p.name: (set(_header(p, "cause")) - {"none"}, _header(p, "layers"))
             for p in sorted(CAUSES.glob("*.py")) if p.name not in BASES}
BUGS = {n: v for n, v in CATALOGUE.items() if not n.startswith("good_")}
LAYERS = sorted({layer for _, layers in CATALOGUE.values() for layer in layers})


@cache
def _report(name: str, layers: tuple[str, ...]):
    return check_submission(CAUSES / name, layers=layers, do_shrink=False, timeout=5.0)


def _judge(name: str, layer: str) -> tuple[str, list[str], Counter]:
    """('right' | 'none' | 'wrong', the failure lines, the causes named) for one fixture at
    one layer."""
    label, _ = CATALOGUE[name]
    report = _report(name, (layer,))
    assert report.load_error is None, report.load_error
    bad = [r for r in report.results if r.layer == layer and not r.passed]
    named = Counter(c for r in bad for c in r.causes)
    if set(named) - label:
        return "wrong", [r.message() for r in bad if set(r.causes) - label][:3], named
    return ("right" if named else "none"), [r.message() for r in bad][:3], named


def test_catalogue_covers_both_apis_every_layer_with_forty_students() -> None:
    assert len(BUGS) >= 40, len(BUGS)
    apis = Counter(n.split("_")[0] for n in BUGS)
    assert apis["book"] >= 15 and apis["fun"] >= 15, apis
    core = {"conv", "pool", "avgpool", "affine", "relu", "softmax"}
    assert core <= set(LAYERS), core - set(LAYERS)
    unknown = {c for label, _ in CATALOGUE.values() for c in label if KIND.get(c) != "cause"}
    assert not unknown, f"labels that are not cause codes: {unknown}"
    fixtures = {
        "book_col2im_crop_origin.py", "book_col2im_axes_swapped.py", "book_col2im_assign.py",
        "book_im2col_one_sided_pad.py", "book_im2col_width_from_height.py",
        "book_conv_flipped_kernel.py"}
    assert fixtures <= set(BUGS)


@pytest.mark.parametrize("layer", LAYERS)
def test_no_wrong_cause_and_labelled_causes_named(layer: str) -> None:
    figures: Counter = Counter()
    problems = []
    for name, (label, layers) in CATALOGUE.items():
        if layer not in layers:
            continue
        verdict, lines, named = _judge(name, layer)
        report = _report(name, (layer,))
        failed = any(r.layer == layer and not r.passed for r in report.results)
        if name.startswith("good_"):
            if failed or named:
                problems.append(f"{name}: a correct student failed or was given {dict(named)}: "
                                f"{lines[:1]}")
            continue
        figures[verdict] += 1
        if not failed:
            problems.append(f"{name}: the bug was not caught at {layer}")
        elif verdict == "wrong":
            problems.append(f"{name}: WRONG cause {dict(named)} (true: {label}): {lines[:1]}")
        elif label and verdict != "right":
            problems.append(f"{name}: its cause {label} was not named: {lines[:1]}")
    print(f"\n{layer}: right {figures['right']}, none {figures['none']}, "
          f"wrong {figures['wrong']}")
    assert figures["wrong"] == 0 and not problems, "\n".join(problems)


@pytest.mark.parametrize("base", BASES)
def test_correct_bases_pass_every_layer_with_no_cause(base: str) -> None:
    layers = {"book_base.py": ("conv", "pool", "avgpool", "affine", "relu", "softmax",
                               "sigmoid", "batchnorm", "dropout"),
              "cs231n_base.py": ("conv", "pool", "affine", "relu", "softmax", "batchnorm",
                                 "spatialbn", "layernorm", "groupnorm", "invdropout", "svm")}
    report = check_submission(CAUSES / base, layers=layers[base], do_shrink=False)
    bad = [r.message() for r in report.results if not r.passed]
    assert not bad, bad[:3]
    assert not [r for r in report.results if r.causes]


# --- the record ----------------------------------------------------------------------------

def test_every_template_renders_from_empty_facts_without_raising() -> None:
    for code in TEMPLATES:
        if code in ("values", "raised", "shape", "scaled", "modified_in_place"):
            continue
        assert isinstance(Diagnosis(code).words(), str)


def test_unknown_code_or_pattern_is_refused() -> None:
    with pytest.raises(ValueError):
        Diagnosis("a guess")
    with pytest.raises(ValueError):
        Diagnosis("values", {}, pattern="somewhere")
    assert "everywhere" in PATTERNS


def test_result_carries_codes_and_words_from_the_same_data() -> None:
    values = Diagnosis("values", {"mismatched": 3, "size": 12, "worst_index": (0, 1),
                                  "got": 1.0, "expected": 2.0, "bound": 1e-15})
    res = Result("c", "pool", "backward", "dx", "fail").diagnose(
        [values, Diagnosis("tie_break", {"moved": True})])
    assert res.causes == ("tie_break",) and res.codes == ("values", "tie_break")
    assert res.diagnosis == render(res.diagnoses)
    assert res.diagnosis.startswith("3 of 12 elements (25.0%) exceed the error bound: ")
    assert res.diagnosis.endswith("worst at index (0, 1): got 1.0, expected 2.0 (bound 1e-15)")
    row = res.row()
    assert row["causes"] == "tie_break" and row["codes"] == "values tie_break"
    assert "diagnoses" not in row


def test_a_pattern_without_cause_names_where_not_why() -> None:
    values = Diagnosis("values", {"mismatched": 2, "size": 9, "channels": [1]},
                       pattern="some_channels")
    words = render([values])
    assert "only in channels [1]" in words and "no element to show" in words
    assert Result("c", "conv", "forward", "out", "fail", diagnoses=(values,)).causes == ()


def test_input_modified_in_place_leads_the_words() -> None:
    res = Result("c", "relu", "forward", "out", "fail").diagnose([Diagnosis("not_computed")])
    res.add(Diagnosis("modified_in_place", {"names": ["x"]}), first=True)
    assert res.diagnosis == "input modified in place: x. not computed"
    assert res.codes == ("modified_in_place", "not_computed")


def test_facts_stay_plain_json_values() -> None:
    want = np.arange(6.0).reshape(1, 1, 2, 3)
    got = want.copy()
    got[0, 0, 1, 2] += 1
    ds = findings(Case("relu", N=1, C=1, H=2, W=3), "out", got,
                  Expected("forward", want, np.full(want.shape, 1e-15)), got != want, None)
    json.dumps([d.to_json() for d in ds])
    assert ds[0].facts["worst_index"] == (0, 0, 1, 2)


GOOD = sorted(n for n in CATALOGUE if n.startswith("good_"))


@pytest.mark.parametrize("name", GOOD)
def test_correct_formula_passes_in_float32_too(name: str) -> None:
    """Every correct formula (one-pass variance, np.std, 1/sqrt, centring after, the tanh
    sigmoid, col2im by np.add.at) passes the float32 grid as well as the float64 one."""
    _, layers = CATALOGUE[name]
    report = check_submission(CAUSES / name, layers=tuple(layers), dtypes=("f32",),
                              do_shrink=False)
    bad = [r.message() for r in report.results if not r.passed]
    assert not bad, bad[:3]
