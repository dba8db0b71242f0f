"""The `layercheck` command line: report, bench, check."""

from __future__ import annotations

import argparse
import sys

from reports import bench, report, student_cli


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="layercheck", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    for module in (report, bench, student_cli):
        module.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
