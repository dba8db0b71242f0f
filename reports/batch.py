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

import dataclasses
import hashlib
import io
import multiprocessing
import os
import shutil
import tempfile
import time
import traceback
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from cases.student.checker import StudentReport, check_submission

CheckFn = Callable[[str, dict[str, Any]], StudentReport]
DoneFn = Callable[[str, StudentReport], None]
MAX_SHIPPED_BYTES = 64 * 2**20  # a submission sent to a Dask worker, zipped
SKIP_NAMES = {"__pycache__", ".git", ".ipynb_checkpoints"}
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


def check_one(target: str, options: dict[str, Any]) -> StudentReport:
    """check_submission, with any exception in the grader turned into that row."""
    try:
        return check_submission(target, **options)
    except Exception as e:  # the grader's own failure: one row, never the batch
        tb = traceback.format_exc(limit=6)[-3000:]
        return grader_failure(target, f"grader error ({type(e).__name__}: {e}); the "
                                      f"submission was not graded. Last frames:\n{tb}")


def content_hash(target: str | Path) -> str:
    """sha256 over the submission's bytes: a file, or a folder's files with their paths."""
    p = Path(target)
    h = hashlib.sha256()
    if p.is_file():
        h.update(p.read_bytes())
    elif p.is_dir():
        for f in sorted(_files(p)):
            h.update(str(f.relative_to(p)).encode() + b"\0")
            h.update(hashlib.sha256(f.read_bytes()).digest())
    else:
        h.update(b"missing:" + str(p).encode())
    return h.hexdigest()


def _files(root: Path) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_NAMES]
        for name in filenames:
            f = Path(dirpath) / name
            if f.is_file() and not f.is_symlink():
                yield f


# ---------------------------------------------------------------- local processes


def _pool() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))


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
    finally:  # all done: wait for the processes to exit (reaped, no orphans); else don't
        for pool in idle + [p for p, _, _ in slots.values()]:
            pool.shutdown(wait=finished, cancel_futures=True)


# ---------------------------------------------------------------- Dask


def pack(target: str | Path) -> bytes:
    """The submission (a file or a folder) as zip bytes, to send to a Dask worker."""
    p = Path(target)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        if p.is_dir():
            for f in sorted(_files(p)):
                z.write(f, str(Path(p.name) / f.relative_to(p)))
        else:
            z.write(p, p.name)
    data = buf.getvalue()
    if len(data) > MAX_SHIPPED_BYTES:
        raise ValueError(f"{p.name} is {len(data) / 2**20:.0f} MB zipped, over the "
                         f"{MAX_SHIPPED_BYTES // 2**20} MB a Dask task carries")
    return data


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
        report = check_one(str(tmp / name), options)
        return _relocated(report, str(tmp / name), original)
    finally:
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
    from reference.result import Result

    worst: dict[str, Result] = {}
    for r in report.results:
        old = worst.get(r.id)
        if old is None or _RANK.get(r.status, 0) < _RANK.get(old.status, 0):
            worst[r.id] = Result(r.id, r.layer, r.phase, r.output, r.status)
    out = StudentReport(report.implementation, api=report.api, results=list(worst.values()),
                        policy=report.policy, load_error=report.load_error,
                        layers=report.layers, required=report.required,
                        seconds=report.seconds)
    if grader_error(report):
        out.grader_error = grader_error(report)
    return out


_RANK = {"timeout": 0, "error": 1, "fail": 2, "missing": 3, "pass": 4}


# ---------------------------------------------------------------- resuming


def report_from_json(data: dict[str, Any]) -> StudentReport:
    """A report rebuilt from its `--json` file (enough for tables, exit codes, class reports)."""
    from reference.result import Result

    report = StudentReport(str(data["implementation"]), api=data.get("api"))
    report.policy = list(data.get("policy") or [])
    report.load_error = data.get("load_error")
    for c in data.get("cases") or []:
        report.results.append(Result(c["id"], c["layer"], c["phase"], c["output"], c["status"],
                                     max_abs_err=c.get("max_abs_err"),
                                     err_over_bound=c.get("err_over_bound"),
                                     diagnosis=c.get("diagnosis") or ""))
    report.layers = tuple(dict.fromkeys(r.layer for r in report.results))
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
        cluster = LocalCluster(n_workers=max(jobs, 1), threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=40)
        client = Client(cluster)
    try:
        threads = sum(w.get("nthreads", 1) for w in
                      client.scheduler_info().get("workers", {}).values())
        futures = {}
        for t in targets:
            try:
                data = pack(t)
            except (OSError, ValueError) as e:
                on_done(t, grader_failure(t, f"grader error: cannot send the submission "
                                             f"to the cluster: {e}"))
                continue
            fut = client.submit(check_packed, Path(t).name, t, data, options, pure=False,
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
