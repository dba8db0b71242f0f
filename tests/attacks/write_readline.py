# ruff: noqa
"""write: readline.write_history_file writes anywhere, without an audit event."""
import readline
from _tools import report

HOST = {}
found = {}
for key in ("canary", "own_file"):
    try:
        readline.add_history("pwned")
        readline.write_history_file(HOST[key])
        found[key] = "written"
    except OSError as e:
        found[key] = type(e).__name__
report(**found)
