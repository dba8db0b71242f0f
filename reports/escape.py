"""Student-derived text made safe for each output format: terminal, CSV, Markdown.

Anything a submission controls (error texts, file names, hints) can reach a report. A
terminal must not receive control sequences (layercheck.cases.sandbox.wire.printable strips them); a
spreadsheet must not read a cell as a formula; a Markdown cell must not end its table row
or open an HTML tag.
"""

from __future__ import annotations

from typing import Any

from layercheck.cases.sandbox.wire import printable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(v: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: control characters dropped (`printable`: ESC,
    BEL, CR, DEL, C1, bidi controls; tab and newline kept), then a string starting with
    = + - @ or tab gets a leading ' (OWASP's advice for CSV injection); numbers and None
    are left as they are."""
    if isinstance(v, str):
        v = printable(v) or ""
    if isinstance(v, str) and v.startswith(FORMULA_STARTS):
        return "'" + v
    return v


def md_text(v: Any) -> str:
    """Text for Markdown: control characters dropped, &, <, > as entities (no HTML tag can
    open), | escaped (no table cell can end) and newlines as <br> (no row can end)."""
    s = printable(str(v)) or ""
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = s.replace("|", "\\|")
    return s.replace("\r\n", "\n").replace("\n", "<br>")


def md_code(v: Any) -> str:
    """Text as one Markdown code span (shown literally, HTML included): control characters
    and line breaks dropped, delimited by more backticks than any run inside it."""
    s = " ".join((printable(str(v)) or "").split("\n"))
    run = longest = 0
    for ch in s:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    tick = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{tick}{pad}{s}{pad}{tick}"
