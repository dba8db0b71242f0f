"""Checking many submissions: a local process pool or a Dask cluster, and a batch that never
loses a row.

Every submission's report is handed to `on_done` as soon as it exists (the caller writes its
files then), so a batch stopped half-way keeps what it finished. A grader-side failure on
one submission (an exception in the grader, or the grading process dying) becomes that
submission's report with `grader_error` set (exit code 3); the others go on.

Local: `jobs` slots, each a process pool of ONE process, so a process that dies names the
one submission it was checking; its slot gets a fresh process. Dask: each submission's
files travel to the Dask worker as a zip (no shared file system needed), are checked there
in the same sandboxed worker as locally, and the report comes back to this process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
import time
import traceback
import zipfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from layercheck.cases.submission import graph, intake
from layercheck.reports.escape import valid_text
from layercheck.reports.grading.checker import (
    StudentReport,
    check_submission,
    graded_layers,
    sandbox_policy,
)
from layercheck.reports.grading.options import GradingOptions
from layercheck.reports.grading.scoring import Score, score_of

CheckFn = Callable[[str, dict[str, Any]], StudentReport]
DoneFn = Callable[[str, StudentReport], None]
MAX_SHIPPED_BYTES = 64 * 2**20  # a submission sent to a Dask worker, zipped
GRADER_ERROR_EXIT = 3


def grader_failure(target: str, message: str) -> StudentReport:
    """The row of a submission the grader failed on: not the student's fault, exit code 3."""
    report = StudentReport(str(target))
    report.grader_error = message  # a field of StudentReport where it declares one
    return report


def grader_error(report: StudentReport) -> str | None:
    """The grader-side failure recorded on a report, if any."""
    return getattr(report, "grader_error", None)


def exit_code(report: StudentReport) -> int:
    """The report's exit code, 3 for a grader-side failure."""
    return GRADER_ERROR_EXIT if grader_error(report) else report.exit_code()


def _is_entry(target: str, each: Iterable[str]) -> bool:
    """Whether `target` is one entry of an --each folder (a file then stands alone)."""
    parent = os.path.abspath(os.path.dirname(os.path.abspath(target)))
    return any(parent == os.path.abspath(f) for f in each)


def check_one(target: str, options: GradingOptions | dict[str, Any]) -> StudentReport:
    """check_submission on a private copy of the submission (see
    layercheck.cases.submission.intake), with the copy's paths in the report replaced by
    the original's; any exception in the grader becomes that row, a submission that cannot
    be taken in is its load error."""
    given = GradingOptions.coerce(options)  # one typed object (unknown names refused)
    opts = given.check_kwargs()
    each, climb = given.each, given.climb  # climb False: never above the file's folder
    if not os.path.lexists(target):  # nothing to take in: the loader says so
        try:
            return check_submission(target, **opts)
        except Exception as e:
            return _failed(target, e)
    try:
        taken = intake.take_in(target, entry=_is_entry(target, each), climb=climb)
    except intake.IntakeError as e:
        report = StudentReport(str(target), required=graded_layers(given.layers, given.api))
        report.load_error = str(e)
        return report
    except Exception as e:
        return _failed(target, e)
    try:
        report = check_submission(taken.target, **opts)
        _relocate(report, str(taken.top), str(taken.base))
        report.implementation = str(target)
        report.warnings += taken.warnings()
        if report.load_error is not None and taken.notes:  # what was left out may be why
            report.load_error += f" ({taken.warnings()[0]})"
        if report.load_error is not None and taken.said:  # an import of another entry
            report.load_error += f" ({'; '.join(taken.said)})"
        report.policy += sandbox_policy(
            [f"sandbox: native code shipped in the submission is not mounted ({f})"
             for f in taken.native])
        return report
    except Exception as e:  # the grader's own failure: one row, never the batch
        return _failed(target, e)
    finally:
        taken.close()


def _failed(target: str, e: Exception) -> StudentReport:
    tb = traceback.format_exc(limit=6)[-3000:]
    return grader_failure(target, f"grader error ({type(e).__name__}: {e}); the "
                                  f"submission was not graded. Last frames:\n{tb}")


def map_strings(obj: Any, fn: Callable[[str], str], depth: int = 0) -> Any:
    """`obj` with `fn` applied to every string in it (dataclasses, lists and dicts changed
    in place, strings returned; six levels deep at most)."""
    if isinstance(obj, str):
        return fn(obj)
    if depth > 6:
        return obj
    if isinstance(obj, list):
        for i, x in enumerate(obj):
            obj[i] = map_strings(x, fn, depth + 1)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            obj[k] = map_strings(v, fn, depth + 1)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name, None)
            if isinstance(v, str | list | dict | tuple) or dataclasses.is_dataclass(v):
                new = map_strings(v, fn, depth + 1)
                if isinstance(v, tuple) and v and all(isinstance(x, str) for x in v):
                    mapped = tuple(fn(x) for x in v)
                    new = v if mapped == v else mapped
                if new is not v:
                    try:
                        setattr(obj, f.name, new)
                    except (AttributeError, dataclasses.FrozenInstanceError):
                        pass
    return obj


