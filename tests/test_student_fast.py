"""The functional API's *_fast variants are checked too, as separate implementations of the
same layers: Result.variant 'fast' (the case id unchanged), diagnoses naming the function,
their own pattern lines."""

from __future__ import annotations

import shutil
from pathlib import Path

from layercheck.reports.grading.checker import check_submission

STUDENTS = Path(__file__).parent / "students"


def test_fast_variants_run_every_case_of_their_layer_beside_the_naive_ones() -> None:
    r = check_submission(STUDENTS / "good_functional_fast.py", layers=("conv", "pool", "relu"),
                         do_shrink=False)
    fast = {(x.id, x.output) for x in r.results if x.variant == "fast"}
    naive = {(x.id, x.output) for x in r.results if x.layer in ("conv", "pool")
             and not x.variant}
    assert naive and fast == naive
    assert not any(x.variant for x in r.results if x.layer == "relu")
    assert all(x.passed for x in r.results) and r.exit_code() == 0
    assert {c["layer"] for c in r.to_json()["cases"]} == {"conv", "pool", "relu"}


def test_a_wrong_fast_variant_is_flagged_while_the_naive_one_passes(tmp_path) -> None:
    for name in ("good_functional.py", "good_functional_fast.py"):
        shutil.copy(STUDENTS / name, tmp_path / name)
    (tmp_path / "student.py").write_text(
        "from good_functional_fast import *\n"
        "from good_functional_fast import max_pool_backward_fast as _bwd\n\n\n"
        "def max_pool_backward_fast(dout, cache):\n"
        "    return _bwd(dout, cache) * 2\n")
    r = check_submission(tmp_path / "student.py", layers=("pool",), do_shrink=False)
    naive = [x for x in r.results if not x.variant]
    fast = [x for x in r.results if x.variant == "fast"]
    assert naive and all(x.passed for x in naive)
    bad = [x for x in fast if not x.passed]
    assert bad and all(x.output == "dx" and "[max_pool_backward_fast]" in x.diagnosis
                       for x in bad)
    assert any(p.startswith("pool (fast) dx: fails in every case") for p in r.patterns)
    assert not any(p.startswith("pool dx") for p in r.patterns)
    assert r.exit_code() == 1
