# ruff: noqa
"""cheat: execs a classmate's file from the same folder to take their layers."""
from _tools import report

HOST = {}
try:
    exec(open(HOST["classmate"]).read())
    report(classmate="executed")
except OSError as e:
    report(classmate=type(e).__name__)
