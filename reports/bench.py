"""`layercheck bench`: impl/ against PyTorch, timed; the speed table, ratios and goals."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import impl
from reports.options import DTYPES, LAYERS, csv_of
from reports.render import clean, goals_table, md_table, memory_table, speed_tables
from reports.timing import Bench, run_bench, select_shapes


def print_bench(b: Bench) -> None:
    """The Compare-style tables, geomeans, GFLOP/s, memory and goals, as Markdown."""
    print(f"impl/ vs PyTorch, {b.threads} threads, {b.repeats} timed blocks per cell; "
          f"cells: median ms [IQR]; ratio = impl/PyTorch (< 1: impl faster)")
    for layer, t in speed_tables(b).items():
        print(f"\n## {layer}\n")
        print(md_table(t, index=True))
    print("\n## geometric mean of fwd+bwd ratios\n")
    print(md_table(b.geomeans()))
    if not b.gflops().empty:
        print("\n## conv GFLOP/s (fwd+bwd) and share of NumPy matmul peak\n")
        print(md_table(b.gflops()))
    if not b.memory.empty:
        print("\n## conv peak memory, forward+backward (tracemalloc)\n")
        print(md_table(memory_table(b)))
    print("\n## goals (issue 5)\n")
    print(md_table(goals_table(b)))
    for n in b.notes:
        print(f"note: {n}")
    print(f"\nthread pools: {b.threads_seen}\n({b.seconds:.0f} s)")


def write_bench_json(b: Bench, path: str | Path) -> Path:
    """The benchmark's `to_dict()` as strict JSON (inf as "inf", NaN as null)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(clean(b.to_dict()), indent=1, allow_nan=False, default=str))
    return path


def cmd_bench(args: argparse.Namespace) -> int:
    shapes = select_shapes(args.layers, args.dtype,
                           args.shapes.split(",") if args.shapes else None)
    if not shapes:
        print("layercheck bench: no benchmark shape matches the options", file=sys.stderr)
        return 2
    repeats = args.repeats or (3 if args.quick else 15)
    b = run_bench(impl, shapes, threads=args.threads, repeats=repeats, quick=args.quick,
                  progress=lambda step: print(f"timing: {step}", file=sys.stderr))
    print_bench(b)
    if args.json:
        print(f"wrote {write_bench_json(b, args.json)}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser(
        "bench", help="time impl/ against PyTorch (forward, backward, both) and print ratios",
        description="Time impl/ against PyTorch on the benchmark shapes, in one process with "
                    "the thread count fixed; print the Compare-style table (median ms [IQR]), "
                    "impl/PyTorch ratios, geometric means, conv GFLOP/s against the NumPy "
                    "matmul peak, conv peak memory, and the issue-5 goals as pass/miss.")
    b.add_argument("--threads", type=int, default=2, metavar="N",
                   help="threads for torch and NumPy's BLAS (default: 2)")
    b.add_argument("--repeats", type=int, default=None, metavar="R",
                   help="timed blocks per cell (default: 15, or 3 with --quick)")
    b.add_argument("--quick", action="store_true",
                   help="few short blocks and a small matmul: rough figures, for tests")
    b.add_argument("--layers", type=csv_of(LAYERS), default=None,
                   help="comma-separated layers to time (default: all)")
    b.add_argument("--dtype", type=csv_of(DTYPES), default=None,
                   help="comma-separated dtypes to time (default: both)")
    b.add_argument("--shapes", default=None, metavar="NAMES",
                   help="comma-separated shape names to time, e.g. 'mnist' or "
                        "'conv mnist f32' (default: all)")
    b.add_argument("--json", default=None, metavar="PATH",
                   help="also write every figure to this JSON file")
    b.set_defaults(func=cmd_bench)
