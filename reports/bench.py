"""`layercheck bench`: impl/ against PyTorch, timed; the speed table, ratios and goals."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from layercheck import impl
from layercheck.reports.grading.options import DTYPES, LAYERS, csv_of
from layercheck.reports.render import clean, goals_table, md_table, memory_table, speed_tables
from layercheck.reports.timing import Bench, run_bench, select_shapes


def print_bench(b: Bench) -> None:
    """The Compare-style tables, geomeans, GFLOP/s, memory and goals, as Markdown."""
    what = "CPU ms of the timing thread" if b.clock == "cpu" else "ms"
    print(f"impl/ vs PyTorch, {b.threads} threads, {b.repeats} timed blocks per cell; "
          f"cells: median {what} [IQR]; ratio = impl/PyTorch (< 1: impl faster)")
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
    print("\n## speed goals\n")
    print(md_table(goals_table(b)))
    for n in b.notes:
        print(f"note: {n}")
    note = blas_note()
    if note:
        print(f"note: {note}")
    elif blas_kernels():
        print(f"note: NumPy's OpenBLAS runs its {blas_kernels()} kernels")
    print(f"\nthread pools: {b.threads_seen}\n({b.seconds:.0f} s)")


def write_bench_json(b: Bench, path: str | Path) -> Path:
    """The benchmark's `to_dict()` as strict JSON (inf as "inf", NaN as null)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(clean(b.to_dict()), indent=1, allow_nan=False, default=str))
    return path


# NumPy's OpenBLAS reads OPENBLAS_CORETYPE once, when NumPy is imported. Left alone, on this
# project's AMD (AVX-512) machine it picks its SkylakeX kernels; the environment there pins
# Haswell (AVX2): NumPy's matmul peak, 2 threads, was 239 GFLOP/s f32 and 114 f64 pinned,
# 485 and 199 with SkylakeX. PyTorch's MKL and oneDNN use AVX-512 either way. The bench
# times NumPy as loaded and says so; --blas-coretype NAME times it in a new process with
# NAME instead.
_CHILD = "LAYERCHECK_BENCH_CHILD"


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return set(line.partition(":")[2].split())


def blas_kernels() -> str:
    """The kernel set(s) NumPy's OpenBLAS runs, e.g. 'Haswell'; '' for another BLAS."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ""
    return ", ".join(sorted({str(i.get("architecture")) for i in threadpool_info()
                             if i.get("internal_api") == "openblas"}))


def blas_note() -> str | None:
    """A note where OpenBLAS runs AVX2 kernels on a CPU with AVX-512 (PyTorch uses it)."""
    kernels = blas_kernels()
    if kernels not in ("Haswell", "Zen") or "avx512f" not in _cpu_flags():
        return None
    pinned = os.environ.get("OPENBLAS_CORETYPE")
    why = f"OPENBLAS_CORETYPE={pinned} in the environment" if pinned else "its own choice"
    return (f"NumPy's OpenBLAS runs its {kernels} (AVX2) kernels ({why}) on a CPU with "
            f"AVX-512, which PyTorch uses: impl's matrix products run at about half the "
            f"speed they could (--blas-coretype SkylakeX to time with those kernels)")


def _child_argv(args: argparse.Namespace) -> list[str]:
    argv = ["bench"] + (["--cpu-time"] if args.cpu_time else [])
    for opt in ("threads", "repeats", "shapes", "json"):
        if getattr(args, opt) is not None:
            argv += [f"--{opt}", str(getattr(args, opt))]
    for opt in ("layers", "dtype"):
        if getattr(args, opt) is not None:
            argv += [f"--{opt}", ",".join(getattr(args, opt))]
    return argv + (["--quick"] if args.quick else [])


def _rerun_with_blas(args: argparse.Namespace, coretype: str) -> int:
    """This benchmark in a new process whose OpenBLAS loads with `coretype`."""
    print(f"layercheck bench: timing in a new process with OPENBLAS_CORETYPE={coretype}",
          file=sys.stderr, flush=True)
    env = {**os.environ, "OPENBLAS_CORETYPE": coretype, _CHILD: "1"}
    code = "import sys; from layercheck.reports.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *_child_argv(args)], env=env).returncode


def cmd_bench(args: argparse.Namespace) -> int:
    if args.blas_coretype and not os.environ.get(_CHILD):
        return _rerun_with_blas(args, args.blas_coretype)
    shapes = select_shapes(args.layers, args.dtype,
                           args.shapes.split(",") if args.shapes else None)
    if not shapes:
        print("layercheck bench: no benchmark shape matches the options", file=sys.stderr)
        return 2
    repeats = args.repeats or (3 if args.quick else 15)
    threads = args.threads if args.threads is not None else (1 if args.cpu_time else 2)
    if args.cpu_time and threads != 1:
        print("layercheck bench: --cpu-time counts the timing thread only: it needs "
              "--threads 1", file=sys.stderr)
        return 2
    b = run_bench(impl, shapes, threads=threads, repeats=repeats, quick=args.quick,
                  progress=lambda step: print(f"timing: {step}", file=sys.stderr),
                  clock="cpu" if args.cpu_time else "wall")
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
                    "matmul peak, conv peak memory, and the issue-15 goals as pass/miss.")
    b.add_argument("--threads", type=int, default=None, metavar="N",
                   help="threads for torch, NumPy's BLAS and impl (default: 2; 1 with "
                        "--cpu-time)")
    b.add_argument("--cpu-time", action="store_true",
                   help="time the timing thread's CPU time instead of wall time, on one "
                        "thread: figures that other processes on a busy machine do not "
                        "inflate")
    b.add_argument("--repeats", type=int, default=None, metavar="R",
                   help="timed blocks per cell (default: 15, or 3 with --quick)")
    b.add_argument("--quick", action="store_true",
                   help="few short blocks and a small matmul: rough figures, for tests")
    b.add_argument("--layers", type=csv_of((*LAYERS, "train")), default=None,
                   help="comma-separated layers to time, 'train' for the training steps "
                        "(default: all)")
    b.add_argument("--dtype", type=csv_of(DTYPES), default=None,
                   help="comma-separated dtypes to time (default: both)")
    b.add_argument("--shapes", default=None, metavar="NAMES",
                   help="comma-separated shape names to time, e.g. 'mnist' or "
                        "'conv mnist f32' (default: all)")
    b.add_argument("--json", default=None, metavar="PATH",
                   help="also write every figure to this JSON file")
    b.add_argument("--blas-coretype", default=None, metavar="NAME",
                   help="time in a new process with OPENBLAS_CORETYPE=NAME (e.g. SkylakeX): "
                        "the kernels NumPy's OpenBLAS runs (default: as the environment "
                        "loads it)")
    b.set_defaults(func=cmd_bench)
