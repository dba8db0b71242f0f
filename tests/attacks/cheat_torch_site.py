# ruff: noqa
"""cheat: puts the grader's site-packages on sys.path to reach torch (not mounted)."""
import sys
from _tools import report

HOST = {}
sys.path.append(HOST["site"])
try:
    import torch  # noqa: F401
    report(torch="imported")
except ImportError as e:
    report(torch=repr(e))
