"""`layercheck check`: a student's file against the reference (placeholder)."""

from __future__ import annotations

import argparse


def cmd_check(args: argparse.Namespace) -> int:
    print("layercheck check: not built yet")
    return 2


def add_parser(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("check", help="check a student's implementation file")
    c.set_defaults(func=cmd_check)
