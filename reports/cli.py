"""The `layercheck` command line: report, bench, check, gradescope-autograder, class-report."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading

from layercheck.reports import class_report, student_cli
from layercheck.reports.grading import autograder

# Commands whose modules import neither torch nor matplotlib: `layercheck check` on a warm
# truth cache starts in a fraction of a second because only these are imported for them.
LIGHT_COMMANDS = ("check", "gradescope-autograder", "class-report")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; for a light command, only the light modules are imported."""
    p = argparse.ArgumentParser(prog="layercheck", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    modules: list = [student_cli, autograder, class_report]
    if command not in LIGHT_COMMANDS:
        from layercheck.reports import bench, report

        modules = [report, bench, *modules]
    for module in modules:
        module.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    tolerant_streams()
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    args.argv = list(argv)  # the command as given, for the one that resumes it
    return args.func(args)


def console() -> int:
    """The `layercheck` program: `main`, and after a Ctrl-C (exit 130) an exit with a
    deadline, so that a stopped pool's threads, joined at the interpreter's exit, cannot
    hang an interrupted batch (a second Ctrl-C meanwhile is ignored)."""
    code = main()
    if code == student_cli.INTERRUPTED_EXIT:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        timer = threading.Timer(5.0, _leave, (code,))
        timer.daemon = True
        timer.start()
    return code


def _leave(code: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def tolerant_streams() -> None:
    """stdout and stderr write what they cannot encode as backslash escapes (a student's
    lone surrogate, ✗ on an ASCII terminal) instead of raising UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")


if __name__ == "__main__":
    sys.exit(console())
