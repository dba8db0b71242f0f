"""Report section for the curricula's other layers (issue 13): per layer and dtype the case
count and worst err/bound by output, and the conventions each verdict rests on."""

from __future__ import annotations

import html

import pandas as pd
from layercheck.cases.case import CURRICULA_LAYERS
from layercheck.reports.render import _html_table, md_table

CONVENTIONS = (
    ("batchnorm, spatialbn", "nn.BatchNorm1d/2d in train and eval mode; running statistics "
     "checked against the curricula's definition after 1 and 3 steps: momentum 0.9 "
     "(PyTorch's 0.1), biased batch variance (PyTorch keeps the unbiased), zeros at the start "
     "(PyTorch: ones), eps inside the square root; the notes' eps is 10e-7"),
    ("layernorm, groupnorm", "nn.LayerNorm(D) on (N, D); nn.GroupNorm(G, C), groups of "
     "consecutive channels"),
    ("dropout", "the notes' layer: not inverted, dropout_ratio drops, test output "
     "x * (1 - ratio); mask inferred from the output, kept values exact, backward on the "
     "same mask, keep rate by a two-sided binomial test at false-alarm 1e-9"),
    ("invdropout", "CS231n's dropout_forward (F.dropout semantics): inverted, p keeps, kept "
     "values x / p within 2 roundings, test mode the identity; same mask and keep tests"),
    ("lrn", "nn.LocalResponseNorm(size, alpha, beta, k), window sums of x² across channels"),
    ("svm", "CS231n's svm_loss = nn.MultiMarginLoss (margin 1) × C, dx at the upstream "
     "gradient"),
    ("sigmoid", "torch.sigmoid, dx = dout·y·(1 − y)"),
)


def curricula_table(df: pd.DataFrame) -> pd.DataFrame:
    """Rows: layer × dtype; cases, outputs, failed, worst err/bound overall and per output."""
    sub = df[df["layer"].isin(CURRICULA_LAYERS)]
    rows = []
    for (layer, dtype), g in sub.groupby(["layer", "dtype"], sort=False):
        worst = g.groupby("output", sort=False)["err_over_bound"].max()
        rows.append({
            "layer": layer, "dtype": dtype, "cases": g["id"].nunique(), "outputs": len(g),
            "failed": int((g["status"] != "pass").sum()),
            "worst err/bound": g["err_over_bound"].max(),
            "by output": ", ".join(f"{o} {v:.3g}" for o, v in worst.items()),
        })
    return pd.DataFrame(rows)


def curricula_section(df: pd.DataFrame) -> tuple[str, str] | None:
    """(markdown, html) for the report, or None where the frame holds no curricula layer."""
    table = curricula_table(df)
    if table.empty:
        return None
    conv = pd.DataFrame(CONVENTIONS, columns=["layer", "truth and conventions"])
    intro = ("Sigmoid, batch/layer/group normalization, dropout (both curricula), LRN and the "
             "SVM loss, each against its PyTorch twin in float64 within a derived rounding-"
             "error bound (derivations in reference/oracle_curricula.py). The keep-rate row's "
             "err/bound is log(1/p-value) / log(1e9).")
    md = "\n".join(["## Curricula layers", "", intro, "", md_table(table), "",
                    md_table(conv), ""])
    page = (f"<h2>Curricula layers</h2><p>{html.escape(intro)}</p>"
            + _html_table(table) + _html_table(conv))
    return md, page