def _relocate(obj: Any, here: str, there: str) -> Any:
    """`obj` with every `here` in its strings replaced by `there` (`map_strings`)."""
    return map_strings(obj, lambda s: s.replace(here, there) if here in s else s)


def writable(report: StudentReport) -> StudentReport:
    """The report, changed in place, with every string one any UTF-8 writer can encode
    (`valid_text`: a student's lone surrogate is written as its escape); writers are
    given this, so that no text a submission controls can stop a report being written."""
    return map_strings(report, valid_text)


def content_hash(target: str | Path, entry: bool = False, climb: bool = True) -> str:
    """The sha256 of what the intake keeps of the submission (intake.content_digest: its
    rules and caps, links and hard-linked files by name only). Never raises: where the
    submission cannot be read, a value no report carries (so --resume checks it)."""
    return intake.content_digest(target, entry=entry, climb=climb).sha256


# ---------------------------------------------------------------- local processes


def _pool() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_ignore_interrupt)


def _ignore_interrupt() -> None:
    """In a pool's process: Ctrl-C is the batch's to handle (it stops the processes), so a
    terminal's SIGINT, sent to the whole process group, prints no traceback here."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _interrupt_ignored() -> Iterator[None]:
    """SIGINT ignored meanwhile (in the main thread; elsewhere nothing changes): processes
    started meanwhile keep ignoring it, so a terminal's Ctrl-C, sent to the whole process
    group, is handled here alone (the batch stops them)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, saved)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop a pool now: its process is terminated (the sandboxed worker it started dies
    with it), its queued work cancelled."""
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            proc.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def run_local(targets: list[str], options: dict[str, Any], jobs: int, on_done: DoneFn,
              check: CheckFn = check_one) -> None:
    """Check `targets` in `jobs` processes; `on_done(target, report)` for each, as done."""
    if jobs <= 1:
        for t in targets:
            on_done(t, check(t, options))
        return
    todo = list(reversed(targets))
    slots: dict[Future, tuple[ProcessPoolExecutor, str, float]] = {}
    idle = [_pool() for _ in range(min(jobs, len(targets)))]
    finished = False
    try:
        while todo or slots:
            while todo and idle:
                pool, t = idle.pop(), todo.pop()
                slots[pool.submit(check, t, options)] = (pool, t, time.monotonic())
            done, _ = wait(list(slots), return_when=FIRST_COMPLETED)
            for fut in done:
                pool, t, t0 = slots.pop(fut)
                try:
                    report = fut.result()
                except BrokenProcessPool:
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = _pool()
                    report = grader_failure(t, f"grader error: the grading process died "
                                               f"while checking this submission (after "
                                               f"{time.monotonic() - t0:.1f} s); it was not "
                                               f"graded, the batch went on")
                except Exception as e:  # e.g. a report that cannot be sent back
                    report = grader_failure(t, f"grader error ({type(e).__name__}: {e}); "
                                               f"the submission was not graded")
                idle.append(pool)
                on_done(t, report)
        finished = True
    finally:  # all done: wait for the processes to exit (reaped, no orphans); stopped
        for pool in idle + [p for p, _, _ in slots.values()]:  # (Ctrl-C): end them now
            if finished:
                pool.shutdown(wait=True)
            else:
                _stop(pool)


# ---------------------------------------------------------------- Dask


def pack(target: str | Path, entry: bool = False,
         climb: bool = False) -> tuple[str, bytes]:
    """The submission's private copy (see layercheck.cases.submission.intake; `entry`: one
    entry of an --each folder; `climb`: its import root may lie above its folder) as zip
    bytes to send to a Dask worker, and the submission's path in it. IntakeError: the
    student's load error; ValueError: too large to send."""
    with intake.take_in(target, entry=entry, climb=climb) as taken:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for f in graph.candidates(taken.top, ""):  # regular files, sorted
                z.write(f, str(f.relative_to(taken.top)))
            if taken.target.is_dir():  # an empty folder still arrives as one
                z.writestr(f"{taken.target.relative_to(taken.top)}/", b"")
        name = str(taken.target.relative_to(taken.top))
    data = buf.getvalue()
    if len(data) > MAX_SHIPPED_BYTES:
        raise ValueError(f"{Path(target).name} is {len(data) / 2**20:.0f} MB zipped, over "
                         f"the {MAX_SHIPPED_BYTES // 2**20} MB a Dask task carries")
    return name, data


