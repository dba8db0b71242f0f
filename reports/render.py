"""Result frames to files: CSV, JSON, Markdown and self-contained HTML. One report path.

Used by `layercheck report` (impl/ against PyTorch) and `layercheck check` (a student's file).
Every function takes the frame `layercheck.reports.frame.to_frame(results)` returns: one row
per case and output with id, layer, phase, output, status, max_abs_err, max_rel_err, err_over_bound
and the case parameters (dtype, stride, pad, ...). Optional pieces:

- `speed`: a `layercheck.reports.timing.Bench` (the speed table, ratios, goals); None leaves it out.
- `env`: a dict such as `layercheck.reports.env.environment()` returns; None leaves it out.
- `extra_sections`: (markdown, html) pairs appended after the speed section, each a complete
  section with its own heading (e.g. `layercheck.reports.training.training_section(out_dir)`);
  empty strings are skipped.
- `lead_sections`: the same, placed right after the summary, before the outputs not passed
  (a student's feedback comes first on the student's page).
- `all_rows`: the files that list every output not passed when the page lists only the
  first MAX_LISTED ("results.csv/json" for `write_all`); None when the page's own writer
  writes no such file.

Non-finite numbers: CSV writes inf as ``inf`` and NaN as an empty cell; JSON writes inf as
the string ``"inf"`` and NaN or missing as null, so the file is always valid JSON.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from layercheck.cases import registry
from layercheck.reports.escape import csv_cell, json_value, md_text, valid_text
from layercheck.reports.frame import summary
from layercheck.reports.plots import error_heatmap, speed_chart, worst_by
from layercheck.reports.timing import PHASES, SIDES, Bench
from tabulate import tabulate

Section = tuple[str, str]  # (markdown, html)

MAX_LISTED = 50  # outputs not passed listed in Markdown/HTML; all are in CSV/JSON
ALL_ROWS = "results.csv/json"  # where write_all puts every row
LAYER_ORDER = registry.family("core")
WINDOWED = registry.windowed()


# --- plain values ------------------------------------------------------------------------

def clean(v: Any) -> Any:
    """A JSON-safe value (`json_value`), pandas' missing values as None."""
    return json_value(v, lambda x: x is pd.NA or x is pd.NaT)


def fmt(v: Any) -> str:
    """A table cell: 3 significant digits, inf as 'inf', missing as '—'."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return "0" if v == 0 else f"{v:.3g}"
    return str(v)


def _cells(df: pd.DataFrame) -> pd.DataFrame:
    return df.astype(object).map(fmt) if not df.empty else df


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [clean(r) for r in df.astype(object).to_dict(orient="records")]


# --- the numbers every format shows ------------------------------------------------------

def summary_dict(df: pd.DataFrame, speed: Bench | None = None) -> dict[str, Any]:
    """Headline counts, per-layer×dtype summary and (with speed) geomean ratio per layer.

    all_passed is False for an empty frame: nothing checked is not a pass.
    """
    status = df["status"].value_counts().to_dict() if not df.empty else {}
    out: dict[str, Any] = {
        "cases": int(df["id"].nunique()) if not df.empty else 0,
        "outputs": len(df),
        "passed": int((df["status"] == "pass").sum()) if not df.empty else 0,
        "not_passed": int((df["status"] != "pass").sum()) if not df.empty else 0,
        "status_counts": {str(k): int(v) for k, v in status.items()},
        "all_passed": bool((df["status"] == "pass").all()) if not df.empty else False,
        "layers": _records(summary(df)) if not df.empty else [],
    }
    if speed is not None:
        goals = speed.goals()
        out["speed_geomean_ratio"] = clean(speed.layer_geomeans())
        out["speed_goals"] = clean(goals)
        out["speed_goals_missed"] = sum(g["met"] is False for g in goals)
        out["speed_goals_unknown"] = sum(g["met"] is None for g in goals)
        out["threads"] = speed.threads
    return clean(out)


def not_passed(df: pd.DataFrame) -> pd.DataFrame:
    """Rows not passed, worst first: id, phase, output, status, err/bound, diagnosis."""
    cols = ["id", "phase", "output", "status", "err_over_bound", "max_abs_err", "diagnosis"]
    bad = df[df["status"] != "pass"]
    bad = bad.reindex(columns=[c for c in cols if c in df.columns])
    return bad.sort_values("err_over_bound", ascending=False, na_position="first")


ALIKE = ("phase", "output", "status", "diagnosis")  # what makes two rows the same finding


def alike_grouped(bad: pd.DataFrame) -> pd.DataFrame:
    """`not_passed` rows alike in phase, output, status and diagnosis as one row: the
    worst one's id and numbers, and `outputs`, how many it stands for; worst first."""
    if bad.empty or not set(ALIKE) <= set(bad.columns):
        return bad
    keys = list(ALIKE)
    sizes = bad.groupby(keys, sort=False, dropna=False)["id"].transform("size")
    out = bad.drop_duplicates(subset=keys, keep="first").copy()
    out.insert(1, "outputs", sizes.loc[out.index].astype(int))
    return out


