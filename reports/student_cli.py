"""`layercheck check`: student files against the reference, in a sandbox, with feedback."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from tabulate import tabulate

from cases.student.checker import PHASES_ORDER, StudentReport, check_submission, is_fast
from reports.gradescope import write_gradescope
from reports.options import LAYERS, csv_of
from reports.student_render import student_html, student_markdown

DTYPE_NAMES = {"f32": "f32", "f64": "f64", "float32": "f32", "float64": "f64"}
SKIP = {"__pycache__", "__init__.py"}


def _dtypes(text: str) -> tuple[str, ...]:
    items = tuple(t.strip() for t in text.split(",") if t.strip())
    bad = [t for t in items if t not in DTYPE_NAMES]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"unknown dtype {', '.join(bad) or '(empty)'}; "
                                         f"choose from float64, float32 (or f64, f32)")
    return tuple(dict.fromkeys(DTYPE_NAMES[t] for t in items))


def submissions(targets: list[str]) -> list[str]:
    """Files as given; a folder holds one submission per entry (a file or a subfolder)."""
    out = []
    for t in targets:
        p = Path(t)
        if p.is_dir():
            out += [str(e) for e in sorted(p.iterdir())
                    if e.name not in SKIP and not e.name.startswith(".")
                    and (e.is_dir() or e.suffix == ".py")]
        else:
            out.append(t)
    return out


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {"layers": args.layers, "dtypes": args.dtype, "api": args.api,
            "timeout": args.timeout, "budget": args.budget, "allow_torch": args.allow_torch,
            "do_shrink": not args.no_shrink}


def _check(target: str, options: dict[str, Any]) -> StudentReport:
    return check_submission(target, **options)


def _table(report: StudentReport) -> str:
    rows = []
    for layer, fast in ((layer, fast) for layer in report.layers for fast in (False, True)):
        for phase in PHASES_ORDER:
            rs = [r for r in report.results if r.layer == layer and r.phase == phase
                  and is_fast(r) == fast]
            if not rs:
                continue
            ids = {r.id for r in rs}
            failed = {r.id for r in rs if not r.passed}
            status = {s: sum(r.status == s for r in rs) for s in ("fail", "error", "timeout")}
            missing = all(r.status == "missing" for r in rs)
            rows.append({"layer": f"{layer} (fast)" if fast else layer, "phase": phase,
                         "passed": "missing" if missing else f"{len(ids - failed)}/{len(ids)}",
                         **{k: v or "" for k, v in status.items()}})
    return tabulate(rows, headers="keys", tablefmt="github")


def terminal_summary(report: StudentReport, reproducers: int = 3) -> str:
    """What a student reads first: verdict per layer and phase, patterns, smallest failures."""
    lines = [f"== {report.implementation} ({report.api or '?'} API)"]
    if report.load_error is not None:
        return "\n".join([*lines, f"cannot be loaded: {report.load_error}"])
    s = report.summary()
    lines.append(f"{s['total']} outputs checked in {report.seconds:.1f} s: {s['pass']} pass, "
                 f"{s['fail']} fail, {s['error']} error, {s['timeout']} timeout, "
                 f"{s['missing']} missing")
    lines += [f"POLICY: {p['detail']}" for p in report.policy]
    lines += [f"REQUIRED LAYER MISSING: {layer}" for layer in report.required_missing()]
    lines += ["", _table(report)]
    if report.patterns:
        lines += ["", "Patterns across the grid:"] + [f"  {p}" for p in report.patterns]
    for i, sh in enumerate(report.shrunk):
        lines += ["", f"Smallest failing case for {sh.layer} {sh.output}: {sh.case}",
                  f"  {sh.diagnosis}"]
        if i < reproducers:
            lines += ["  Reproduce (from your folder, with layercheck installed):"]
            lines += [f"    {ln}" for ln in sh.reproducer.splitlines()]
    return "\n".join(lines)


def _out_path(base: str, report: StudentReport, many: bool, suffix: str) -> Path:
    if not many:
        return Path(base)
    name = Path(report.implementation).name.replace(".py", "")
    return Path(base) / f"{name}{suffix}"


def write_outputs(reports: list[StudentReport], args: argparse.Namespace) -> None:
    """--json, --md, --html and --gradescope for each report (a folder when several)."""
    many = len(reports) > 1
    for r in reports:
        if args.json:
            p = _out_path(args.json, r, many, ".json")
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps(r.to_json(), indent=1))
        if args.md:
            p = _out_path(args.md, r, many, ".md")
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(student_markdown(r))
        if args.html:
            p = _out_path(args.html, r, many, ".html")
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(student_html(r))
        if args.gradescope:
            write_gradescope(r, _out_path(args.gradescope, r, many, ".results.json"))


def batch_table(reports: list[StudentReport]) -> str:
    """Summary table: one row per submission, one column per layer (passed/total cases)."""
    layers = list(dict.fromkeys(layer for r in reports for layer in r.layers)) or list(LAYERS)
    rows = []
    for r in reports:
        row: dict[str, Any] = {"file": Path(r.implementation).name, "exit": r.exit_code()}
        for layer in layers:
            rs = [x for x in r.results if x.layer == layer]
            ids = {x.id for x in rs}
            bad = {x.id for x in rs if not x.passed}
            if r.load_error is not None:
                row[layer] = "not loaded"
            elif rs and all(x.status == "missing" for x in rs):
                row[layer] = "missing"
            else:
                row[layer] = f"{len(ids - bad)}/{len(ids)}" if ids else ""
        row["policy"] = "violation" if r.policy else ""
        rows.append(row)
    return tabulate(rows, headers="keys", tablefmt="github")


def cmd_check(args: argparse.Namespace) -> int:
    targets = submissions(args.targets)
    if not targets:
        print("layercheck check: no submissions found in the given folders", file=sys.stderr)
        return 2
    options = _options(args)
    if args.jobs > 1 and len(targets) > 1:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.jobs, mp_context=ctx) as pool:
            reports = list(pool.map(_check, targets, [options] * len(targets)))
    else:
        reports = [_check(t, options) for t in targets]
    for r in reports:
        if not args.quiet or len(reports) == 1:
            print(terminal_summary(r))
            print()
    if len(reports) > 1:
        print(batch_table(reports))
    write_outputs(reports, args)
    return max(r.exit_code() for r in reports)


def add_parser(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser(
        "check", help="check a student's implementation file (sandboxed)",
        description="Check student layer code against PyTorch over the student grid. The "
                    "code runs in a separate, resource-limited worker process. Exit code: 0 "
                    "all checked cases pass and no policy violated, 1 otherwise, 2 when a "
                    "file cannot be loaded.")
    c.add_argument("targets", nargs="+", metavar="STUDENT",
                   help="student .py files, or folders holding one submission per entry")
    c.add_argument("--layers", type=csv_of(LAYERS), default=None,
                   help="required layers, comma-separated (default: every layer of the API; "
                        "missing ones are reported, not failed)")
    c.add_argument("--api", choices=("class", "functional"), default=None,
                   help="API style (default: detected from the names the file defines)")
    c.add_argument("--dtype", type=_dtypes, default=("f64",),
                   help="float64, float32 or both, comma-separated (default: float64)")
    c.add_argument("--timeout", type=float, default=5.0,
                   help="seconds per case before the worker is killed (default: 5)")
    c.add_argument("--budget", type=float, default=600.0,
                   help="total seconds per submission; later cases are 'timeout' (default 600)")
    c.add_argument("--allow-torch", action="store_true",
                   help="do not treat importing torch/tensorflow/jax as a policy violation")
    c.add_argument("--jobs", type=int, default=1, help="submissions checked in parallel")
    c.add_argument("--json", metavar="PATH", help="write the JSON report (a folder if several)")
    c.add_argument("--md", metavar="PATH", help="write a Markdown report")
    c.add_argument("--html", metavar="PATH", help="write an HTML report")
    c.add_argument("--gradescope", metavar="PATH", help="write Gradescope results.json")
    c.add_argument("--no-shrink", action="store_true",
                   help="skip searching for the smallest failing case")
    c.add_argument("--quiet", action="store_true",
                   help="with several submissions, print only the summary table")
    c.set_defaults(func=cmd_check)
