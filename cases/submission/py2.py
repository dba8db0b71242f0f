"""Python 2 syntax recognised in a SyntaxError, with its Python 3 spelling."""

from __future__ import annotations

import re

PY2_LINES = (  # statements only Python 2 accepts, and their Python 3 spelling
    (re.compile(r"^\s*print\b\s*[^\s(=.]"), "`print(...)` with parentheses"),
    (re.compile(r"^\s*exec\b\s*[\"'\w]"), "`exec(...)` with parentheses"),
    (re.compile(r"^\s*except\s+[\w.]+\s*,\s*\w+\s*:"), "`except E as e:`"),
    (re.compile(r"^\s*raise\s+[\w.]+\s*,"), "`raise E(message)`"),
    (re.compile(r"(?<![\w.])0\d+\b|(?<![\w.])\d+[lL]\b|`"),
     "`0o17` for octal, no L suffix, `repr(x)` for `x` in backquotes"))


def python2_hint(e: SyntaxError) -> str:
    """' (Python 2 code: ...)' when the line that failed is Python 2 syntax, else ''."""
    text = e.text or ""
    fixes = [fix for pattern, fix in PY2_LINES if pattern.search(text)]
    if "Missing parentheses in call to 'print'" in (e.msg or "") and not fixes:
        fixes = [PY2_LINES[0][1]]
    if not fixes:
        return ""
    return f" (Python 2 code: layercheck runs Python 3; write {fixes[0]})"
