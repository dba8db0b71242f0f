"""Result rows to pandas, and the per-layer summary every report starts with."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from reference.result import Result


def to_frame(results: Iterable[Result]) -> pd.DataFrame:
    """One row per case and output; the case parameters as columns."""
    return pd.DataFrame([r.row() for r in results])


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Cases, outputs passed, worst err_over_bound and worst absolute error per layer and dtype."""
    g = df.groupby(["layer", "dtype"], sort=False)
    out = pd.DataFrame({
        "cases": g["id"].nunique(),
        "outputs": g.size(),
        "passed": g["status"].apply(lambda s: int((s == "pass").sum())),
        "failed": g["status"].apply(lambda s: int((s != "pass").sum())),
        "worst err/bound": g["err_over_bound"].max(),
        "worst abs err": g["max_abs_err"].max(),
    })
    return out.reset_index()