def layers_in(df: pd.DataFrame) -> list[str]:
    """Layers present, in the usual order, unknown ones last."""
    present = list(dict.fromkeys(df["layer"])) if not df.empty else []
    return [la for la in LAYER_ORDER if la in present] + [
        la for la in present if la not in LAYER_ORDER]


def stride_pad_table(df: pd.DataFrame, layer: str, dtype: str) -> pd.DataFrame:
    """Worst err_over_bound by stride (rows) × pad (columns); '✗n' where n outputs failed."""
    sub = df[(df["layer"] == layer) & (df["dtype"] == dtype)]
    worst, bad = worst_by(sub, "stride", "pad")
    cells = _cells(worst)
    for i in range(cells.shape[0]):
        for j in range(cells.shape[1]):
            if bad.iat[i, j]:
                cells.iat[i, j] = f"{cells.iat[i, j]} ✗{int(bad.iat[i, j])}"
    cells.index = [f"stride {s}" for s in cells.index]
    cells.columns = [f"pad {p}" for p in cells.columns]
    return cells


def output_dtype_table(df: pd.DataFrame, layer: str) -> pd.DataFrame:
    """Per output and dtype: outputs, passed, worst err_over_bound, worst max_abs_err."""
    sub = df[df["layer"] == layer]
    g = sub.groupby(["output", "dtype"], sort=False)
    t = pd.DataFrame({
        "outputs": g.size(),
        "passed": g["status"].apply(lambda s: int((s == "pass").sum())),
        "worst err/bound": g["err_over_bound"].max(),
        "worst abs err": g["max_abs_err"].max(),
    }).reset_index()
    return t


def speed_tables(speed: Bench) -> dict[str, pd.DataFrame]:
    """Compare-style table per layer: rows impl and PyTorch per phase, then the ratios.

    Columns are the layer's benchmark shapes; time cells are 'median [IQR]' in ms (the row
    labels say so). The last row compares the fastest blocks of each side, a steadier figure
    on a busy machine.
    """
    out = {}
    t = speed.times
    r = speed.ratios()
    for layer in dict.fromkeys(t["layer"]):
        cols = [s.column for s in speed.shapes if s.layer == layer]
        keys = [s.key for s in speed.shapes if s.layer == layer]
        rows = {}
        for phase in PHASES:
            for side in SIDES:
                sel = t[(t["phase"] == phase) & (t["side"] == side)].set_index("shape")
                rows[f"{side} {phase}, ms"] = [
                    _ms(sel["median_ms"].get(k), sel["iqr_ms"].get(k)) for k in keys]
        for phase in PHASES:
            sel = r[r["phase"] == phase].set_index("shape")["ratio"]
            rows[f"ratio {phase}"] = [_ratio(sel.get(k)) for k in keys]
        sel = r[r["phase"] == "fwd+bwd"].set_index("shape")["ratio_min"]
        rows["ratio fwd+bwd, fastest blocks"] = [_ratio(sel.get(k)) for k in keys]
        t_layer = pd.DataFrame.from_dict(rows, orient="index", columns=cols)
        t_layer.index.name = SPEED_UNITS
        out[layer] = t_layer
    return out


