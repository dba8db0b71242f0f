"""layercheck from Python and notebooks: `layercheck.check_file(path)`.

    >>> import layercheck
    >>> r = layercheck.check_file("my_layers.py", layers=("conv", "pool"))
    >>> r              # in Jupyter: the verdict table, patterns and diagnoses, inline
    >>> r.passed, r.exit_code, r.summary()
    >>> r.score.earned, r.score.possible, r.score.fraction   # the one score every output gives

The file is checked exactly as `layercheck check` does it (sandboxed worker, truths from the
on-disk cache); the result wraps the `StudentReport`.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from layercheck.reports.grading.batch import check_one  # the private copy the CLI grades
from layercheck.reports.grading.checker import PHASES_ORDER, StudentReport, is_fast
from layercheck.reports.grading.options import GradingOptions
from layercheck.reports.grading.scoring import Score, score_of
from layercheck.reports.student_cli import _case_status, terminal_summary

__all__ = ["CheckResult", "check_file"]


class CheckResult:
    """One submission's check: `.report` holds everything; prints as text, shows as HTML."""

    def __init__(self, report: StudentReport) -> None:
        self.report = report

    @property
    def exit_code(self) -> int:
        """0 all pass, 1 failures or a policy violation, 2 not loaded, 3 grader error."""
        return 3 if getattr(self.report, "grader_error", None) else self.report.exit_code()

    @property
    def passed(self) -> bool:
        """Whether every checked case passes and no policy is violated."""
        return self.exit_code == 0

    @property
    def score(self) -> Score:
        """The submission's score: the same points, of the same maximum, as every output."""
        return score_of(self.report)

    def summary(self) -> dict[str, int]:
        """Outputs by status, and the total."""
        return self.report.summary()

    def failures(self) -> list[str]:
        """One line per failing output."""
        return [r.message() for r in self.report.results if r.status in ("fail", "error",
                                                                           "timeout")]

    def rows(self) -> list[dict[str, Any]]:
        """Cases by layer and phase: passed / checked, and the points earned of the phase's
        points (a *_fast variant's row: reported, no points)."""
        items = {(i.layer, i.phase): i for i in self.score.items}
        rows = []
        for layer in self.report.layers:
            for fast in (False, True):
                for phase in PHASES_ORDER:
                    rs = [r for r in self.report.results if r.layer == layer
                          and r.phase == phase and is_fast(r) == fast]
                    if not rs:
                        continue
                    worst = _case_status(rs)
                    item = None if fast else items.get((layer, phase))
                    rows.append({"layer": f"{layer} (fast)" if fast else layer, "phase": phase,
                                 "passed": sum(v == "pass" for v in worst.values()),
                                 "cases": len(worst),
                                 "missing": all(r.status == "missing" for r in rs),
                                 "points": round(item.earned, 2) if item else None,
                                 "max_points": item.points if item else None})
        return rows

    def __repr__(self) -> str:
        return terminal_summary(self.report, reproducers=1)

    def _repr_html_(self) -> str:
        r, e = self.report, html.escape
        verdict = {0: ("all checked cases pass", "#1a7f37"), 1: ("failures", "#cf222e"),
                   2: ("could not be loaded", "#cf222e"), 3: ("grader error", "#9a6700")}
        words, color = verdict.get(self.exit_code, ("?", "#000"))
        h = [f"<div><p><b>{e(Path(r.implementation).name)}</b> ({e(r.api or '?')} API): "
             f"<span style='color:{color};font-weight:bold'>{words}</span></p>"]
        if getattr(r, "grader_error", None):
            h.append(f"<pre>{e(r.grader_error)}</pre></div>")
            return "".join(h)
        if r.load_error:
            h.append(f"<p>{e(r.load_error)}</p></div>")
            return "".join(h)
        if getattr(r, "isolation", "").startswith("NOT ISOLATED"):
            h.append(f"<p style='color:#9a6700'>Warning: {e(r.isolation)}</p>")
        if getattr(r, "file", None):
            h.append(f"<p>Graded file: <code>{e(r.file)}</code></p>")
        h += [f"<p style='color:#cf222e'>Policy: {e(p['detail'])}</p>" for p in r.policy]
        h += [f"<p style='color:#9a6700'>Warning: {e(w)}</p>"
              for w in getattr(r, "warnings", [])]
        h.append(f"<p><b>{e(self.score.text())}</b></p>")
        h.append("<table><tr><th>layer</th><th>phase</th><th>cases passed</th>"
                 "<th>points</th></tr>")
        for row in self.rows():
            ok = row["passed"] == row["cases"]
            cell = "missing" if row["missing"] else f"{row['passed']}/{row['cases']}"
            pts = ("not scored" if row["points"] is None else
                   f"{row['points']:g} of {row['max_points']:g}")
            style = "" if ok else " style='background:#fde2e2'"
            h.append(f"<tr{style}><td>{e(row['layer'])}</td><td>{row['phase']}</td>"
                     f"<td>{cell}</td><td>{pts}</td></tr>")
        h.append("</table>")
        if r.patterns:
            h.append("<p>Patterns:</p><ul>" + "".join(f"<li>{e(p)}</li>" for p in r.patterns)
                     + "</ul>")
        for s in r.shrunk:
            h.append(f"<p><b>Smallest failing case for {e(s.layer)} {e(s.output)}</b>: "
                     f"<code>{e(s.case)}</code><br>{e(s.diagnosis)}</p>"
                     f"<details><summary>reproducer</summary><pre>{e(s.reproducer)}</pre>"
                     f"</details>")
        h.append("</div>")
        return "".join(h)


def check_file(path: str | Path, layers: tuple[str, ...] | None = None,
               dtypes: tuple[str, ...] = ("f64",), api: str | None = None,
               timeout: float = 5.0, budget: float = 600.0, allow_torch: bool = False,
               shrink: bool = True) -> CheckResult:
    """Check a student file (or a repository folder) as `layercheck check PATH` does."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"layercheck.check_file: no such file or folder: {p}")
    options = GradingOptions(layers=tuple(layers) if layers else None, dtypes=tuple(dtypes),
                             api=api, timeout=timeout, budget=budget, allow_torch=allow_torch,
                             do_shrink=shrink)
    return CheckResult(check_one(str(p), options))
