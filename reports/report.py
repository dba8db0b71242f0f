"""`layercheck report`: impl/ against PyTorch over a grid: CSV, JSON, Markdown and HTML."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from layercheck import impl
from layercheck.cases.case import Case
from layercheck.cases.grids import GRIDS, grid
from layercheck.reference.result import Result
from layercheck.reference.verdicts import RunFn, check, module_runner
from layercheck.reports import training, unit_runs
from layercheck.reports.curricula import curricula_section
from layercheck.reports.env import environment
from layercheck.reports.frame import summary, to_frame
from layercheck.reports.grading import units
from layercheck.reports.grading.options import DTYPES, LAYERS, csv_of
from layercheck.reports.render import write_all
from layercheck.reports.timing import Bench, fixed_threads, run_bench, select_shapes
from tabulate import tabulate
from tqdm import tqdm


def _show(progress: bool | None) -> bool:
    return sys.stderr.isatty() if progress is None else progress


def run_cases(cases: Iterable[Case], runner: RunFn, progress: bool | None = None,
              seconds: dict[str, float] | None = None, threads: int | None = 1
              ) -> list[Result]:
    """Check every case; a progress bar on a terminal, quiet otherwise.

    When `seconds` is given, the wall time of each case's check is stored in it by case id.
    `threads` fixes torch's and NumPy's BLAS thread counts meanwhile (None: leave them):
    grid cases are tiny, and on a busy machine 2 threads make each check about 10× slower
    than 1.
    """
    cases = list(cases)
    results: list[Result] = []
    with fixed_threads(threads) if threads else contextlib.nullcontext():
        for case in tqdm(cases, disable=not _show(progress), unit="case", desc="checking"):
            t0 = time.perf_counter()
            results.extend(check(case, runner))
            if seconds is not None:
                seconds[case.id] = time.perf_counter() - t0
    return results


def bench_for(args: argparse.Namespace, progress: bool | None = None) -> Bench | None:
    """The speed benchmark for the report's layers and dtypes (None with --no-speed)."""
    if args.no_speed:
        return None
    shapes = select_shapes(args.layers, args.dtype)
    if not shapes:
        return None
    bar = tqdm(total=args.repeats, disable=not _show(progress), unit="round", desc="timing")

    def step(name: str) -> None:
        if name.startswith("round") and not name.startswith("round 1/"):
            bar.update(1)
        bar.set_postfix_str(name)

    try:
        return run_bench(impl, shapes, threads=args.threads, repeats=args.repeats,
                         progress=step)
    finally:
        bar.close()


def cmd_report(args: argparse.Namespace) -> int:
    layers = units.layers_only(args.layers)
    cases = grid(args.grid, layers, args.dtype) if layers != () else []
    t0 = time.perf_counter()
    seconds: dict[str, float] = {}
    found = run_cases(cases, module_runner(impl), seconds=seconds)
    found += unit_runs.impl_results(args.layers, tuple(args.dtype or DTYPES), seconds)  # units
    df = to_frame(found, seconds)
    t_check = time.perf_counter() - t0
    print(f"layercheck report: {len(cases)} cases ({args.grid} grid), {len(df)} outputs "
          f"checked in {t_check:.1f} s")
    speed = bench_for(args)
    sections = [sec for sec in (curricula_section(df),) if sec is not None]
    if not args.no_training:
        sections.append(training.training_section(Path(args.out)))
    paths = write_all(df, args.out, title="layercheck report: impl/ against PyTorch",
                      speed=speed, env=environment(args.threads), extra_sections=sections)
    print(tabulate(summary(df), headers="keys", tablefmt="github", showindex=False,
                   floatfmt=".3g"))
    if speed is not None:
        print(f"speed, geomean impl/PyTorch fwd+bwd ({speed.threads} threads): "
              + ", ".join(f"{k} {v:.3g}" for k, v in speed.layer_geomeans().items()))
    failed = int((df["status"] != "pass").sum())
    missed = ([g["goal"] for g in speed.goals() if g["met"] is False]
              if speed is not None else [])
    speed_note = (f"; {len(missed)} of {len(speed.goals())} speed goals missed: "
                  f"{'; '.join(missed)}" if missed else "")
    print(f"{'all passed' if not failed else f'{failed} outputs not passed'}{speed_note}; "
          f"wrote {', '.join(str(p) for p in paths.values())} "
          f"({time.perf_counter() - t0:.0f} s)")
    return 0 if failed == 0 and len(df) else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser(
        "report", help="check impl/ against PyTorch over a grid and write the report",
        description="Check impl/ against PyTorch over a grid of cases, time it against "
                    "PyTorch, and write results.csv, results.json, report.md and report.html "
                    "under --out. Exit code 0 when every output passes, 1 otherwise; the "
                    "files are written either way.")
    r.add_argument("--grid", choices=GRIDS, default="full",
                   help="which grid of cases to run: quick (about 1,000 cases, seconds), "
                        "full (every combination, about 17,500 cases; default) or pairwise "
                        "(all pairs of PyTorch's extra arguments: dilation, groups, 'same', "
                        "ceil_mode, ...; conv and pooling only)")
    r.add_argument("--out", default="out", metavar="DIR",
                   help="folder the four files are written to (default: out)")
    r.add_argument("--layers", type=csv_of(LAYERS), default=None,
                   help=f"comma-separated layers to check and time (default: all of "
                        f"{','.join(LAYERS)})")
    r.add_argument("--dtype", type=csv_of(DTYPES), default=None,
                   help="comma-separated dtypes to check and time: f32, f64 (default: both)")
    r.add_argument("--no-speed", action="store_true",
                   help="skip the speed benchmark against PyTorch (and its table and plot)")
    r.add_argument("--no-training", action="store_true",
                   help="skip the training sections (SimpleConvNet, AlexNet-style, "
                        "batch-normalized SimpleConvNet)")
    r.add_argument("--threads", type=int, default=2, metavar="N",
                   help="threads for torch and NumPy's BLAS while timing (default: 2)")
    r.add_argument("--repeats", type=int, default=10, metavar="R",
                   help="timed blocks per benchmark cell; medians and IQR over them "
                        "(default: 10; layercheck bench uses 15)")
    r.set_defaults(func=cmd_report)
