"""The grids and the Case record: ids, seeds, coverage, and agreement with PyTorch."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
from layercheck.cases.case import DROPOUT_LAYERS, LAYERS, Case
from layercheck.cases.grids import (
    BATCH,
    CHANNELS,
    DTYPES,
    FILTERS,
    KERNELS,
    PADS,
    PAIRWISE,
    STRIDES,
    grid,
)
from layercheck.cases.inputs import make_inputs, output_shape, rejection
from layercheck.cases.pairwise import all_pairs
from layercheck.reference.oracle import Rejected, reference

QUICK = grid("quick")


def test_id_is_readable_and_names_every_setting() -> None:
    case = Case("conv", N=2, C=3, H=6, W=7, F=4, kernel=(3, 3), stride=(2, 2), pad=(1, 1))
    assert case.id == "conv-N2-C3-H6W7-F4-k3-s2-p1-f64-normal"
    odd = Case("pool", kernel=(2, 3), stride=(1, 2), pad=(0, 1), dtype="f32", kind="ties",
               ceil_mode=True, batched=False)
    assert odd.id == "pool-N2-C3-H5W5-k2x3-s1x2-p0x1-ceil-unbatched-f32-ties"


def test_quick_grid_ids_are_unique() -> None:
    assert len({c.id for c in QUICK}) == len(QUICK)


def test_quick_grid_has_at_least_1000_cases_and_every_value() -> None:
    assert len(QUICK) >= 1000
    windowed = [c for c in QUICK if c.layer in ("conv", "pool", "avgpool")]
    assert {c.N for c in windowed} >= set(BATCH)
    assert {c.C for c in windowed} >= set(CHANNELS)
    assert {c.F for c in QUICK if c.layer == "conv"} >= set(FILTERS)
    assert {c.kernel for c in windowed} >= set(KERNELS)
    assert {c.stride[0] for c in windowed} >= set(STRIDES)
    assert {c.pad[0] for c in windowed} >= set(PADS)
    assert {c.dtype for c in QUICK} == set(DTYPES)
    assert {c.kind for c in QUICK if c.layer == "pool"} >= {"normal", "ties", "negative"}
    assert any(c.H != c.W for c in windowed) and any(c.W % 2 for c in windowed)
    assert {c.layer for c in QUICK} == set(LAYERS)
    assert any(rejection(c) for c in QUICK), "the quick grid must hold error cases"


def test_pairwise_grid_covers_every_pair_of_values() -> None:
    for layer, dims in PAIRWISE.items():
        rows = all_pairs(dims)
        for a, b in itertools.combinations(dims, 2):
            seen = {(repr(r[a]), repr(r[b])) for r in rows}
            want = {(repr(x), repr(y)) for x in dims[a] for y in dims[b]}
            assert want <= seen, f"{layer}: pairs of {a} and {b} missing: {want - seen}"
        full = 1
        for values in dims.values():
            full *= len(values)
        assert len(rows) < full / 100, f"{layer}: {len(rows)} rows is not a covering array"


def test_pairwise_grid_uses_every_new_parameter() -> None:
    cases = grid("pairwise")
    conv = [c for c in cases if c.layer == "conv"]
    assert {c.pad for c in conv} >= {"same", "valid", (2, 1)}
    assert any(c.groups == c.C > 1 for c in conv) and any(1 < c.groups < c.C for c in conv)
    assert any(c.dilation == (2, 2) for c in conv) and not all(c.bias for c in conv)
    assert any(c.ceil_mode for c in cases if c.layer == "pool")
    avg = [c for c in cases if c.layer == "avgpool"]
    assert any(c.divisor_override for c in avg) and any(not c.count_include_pad for c in avg)
    assert any(not c.batched for c in cases) and any(c.stride[0] != c.stride[1] for c in cases)


def test_same_id_gives_same_arrays_in_another_process() -> None:
    case = QUICK[123]
    code = ("from layercheck.cases.grids import grid; "
            "from layercheck.cases.inputs import make_inputs; "
            "a = make_inputs(grid('quick')[123]); print(a['x'].tobytes().hex())")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert other == make_inputs(case)["x"].tobytes().hex()


def test_inputs_keep_the_case_dtype() -> None:
    for case in QUICK[::50]:
        for name, a in make_inputs(case).items():
            if a is not None and name != "t":
                assert a.dtype == np.dtype(case.np_dtype), (case.id, name)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id)
                                  for c in QUICK[::3] + grid("pairwise")])
def test_rejection_and_output_shape_agree_with_pytorch(case: Case) -> None:
    arrays = make_inputs(case)
    predicted = rejection(case)
    try:
        truth = reference(case, arrays)
    except Rejected as e:
        assert predicted is not None, f"PyTorch rejects {case.id} ({e}); cases/ did not predict it"
        return
    assert predicted is None, f"cases/ predicted a rejection ({predicted}); PyTorch accepts"
    if case.layer in DROPOUT_LAYERS and case.train:
        assert truth == {}, "training dropout's truth is built from the run's mask"
        return
    first = next(iter(truth.values()))
    assert first.value.shape == output_shape(case)
