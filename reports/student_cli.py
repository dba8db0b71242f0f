"""`layercheck check`: student files against the reference, in a sandbox, with feedback."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from layercheck.cases.sandbox.wire import printable
from layercheck.cases.submission.intake import content_digest
from layercheck.reports.escape import for_stream, json_value, valid_text
from layercheck.reports.gradescope import write_gradescope
from layercheck.reports.grading.batch import (
    exit_code,
    grader_error,
    report_from_json,
    run_dask,
    run_local,
    slim,
    writable,
)
from layercheck.reports.grading.checker import DEFAULT_LAYERS, PHASES_ORDER, StudentReport, is_fast
from layercheck.reports.grading.options import LAYERS, GradingOptions, csv_of
from layercheck.reports.grading.scoring import score_of
from layercheck.reports.prairielearn import write_prairielearn
from tabulate import tabulate
from tqdm import tqdm

DTYPE_NAMES = {"f32": "f32", "f64": "f64", "float32": "f32", "float64": "f64"}
SKIP = {"__pycache__", "__init__.py"}


def _dtypes(text: str) -> tuple[str, ...]:
    items = tuple(t.strip() for t in text.split(",") if t.strip())
    bad = [t for t in items if t not in DTYPE_NAMES]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"unknown dtype {', '.join(bad) or '(empty)'}; "
                                         f"choose from float64, float32 (or f64, f32)")
    return tuple(dict.fromkeys(DTYPE_NAMES[t] for t in items))


def submissions(targets: list[str], each: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The submissions to check: every path in `targets` is ONE submission (a file, a
    notebook, or a folder such as a repository or an extracted zip); every folder in
    `each` holds one submission per entry (a .py file, a notebook or a subfolder)."""
    out = list(targets)
    for folder in each:
        out += [str(e) for e in sorted(Path(folder).iterdir())
                if e.name not in SKIP and not e.name.startswith(".")
                and (e.is_dir() or e.suffix in (".py", ".ipynb"))]
    return out


def _shared_folders(targets: list[str]) -> list[str]:
    """Folders holding two or more of the file targets (each is then another's classmate)."""
    seen: dict[str, int] = {}
    for t in targets:
        if os.path.isfile(t):
            d = os.path.dirname(os.path.abspath(t))
            seen[d] = seen.get(d, 0) + 1
    return sorted(d for d, n in seen.items() if n > 1)


def _folder(text: str) -> str:
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a folder (--each FOLDER checks each "
                                         f"entry of a folder as one submission)")
    return text


def _name_map(text: str) -> dict[str, str]:
    from layercheck.cases.submission.names import NameMapError, parse_name_map

    try:
        return parse_name_map([text])
    except NameMapError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _options(args: argparse.Namespace) -> GradingOptions:
    return GradingOptions.from_args(args)


def _table(report: StudentReport) -> str:
    rows = []
    for layer, fast in ((layer, fast) for layer in report.layers for fast in (False, True)):
        for phase in PHASES_ORDER:
            rs = [r for r in report.results if r.layer == layer and r.phase == phase
                  and is_fast(r) == fast]
            if not rs:
                continue
            worst = _case_status(rs)
            ids = set(worst)
            failed = {i for i, st in worst.items() if st != "pass"}
            status = {st: sum(v == st for v in worst.values())
                      for st in ("fail", "error", "timeout")}
            missing = all(r.status == "missing" for r in rs)
            rows.append({"layer": f"{layer} (fast)" if fast else layer, "phase": phase,
                         "passed": "missing" if missing else f"{len(ids - failed)}/{len(ids)}",
                         **{k: v or "" for k, v in status.items()}})
    return ("Cases (each with all its outputs) by layer and phase; a case counts once, under "
            "its worst status:\n" + tabulate(rows, headers="keys", tablefmt="github"))


_WORST = ("timeout", "error", "fail", "missing", "pass")