def check_packed(name: str, original: str, data: bytes, options: dict[str, Any]) -> StudentReport:
    """On a Dask worker: unpack the submission in a temporary folder, check it, clean up."""
    tmp = Path(tempfile.mkdtemp(prefix="layercheck-dask-"))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for info in z.infolist():
                dest = (tmp / info.filename).resolve()
                if not dest.is_relative_to(tmp.resolve()):
                    raise ValueError(f"unsafe path in the shipped zip: {info.filename}")
            z.extractall(tmp)
        intake.TOPS.add(tmp.resolve())  # the loader never climbs above what was shipped
        report = check_one(str(tmp / name), GradingOptions.coerce(options).replace(each=()))
        return _relocated(report, str(tmp / name), original)
    finally:
        intake.TOPS.discard(tmp.resolve())
        shutil.rmtree(tmp, ignore_errors=True)


def _relocated(report: StudentReport, here: str, original: str) -> StudentReport:
    """The report with the worker's temporary path replaced by the submission's own."""
    changes = {f.name: getattr(report, f.name).replace(here, original)
               for f in dataclasses.fields(report)
               if isinstance(getattr(report, f.name), str) and here in getattr(report, f.name)}
    for k, v in changes.items():
        setattr(report, k, v)
    return report


def slim(report: StudentReport) -> StudentReport:
    """What a batch keeps of a written report for its table and exit code: one result per
    case (its worst status), no inputs, cases or reproducers, so thousands fit in memory."""
    from layercheck.reference.result import Result

    worst: dict[tuple[str, str], Result] = {}
    for r in report.results:
        old = worst.get((r.id, r.variant))
        if old is None or _RANK.get(r.status, 0) < _RANK.get(old.status, 0):
            worst[(r.id, r.variant)] = Result(r.id, r.layer, r.phase, r.output, r.status,
                                              variant=r.variant)
    out = StudentReport(report.implementation, api=report.api, results=list(worst.values()),
                        policy=report.policy, load_error=report.load_error,
                        layers=report.layers, required=report.required,
                        seconds=report.seconds, score=score_of(report))
    if grader_error(report):
        out.grader_error = grader_error(report)
    return out


_RANK = {"timeout": 0, "error": 1, "fail": 2, "missing": 3, "pass": 4}


# ---------------------------------------------------------------- resuming


def report_from_json(data: dict[str, Any]) -> StudentReport:
    """A report rebuilt from its `--json` file (enough for tables, exit codes, class reports)."""
    from layercheck.reference.result import Result

    report = StudentReport(str(data["implementation"]), api=data.get("api"))
    report.policy = list(data.get("policy") or [])
    report.load_error = data.get("load_error")
    for c in data.get("cases") or []:
        report.results.append(Result(c["id"], c["layer"], c["phase"], c["output"], c["status"],
                                     max_abs_err=c.get("max_abs_err"),
                                     err_over_bound=c.get("err_over_bound"),
                                     diagnosis=c.get("diagnosis") or "",
                                     variant=c.get("variant") or ""))
    report.layers = tuple(dict.fromkeys(r.layer for r in report.results))
    if isinstance(data.get("score"), dict):  # the score as written, never recomputed
        report.score = Score.from_json(data["score"])
    report.required = tuple(data.get("required") or ())
    report.seconds = float(data.get("seconds") or 0.0)
    if data.get("grader_error"):
        report.grader_error = data["grader_error"]
    return report


def run_dask(targets: list[str], options: dict[str, Any], on_done: DoneFn,
             scheduler: str | None = None, jobs: int = 2) -> int:
    """Check `targets` on a Dask cluster (`scheduler` address, else a LocalCluster of `jobs`
    single-threaded worker processes); `on_done(target, report)` as each comes back. The
    number of worker threads the cluster had."""
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler:
        client = Client(scheduler, timeout="30s")
    else:
        with _interrupt_ignored():  # its processes inherit it: Ctrl-C is this process's
            cluster = LocalCluster(n_workers=max(jobs, 1), threads_per_worker=1,
                                   processes=True, dashboard_address=None, silence_logs=40)
        client = Client(cluster)
    try:
        threads = sum(w.get("nthreads", 1) for w in
                      client.scheduler_info().get("workers", {}).values())
        futures = {}
        for t in targets:
            try:
                # a Dask batch grades others' files: a file's import root never climbs
                name, data = pack(t, _is_entry(t, options.get("each") or ()), climb=False)
            except intake.IntakeError as e:
                report = StudentReport(str(t), required=tuple(options.get("layers") or ()))
                report.load_error = str(e)
                on_done(t, report)
                continue
            except (OSError, ValueError) as e:
                on_done(t, grader_failure(t, f"grader error: cannot send the submission "
                                             f"to the cluster: {e}"))
                continue
            fut = client.submit(check_packed, name, t, data, options, pure=False,
                                key=f"layercheck-{hashlib.sha1(t.encode()).hexdigest()[:12]}"
                                    f"-{time.monotonic_ns()}")
            futures[fut] = t
        for fut in as_completed(list(futures)):
            t = futures[fut]
            try:
                report = fut.result()
            except Exception as e:  # KilledWorker, a lost connection, ...
                report = grader_failure(t, f"grader error on the Dask cluster "
                                           f"({type(e).__name__}: {e}); not graded")
            on_done(t, report)
            fut.release()
        return threads
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
