"""The full grid (about 17,500 cases), opt-in: ``pytest -m full``. ``make report`` runs it too."""

from __future__ import annotations

import pytest
from layercheck import impl
from layercheck.cases.grids import grid
from layercheck.reference.verdicts import check, module_runner
from layercheck.reports.grading.options import LAYERS


@pytest.mark.full
@pytest.mark.parametrize("layer", LAYERS)
def test_full_grid_layer_matches_pytorch(layer: str) -> None:
    run = module_runner(impl)
    failures = [r.message() for c in grid("full", (layer,)) for r in check(c, run)
                if not r.passed]
    assert not failures, f"{len(failures)} outputs fail:\n" + "\n".join(failures[:20])
