"""Result frames to files: CSV, JSON, Markdown and self-contained HTML. One report path.

Used by `layercheck report` (impl/ against PyTorch) and `layercheck check` (a student's file).
Every function takes the frame `layercheck.reports.frame.to_frame(results)` returns: one row per case
and output with id, layer, phase, output, status, max_abs_err, max_rel_err, err_over_bound
and the case parameters (dtype, stride, pad, ...). Optional pieces:

- `speed`: a `layercheck.reports.timing.Bench` (the speed table, ratios, goals); None leaves it out.
- `env`: a dict such as `layercheck.reports.env.environment()` returns; None leaves it out.
- `extra_sections`: (markdown, html) pairs appended after the speed section, each a complete
  section with its own heading (e.g. `layercheck.reports.training.training_section(out_dir)`);
  empty strings are skipped.

Non-finite numbers: CSV writes inf as ``inf`` and NaN as an empty cell; JSON writes inf as
the string ``"inf"`` and NaN or missing as null, so the file is always valid JSON.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from layercheck.cases import registry
from layercheck.reports.frame import summary
from layercheck.reports.plots import error_heatmap, speed_chart, worst_by
from layercheck.reports.timing import PHASES, SIDES, Bench
from tabulate import tabulate

Section = tuple[str, str]  # (markdown, html)

MAX_LISTED = 50  # outputs not passed listed in Markdown/HTML; all are in CSV/JSON
LAYER_ORDER = registry.family("core")
WINDOWED = registry.windowed()


# --- plain values ------------------------------------------------------------------------

def clean(v: Any) -> Any:
    """A JSON-safe value: numpy scalars to Python, NaN/None to None, ±inf to "inf"/"-inf"."""
    if isinstance(v, Mapping):
        return {str(k): clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [clean(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        if math.isnan(v):
            return None
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
    if v is pd.NA or v is pd.NaT:
        return None
    return v


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
        out["speed_geomean_ratio"] = clean(speed.layer_geomeans())
        out["speed_goals"] = clean(speed.goals())
        out["threads"] = speed.threads
    return clean(out)


def not_passed(df: pd.DataFrame) -> pd.DataFrame:
    """Rows not passed, worst first: id, phase, output, status, err/bound, diagnosis."""
    cols = ["id", "phase", "output", "status", "err_over_bound", "max_abs_err", "diagnosis"]
    bad = df[df["status"] != "pass"]
    bad = bad.reindex(columns=[c for c in cols if c in df.columns])
    return bad.sort_values("err_over_bound", ascending=False, na_position="first")


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

    Columns are the layer's benchmark shapes; time cells are 'median [IQR]' in ms. The last
    row compares the fastest blocks of each side, a steadier figure on a busy machine.
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
                rows[f"{side} {phase}"] = [
                    _ms(sel["median_ms"].get(k), sel["iqr_ms"].get(k)) for k in keys]
        for phase in PHASES:
            sel = r[r["phase"] == phase].set_index("shape")["ratio"]
            rows[f"ratio {phase}"] = [_ratio(sel.get(k)) for k in keys]
        sel = r[r["phase"] == "fwd+bwd"].set_index("shape")["ratio_min"]
        rows["ratio fwd+bwd, fastest blocks"] = [_ratio(sel.get(k)) for k in keys]
        out[layer] = pd.DataFrame.from_dict(rows, orient="index", columns=cols)
    return out


def _ms(med: Any, iqr: Any) -> str:
    if med is None or not np.isfinite(med):
        return "—"
    return f"{med:.3g} [{iqr:.2g}]"


def _ratio(v: Any) -> str:
    return "—" if v is None or not np.isfinite(v) else f"{v:.2f}×"


def goals_table(speed: Bench) -> pd.DataFrame:
    """The issue-5 goals: goal, measured value, limit, pass/miss."""
    rows = [{"goal": g["goal"], "measured": fmt(g["value"]), "limit": f"≤ {g['limit']}",
             "result": {True: "pass", False: "miss", None: "—"}[g["met"]]}
            for g in speed.goals()]
    return pd.DataFrame(rows, columns=["goal", "measured", "limit", "result"])


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
    from layercheck.reports.escape import csv_cell

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
    path.write_text(json.dumps(clean(doc), indent=1, allow_nan=False, default=str) + "\n")
    return path


def md_table(df: pd.DataFrame, index: bool = False) -> str:
    """A GitHub-style Markdown table of the frame, cells formatted by `fmt` and escaped
    (layercheck.reports.escape.md_text: a cell's |, <, >, newlines cannot end the row or open a tag)."""
    from layercheck.reports.escape import md_text

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
    return (f"{s['cases']} cases, {s['outputs']} outputs checked: {s['passed']} passed, "
            f"{s['not_passed']} not passed — **{verdict}**.")


def render_markdown(df: pd.DataFrame, title: str, speed: Bench | None = None,
                    env: Mapping[str, Any] | None = None,
                    extra_sections: Sequence[Section] = ()) -> str:
    """The report as Markdown: summary, outputs not passed, errors per layer, speed, extras,
    environment."""
    s = summary_dict(df, speed)
    md = [f"# {title}", "", "## Summary", "", _headline(s), "",
          md_table(summary(df)) if not df.empty else "_no results_", ""]
    if speed is not None:
        g = pd.DataFrame([{"layer": k, "geomean fwd+bwd impl/PyTorch": v}
                          for k, v in speed.layer_geomeans().items()])
        md += [f"Speed, geometric-mean time ratio impl/PyTorch per layer ({speed.threads} "
               f"threads; < 1 means impl is faster):", "", md_table(g), ""]
    bad = not_passed(df)
    if not bad.empty:
        md += ["## Not passed", "", f"{len(bad)} outputs did not pass"
               + (f"; the first {MAX_LISTED} are listed, all are in results.csv/json"
                  if len(bad) > MAX_LISTED else "") + ".", "",
               md_table(bad.head(MAX_LISTED)), ""]
    md += ["## Errors per layer", "",
           "err/bound = max |error| / rounding-error bound; ≤ 1 passes. ✗n: n outputs not "
           "passed in that cell.", ""]
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
    return "\n".join(md)


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
    md += ["### Geometric means of fwd+bwd ratios", "", md_table(speed.geomeans()), ""]
    if not speed.gflops().empty:
        md += ["### Convolution GFLOP/s (fwd+bwd = 3× forward flops) and share of NumPy matmul "
               "peak", "", md_table(speed.gflops()), ""]
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
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}
tr.fail td{background:#fde2e2}.verdict-pass{color:#176317}.verdict-fail{color:#b00000}
td.miss{background:#fde2e2}td.ok{background:#e3f4e3}td.txt{text-align:left}
img{max-width:100%;display:block;margin:.5em 0}.note{color:#555;font-size:13px}
.scroll{overflow-x:auto}dl.env{display:grid;grid-template-columns:max-content auto;gap:2px 12px}
dl.env dt{font-weight:bold}dl.env dd{margin:0}
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
    head = ([""] if index else []) + [str(c) for c in cells.columns]
    out = ["<div class='scroll'><table><thead><tr>"
           + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    classes = list(row_class) if row_class is not None else [""] * len(cells)
    for (idx, row), cls in zip(cells.iterrows(), classes, strict=True):
        tds = ([f"<th>{html.escape(str(idx))}</th>"] if index else []) + [
            _td(v) for v in row]
        attr = f" class='{cls}'" if cls else ""
        out.append(f"<tr{attr}>" + "".join(tds) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _td(v: str) -> str:
    if v == "miss" or "✗" in v:
        cls = "miss"
    elif v == "pass":
        cls = "ok"
    else:
        cls = "" if v[:1].isdigit() or v[:1] in "-—" or v in ("inf", "yes", "no") else "txt"
    return f"<td class='{cls}'>{html.escape(v)}</td>" if cls else f"<td>{html.escape(v)}</td>"


def render_html(df: pd.DataFrame, title: str, speed: Bench | None = None,
                env: Mapping[str, Any] | None = None, extra_sections: Sequence[Section] = (),
                plots: bool = True) -> str:
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
         f"<p class='{verdict}'>{_md_bold_to_html(_headline(s))}</p>",
         _html_table(summary(df)) if not df.empty else "<p>no results</p>"]
    if speed is not None:
        g = pd.DataFrame([{"layer": k, "geomean fwd+bwd impl/PyTorch": v}
                          for k, v in speed.layer_geomeans().items()])
        h += [f"<p>Speed, geometric-mean time ratio impl/PyTorch per layer ({speed.threads} "
              f"threads; &lt; 1 means impl is faster):</p>", _html_table(g)]
    bad = not_passed(df)
    if not bad.empty:
        shown = bad.head(MAX_LISTED)
        more = (f"; the first {MAX_LISTED} are listed, all are in results.csv/json"
                if len(bad) > MAX_LISTED else "")
        h += ["<h2 id='not-passed'>Not passed</h2>",
              f"<p>{len(bad)} outputs did not pass{more}.</p>",
              _html_table(shown, row_class=["fail"] * len(shown))]
    h += ["<h2 id='errors'>Errors per layer</h2>",
          "<p class='note'>err/bound = max |error| / rounding-error bound; ≤ 1 passes. "
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
    h.append("</body></html>")
    return "\n".join(h)


def _md_bold_to_html(text: str) -> str:
    parts = html.escape(text).split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))


def _speed_html(speed: Bench, plots: bool) -> list[str]:
    h = ["<h2 id='speed'>Speed</h2>", f"<p class='note'>{html.escape(_speed_intro(speed))}</p>",
         "<p>Speed goals:</p>", _html_table(goals_table(speed))]
    if plots:
        h.append(img_tag(speed_chart(speed.ratios()), "impl/PyTorch time ratio per shape"))
    for layer, t in speed_tables(speed).items():
        h += [f"<h3>{html.escape(layer)}</h3>", _html_table(t, index=True)]
    h += ["<h3>Geometric means of fwd+bwd ratios</h3>", _html_table(speed.geomeans())]
    if not speed.gflops().empty:
        h += ["<h3>Convolution GFLOP/s (fwd+bwd = 3× forward flops) and share of NumPy "
              "matmul peak</h3>", _html_table(speed.gflops())]
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
    md.write_text(render_markdown(df, title, speed, env, extra_sections))
    page = out / f"{report_stem}.html"
    page.write_text(render_html(df, title, speed, env, extra_sections, plots))
    paths["md"], paths["html"] = md, page
    return paths