# the header over a speed table's row labels: what its cells are, in which unit
SPEED_UNITS = "ms per call: median [IQR]; ratio: impl / PyTorch time"


def _plain(v: float, digits: int) -> str:
    """`v` to `digits` significant digits, never in exponent form (1234, not 1.2e+03)."""
    if v == 0 or not np.isfinite(v):
        return fmt(float(v))
    if abs(v) >= 10 ** digits:
        return f"{v:.0f}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(v))))
    return f"{v:.{decimals}f}"


def _ms(med: Any, iqr: Any) -> str:
    if med is None or not np.isfinite(med):
        return "—"
    spread = _plain(float(iqr), 2) if iqr is not None and np.isfinite(iqr) else "—"
    return f"{_plain(float(med), 3)} [{spread}]"


def _ratio(v: Any) -> str:
    """A time ratio with its ×: two decimals, two significant digits below 0.1."""
    if v is None or not np.isfinite(v):
        return "—"
    return f"{_plain(float(v), 2)}×" if v < 0.1 else f"{v:.2f}×"


GOAL_COLUMNS = ["goal", "measured ratio", "limit", "result"]


def goals_table(speed: Bench) -> pd.DataFrame:
    """The speed goals: goal, measured ratio, limit, pass/miss (a ratio: impl/PyTorch
    time, or for memory, peak / (column matrix + output))."""
    rows = [dict(zip(GOAL_COLUMNS, (g["goal"], _ratio(g["value"]), f"≤ {g['limit']:g}×",
                                    {True: "pass", False: "miss", None: "—"}[g["met"]]),
                     strict=True))
            for g in speed.goals()]
    return pd.DataFrame(rows, columns=GOAL_COLUMNS)


GEOMEAN_NAMES = {"shapes": "shapes", "geomean_ratio": "geomean fwd+bwd time ratio, impl/PyTorch"}
GFLOPS_NAMES = {"gflop": "GFLOP per call", "impl_gflops": "impl GFLOP/s",
                "torch_gflops": "PyTorch GFLOP/s",
                "matmul_peak_gflops": "NumPy matmul peak GFLOP/s",
                "impl_share_of_peak": "impl share of peak (0-1)"}


def geomeans_table(speed: Bench) -> pd.DataFrame:
    """Bench.geomeans() with its units in the headers."""
    return speed.geomeans().rename(columns=GEOMEAN_NAMES)


def gflops_table(speed: Bench) -> pd.DataFrame:
    """Bench.gflops() with its units in the headers."""
    return speed.gflops().rename(columns=GFLOPS_NAMES)


def shapes_table(speed: Bench) -> pd.DataFrame:
    """Benchmark shapes: layer, column name, what it is."""
    return pd.DataFrame([{"layer": s.layer, "shape": s.column, "configuration": s.describe()}
                         for s in speed.shapes])


def memory_table(speed: Bench) -> pd.DataFrame:
    """tracemalloc peak of conv forward+backward next to column matrix + output, in MiB."""
    m = speed.memory.rename(columns={"peak_mib": "peak MiB",
                                     "col_plus_out_mib": "col + out MiB",
                                     "ratio": "peak / (col + out)"})
    return m


# --- files -------------------------------------------------------------------------------