def _case_status(results: list) -> dict[str, str]:
    """Each case's status: the worst of its outputs' (timeout > error > fail > ...)."""
    out: dict[str, str] = {}
    for r in results:
        old = out.get(r.id, "pass")
        rank = _WORST.index(r.status) if r.status in _WORST else 0
        out[r.id] = r.status if rank < _WORST.index(old) else old
    return out


def _name_hints(report: StudentReport) -> list[tuple[str, str]]:
    """(layer, "X is not defined; did you mean Y? ...") for missing layers with a near name."""
    out = {}
    for r in report.results:
        near = [d for d in r.diagnoses if d.code == "missing_named" and d.facts.get("near")]
        if r.status == "missing" and near:
            out.setdefault(r.layer, r.diagnosis)
    return list(out.items())


def terminal_summary(report: StudentReport, reproducers: int = 3) -> str:
    """What a student reads first: verdict per layer and phase, patterns, smallest failures;
    control characters removed (a student's text never drives the terminal) and every
    character one UTF-8 can encode (`valid_text`)."""
    return valid_text(printable(_summary(report, reproducers)) or "")


def _summary(report: StudentReport, reproducers: int) -> str:
    lines = [f"== {report.implementation} ({report.api or '?'} API)"]
    if getattr(report, "file", None) and report.file != Path(report.implementation).name:
        lines.append(f"graded file: {report.file}")
    if getattr(report, "isolation", "").startswith("NOT ISOLATED"):
        lines.append(f"WARNING: {report.isolation}")
    if grader_error(report):
        return "\n".join([*lines, f"GRADER ERROR (not the student's fault): "
                                  f"{grader_error(report)}"])
    if report.load_error is not None:
        return "\n".join([*lines, f"cannot be loaded: {report.load_error}"])
    s = report.summary()
    lines.append(f"{s['total']} outputs checked in {report.seconds:.1f} s: {s['pass']} pass, "
                 f"{s['fail']} fail, {s['error']} error, {s['timeout']} timeout, "
                 f"{s['missing']} missing")
    lines.append(score_of(report).text())
    lines += [f"POLICY: {p['detail']}" for p in report.policy]
    lines += [f"REQUIRED LAYER MISSING: {layer}" for layer in report.required_missing()]
    lines += [f"WARNING: {w}" for w in getattr(report, "warnings", [])]
    lines += [f"MISSING {layer}: {hint}" for layer, hint in _name_hints(report)]
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


def _out_path(base: str, report: StudentReport, many: bool, suffix: str,
              name: str | None = None) -> Path:
    if not many:
        return Path(base)
    if name is None:
        name = output_names([report.implementation])[report.implementation]
    return Path(base) / f"{name}{suffix}"


# a file name leaves room for a suffix (.results.json) and _write's .NAME.tmp within the
# 255 bytes most file systems allow
MAX_NAME_BYTES = 200
# C0 and C1 controls, DEL, line and paragraph separators, bidi controls, path separators
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e"
                     "\u2066-\u2069/\\\\]")


def capped(name: str) -> str:
    """`name` if it fits MAX_NAME_BYTES in UTF-8, else its start and an 8-digit hash of
    the whole name (stable: the same name gives the same file on every run)."""
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) <= MAX_NAME_BYTES:
        return name
    tag = hashlib.sha256(raw).hexdigest()[:8]
    head = raw[:MAX_NAME_BYTES - len(tag) - 1].decode("utf-8", "ignore")
    return f"{head}-{tag}"


