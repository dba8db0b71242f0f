"""Plots as PNG bytes (matplotlib's Agg canvas, no pyplot state): error heatmaps, speed ratios."""

from __future__ import annotations

import io
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd
from layercheck.cases import registry
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, NullFormatter

# log10(err_over_bound) colour scale: green well inside the bound, yellow at it, red beyond.
LOG_MIN, LOG_MAX = -4.0, 2.0
EXACT = 1e-4  # an exact match (err_over_bound 0) is drawn at the bottom of the scale


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _sort_key(v: object) -> tuple[int, float, str]:
    """Numbers first in numeric order, then strings such as '2x1' or 'same'."""
    try:
        return (0, float(v), "")  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return (1, math.inf, str(v))


def _ordered(values: Iterable[object]) -> list[object]:
    return sorted(dict.fromkeys(values), key=_sort_key)


def worst_by(df: pd.DataFrame, rows: str, cols: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(worst err_over_bound, count of outputs not passed) over rows × cols."""
    keys = [df[rows].astype(str), df[cols].astype(str)]
    eob = pd.to_numeric(df["err_over_bound"], errors="coerce")
    worst = eob.groupby(keys).max().unstack()
    bad = (df["status"] != "pass").groupby(keys).sum().unstack()
    r = [str(v) for v in _ordered(df[rows])]
    c = [str(v) for v in _ordered(df[cols])]
    return worst.reindex(index=r, columns=c), bad.reindex(index=r, columns=c).fillna(0)


def _panel(fig: Figure, ax, worst: pd.DataFrame, bad: pd.DataFrame, title: str,
           xlabel: str, ylabel: str):
    vals = worst.to_numpy(dtype=float)
    logv = np.log10(np.clip(np.nan_to_num(vals, nan=np.nan, posinf=1e300), EXACT, None))
    im = ax.imshow(np.ma.masked_invalid(logv), cmap="RdYlGn_r",
                   norm=TwoSlopeNorm(vmin=LOG_MIN, vcenter=0.0, vmax=LOG_MAX), aspect="auto")
    ax.set_facecolor("#dddddd")
    ax.set_xticks(range(worst.shape[1]), list(worst.columns))
    ax.set_yticks(range(worst.shape[0]), list(worst.index))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    for i in range(worst.shape[0]):
        for j in range(worst.shape[1]):
            v, n_bad = vals[i, j], int(bad.iat[i, j])
            text = "—" if np.isnan(v) else ("0" if v == 0 else f"{v:.2g}")
            if n_bad:
                text += f"\n✗{n_bad}"
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False,
                                       edgecolor="#b00000", linewidth=2.5))
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if np.isfinite(v) and logv[i, j] < -3 else "black")
    return im


def error_heatmap(df: pd.DataFrame, layer: str) -> bytes | None:
    """Worst err_over_bound of one layer as a heatmap (PNG); None if the layer has no rows.

    Windowed layers (conv, pool, avgpool): stride × pad, one panel per dtype. The others have
    no stride or pad: one panel of dtype × output. Cells are coloured by log10(err/bound)
    (≤ 0 passes); a cell holding an output that did not pass is outlined in red and marked
    ✗ with the count.
    """
    sub = df[df["layer"] == layer]
    if sub.empty:
        return None
    if layer not in registry.windowed():
        worst, bad = worst_by(sub, "dtype", "output")
        fig = Figure(figsize=(1.2 * worst.shape[1] + 2.6, 0.5 * worst.shape[0] + 1.5),
                     layout="constrained")
        ax = fig.subplots()
        im = _panel(fig, ax, worst, bad, f"{layer}: worst err/bound", "output", "dtype")
        fig.colorbar(im, ax=ax, pad=0.03).set_label("log10 err/bound", fontsize=8)
        return _png(fig)
    dtypes = [str(d) for d in _ordered(sub["dtype"])]
    grids = [worst_by(sub[sub["dtype"] == dt], "stride", "pad") for dt in dtypes]
    nr, nc = grids[0][0].shape
    fig = Figure(figsize=(max(2.6, 0.9 * nc + 1.4) * len(dtypes) + 1.0,
                          max(2.2, 0.55 * nr + 1.4)), layout="constrained")
    axes = fig.subplots(1, len(dtypes), squeeze=False)[0]
    im = None
    for ax, dt, (worst, bad) in zip(axes, dtypes, grids, strict=True):
        im = _panel(fig, ax, worst, bad, f"{layer} {dt}: worst err/bound", "pad", "stride")
    if im is not None:
        cb = fig.colorbar(im, ax=list(axes), shrink=0.9, pad=0.03)
        cb.set_label("log10 worst err/bound (≤ 0 passes)", fontsize=8)
    return _png(fig)


def speed_chart(ratios: pd.DataFrame, title: str = "impl / PyTorch time ratio") -> bytes | None:
    """Horizontal bars of impl/PyTorch time ratios per benchmark shape and phase (PNG).

    `ratios` has columns shape, phase, ratio (Bench.ratios()). Log scale; the line at 1 is
    parity, bars left of it mean impl is faster. None if there is nothing to draw.
    """
    r = ratios.dropna(subset=["ratio"])
    r = r[r["ratio"] > 0]
    if r.empty:
        return None
    shapes = list(dict.fromkeys(r["shape"]))
    phases = list(dict.fromkeys(r["phase"]))
    colors = {"forward": "#4c72b0", "backward": "#dd8452", "fwd+bwd": "#55a868"}
    height = 0.8 / len(phases)
    # axis from 1/100 to 100 at most; bars beyond are cut at the edge, their label says more
    lo = max(0.01, min(0.5, float(r["ratio"].min()) / 2.0))
    hi = min(100.0, max(2.0, float(r["ratio"].max()) * 1.6))
    fig = Figure(figsize=(8.0, 0.8 + 0.42 * len(shapes) * max(1, len(phases)) / 1.8),
                 layout="constrained")
    ax = fig.subplots()
    for k, phase in enumerate(phases):
        sel = r[r["phase"] == phase].set_index("shape")["ratio"]
        ys = [i + (k - (len(phases) - 1) / 2) * height for i in range(len(shapes))]
        vals = [float(sel.get(s, np.nan)) for s in shapes]
        shown = [min(max(v, lo), hi) for v in vals]
        # bars grow from parity (1) to the ratio: right of 1 impl is slower, left faster
        ax.barh(ys, [v - 1 for v in shown], left=1, height=height * 0.95,
                color=colors.get(phase, None), label=phase)
        for y, v, x in zip(ys, vals, shown, strict=True):
            if np.isfinite(v):
                right = v >= 1
                cut = "" if v == x else (" →" if right else "← ")
                ax.text(x * (1.04 if right else 0.96) if not cut else x, y,
                        f"{v:.2g}{cut}" if right else f"{cut}{v:.2g}", va="center",
                        ha="left" if right != bool(cut) else "right", fontsize=7)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(lo, hi)
    ax.set_xticks([t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)
                   if lo <= t <= hi])
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks(range(len(shapes)), shapes, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("impl time / PyTorch time (log scale; bars left of 1: impl faster)")
    fig.suptitle(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=len(phases),
              frameon=False)
    ax.grid(axis="x", which="both", alpha=0.3)
    return _png(fig)
