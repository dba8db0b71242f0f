"""`layercheck bench`: impl/ against PyTorch timings (placeholder until the timing work lands)."""

from __future__ import annotations

import argparse


def cmd_bench(args: argparse.Namespace) -> int:
    print("layercheck bench: not built yet")
    return 2


def add_parser(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("bench", help="time impl/ against PyTorch")
    b.set_defaults(func=cmd_bench)
