# ruff: noqa
"""exfiltration: reads the grader's home, its project (reference, impl), the truth cache,
secrets and other submissions."""
import os
from _tools import report

HOST = {}
paths = [HOST["project"], HOST["home"], HOST["grader_dir"], HOST["site"], "/etc/shadow",
         "/etc/passwd", "/home", "/work", "/var", "/run", "/sys", "/dev/tty", "/dev/pts"]
found = {p: os.path.exists(p) for p in paths}
found["home_listing"] = os.listdir(HOST["home"]) if os.path.isdir(HOST["home"]) else None
report(**found)
