"""Student-derived text made safe for each output format: terminal, files, CSV, Markdown.

Anything a submission controls (error texts, file names, hints) can reach a report. Every
writer can encode it (`valid_text`: no lone surrogate reaches an encoder); a terminal must
not receive control sequences (layercheck.cases.sandbox.wire.printable strips them); a
spreadsheet must not read a cell as a formula; Markdown must show it as the text it is
(`md_text`: no table row ends, no HTML tag, link, image, autolink, heading or code span
opens).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import numpy as np
from layercheck.cases.sandbox.wire import printable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(v: str) -> str:
    """`v` as text every UTF-8 writer can encode: each surrogate code point (a lone
    "\\ud800" in a student's exception message, an undecodable byte of a file name) is
    written out as its escape, the six characters \\ud800."""
    if not _SURROGATE.search(v):
        return v
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", v)


def valid_data(v: Any) -> Any:
    """`v` (JSON-like: dicts, lists, tuples, strings, numbers) with every string, keys
    included, made `valid_text` (tuples become lists, as in JSON)."""
    if isinstance(v, str):
        return valid_text(v)
    if isinstance(v, dict):
        return {valid_data(k): valid_data(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [valid_data(x) for x in v]
    return v


def for_stream(text: str, stream: TextIO) -> str:
    """`text` as `stream` can encode it: surrogates and characters its encoding lacks
    (an ASCII terminal and ✗) written as backslash escapes, never an exception."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        return valid_text(text).encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:  # an encoding Python does not know: plain ASCII is always safe
        return valid_text(text).encode("ascii", "backslashreplace").decode("ascii")


def csv_cell(v: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: control characters dropped (`printable`: ESC,
    BEL, CR, DEL, C1, bidi controls; tab and newline kept), then a string starting with
    = + - @ or tab gets a leading ' (OWASP's advice for CSV injection); numbers and None
    are left as they are."""
    if isinstance(v, str):
        v = printable(valid_text(v)) or ""
    if isinstance(v, str) and v.startswith(FORMULA_STARTS):
        return "'" + v
    return v


# What Markdown (CommonMark with GitHub's extensions) would read as syntax inside a line,
# each replaced by text that shows the same characters:
_MD = re.compile(
    r"(?P<nl>\r\n|\r|\n)"               # a line break would end a table row or a paragraph
    r"|(?P<ent>[&<>])"                   # entities, HTML tags, <autolinks>
    r"|(?P<punct>[\\`*_\[\]~|#$])"        # escapes, code spans, emphasis, links and images,
                                          # strikethrough, table cells, headings, math
    r"|(?P<scheme>:(?=//))"              # bare http://... (GitHub's extended autolinks)
    r"|(?P<www>(?<=[wW]{3})\.)"          # bare www.example.org
    r"|(?P<at>@(?=[\w-]+\.\w))")          # bare name@example.org
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# what opens a block only at the start of a line: a list item's marker and its space
# ("- x", "+ x", "1. x", "1) x"), a line of - or = alone (a setext underline, a break)
_MARKER = re.compile(r"([ \t]*)(?:([+-])(?=[ \t]|$)|([-=])(?=[-= \t]*$)"
                     r"|(\d{1,9})([.)])(?=[ \t]|$))")


def _md_sub(m: re.Match) -> str:
    kind, s = m.lastgroup, m.group()
    if kind == "nl":
        return "<br>"
    if kind == "ent":
        return _ENTITIES[s]
    if kind == "at":  # an e-mail autolink is found across escapes; an empty comment ends it
        return "@<!-- -->"
    return "\\" + s


def md_text(v: Any) -> str:
    """Text for Markdown, shown as written wherever it is placed (a table cell, a list
    item, a heading, a line's start): control characters dropped, &, <, > as entities (no
    HTML tag or <autolink> opens), newlines as <br> (no row or paragraph ends), Markdown's
    punctuation backslash-escaped (no link, image, code span, emphasis, heading, table
    cell or math opens), and bare URLs, www. names and e-mail addresses broken so that no
    autolink forms."""
    s = _MD.sub(_md_sub, printable(valid_text(str(v))) or "")
    m = _MARKER.match(s)
    if m is None:
        return s
    lead, rest = m.group(1), s[m.end(1):]
    if m.group(4):  # "1." or "1)": escape the dot or parenthesis
        return f"{lead}{m.group(4)}\\{rest[len(m.group(4)):]}"
    return f"{lead}\\{rest}"


def md_code(v: Any) -> str:
    """Text as one Markdown code span (shown literally, HTML included): control characters
    and line breaks dropped, delimited by more backticks than any run inside it."""
    s = " ".join((printable(valid_text(str(v))) or "").splitlines())
    run = longest = 0
    for ch in s:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    tick = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{tick}{pad}{s}{pad}{tick}"


def json_value(v: Any, missing: Callable[[Any], bool] = lambda v: False) -> Any:
    """`v` as strict JSON can hold it: numpy scalars as Python's, NaN (and what `missing`
    says is missing) as None, ±inf as "inf"/"-inf", strings `valid_text`."""
    if isinstance(v, str):
        return valid_text(v)
    if isinstance(v, Mapping):
        return {valid_text(str(k)): json_value(x, missing) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [json_value(x, missing) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        if math.isnan(v):
            return None
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
    return None if missing(v) else v
