# ruff: noqa
"""cheat: reads the float64 truth from the grader's heap through /proc/<pid>/mem."""
import os
from _tools import report

HOST = {}
found = {"visible_pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
         "ppid": os.getppid()}
for pid in {HOST["grader_pid"], os.getppid()}:
    try:
        with open(f"/proc/{pid}/mem", "rb") as f:
            f.seek(0x400000)
            found[f"mem_{pid}"] = len(f.read(16))
    except OSError as e:
        found[f"mem_{pid}"] = type(e).__name__
try:
    found["grader_cmdline"] = open(f"/proc/{HOST['grader_pid']}/cmdline").read()
except OSError as e:
    found["grader_cmdline"] = type(e).__name__
report(**found)