def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """All rows to CSV (inf as 'inf', NaN as an empty cell; a text cell a spreadsheet would
    run as a formula gets a leading '); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text_cols = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if text_cols:
        df = df.assign(**{str(c): df[c].map(csv_cell) for c in text_cols})
    df.to_csv(path, index=False)
    return path


def write_json(df: pd.DataFrame, path: str | Path, **extra: Any) -> Path:
    """{"summary": summary_dict(df), **extra, "cases": rows}; strict JSON; returns the path.

    `extra` values may be plain data or a `Bench` (stored as its `to_dict()`); a `summary`
    keyword replaces the default summary.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {"summary": summary_dict(df)}
    for k, v in extra.items():
        doc[k] = v.to_dict() if isinstance(v, Bench) else v
    doc["cases"] = _records(df)
    write_text(path, json.dumps(clean(doc), indent=1, allow_nan=False, default=str) + "\n")
    return path


def write_text(path: Path, text: str) -> None:
    """`text` into `path` as UTF-8, whatever it holds (`valid_text`), through a temporary
    file that goes whatever stops the write: never half a file, never a temporary left."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(valid_text(text).encode("utf-8"))
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def md_table(df: pd.DataFrame, index: bool = False) -> str:
    """A GitHub-style Markdown table of the frame, cells formatted by `fmt` and escaped
    (`md_text`: nothing in a cell ends the row, opens a tag, a link or an image)."""
    if df.empty:
        return "_(none)_"
    return tabulate(_cells(df).map(md_text), headers="keys", tablefmt="github",
                    showindex=index, disable_numparse=True)


def _md_env(env: Mapping[str, Any]) -> str:
    return "\n".join(f"- **{k}**: {fmt(v)}" for k, v in env.items())


def _headline(s: Mapping[str, Any]) -> str:
    if not s["outputs"]:
        return "Nothing was checked: **no results**."
    counts = ", ".join(f"{n} {k}" for k, n in s["status_counts"].items() if k != "pass")
    verdict = "all passed" if s["all_passed"] else f"NOT ALL PASSED ({counts})"
    return (f"Correctness: {s['cases']} cases, {s['outputs']} outputs checked: "
            f"{s['passed']} passed, {s['not_passed']} not passed — **{verdict}**.")


def speed_headline(s: Mapping[str, Any]) -> str | None:
    """The speed goals in one sentence, misses counted and named (None without speed)."""
    goals = s.get("speed_goals")
    if not goals:
        return None
    missed = [g["goal"] for g in goals if g["met"] is False]
    unknown = s.get("speed_goals_unknown", 0)
    tail = f"; {unknown} not measured" if unknown else ""
    if not missed:
        return f"Speed: **{len(goals) - unknown} of {len(goals)} speed goals met**{tail}."
    return (f"Speed: **{len(missed)} of {len(goals)} speed goals missed**{tail}: "
            f"{'; '.join(missed)} (see Speed goals below).")


def _not_passed_note(n: int, all_rows: str | None, rows: int | None = None) -> str:
    """How many outputs did not pass, in how many rows (`rows`: alike outputs grouped),
    and how many rows are listed (worst first)."""
    grouped = "" if rows is None else (
        f", {rows} distinct: outputs alike in phase, output, status and diagnosis share a "
        f"row ('outputs' counts them, 'id' names the worst)")
    shown = n if rows is None else rows
    if shown <= MAX_LISTED:
        return f"{n} outputs did not pass{grouped}; worst first."
    where = f"; all are in {all_rows}" if all_rows else ""
    return f"{n} outputs did not pass{grouped}; the {MAX_LISTED} worst are listed{where}."


def _listed(df: pd.DataFrame, all_rows: str | None, group_alike: bool
            ) -> tuple[pd.DataFrame, str]:
    """The rows not passed a page lists, and the sentence above them."""
    bad = not_passed(df)
    rows = alike_grouped(bad) if group_alike else bad
    note = _not_passed_note(len(bad), all_rows, len(rows) if group_alike else None)
    return rows.head(MAX_LISTED), note


def render_markdown(df: pd.DataFrame, title: str, speed: Bench | None = None,
                    env: Mapping[str, Any] | None = None,
                    extra_sections: Sequence[Section] = (),
                    lead_sections: Sequence[Section] = (),
                    all_rows: str | None = ALL_ROWS, group_alike: bool = False) -> str:
    """The report as Markdown: summary, lead sections, outputs not passed (`group_alike`:
    alike ones as one row, `alike_grouped`), errors per layer, speed, extras, environment,
    terms."""
    s = summary_dict(df, speed)
    md = [f"# {title}", "", "## Summary", "", _headline(s), ""]
    if speed_headline(s):
        md += [speed_headline(s), ""]
    md += [md_table(summary(df)) if not df.empty else "_no results_", ""]
    if speed is not None:
        g = pd.DataFrame([{"layer": k, "geomean fwd+bwd time ratio (impl/PyTorch)": v}
                          for k, v in speed.layer_geomeans().items()])
        md += [f"Speed, geometric-mean time ratio impl/PyTorch per layer ({speed.threads} "
               f"threads; < 1 means impl is faster):", "", md_table(g), ""]
    for sec_md, _ in lead_sections:
        if sec_md.strip():
            md += [sec_md.rstrip(), ""]
    shown, note = _listed(df, all_rows, group_alike)
    if not shown.empty:
        md += ["## Not passed", "", note, "", md_table(shown), ""]
    md += ["## Errors per layer", "",
           "err/bound = max |error| / rounding-error bound; ≤ 1 passes (see Terms at the "
           "end). ✗n: n outputs not passed in that cell.", ""]
    for layer in layers_in(df):
        md += [f"### {layer}", ""]
        if layer in WINDOWED:
            for dt in _dtypes(df, layer):
                md += [f"Worst err/bound by stride × pad, {dt}:", "",
                       md_table(stride_pad_table(df, layer, dt), index=True), ""]
        md += ["By output and dtype:", "", md_table(output_dtype_table(df, layer)), ""]
    if speed is not None:
        md += _speed_markdown(speed)
    for sec_md, _ in extra_sections:
        if sec_md.strip():
            md += [sec_md.rstrip(), ""]
    if env:
        md += ["## Environment", "", _md_env(env), ""]
    md += ["## Terms", "", *[f"- **{t}**: {d}"
                             for t, d in terms(df, speed, extra_sections)], ""]
    return "\n".join(md)


TERMS = {
    "err/bound": "an output's error against PyTorch's float64 truth, element by element "
                 "divided by the rounding-error bound derived for that element (how far the "
                 "floating-point arithmetic of a correct formula can be off); the largest "
                 "over the output is shown. ≤ 1 passes, 0 is exact, above 1 fails. Worst "
                 "err/bound: the largest over the cases of a table or heatmap cell.",
    "status": "pass; fail (a value beyond its bound); error (the code raised); timeout; "
              "missing (the layer is not defined).",
    "✗n": "n outputs of that table or heatmap cell did not pass.",
    "keep (dropout)": "dropout's keep-rate output: the share of elements that training "
                      "forwards kept, tested against the asked keep probability with a "
                      "two-sided binomial test (several forwards on one input; no mask may "
                      "repeat another). Its err/bound is log(1/p-value) / log(1e9): above 1, "
                      "a correct dropout would keep that share less than once in 10⁹ runs.",
    "near-kinks": "places in a training step where a correct network may route the gradient "
                  "either way: a ReLU input within its rounding-error bound of 0, or a "
                  "max-pool window whose largest values lie within their bounds of each "
                  "other (blank or saturated image patches give exact ties). The backward "
                  "bound there admits the whole gradient as error: it stays valid but is "
                  "looser. The training tables count the near-kinks met.",
    "time ratio": "impl time / PyTorch time for the same call, from the medians of the timed "
                  "blocks; < 1: impl is faster. Geomean: the geometric mean of ratios over a "
                  "layer's shapes.",
    "ms, median [IQR]": "milliseconds per call: the median over the timed blocks, and in "
                        "brackets the interquartile range (the spread of the middle half).",
    "fastest blocks": "the ratio of each side's fastest timed block, steadier than the "
                      "medians on a busy machine.",
}


def terms(df: pd.DataFrame, speed: Bench | None = None,
          sections: Sequence[Section] = ()) -> list[tuple[str, str]]:
    """The terms this page uses, with what they mean: the error terms always, dropout's
    keep where a dropout layer was checked, near-kinks where a section speaks of them, the
    timing terms with speed."""
    keys = ["err/bound", "status", "✗n"]
    outputs = set(df["output"]) if "output" in df.columns else set()
    if "keep" in outputs:
        keys.append("keep (dropout)")
    if any("near-kink" in md for md, _ in sections):
        keys.append("near-kinks")
    if speed is not None:
        keys += ["time ratio", "ms, median [IQR]", "fastest blocks"]
    return [(k, TERMS[k]) for k in keys]


def _dtypes(df: pd.DataFrame, layer: str) -> list[str]:
    return sorted(dict.fromkeys(df[df["layer"] == layer]["dtype"]))


def _speed_intro(speed: Bench) -> str:
    return (f"impl/ against PyTorch in the same process, {speed.threads} threads (torch and "
            f"NumPy's BLAS), {speed.repeats} timed blocks per cell after warm-up, impl and "
            f"PyTorch blocks interleaved. Cells: median ms per call [interquartile range]; "
            f"ratio = impl / PyTorch of the medians (< 1: impl faster); 'fastest blocks' "
            f"compares each side's fastest block. Took {speed.seconds:.0f} s.")


def _speed_markdown(speed: Bench) -> list[str]:
    md = ["## Speed", "", _speed_intro(speed), "", "Speed goals:", "",
          md_table(goals_table(speed)), ""]
    for layer, t in speed_tables(speed).items():
        md += [f"### {layer}", "", md_table(t, index=True), ""]
    md += ["### Geometric means of fwd+bwd ratios", "", md_table(geomeans_table(speed)), ""]
    if not speed.gflops().empty:
        md += ["### Convolution GFLOP/s (fwd+bwd = 3× forward flops) and share of NumPy matmul "
               "peak", "", md_table(gflops_table(speed)), ""]
    if not speed.memory.empty:
        md += ["### Convolution peak memory (tracemalloc, forward+backward)", "",
               md_table(memory_table(speed)), ""]
    md += ["### Shapes", "", md_table(shapes_table(speed)), ""]
    if speed.notes:
        md += ["Notes:", "", *[f"- {n}" for n in speed.notes], ""]
    return md


# --- HTML --------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;
max-width:1200px;padding:0 1em;color:#222;line-height:1.4}
h1{border-bottom:2px solid #444}h2{border-bottom:1px solid #ccc;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}tbody th{white-space:nowrap}
tr.fail td{background:#fde2e2}.verdict-pass{color:#176317}.verdict-fail{color:#b00000}
td.miss{background:#fde2e2}td.ok{background:#e3f4e3}td.txt{text-align:left}
img{max-width:100%;display:block;margin:.5em 0}.note{color:#555;font-size:13px}
pre{background:#f6f6f6;border:1px solid #ddd;padding:.5em;overflow-x:auto;font-size:12px}
th.txt{text-align:left}
.scroll{overflow-x:auto}dl.env{display:grid;grid-template-columns:max-content auto;gap:2px 12px}
dl.env dt{font-weight:bold}dl.env dd{margin:0}
dl.terms dt{font-weight:bold;margin-top:.4em}dl.terms dd{margin:0 0 0 1.5em;max-width:60em}
.verdict-warn{color:#8a5a00}
"""


