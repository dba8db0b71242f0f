"""The truth cache: a warm check never imports torch; cached truths equal computed ones; a
damaged entry costs a recomputation, never a verdict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from layercheck.cases.case import Case
from layercheck.cases.inputs import make_inputs
from layercheck.reference import truth_cache as truths

STUDENTS = Path(__file__).parent / "students"
ROOT = Path(__file__).parent.parent

PROBE = """
import json, sys
from layercheck.reports.grading.checker import check_submission
from layercheck.reference import truth_cache as truths
r = check_submission(sys.argv[1], layers=("relu", "affine"), do_shrink=False)
print(json.dumps({"exit": r.exit_code(), "stats": truths.stats(),
                  "torch": "torch" in sys.modules}))
"""


def _probe(cache: Path) -> dict:
    env = {**os.environ, "LAYERCHECK_CACHE": str(cache)}
    r = subprocess.run([sys.executable, "-c", PROBE, str(STUDENTS / "good_loops.py")],
                       env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_second_check_reads_every_truth_from_disk_and_never_imports_torch(tmp_path) -> None:
    cold = _probe(tmp_path)
    assert cold["exit"] == 0 and cold["stats"]["miss"] > 0 and cold["torch"]
    warm = _probe(tmp_path)
    assert warm["exit"] == 0
    assert warm["stats"]["miss"] == 0 and warm["stats"]["hit"] == cold["stats"]["miss"]
    assert warm["torch"] is False, "a warm check must not import torch"


CASES = [Case("conv", 2, 3, 7, 5, 4, (3, 3), (2, 2), (1, 1)),
         Case("pool", 1, 2, 6, 9, 1, (2, 2), (2, 2), (0, 0), kind="ties"),
         Case("softmax", N=2, C=10)]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_a_cached_truth_equals_the_computed_one(tmp_path, monkeypatch, case: Case) -> None:
    monkeypatch.setenv("LAYERCHECK_CACHE", str(tmp_path))
    monkeypatch.setattr(truths, "_memory", {})
    arrays = make_inputs(case)
    fresh = truths.compute(case, arrays)
    truths.truth(case, arrays)  # computed and stored
    monkeypatch.setattr(truths, "_memory", {})
    stored = truths.truth(case, arrays)  # read back from disk
    assert set(stored) == set(fresh)
    for name, exp in fresh.items():
        assert stored[name].phase == exp.phase
        np.testing.assert_array_equal(stored[name].value, exp.value)
        np.testing.assert_array_equal(stored[name].bound, exp.bound)


def test_a_damaged_entry_is_recomputed_and_other_arrays_get_their_own_entry(
        tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LAYERCHECK_CACHE", str(tmp_path))
    monkeypatch.setattr(truths, "_memory", {})
    case = CASES[0]
    arrays = make_inputs(case)
    truths.truth(case, arrays)
    entries = list(tmp_path.rglob("*.npz"))
    assert len(entries) == 1
    entries[0].write_bytes(b"not a zip at all")
    monkeypatch.setattr(truths, "_memory", {})
    again = truths.truth(case, arrays)
    np.testing.assert_array_equal(again["out"].value, truths.compute(case, arrays)["out"].value)
    other = {**arrays, "x": arrays["x"] * 2}
    truths.truth(case, other)
    assert len(list(tmp_path.rglob("*.npz"))) == 2, "other inputs must not reuse the entry"


def test_cache_off_keeps_truths_in_memory_only(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LAYERCHECK_CACHE", "off")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(truths, "_memory", {})
    assert truths.cache_root() is None
    truths.truth(CASES[2], make_inputs(CASES[2]))
    assert not list(tmp_path.rglob("*.npz"))
