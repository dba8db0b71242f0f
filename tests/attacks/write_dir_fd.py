# ruff: noqa
"""write: os.open(..., dir_fd=...) on a folder fd to write beside the grader's files."""
import os
from _tools import disable_audit_hook, report

HOST = {}
OFF = disable_audit_hook()
found = {"hook_off": OFF}
for key in ("grader_dir", "root"):
    try:
        d = os.open(HOST[key], os.O_RDONLY)
        fd = os.open("pwned.txt", os.O_WRONLY | os.O_CREAT, dir_fd=d)
        os.write(fd, b"pwned")
        found[key] = "written"
    except OSError as e:
        found[key] = type(e).__name__
for path in ("/pwned", "/usr/pwned", "/lc/worker/pwned"):
    try:
        open(path, "w").write("pwned")
        found[path] = "written"
    except OSError as e:
        found[path] = type(e).__name__
report(**found)
