"""Run untrusted student code in an isolated worker process and get plain arrays back.

The worker (layercheck.cases.sandbox.inside.main) runs under bubblewrap
(layercheck.cases.sandbox.isolation) with a seccomp filter it installs before student code,
cgroup or rlimit limits, and speaks the bounded wire format of layercheck.cases.sandbox.wire.
This side trusts nothing it says: frames are size-checked before they are read, what their
arrays decode to is counted against a cap per message and per worker, every field of every
message is checked (layercheck.cases.sandbox.replies) and every text cleaned before use,
statuses are decided by the checker, and evidence of abuse comes from what this process and
the kernel observe (exit signals, cgroup counters, files left out); the worker's own reports
of refused attempts are hints that can add a policy entry, never remove one. A message that
breaks the rules is the case's error, the student's; only the grader's own faults are
grader errors.
"""

from __future__ import annotations

import importlib.util
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from layercheck.cases import net_cases, optim_cases
from layercheck.cases.adapters import Run
from layercheck.cases.case import Case
from layercheck.cases.net_cases import NetCase, NetRun
from layercheck.cases.optim_cases import OptimCase, OptimRun
from layercheck.cases.sandbox import isolation, replies
from layercheck.cases.sandbox.replies import Malformed
from layercheck.cases.sandbox.seccomp import worker_filter
from layercheck.cases.sandbox.wire import (
    HEADER,
    MAX_REPLY,
    OverCap,
    WireError,
    case_to_dict,
    decode_counted,
    encode,
    read_header,
)
from layercheck.cases.submission.survey import FORBIDDEN, LAYER_NAMES
from layercheck.cases.text import clean_name, clean_text

MEMORY_LIMIT = 4 << 30
FILE_LIMIT = 1 << 20
CPU_LIMIT = 600
MAX_HINTS = 200  # refused-attempt hints kept per worker
MAX_MALFORMED = 20  # malformed messages kept as evidence per worker (each is its case's error)
# What all of one worker's messages may cost the grader once decoded, restarts included (a
# whole grid of honest replies decodes to a few MiB); each message is within MAX_REPLY.
MAX_WORKER_DECODED = 1 << 30
BOOT = ("import sys; sys.path[:0] = sys.argv[1:]; "
        "from layercheck.cases.sandbox.inside.main import main; main()")
SIGNAL_WORDS = {"SIGXCPU": " (CPU time limit)", "SIGXFSZ": " (file size limit)",
                "SIGKILL": " (killed, perhaps for memory)", "SIGSEGV": " (segmentation fault)",
                "SIGSYS": " (a forbidden system call: the kernel's seccomp filter)"}
_NO_MODULE = re.compile(r"No module named '([\w.]+)'")
GRADER_MODULES = ("impl", "reference", "cases", "reports", "layercheck")  # (only cases/ is mounted)


class WorkerError(Exception):
    """The worker hung, died, or sent something that is not a reply."""


def _framework_dirs(allow_torch: bool) -> list[str]:
    """Install folders of the frameworks (torch loads its own libraries through ctypes)."""
    if not allow_torch:
        return []
    dirs = []
    for name in FORBIDDEN:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.origin:
            d = os.path.dirname(os.path.realpath(spec.origin))
            dirs.append(d.replace(str(Path(d).parent), isolation.SANDBOX_SITE, 1))
            dirs.append(d)
    return dirs


def _limits(memory: int, cgroup: isolation.Cgroup | None) -> None:
    """Runs in the child between fork and exec: rlimits, then the worker's cgroup."""
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT, CPU_LIMIT + 5))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if cgroup is not None:
        cgroup.join()