def output_names(targets: list[str]) -> dict[str, str]:
    """A distinct report name per submission, the same whatever order they finish in:
    the entry's name without .py (alice.py -> alice); where two entries would share one
    (alice.py and alice/), each keeps its full name (alice.py, alice); where entries of
    two folders share a name, the folder's name comes first (A-alice); then -2, -3, ...
    Names that are not UTF-8 have their bad bytes replaced, control characters, newlines,
    bidi controls and path separators become '_' (`_UNSAFE`), and a name longer than
    MAX_NAME_BYTES is cut and ends in a short hash of the whole name (`capped`)."""
    def clean(text: str) -> str:
        return _UNSAFE.sub("_", os.fsencode(text).decode("utf-8", "replace")) or "_"

    paths = [Path(t) for t in targets]
    short = [clean(p.name.removesuffix(".py")) for p in paths]
    full = [clean(p.name) for p in paths]
    names = [f if short.count(s) > 1 else s for s, f in zip(short, full, strict=True)]
    names = [capped(f"{clean(p.parent.name)}-{n}" if names.count(n) > 1 else n)
             for p, n in zip(paths, names, strict=True)]
    out: dict[str, str] = {}
    used: set[str] = set()
    for t, n in zip(targets, names, strict=True):
        name, k = n, 1
        while name in used:
            k += 1
            name = f"{n}-{k}"
        used.add(name)
        out.setdefault(t, name)
    return out


def report_json(report: StudentReport, sha256: str | None = None) -> dict[str, Any]:
    """The --json document: the report's own JSON, what resuming and class reports need."""
    data = report.to_json()
    data.setdefault("load_error", report.load_error)
    data.setdefault("grader_error", grader_error(report))
    data.setdefault("exit_code", exit_code(report))
    data.setdefault("required", list(report.required))
    data.setdefault("seconds", round(report.seconds, 3))
    if sha256:
        data["content_sha256"] = sha256
    return data


