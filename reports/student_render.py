"""Markdown and HTML for a student report, through the same renderers as `layercheck report`:
the student's feedback comes first, the tables of outputs not passed after it."""

from __future__ import annotations

import html

from layercheck.reports.escape import md_code, md_text
from layercheck.reports.frame import to_frame
from layercheck.reports.grading.checker import StudentReport
from layercheck.reports.grading.scoring import score_of
from layercheck.reports.render import CSS, render_html, render_markdown


def _fence(code: str) -> str:
    """A code fence longer than any run of backticks in `code` (which cannot close it)."""
    run = longest = 0
    for ch in code:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def _section(report: StudentReport) -> tuple[str, str]:
    """The student-specific section (policy, patterns, smallest failures) as (md, html)."""
    score = score_of(report).text()  # the one score every output gives
    md = ["## Feedback", "", f"**{md_text(score)}**", ""]
    h = ["<h2 id='feedback'>Feedback</h2>", f"<p><b>{html.escape(score)}</b></p>"]
    if getattr(report, "isolation", "").startswith("NOT ISOLATED"):
        md += [f"**Warning:** {md_text(report.isolation)}", ""]
        h.append(f"<p class='verdict-fail'>Warning: {html.escape(report.isolation)}</p>")
    if getattr(report, "file", None):
        md += [f"Graded file: {md_code(report.file)}", ""]
        h.append(f"<p>Graded file: <code>{html.escape(report.file)}</code></p>")
    for w in getattr(report, "warnings", []):
        md += [f"- **Warning:** {md_text(w)}"]
        h.append(f"<p class='verdict-warn'>Warning: {html.escape(w)}</p>")
    if getattr(report, "grader_error", None):
        md += [f"**Grader error** (not caused by this submission; exit code 3): "
               f"{md_text(report.grader_error)}", ""]
        h.append(f"<p class='verdict-fail'>Grader error (not caused by this submission; exit "
                 f"code 3): {html.escape(report.grader_error)}</p>")
    if report.load_error:
        md += [f"The file could not be loaded: {md_text(report.load_error)}", ""]
        h.append(f"<p class='verdict-fail'>The file could not be loaded: "
                 f"{html.escape(report.load_error)}</p>")
    for p in report.policy:
        md += [f"- **Policy:** {md_text(p['detail'])}"]
        h.append(f"<p class='verdict-fail'>Policy: {html.escape(p['detail'])}</p>")
    if report.patterns:
        md += ["", "Patterns across the grid:", ""] + [f"- {md_text(p)}"
                                                        for p in report.patterns]
        h += ["<p>Patterns across the grid:</p><ul>"]
        h += [f"<li>{html.escape(p)}</li>" for p in report.patterns] + ["</ul>"]
    for s in report.shrunk:
        fence = _fence(s.reproducer)
        md += ["", f"### Smallest failing case: {md_text(s.layer)} {md_text(s.output)}", "",
               f"{md_code(s.case)} (found from {md_code(s.original)}): "
               f"{md_text(s.diagnosis)}", "", f"{fence}python", s.reproducer, fence]
        h += [f"<h3>Smallest failing case: {html.escape(s.layer)} {html.escape(s.output)}</h3>",
              f"<p><code>{html.escape(s.case)}</code>: {html.escape(s.diagnosis)}</p>",
              f"<pre>{html.escape(s.reproducer)}</pre>"]
    return "\n".join(md) + "\n", "\n".join(h)


def _title(report: StudentReport) -> str:
    return f"layercheck check: {report.implementation}"


def student_markdown(report: StudentReport) -> str:
    """The report as Markdown: the summary, then the feedback, then the outputs not passed
    (alike ones as one row) and the errors per layer (the renderer of `layercheck
    report`)."""
    section = _section(report)
    df = to_frame(report.results)
    if df.empty:
        return f"# {md_text(_title(report))}\n\n{section[0]}"
    return render_markdown(df, md_text(_title(report)), lead_sections=[section],
                           all_rows=None, group_alike=True)


def student_html(report: StudentReport) -> str:
    """The report as one HTML page, in the order of `student_markdown`."""
    section = _section(report)
    df = to_frame(report.results)
    if df.empty:
        title = html.escape(_title(report))
        return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
                f"<title>{title}</title><style>{CSS}</style></head><body><h1>{title}</h1>"
                f"{section[1]}</body></html>")
    return render_html(df, _title(report), lead_sections=[section], all_rows=None,
                       group_alike=True)