class Worker:
    """One isolated worker for one student submission; restarted after a hang or crash.

    `names`: the layer names the parent read from the source (AST); a layer is 'missing'
    only when neither the source nor the loaded module has it. `whole_root`: mount the
    whole root folder (a folder submission) rather than the file and its own imports.
    `isolate`: False runs without namespaces (--unsafe-no-isolation).
    """

    def __init__(self, path: Path, root: Path, api: str, timeout: float = 5.0,
                 import_timeout: float = 20.0, memory: int = MEMORY_LIMIT, *,
                 names: set[str] | None = None, whole_root: bool = False,
                 allow_torch: bool = False, isolate: bool = True) -> None:
        self.path, self.root, self.api = Path(path), Path(root), api
        # more of what the worker needs to import the submission (module, paths, notebook
        # cells, name map: see layercheck.cases.sandbox.inside.importing), set by the checker
        self.extra_config: dict[str, Any] = {}
        self.timeout, self.import_timeout, self.memory = timeout, import_timeout, memory
        self.names = set(names or ())
        self.whole_root, self.allow_torch, self.isolate = whole_root, allow_torch, isolate
        self.proc: subprocess.Popen | None = None
        self.tmp: str | None = None  # the unisolated worker's working folder
        self.mounts: isolation.Mounts | None = None  # the submission's files, as mounted
        self.cgroup: isolation.Cgroup | None = None
        self.forbidden: list[str] = []  # frameworks whose import failed in the worker
        self.has: set[str] = set()
        self.violations: list[str] = []  # sandbox evidence, in the order it was found
        self.restarts = 0
        self.decoded = 0  # bytes the worker's messages decoded to, against MAX_WORKER_DECODED
        self.malformed = 0  # messages that broke the protocol
        self.grader_error: str | None = None  # the grader could not run this worker

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ frames

    def _send(self, msg: dict, deadline: float) -> None:
        """Write one frame; a worker that stops reading cannot block the grader."""
        assert self.proc is not None and self.proc.stdin is not None
        fd = self.proc.stdin.fileno()
        os.set_blocking(fd, False)
        data = memoryview(encode(msg))
        while data:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [fd], [], left)[1]:
                raise TimeoutError
            try:
                data = data[os.write(fd, data[:1 << 16]):]
            except BlockingIOError:
                continue

    def _read_exactly(self, n: int, deadline: float) -> bytes:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        parts, got = [], 0
        while got < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(fd, min(n - got, 1 << 20))
            if not chunk:
                raise WorkerError(self._death())
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def _frame(self, deadline: float) -> tuple[str, dict]:
        """The next message that is not a hint, and its type (hints are recorded as they
        come). Its fields are those its type has (`replies.kind`); what its arrays decode to
        counts against this worker's cap. Anything else is a `WorkerError`."""
        while True:
            try:
                n_json, n_bin = read_header(self._read_exactly(HEADER.size, deadline),
                                            MAX_REPLY)
                body = self._read_exactly(n_json + n_bin, deadline)
                left = MAX_WORKER_DECODED - self.decoded
                try:
                    msg, size = decode_counted(body[:n_json], body[n_json:],
                                               min(MAX_REPLY, left))
                except OverCap as e:
                    if left >= MAX_REPLY:
                        raise
                    raise OverCap(f"this worker's messages would decode to more than "
                                  f"{MAX_WORKER_DECODED} bytes in all") from e
                self.decoded += size
                kind = replies.kind(msg)
                if kind == "hint":
                    hint = replies.hint(msg)
                    if len(self.violations) < MAX_HINTS:
                        self.violations.append(hint)
                    continue
            except (WireError, Malformed) as e:
                raise self._malformed("message", e) from e
            return kind, msg

    def _malformed(self, what: str, e: Exception) -> WorkerError:
        """A message that breaks the protocol: recorded as sandbox evidence, and the error
        of whatever waited for it (student code can write to the worker's pipe)."""
        self.malformed += 1
        if self.malformed <= MAX_MALFORMED:
            self._observe(f"sandbox: the worker sent a malformed {what} ({e})")
        return WorkerError(f"the worker sent a malformed {what} ({e})")

    def _observe(self, what: str) -> None:
        if what not in self.violations:
            self.violations.append(what)

    def _death(self) -> str:
        assert self.proc is not None
        try:
            rc = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "the worker closed its pipe"
        sig = -rc if rc < 0 else rc - 128 if self.isolate and 128 < rc < 160 else None
        if sig is None:
            return f"the worker process exited with status {rc}"
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        if name == "SIGSYS":
            self._observe("sandbox: the kernel killed the worker for a forbidden system call "
                          "(seccomp: new processes, other processes' memory, devices, "
                          "namespaces, terminals)")
        if name == "SIGKILL" and self.cgroup is not None and self.cgroup.oom():
            return f"the worker process died from SIGKILL (memory limit of " \
                   f"{self.memory >> 20} MB reached)"
        return f"the worker process died from {name}{SIGNAL_WORDS.get(name, '')}"

    # ------------------------------------------------------------ start

    def _argv(self) -> list[str]:
        python = os.path.realpath(sys.executable)
        tail = [python, "-I", "-S", "-B", "-c", BOOT,
                *isolation.sys_path(self.isolate, self.allow_torch)]
        if not self.isolate:
            return tail
        assert self.mounts is not None
        return [*isolation.sandbox_argv(isolation.bwrap_path(), self.mounts.args(),
                                        self.allow_torch), *tail]

    def _config(self) -> dict:
        bpf = worker_filter()
        return {**self.extra_config, "path": str(self.path), "root": str(self.root),
                "api": self.api, "type": "config", "layer_names": sorted(LAYER_NAMES),
                "native_dirs": _framework_dirs(self.allow_torch),
                "seccomp": np.frombuffer(bpf, np.uint8)}

    def _fail(self, error: str) -> dict:
        self.kill()
        self._note_forbidden(error)
        return {"ok": False, "error": error, "traceback": None}

    def start(self) -> dict:
        """Start the worker and import the student file: {"ok", "error", "traceback"}."""
        self._cleanup()
        try:
            if self.isolate:
                reason = isolation.probe()
                if reason is not None:
                    raise isolation.IsolationError(f"cannot isolate student code: {reason}")
                if self.mounts is None:
                    try:
                        self.mounts = isolation.submission_mounts(self.path, self.root,
                                                                  self.whole_root)
                    except (isolation.IsolationError, OSError) as e:  # the submission's
                        return {"ok": False, "error": clean_text(str(e)), "traceback": None}
                    for f in self.mounts.skipped_native:
                        self._observe(f"sandbox: native code shipped in the submission is "
                                      f"not mounted ({clean_name(str(f))})")
                work = isolation.SANDBOX_WORK
            else:
                self.tmp = work = tempfile.mkdtemp(prefix="layercheck-")
            config = self._config()
            cg = isolation.Cgroup(self.memory) if isolation.Cgroup.available() else None
            self.cgroup = cg if cg is not None and cg.dirs else None
            self.proc = subprocess.Popen(
                self._argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, cwd=self.tmp or "/", env=isolation.worker_env(work),
                start_new_session=True,
                preexec_fn=lambda: _limits(self.memory, self.cgroup))
        except (isolation.IsolationError, OSError, subprocess.SubprocessError) as e:
            self.grader_error = clean_text(str(e))
            self._cleanup()
            return {"ok": False, "error": self.grader_error, "traceback": None, "grader": True}
        deadline = time.monotonic() + self.import_timeout
        try:  # until "ready", no student code has run: any failure is the grader's
            self._send(config, deadline)
            kind, first = self._frame(deadline)
            problem = None
            if kind == "hello":  # the worker's own failure, before any student code ran
                problem = replies.hello(first, ()).error or "it failed before importing"
            elif kind != "ready":
                problem = f"it sent a {kind} message first"
        except (TimeoutError, WorkerError, OSError, Malformed) as e:
            problem = clean_text(str(e) or type(e).__name__)
        if problem is not None:
            self.grader_error = f"the worker did not start ({problem})"
            self.kill()
            return {"ok": False, "error": self.grader_error, "traceback": None, "grader": True}
        try:
            kind, msg = self._frame(deadline)
            if kind != "hello":
                return self._fail("the worker sent something else than its hello")
            hello = replies.hello(msg, LAYER_NAMES)
        except TimeoutError:
            return self._fail(f"importing the file did not finish within "
                              f"{self.import_timeout:g} s (an endless loop at import time?)")
        except Malformed as e:
            return self._fail(str(self._malformed("hello", e)))
        except (WorkerError, OSError) as e:
            return self._fail(str(e) if isinstance(e, WorkerError) else self._death())
        self.has = self.names | hello.has
        if not hello.ok:
            error = hello.error or "importing the file failed"
            self.kill()
            self._note_forbidden(error)
            return {"ok": False, "error": error, "traceback": hello.traceback}
        return {"ok": True, "error": None, "traceback": None, "notes": hello.notes}

    def _note_forbidden(self, error: str | None) -> None:
        """A framework, or the grader's own code, whose import failed in the worker (neither
        is mounted there)."""
        for m in _NO_MODULE.findall(error or ""):
            top = m.split(".")[0]
            if top in GRADER_MODULES:
                self._observe(f"sandbox: importing the grader's own {m!r} failed (the "
                              f"grader's code is not mounted for student code)")
            if top in FORBIDDEN and top not in self.forbidden and not self.allow_torch:
                self.forbidden.append(top)

    # ------------------------------------------------------------ cases

    def run(self, case: Case, arrays: dict, variant: int = 0,
            timeout: float | None = None) -> Run:
        """Run one case; a hang becomes a 'Timeout' error and a crash an error, with a restart."""
        if self.proc is None or self.proc.poll() is not None:
            self.restarts += self.proc is not None
            hello = self.start()
            if not hello.get("ok"):
                return _failed("ImportError", str(hello.get("error")), "forward")
        limit = self.timeout if timeout is None else timeout
        deadline, phase, early = time.monotonic() + limit, "forward", None
        try:
            self._send({"type": "case", "case": case_to_dict(case), "arrays": arrays,
                        "variant": variant}, deadline)
            kind, msg = self._frame(deadline)
            while kind == "note":
                phase, early = "backward", replies.note(msg)
                kind, msg = self._frame(deadline)
            if kind != "reply":
                self.kill()
                self._observe("sandbox: the worker sent a message out of turn")
                return _failed("WorkerCrash", "the worker sent a message out of turn", None)
            run = replies.reply(msg, case, arrays.keys(), limit)
        except TimeoutError:
            self.kill()
            run = _failed("Timeout", f"timed out in {phase} after {limit:g} s: no result "
                                     f"within the per-case limit (an endless loop, or far "
                                     f"too slow)", phase)
            if early is not None:  # forward finished: its result is judged
                run.outputs = early
            return run
        except Malformed as e:
            self.kill()
            return _failed("WorkerCrash", str(self._malformed(kind, e)), None)
        except (WorkerError, BrokenPipeError, OSError) as e:
            msg = str(e) if isinstance(e, WorkerError) else self._death()
            self.kill()
            return _failed("WorkerCrash", msg, None)
        self._note_forbidden(run.error)
        return run

    def run_unit(self, case: OptimCase | NetCase, arrays: dict,
                 timeout: float | None = None) -> OptimRun | NetRun:
        """Run one network or optimizer case (`arrays`: its inputs, as
        optim_cases.input_arrays / net_cases.input_arrays give them); a hang, a crash or a
        malformed reply becomes the run's error ('Timeout', 'WorkerCrash')."""
        optim = isinstance(case, OptimCase)
        if self.proc is None or self.proc.poll() is not None:
            self.restarts += self.proc is not None
            hello = self.start()
            if not hello.get("ok"):
                return _unit_failed(optim, "ImportError", str(hello.get("error")))
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        fields = (optim_cases.case_fields(case) if optim
                  else net_cases.case_fields(case))  # type: ignore[arg-type]
        kind = "message"
        try:
            self._send({"type": "unit", "kind": "optimizer" if optim else "net",
                        "case": fields, "arrays": arrays}, deadline)
            kind, msg = self._frame(deadline)
            if kind != "unit_reply":
                self.kill()
                self._observe("sandbox: the worker sent a message out of turn")
                return _unit_failed(optim, "WorkerCrash", "the worker sent a message out of turn")
            run = replies.unit_reply(msg, case, limit)
        except TimeoutError:
            self.kill()
            return _unit_failed(optim, "Timeout", f"timed out after {limit:g} s: no result "
                                                  f"within the per-case limit (an endless "
                                                  f"loop, or far too slow)")
        except Malformed as e:
            self.kill()
            return _unit_failed(optim, "WorkerCrash", str(self._malformed(kind, e)))
        except (WorkerError, BrokenPipeError, OSError) as e:
            text = str(e) if isinstance(e, WorkerError) else self._death()
            self.kill()
            return _unit_failed(optim, "WorkerCrash", text)
        self._note_forbidden(run.error)
        return run

    # ------------------------------------------------------------ stop

    def kill(self) -> None:
        """Kill the worker and everything it started (its cgroup, or its process group)."""
        if self.cgroup is not None:
            self.cgroup.kill_all()
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            self.proc.wait()
            for f in (self.proc.stdin, self.proc.stdout):
                if f is not None:
                    try:
                        f.close()
                    except OSError:
                        pass

    def _cleanup(self) -> None:
        """Remove what the previous start left: process, cgroup, working folder."""
        self.kill()
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def close(self) -> None:
        """Stop the worker and remove every temporary folder and cgroup it used."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self._send({"type": "stop"}, time.monotonic() + 1)
                self.proc.wait(timeout=1)
            except (OSError, TimeoutError, subprocess.TimeoutExpired):
                pass
        self._cleanup()


def _failed(kind: str, message: str, phase: str | None) -> Run:
    return Run(error_type=kind, error=message, error_phase=phase)


def _unit_failed(optim: bool, kind: str, message: str) -> OptimRun | NetRun:
    run: OptimRun | NetRun = OptimRun() if optim else NetRun()
    run.error_type, run.error = kind, message
    return run
