"""Result rows to pandas, and the per-layer summary every report starts with."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd
from layercheck.reference.result import Result

NUMERIC = ("max_abs_err", "max_rel_err", "err_over_bound")


def to_frame(results: Iterable[Result], seconds: Mapping[str, float] | None = None
             ) -> pd.DataFrame:
    """One row per case and output; the case parameters as columns.

    Error columns are float (NaN where there is no number). `seconds` maps a case id to the
    wall time of its check; it becomes a `check_ms` column.
    """
    df = pd.DataFrame([r.row() for r in results])
    if df.empty:
        df = pd.DataFrame(columns=["id", "layer", "phase", "output", "status", *NUMERIC])
    for col in NUMERIC:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    if seconds is not None:
        df["check_ms"] = df["id"].map(lambda i: seconds.get(i, float("nan")) * 1e3)
    return df


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