def img_tag(png: bytes | None, alt: str) -> str:
    """An <img> with the PNG embedded as a base64 data URI ('' for None)."""
    if not png:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _html_table(df: pd.DataFrame, index: bool = False, row_class: Iterable[str] | None = None
                ) -> str:
    if df.empty:
        return "<p class='note'>(none)</p>"
    cells = _cells(df)
    head = [(str(df.index.name or ""), False)] if index else []
    head += [(str(c), any(_cell_class(v) == "txt" for v in cells[c])) for c in cells.columns]
    out = ["<div class='scroll'><table><thead><tr>"
           + "".join(f"<th class='txt'>{html.escape(h)}</th>" if txt
                     else f"<th>{html.escape(h)}</th>" for h, txt in head)
           + "</tr></thead><tbody>"]
    classes = list(row_class) if row_class is not None else [""] * len(cells)
    for (idx, row), cls in zip(cells.iterrows(), classes, strict=True):
        tds = ([f"<th>{html.escape(str(idx))}</th>"] if index else []) + [
            _td(v) for v in row]
        attr = f" class='{cls}'" if cls else ""
        out.append(f"<tr{attr}>" + "".join(tds) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _cell_class(v: str) -> str:
    """A cell's class: miss (red), ok (green), txt (left-aligned text) or '' (a number)."""
    if v == "miss" or "✗" in v:
        return "miss"
    if v == "pass":
        return "ok"
    return "" if v[:1].isdigit() or v[:1] in "-—" or v in ("inf", "yes", "no") else "txt"


def _td(v: str) -> str:
    cls = _cell_class(v)
    return f"<td class='{cls}'>{html.escape(v)}</td>" if cls else f"<td>{html.escape(v)}</td>"


def render_html(df: pd.DataFrame, title: str, speed: Bench | None = None,
                env: Mapping[str, Any] | None = None, extra_sections: Sequence[Section] = (),
                plots: bool = True, lead_sections: Sequence[Section] = (),
                all_rows: str | None = ALL_ROWS, group_alike: bool = False) -> str:
    """The report as one self-contained HTML page (inline CSS, PNG plots as data URIs).

    Same sections as `render_markdown`; with plots, a heatmap of worst err_over_bound over
    stride × pad per layer and dtype, and a speed-ratio chart per benchmark shape.
    """
    s = summary_dict(df, speed)
    e = html.escape
    verdict = "verdict-pass" if s["all_passed"] else "verdict-fail"
    h = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
         f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
         f"<h1>{e(title)}</h1>", "<h2 id='summary'>Summary</h2>",
         f"<p class='{verdict}'>{_md_bold_to_html(_headline(s))}</p>"]
    if speed_headline(s):
        missed = s["speed_goals_missed"] or s["speed_goals_unknown"]
        h.append(f"<p class='{'verdict-fail' if missed else 'verdict-pass'}'>"
                 f"{_md_bold_to_html(speed_headline(s))}</p>")
    h.append(_html_table(summary(df)) if not df.empty else "<p>no results</p>")
    if speed is not None:
        g = pd.DataFrame([{"layer": k, "geomean fwd+bwd time ratio (impl/PyTorch)": v}
                          for k, v in speed.layer_geomeans().items()])
        h += [f"<p>Speed, geometric-mean time ratio impl/PyTorch per layer ({speed.threads} "
              f"threads; &lt; 1 means impl is faster):</p>", _html_table(g)]
    h += [sec_html for _, sec_html in lead_sections if sec_html.strip()]
    shown, note = _listed(df, all_rows, group_alike)
    if not shown.empty:
        h += ["<h2 id='not-passed'>Not passed</h2>", f"<p>{e(note)}</p>",
              _html_table(shown, row_class=["fail"] * len(shown))]
    h += ["<h2 id='errors'>Errors per layer</h2>",
          "<p class='note'>err/bound = max |error| / rounding-error bound; ≤ 1 passes (see "
          "<a href='#terms'>Terms</a>). "
          "Heatmap colour: log10 of the worst err/bound (green well inside, yellow at the "
          "bound, red beyond; grey: no number, e.g. rejected configurations); ✗n and a red "
          "outline: n outputs not passed in that cell.</p>"]
    for layer in layers_in(df):
        h += [f"<h3 id='layer-{e(layer)}'>{e(layer)}</h3>"]
        if plots:
            h.append(img_tag(error_heatmap(df, layer), f"{layer} err/bound heatmap"))
        if layer in WINDOWED:
            for dt in _dtypes(df, layer):
                h += [f"<p>Worst err/bound by stride × pad, {e(dt)}:</p>",
                      _html_table(stride_pad_table(df, layer, dt), index=True)]
        h += ["<p>By output and dtype:</p>", _html_table(output_dtype_table(df, layer))]
    if speed is not None:
        h += _speed_html(speed, plots)
    for _, sec_html in extra_sections:
        if sec_html.strip():
            h.append(sec_html)
    if env:
        h += ["<h2 id='environment'>Environment</h2>", "<dl class='env'>"]
        h += [f"<dt>{e(str(k))}</dt><dd>{e(fmt(v))}</dd>" for k, v in env.items()]
        h.append("</dl>")
    h += ["<h2 id='terms'>Terms</h2>", "<dl class='terms'>"]
    h += [f"<dt>{e(t)}</dt><dd>{e(d)}</dd>" for t, d in terms(df, speed, extra_sections)]
    h += ["</dl>", "</body></html>"]
    return "\n".join(h)


