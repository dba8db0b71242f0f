"""Text that comes from a student, made safe once where it enters the grader.

A student controls exception messages, tracebacks, the names a file defines, file names and
docstrings. Any of them may hold lone surrogates (which no UTF-8 writer accepts), invalid
bytes, terminal escape sequences, bidirectional overrides or megabytes of text. `clean_text`
turns each into valid, printable UTF-8 of bounded length, so that no writer downstream can
fail on it or be made to show something else. Standard library only (runs in the sandbox).
"""

from __future__ import annotations

import re

MAX_TEXT = 4000  # characters kept of one text (a message or a traceback)
MAX_NAME = 200  # characters kept of one name (a file, a module, a type, a definition)
REPLACEMENT = "\ufffd"
# Lone surrogates: valid in a Python str, refused by every UTF-8 encoder.
_SURROGATES = re.compile("[\ud800-\udfff]")
# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional marks, embeddings,
# overrides and isolates: what could rewrite a terminal (clear the screen, move the cursor,
# set the title, print a forged verdict over the real one) or reorder a line as shown.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                       "\u2066-\u2069]")
# What ends a line besides "\n": kept as a line break in texts, a space in names.
_BREAKS = re.compile("\r\n|[\r\u2028\u2029]")
_LINE = re.compile("[\n\t]")


def printable(v: str) -> str:
    """`v` without control characters (C0 but tab and newline, DEL, C1, bidirectional
    controls) and with each lone surrogate replaced: escape sequences lose their ESC and
    show as plain characters; the result always encodes as UTF-8."""
    return _CONTROLS.sub("", _SURROGATES.sub(REPLACEMENT, v))


def clean_text(v: str | bytes, limit: int = MAX_TEXT, *, lines: bool = True) -> str:
    """`v` as valid, printable UTF-8 of at most `limit` characters (and a note of the cut).

    Invalid bytes and lone surrogates become U+FFFD, control characters are removed, and
    carriage returns and Unicode line separators become newlines (`lines`) or, in a
    one-line field such as a name (`lines=False`), spaces along with newlines and tabs.
    The text is cut before it is cleaned, so the cost stays linear in `limit`.
    """
    if isinstance(v, bytes | bytearray):
        v = bytes(v).decode("utf-8", "replace")
    elif not isinstance(v, str):
        raise TypeError(f"clean_text takes a str or bytes, not {type(v).__name__}")
    cut = len(v) - limit
    if cut > 0:
        v = v[:limit]
    v = _BREAKS.sub("\n" if lines else " ", v)
    if not lines:
        v = _LINE.sub(" ", v)
    v = printable(v)
    return v + f"... [{cut} more characters cut]" if cut > 0 else v


def clean_name(v: str | bytes, limit: int = MAX_NAME) -> str:
    """A one-line text (a name, a file name): `clean_text` with line breaks as spaces."""
    return clean_text(v, limit, lines=False)