def _write(path: Path, text: str) -> None:
    """Write through a temporary file, so a stopped batch never leaves half a report: the
    temporary goes whatever stops the write (an error, Ctrl-C). The text is written as
    UTF-8 whatever it holds (`valid_text`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(valid_text(text).encode("utf-8"))
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def write_report(report: StudentReport, args: argparse.Namespace, many: bool,
                 sha256: str | None = None, name: str | None = None) -> None:
    """--md, --html, --gradescope, --prairielearn and --json files of one report (`name`:
    its file name in the output folders, see `output_names`). The writers are given the
    report with every string `writable`; the --json file comes last, so a report that
    --resume finds has all its files."""
    writable(report)
    if args.md or args.html:
        from layercheck.reports.student_render import (  # pandas: lazily
            student_html,
            student_markdown,
        )

        if args.md:
            _write(_out_path(args.md, report, many, ".md", name), student_markdown(report))
        if args.html:
            _write(_out_path(args.html, report, many, ".html", name), student_html(report))
    if args.gradescope:
        write_gradescope(report, _out_path(args.gradescope, report, many, ".results.json",
                                           name))
    if getattr(args, "prairielearn", None):
        write_prairielearn(report, _out_path(args.prairielearn, report, many,
                                             ".results.json", name))
    if args.json:
        _write(_out_path(args.json, report, many, ".json", name),
               json.dumps(json_value(report_json(report, sha256)), indent=1, allow_nan=False))


def _layer_cell(report: StudentReport, layer: str) -> str:
    rs = [x for x in report.results if x.layer == layer and not x.variant]  # *_fast: not here
    ids = {x.id for x in rs}
    bad = {x.id for x in rs if not x.passed}
    if grader_error(report):
        return "grader error"
    if report.load_error is not None:
        return "not loaded"
    if rs and all(x.status == "missing" for x in rs):
        return "missing"
    return f"{len(ids - bad)}/{len(ids)}" if ids else ""


def _cell(text: str) -> str:
    """A batch-table cell: line breaks as spaces, control characters dropped, a column
    separator '|' shown as '¦' (a file name never shifts the table's columns)."""
    return (printable(" ".join(text.splitlines())) or "").replace("|", "¦")


def batch_table(reports: list[StudentReport],
                graded: tuple[str, ...] | list[str] | None = None) -> str:
    """One row per submission, one column per graded layer (`graded`: the configured
    --layers; else those the reports graded; else the default ones, `DEFAULT_LAYERS`):
    cases passed / cases checked."""
    layers = (list(dict.fromkeys(graded or ()))
              or list(dict.fromkeys(layer for r in reports for layer in r.layers))
              or list(dict.fromkeys(x for api in DEFAULT_LAYERS.values() for x in api)))
    rows = []
    for r in reports:
        row: dict[str, Any] = {"file": _cell(Path(r.implementation).name),
                               "exit": exit_code(r)}
        row.update({layer: _layer_cell(r, layer) for layer in layers})
        row["policy"] = "violation" if r.policy else ""
        row["seconds"] = f"{r.seconds:.1f}"
        rows.append(row)
    return printable(tabulate(rows, headers="keys", tablefmt="github")) or ""


def batch_footer(reports: list[StudentReport], wall: float, workers: int,
                 checked: int | None = None) -> str:
    """Counts by exit code and the wall time per submission checked per worker."""
    codes = [exit_code(r) for r in reports]
    words = {0: "pass", 1: "fail", 2: "not loaded", 3: "grader error"}
    counts = ", ".join(f"{codes.count(c)} {w} (exit {c})" for c, w in words.items()
                       if codes.count(c))
    checked = len(reports) if checked is None else checked
    per = f"{wall * max(workers, 1) / checked:.2f}" if checked else "-"
    return (f"Layer columns: cases passed / cases checked. {len(reports)} submissions: "
            f"{counts}. {checked} checked now in {wall:.1f} s on {workers} worker(s): "
            f"{per} s per submission per worker.")


def _resumed(target: str, args: argparse.Namespace, many: bool,
             sha: str, name: str | None = None) -> StudentReport | None:
    """The report already written for this content (--resume), or None."""
    path = _out_path(args.json, StudentReport(target), many, ".json", name)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("content_sha256") != sha or data.get(
            "grader_error"):
        return None  # changed since, or the grader failed on it: check it again
    try:
        return report_from_json(data)
    except (KeyError, TypeError, ValueError):
        return None


OUTPUT_OPTIONS = ("json", "md", "html", "gradescope", "prairielearn")


def _output_problem(args: argparse.Namespace, many: bool) -> str | None:
    """Why the output paths cannot be written, checked before any submission is run."""
    for name in OUTPUT_OPTIONS:
        base = getattr(args, name, None)
        if not base:
            continue
        p = Path(base)
        if many and p.exists() and not p.is_dir():
            return (f"--{name} {base} is a file, but several submissions need a folder "
                    f"(one report each): give a folder path")
        if not many and p.is_dir():
            return f"--{name} {base} is a folder; give a file path for one submission"
    return None


def cmd_check(args: argparse.Namespace) -> int:
    targets = submissions(args.targets, getattr(args, "each", None) or ())
    if not targets:
        print("layercheck check: no submissions: give a path (one submission each) or "
              "--each FOLDER (one submission per entry of FOLDER)", file=sys.stderr)
        return 2
    if getattr(args, "resume", False) and not args.json:
        print("layercheck check: --resume needs --json FOLDER (where finished reports are "
              "found)", file=sys.stderr)
        return 2
    options = _options(args)
    many = len(targets) > 1 or bool(getattr(args, "each", None))
    if many:  # grading others' files: a file's import root never lies above its folder
        # and loose files sharing a folder are copied alone
        options = options.replace(climb=False,
                                  each=(*options.each, *_shared_folders(args.targets)))
    problem = _output_problem(args, many)
    if problem:
        print(f"layercheck check: {problem}", file=sys.stderr)
        return 2
    done: dict[str, StudentReport] = {}
    try:
        return _batch(args, targets, options, many, done)
    except KeyboardInterrupt:  # Ctrl-C: what was finished is kept; say how to go on
        print(for_stream(interrupted(args, targets, done), sys.stderr), file=sys.stderr)
        return INTERRUPTED_EXIT


INTERRUPTED_EXIT = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C


def _batch(args: argparse.Namespace, targets: list[str], options: GradingOptions, many: bool,
           done: dict[str, StudentReport]) -> int:
    """Check `targets`, writing each one's reports as it is done (`done` fills as they are);
    print the table and footer of a batch; the exit code."""
    single = len(targets) == 1
    t_hash = time.monotonic()  # hashing is counted in the time the footer reports
    digests = {t: content_digest(t, entry=many, climb=options.climb) for t in targets}
    hashes = {t: d.sha256 for t, d in digests.items()}  # never raises: a failure is the row's
    names = output_names(targets)
    todo = []
    for t in targets:
        old = (_resumed(t, args, many, hashes[t], names[t])
               if getattr(args, "resume", False) else None)
        if old is None:
            todo.append(t)
        else:
            done[t] = slim(old)
    t0_grading = time.monotonic()
    bar = tqdm(total=len(targets), initial=len(done), unit="submission", file=sys.stderr,
               dynamic_ncols=True, disable=single or getattr(args, "no_progress", False))
    if done:
        bar.write(f"--resume: {len(done)} of {len(targets)} submissions already checked "
                  f"(same content), skipped", file=sys.stderr)

    def say(text: str, stream: Any) -> None:  # never raises on what a student wrote
        bar.write(for_stream(printable(text) or "", stream), file=stream)

    def on_done(target: str, report: StudentReport) -> None:
        done[target] = slim(report)  # written now; the table needs only the statuses
        try:
            write_report(report, args, many, hashes.get(target), names.get(target))
        except Exception as e:  # any writer's failure is this row's (exit 3), never the batch's
            problem = f"cannot write the report ({type(e).__name__}: {e})"
            done[target].grader_error = grader_error(done[target]) or problem
            say(f"layercheck check: {problem} (submission {target})", sys.stderr)
        if not args.quiet or single:
            say(terminal_summary(report) + "\n", sys.stdout)
        elif grader_error(report):
            say(f"{Path(target).name}: {grader_error(report).splitlines()[0]}", sys.stderr)
        bar.update(1)

    t0 = t_hash
    scheduler = getattr(args, "scheduler", None)
    workers = max(args.jobs, 1)
    try:
        if scheduler:
            workers = run_dask(todo, options, on_done,
                               scheduler=None if scheduler == "local" else scheduler,
                               jobs=args.jobs) or workers
        else:
            run_local(todo, options, args.jobs, on_done)
    finally:
        bar.close()
    reports = [done[t] for t in targets if t in done]
    if len(reports) > 1:
        print(for_stream(batch_table(reports, args.layers), sys.stdout))
        footer = batch_footer(reports, time.monotonic() - t0, workers, len(todo))
        footer += f" Reading and hashing the submissions took {t0_grading - t0:.1f} s of it."
        print(for_stream(footer, sys.stdout))
    return max(exit_code(r) for r in reports)


def interrupted(args: argparse.Namespace, targets: list[str],
                done: dict[str, StudentReport]) -> str:
    """What a stopped batch says: one line on what was kept, then the exact command that
    goes on (the same command with --resume; it needs --json, where finished reports are
    found)."""
    outputs = [f"--{o.replace('_', '-')} {getattr(args, o)}" for o in OUTPUT_OPTIONS
               if getattr(args, o, None)]
    kept = (f"their reports are kept ({', '.join(outputs)})" if outputs
            else "no report files were asked for")
    line = (f"layercheck check: interrupted: {len(done)} of {len(targets)} submissions "
            f"checked, {kept}; {len(targets) - len(done)} not checked.")
    argv = list(getattr(args, "argv", None) or sys.argv[1:])
    if not args.json:
        return (f"{line}\nNothing can be resumed without --json FOLDER (where finished "
                f"reports are found): run the batch again with it, then add --resume to go "
                f"on after a stop.")
    if "--resume" not in argv:
        argv.append("--resume")
    return f"{line}\nResume with: layercheck {shlex.join(argv)}"


def _layers_help() -> str:
    """--layers' help, its default read from layercheck.reports.grading.checker.DEFAULT_LAYERS."""
    defaults = {api: ",".join(layers) for api, layers in DEFAULT_LAYERS.items()}
    default = (next(iter(defaults.values())) if len(set(defaults.values())) == 1
               else "; ".join(f"{api}: {v}" for api, v in defaults.items()))
    others = [x for x in LAYERS if not any(x in v for v in DEFAULT_LAYERS.values())]
    return (f"the graded layers, comma-separated (default: {default}; "
            f"{', '.join(others)} only when named here; a graded layer the file does not "
            f"define fails, exit 1)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser(
        "check", help="check a student's implementation file (sandboxed)",
        description="Check student layer code against PyTorch over the student grid. The "
                    "code runs in a separate, resource-limited worker process. Exit code: 0 "
                    "every graded layer defined, all its cases pass and no policy violated, "
                    "1 otherwise, 2 when a file cannot be loaded, 3 when the grader failed, "
                    "130 when stopped by Ctrl-C (finished reports are kept; the command that "
                    "goes on is printed).")
    c.add_argument("targets", nargs="*", metavar="SUBMISSION",
                   help="each path is one submission: a .py file, a notebook (.ipynb) or a "
                        "folder (a repository, an extracted zip: the file defining the "
                        "layers is found in it)")
    c.add_argument("--each", metavar="FOLDER", action="append", type=_folder, default=[],
                   help="check every entry of FOLDER (file, notebook or subfolder) as one "
                        "submission; may be repeated")
    c.add_argument("--no-climb", action="store_true",
                   help="grade a lone file from its own folder: never look above it for the "
                        "modules it imports (several submissions and --each never do)")
    c.add_argument("--file", metavar="RELPATH",
                   help="the file to grade inside a folder submission (default: the file "
                        "that defines the layers, the student's own over a library copy)")
    c.add_argument("--name", metavar="LAYER=NAME", action="append", type=_name_map,
                   help="the student's name for a layer, e.g. --name conv=MyConv or "
                        "--name relu_forward=my_relu (repeat or comma-separate; common "
                        "aliases such as ReLU, MaxPooling, ...Layer are found without it)")
    c.add_argument("--layers", type=csv_of(LAYERS), default=None, help=_layers_help())
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
    c.add_argument("--unsafe-no-isolation", action="store_true",
                   help="run student code even where this machine cannot isolate it (no "
                        "user namespaces); every output then says so")
    c.add_argument("--jobs", type=int, default=1, help="submissions checked in parallel")
    c.add_argument("--json", metavar="PATH", help="write the JSON report (a folder if several)")
    c.add_argument("--md", metavar="PATH", help="write a Markdown report")
    c.add_argument("--html", metavar="PATH", help="write an HTML report")
    c.add_argument("--gradescope", metavar="PATH", help="write Gradescope results.json")
    c.add_argument("--no-shrink", action="store_true",
                   help="skip searching for the smallest failing case")
    c.add_argument("--quiet", action="store_true",
                   help="with several submissions, print only the summary table")
    c.add_argument("--prairielearn", metavar="PATH",
                   help="write PrairieLearn results.json (a folder if several)")
    c.add_argument("--resume", action="store_true",
                   help="skip submissions whose --json report exists for the same content")
    c.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a Dask cluster: tcp://HOST:8786, or 'local' for a "
                        "LocalCluster of --jobs workers (default: local processes)")
    c.add_argument("--no-progress", action="store_true",
                   help="no progress bar on stderr")
    c.set_defaults(func=cmd_check)