def _md_bold_to_html(text: str) -> str:
    parts = html.escape(text).split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))


def _speed_html(speed: Bench, plots: bool) -> list[str]:
    h = ["<h2 id='speed'>Speed</h2>", f"<p class='note'>{html.escape(_speed_intro(speed))}</p>",
         "<p id='speed-goals'>Speed goals:</p>", _html_table(goals_table(speed))]
    if plots:
        h.append(img_tag(speed_chart(speed.ratios()), "impl/PyTorch time ratio per shape"))
    for layer, t in speed_tables(speed).items():
        h += [f"<h3>{html.escape(layer)}</h3>", _html_table(t, index=True)]
    h += ["<h3>Geometric means of fwd+bwd ratios</h3>", _html_table(geomeans_table(speed))]
    if not speed.gflops().empty:
        h += ["<h3>Convolution GFLOP/s (fwd+bwd = 3× forward flops) and share of NumPy "
              "matmul peak</h3>", _html_table(gflops_table(speed))]
    if not speed.memory.empty:
        h += ["<h3>Convolution peak memory (tracemalloc, forward+backward)</h3>",
              _html_table(memory_table(speed))]
    h += ["<h3>Shapes</h3>", _html_table(shapes_table(speed))]
    if speed.notes:
        h += ["<ul class='note'>", *[f"<li>{html.escape(n)}</li>" for n in speed.notes], "</ul>"]
    return h


def write_all(df: pd.DataFrame, out_dir: str | Path, title: str = "layercheck report",
              speed: Bench | None = None, env: Mapping[str, Any] | None = None,
              extra_sections: Sequence[Section] = (), plots: bool = True,
              stem: str = "results", report_stem: str = "report") -> dict[str, Path]:
    """Write results.csv, results.json, report.md and report.html under out_dir.

    JSON holds "summary", "environment" (when env is given), "speed" (when speed is given)
    and "cases". Returns {"csv"|"json"|"md"|"html": path}.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    extra: dict[str, Any] = {"summary": summary_dict(df, speed)}
    if env is not None:
        extra["environment"] = dict(env)
    if speed is not None:
        extra["speed"] = speed
    paths = {
        "csv": write_csv(df, out / f"{stem}.csv"),
        "json": write_json(df, out / f"{stem}.json", **extra),
    }
    md = out / f"{report_stem}.md"
    write_text(md, render_markdown(df, title, speed, env, extra_sections))
    page = out / f"{report_stem}.html"
    write_text(page, render_html(df, title, speed, env, extra_sections, plots))
    paths["md"], paths["html"] = md, page
    return paths
