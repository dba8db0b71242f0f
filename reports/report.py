"""`layercheck report`: impl/ against PyTorch over a grid, summarised per layer."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable

from tabulate import tabulate
from tqdm import tqdm

import impl
from cases.case import Case
from cases.grids import grid
from cases.runner import RunFn, check, module_runner
from reference.result import Result
from reports.frame import summary, to_frame
from reports.options import DTYPES, LAYERS, csv_of


def run_cases(cases: Iterable[Case], runner: RunFn, progress: bool | None = None) -> list[Result]:
    """Check every case; a progress bar on a terminal, quiet otherwise."""
    cases = list(cases)
    show = sys.stderr.isatty() if progress is None else progress
    results: list[Result] = []
    for case in tqdm(cases, disable=not show, unit="case", desc="checking"):
        results.extend(check(case, runner))
    return results


def cmd_report(args: argparse.Namespace) -> int:
    cases = grid(args.grid, args.layers, args.dtype)
    t0 = time.perf_counter()
    df = to_frame(run_cases(cases, module_runner(impl)))
    print(f"layercheck report: {len(cases)} cases ({args.grid} grid), {len(df)} outputs "
          f"checked in {time.perf_counter() - t0:.1f} s")
    print(tabulate(summary(df), headers="keys", tablefmt="github", showindex=False,
                   floatfmt=".3g"))
    return 0 if (df["status"] == "pass").all() else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("report", help="check impl/ against PyTorch over a grid and report",
                       description="Check impl/ against PyTorch over a grid and report.")
    r.add_argument("--grid", choices=("quick", "full"), default="full",
                   help="which grid of cases to run (default: full)")
    r.add_argument("--layers", type=csv_of(LAYERS), default=None,
                   help=f"comma-separated layers to include (default: all of {','.join(LAYERS)})")
    r.add_argument("--dtype", type=csv_of(DTYPES), default=None,
                   help="comma-separated dtypes: f32, f64 (default: both)")
    r.set_defaults(func=cmd_report)
