"""Run untrusted student code in a separate worker process and get plain arrays back.

The worker is `python -I` in its own session, with limits on CPU time, address space and
file size, an empty temporary working directory and a scrubbed environment. The parent
sends (case, arrays) and reads back only builtins and raw array bytes: the reply is
unpickled with every global refused, so nothing the student defines can reach the parent.
"""

from __future__ import annotations

import os
import pickle
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cases.adapters import Run
from cases.case import Case

PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
MEMORY_LIMIT = 4 << 30
FILE_LIMIT = 1 << 20
CPU_LIMIT = 600
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
        "from cases.student.worker import worker_main; worker_main()")
_HEADER = struct.Struct("<Q")


class WorkerError(Exception):
    """The worker hung, died, or sent something that is not a reply."""


# ---------------------------------------------------------------- wire format

def _encode(v: Any) -> Any:
    """A value as builtins only: arrays as raw bytes, foreign objects by type name."""
    if type(v) is np.ndarray:
        if v.dtype.kind not in "biuf":
            return ("foreign", "numpy", f"ndarray[dtype={v.dtype}]")
        c = np.ascontiguousarray(v)
        return ("ndarray", c.dtype.str, tuple(int(n) for n in c.shape), c.tobytes())
    if v is None or type(v) in (bool, int, float):
        return v
    if isinstance(v, np.generic) and type(v).__module__ == "numpy" and v.dtype.kind in "biuf":
        return ("scalar", v.dtype.str, v.tobytes())
    t = type(v)
    return ("foreign", str(getattr(t, "__module__", "?")), str(getattr(t, "__qualname__", "?")))


def _stand_in(module: str, qualname: str) -> object:
    """An object whose type reports the student's type name (for the 'not an ndarray' verdict)."""
    cls = type(qualname.rsplit(".", 1)[-1], (), {"__module__": module, "__qualname__": qualname})
    return cls()


def _decode(v: Any) -> Any:
    try:
        return _decode_tagged(v)
    except Exception:  # a malformed reply: judged as a foreign object, never trusted
        return _stand_in("?", "malformed reply")


def _decode_tagged(v: Any) -> Any:
    if not isinstance(v, tuple):
        return v
    tag = v[0]
    if tag == "ndarray":
        _, dstr, shape, raw = v
        return np.frombuffer(raw, dtype=np.dtype(dstr)).reshape(shape).copy()
    if tag == "scalar":
        return np.frombuffer(v[2], dtype=np.dtype(v[1]))[0]
    return _stand_in(str(v[1]), str(v[2]))


class _NoGlobals(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refused global {module}.{name} in a worker reply")


def _send(f: Any, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    f.write(_HEADER.pack(len(data)) + data)
    f.flush()


def _recv_blocking(f: Any) -> Any:
    head = f.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError
    (n,) = _HEADER.unpack(head)
    data = b""
    while len(data) < n:
        chunk = f.read(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return pickle.loads(data)


# ---------------------------------------------------------------- the worker's guard

# Audit events refused whatever their arguments: new processes, the network, native code,
# and the ways to reach or bypass the guard itself.
REFUSED_EVENTS = frozenset({
    "subprocess.Popen", "os.system", "os.exec", "os.fork", "os.forkpty", "os.posix_spawn",
    "os.spawn", "os.startfile", "pty.spawn", "socket.connect", "socket.bind",
    "socket.sendto", "socket.sendmsg", "ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle",
    "ctypes.call_function", "ctypes.cdata", "ctypes.PyObj_FromPtr", "os.symlink", "os.link",
    "os.chdir", "sys.settrace", "sys.setprofile", "gc.get_objects", "gc.get_referrers",
    "gc.get_referents", "sys.remote_exec", "os.setxattr", "os.removexattr"})
# Events whose path arguments must lie inside the worker's folder: (path, dir_fd) indexes.
PATH_EVENTS = {"os.remove": ((0, 1),), "os.rmdir": ((0, 1),), "shutil.rmtree": ((0, 1),),
               "os.rename": ((0, 2), (1, 3)), "os.mkdir": ((0, 2),), "os.chmod": ((0, 2),),
               "os.chown": ((0, 3),), "os.utime": ((0, 3),), "os.truncate": ((0, None),),
               "os.chflags": ((0, None),), "os.mkfifo": ((0, 2),), "os.mknod": ((0, 3),),
               "shutil.copyfile": ((1, None),), "shutil.copytree": ((1, None),),
               "shutil.chown": ((0, None),)}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def install_guard(native_dirs: tuple[str, ...] = ()) -> list[str]:
    """Install the worker's audit hook; the list it appends each refused attempt to.

    Refused (PermissionError): writing, creating, removing or renaming anything outside
    the current (temporary) folder, new processes, network connections, native code
    through ctypes (except `ctypes.dlopen` of a library inside `native_dirs`: torch loads
    its own that way; calling into it stays refused), and signals or resource limits
    aimed at other processes. Everything
    the hook uses is bound here, so patching os, builtins or this module later cannot
    change its answers. Call it after numpy and the adapters are imported.
    """
    import posix
    import stat as stat_mod

    root = posix.getcwd()
    own_pid = posix.getpid()
    readlink, stat, s_isdir = posix.readlink, posix.stat, stat_mod.S_ISDIR
    fspath, refused, path_events = posix.fspath, REFUSED_EVENTS, dict(PATH_EVENTS)
    write_flags, str_, bytes_, int_ = WRITE_FLAGS, str, bytes, int
    type_, len_, any_, repr_, perm = type, len, any, repr, PermissionError
    violations: list[str] = []

    def absolute(path: Any, dir_fd: Any = None) -> str | None:
        """The path made absolute and normalised without touching the disk; None: unknown."""
        if type_(path) is int_:
            try:
                return readlink(f"/proc/self/fd/{path}")
            except OSError:
                return None
        if type_(path) not in (str_, bytes_):
            try:
                path = fspath(path)
            except Exception:
                return None
        if type_(path) is bytes_:
            path = path.decode("utf-8", "surrogateescape")
        if type_(path) is not str_:
            return None
        if not path.startswith("/"):
            base = root
            if type_(dir_fd) is int_ and dir_fd >= 0:
                base = absolute(dir_fd)
                if base is None:
                    return None
            path = base + "/" + path
        parts: list[str] = []
        for part in path.split("/"):
            if part == "..":
                if parts:
                    parts.pop()
            elif part and part != ".":
                parts.append(part)
        return "/" + "/".join(parts)

    def inside(path: Any, dir_fd: Any = None) -> bool:
        p = absolute(path, dir_fd)
        return p is not None and (p == root or p.startswith(root + "/"))

    def refuse(what: str) -> None:
        msg = (f"sandbox: {what} refused (student code may not write outside its temporary "
               f"folder, start processes, use the network or load native code)")
        violations.append(msg)
        raise perm(msg)

    def hook(event: str, args: tuple) -> None:
        if event == "ctypes.dlopen" and type_(args[0]) is str_ and any_(
                (absolute(args[0]) or "").startswith(d + "/") for d in native_dirs):
            return
        if event == "open":
            path, mode, flags = args
            if type_(path) is int_ or type_(flags) is not int_:
                return
            if flags & write_flags:
                if not inside(path):
                    refuse(f"opening {absolute(path) or path!r} for writing")
            elif mode is None and not inside(path):  # os.open: no folder fds for dir_fd
                try:
                    is_dir = s_isdir(stat(path).st_mode)
                except Exception:
                    is_dir = False
                if is_dir:
                    refuse(f"os.open on the folder {path!r}")
        elif event in refused:
            shown = ", ".join(repr_(a)[:80] for a in args[:2])
            refuse(f"{event}({shown})")
        elif event in path_events:
            for i, j in path_events[event]:
                dir_fd = args[j] if j is not None and j < len_(args) else None
                if i < len_(args) and not inside(args[i], dir_fd):
                    refuse(f"{event} on {absolute(args[i], dir_fd) or args[i]!r}")
        elif event in ("os.kill", "os.killpg", "resource.prlimit"):
            ok = (0, own_pid) if event == "resource.prlimit" else (own_pid,)
            if args[0] not in ok:
                refuse(f"{event}{args[:2]!r} on another process")

    sys.addaudithook(hook)
    return violations


def _framework_dirs() -> tuple[str, ...]:
    """Install folders of the frameworks the policy rule watches (found without importing)."""
    import importlib.util

    from cases.student.loader import FORBIDDEN

    dirs = []
    for name in FORBIDDEN:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.origin:
            dirs += {os.path.dirname(os.path.abspath(spec.origin)),
                     os.path.dirname(os.path.realpath(spec.origin))}
    return tuple(dirs)


# ---------------------------------------------------------------- worker side

def _same(a: Any, b: Any) -> bool:
    return (type(b) is np.ndarray and a.shape == b.shape and a.dtype == b.dtype
            and a.tobytes() == b.tobytes())


class _Layer:
    """Wraps a student's layer object, recording the arrays passed to forward and backward,
    and telling the parent (`entering`) when backward starts, with forward's result."""

    def __init__(self, layer: Any, seen: dict, entering: Callable[[Any], None]) -> None:
        self.__dict__.update(_layer=layer, _seen=seen, _entering=entering, _result=None)

    def forward(self, *args: Any) -> Any:
        self._seen.update(zip(("x", "t"), args, strict=False))
        self.__dict__["_result"] = self._layer.forward(*args)
        return self._result

    def backward(self, *args: Any) -> Any:
        self._seen.update(zip(("dout",), args, strict=False))
        self._entering(self._result)
        return self._layer.backward(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._layer, name)


class _Recorder:
    """Stands for the student module: layer classes are wrapped so their inputs are kept."""

    def __init__(self, mod: Any, seen: dict, entering: Callable[[Any], None]) -> None:
        self._mod, self._seen, self._entering = mod, seen, entering

    def __getattr__(self, name: str) -> Any:
        cls = getattr(self._mod, name)
        seen, entering = self._seen, self._entering

        def make(*args: Any, **kw: Any) -> _Layer:
            if name in ("Convolution", "Affine"):
                seen.update(zip(("W", "b"), args[:2], strict=False))
            return _Layer(cls(*args, **kw), seen, entering)
        return make


def _import_student(path: str, root: str) -> Any:
    import importlib
    import importlib.util

    p, r = Path(path), Path(root)
    rel = p.relative_to(r) if p.is_relative_to(r) else Path(p.name)
    parts = list(rel.with_suffix("").parts)
    if len(parts) > 1 and all((r.joinpath(*parts[:i]) / "__init__.py").exists()
                              for i in range(1, len(parts))):
        return importlib.import_module(".".join(parts))
    name = p.stem if p.stem not in sys.modules else f"_student_{p.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _one_case(mod: Any, api: str, case: Case, arrays: dict, variant: int,
              out: Any = None) -> dict:
    """Run one case; before backward, a {"phase": "backward", "outputs": ...} note goes to
    `out` (the reply pipe), so that a hang there is known to be in backward."""
    from cases.adapters import run_class
    from cases.student.functional import run_functional

    name = "loss" if case.layer == "softmax" else "out"

    def entering(value: Any) -> None:
        if out is not None:
            _send(out, {"phase": "backward", "outputs": {name: _encode(value)}})

    seen: dict[str, Any] = {}
    t0 = time.perf_counter()
    if api == "class":
        run = run_class(_Recorder(mod, seen, entering), case, arrays)
    else:
        run = run_functional(mod, case, arrays, variant, seen, entering)
    seconds = time.perf_counter() - t0
    modified = [k for k, v in arrays.items()
                if type(v) is np.ndarray and type(seen.get(k)) is np.ndarray
                and not _same(v, seen[k])]
    return {"outputs": {k: _encode(v) for k, v in run.outputs.items()},
            "error_phase": run.error_phase, "error": run.error, "error_type": run.error_type,
            "traceback": run.traceback, "missing": run.missing, "modified": modified,
            "seconds": seconds}


def worker_main() -> None:
    """Entry point of the worker process: import the student file, then serve cases."""
    from cases.student.loader import FORBIDDEN, LAYER_NAMES

    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    cfg = _recv_blocking(proto_in)
    sys.path.insert(0, cfg["root"])
    before = set(sys.modules)
    import importlib.util  # noqa: F401  (everything the worker needs, before the guard)
    import traceback

    import cases.student.functional  # noqa: F401
    sys.dont_write_bytecode = True
    violations = install_guard(_framework_dirs())
    try:
        mod = _import_student(cfg["path"], cfg["root"])
    except BaseException as e:  # anything at import time, SystemExit included
        _send(proto_out, {"ok": False, "error": f"{type(e).__name__}: {e}",
                          "traceback": "".join(traceback.format_exception(e, limit=-6)),
                          "violations": list(violations)})
        return
    loaded = sorted(m for m in FORBIDDEN if m in sys.modules and m not in before)
    has = sorted(n for n in LAYER_NAMES if hasattr(mod, n))
    _send(proto_out, {"ok": True, "forbidden": loaded, "has": has,
                      "violations": list(violations)})
    reported = len(violations)
    while True:
        try:
            msg = _recv_blocking(proto_in)
        except EOFError:
            return
        if msg is None:
            return
        case, arrays, variant = msg
        try:
            reply = _one_case(mod, cfg["api"], case, arrays, variant, proto_out)
        except BaseException as e:  # SystemExit or a failure in the adapter itself
            reply = {"outputs": {}, "error_phase": "forward", "error": f"{type(e).__name__}: {e}",
                     "error_type": type(e).__name__, "traceback": None, "missing": False,
                     "modified": [], "seconds": None}
        reply["violations"], reported = list(violations[reported:]), len(violations)
        _send(proto_out, reply)


# ---------------------------------------------------------------- parent side

def _limits(memory: int) -> None:  # runs in the child between fork and exec
    import resource
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT, CPU_LIMIT + 5))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class Worker:
    """One sandboxed worker for one student file; restarted after a hang or crash."""

    def __init__(self, path: Path, root: Path, api: str, timeout: float = 5.0,
                 import_timeout: float = 20.0, memory: int = MEMORY_LIMIT) -> None:
        self.cfg = {"path": str(path), "root": str(root), "api": api}
        self.timeout, self.import_timeout, self.memory = timeout, import_timeout, memory
        self.proc: subprocess.Popen | None = None
        self.tmp: str | None = None
        self.forbidden: list[str] = []
        self.has: set[str] = set()
        self.violations: list[str] = []  # sandbox refusals, in the order they happened
        self.restarts = 0

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self, deadline: float) -> Any:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        buf = b""
        need = _HEADER.size
        header_done = False
        while True:
            while len(buf) < need:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    raise TimeoutError
                chunk = os.read(fd, need - len(buf))  # exactly: a second message may follow
                if not chunk:
                    raise WorkerError(self._death())
                buf += chunk
            if header_done:
                try:
                    return _NoGlobals(_io_bytes(buf[:need])).load()
                except Exception as e:
                    raise WorkerError(f"unreadable reply from the worker ({e})") from e
            (n,) = _HEADER.unpack(buf[:_HEADER.size])
            buf, need, header_done = buf[_HEADER.size:], n, True

    def _death(self) -> str:
        assert self.proc is not None
        try:
            rc = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "the worker closed its pipe"
        if rc < 0:
            name = signal.Signals(-rc).name
            why = {"SIGXCPU": " (CPU time limit)", "SIGXFSZ": " (file size limit)",
                   "SIGKILL": " (killed, perhaps for memory)",
                   "SIGSEGV": " (segmentation fault)"}.get(name, "")
            return f"the worker process died from {name}{why}"
        return f"the worker process exited with status {rc}"

    def start(self) -> dict:
        """Start the worker and import the student file; the import's reply."""
        self.tmp = tempfile.mkdtemp(prefix="layercheck-")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TMPDIR": self.tmp}
        env.update({v: "1" for v in THREAD_VARS})
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-B", "-c", BOOT, PROJECT_ROOT],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            cwd=self.tmp, env=env, start_new_session=True,
            preexec_fn=lambda: _limits(self.memory))
        assert self.proc.stdin is not None
        _send(self.proc.stdin, self.cfg)
        try:
            hello = self._read(time.monotonic() + self.import_timeout)
        except TimeoutError:
            self.kill()
            return {"ok": False, "error": f"importing the file did not finish within "
                                          f"{self.import_timeout:g} s (an endless loop at "
                                          f"import time?)", "traceback": None}
        except WorkerError as e:
            self.kill()
            return {"ok": False, "error": str(e), "traceback": None}
        if not isinstance(hello, dict):
            self.kill()
            return {"ok": False, "error": "unreadable reply from the worker", "traceback": None}
        self._note(hello.get("violations"))
        if not hello.get("ok"):
            self.kill()
        else:
            self.forbidden = [str(m) for m in hello.get("forbidden", [])]
            self.has = {str(n) for n in hello.get("has", [])}
        return hello

    def run(self, case: Case, arrays: dict, variant: int = 0,
            timeout: float | None = None) -> Run:
        """Run one case; a hang becomes a 'Timeout' error and a crash an error, with a restart."""
        if self.proc is None or self.proc.poll() is not None:
            self.restarts += self.proc is not None
            hello = self.start()
            if not hello.get("ok"):
                return _failed("ImportError", str(hello.get("error")), "forward")
        assert self.proc is not None and self.proc.stdin is not None
        limit = self.timeout if timeout is None else timeout
        deadline, phase, early = time.monotonic() + limit, "forward", {}
        try:
            _send(self.proc.stdin, (case, arrays, variant))
            reply = self._read(deadline)
            while isinstance(reply, dict) and reply.get("phase") == "backward":
                phase, early = "backward", reply.get("outputs")
                reply = self._read(deadline)
        except TimeoutError:
            self.kill()
            run = _failed("Timeout", f"timed out in {phase} after {limit:g} s: no result "
                                     f"within the per-case limit (an endless loop, or far "
                                     f"too slow)", phase)
            if isinstance(early, dict):  # forward finished: its result is judged
                run.outputs = {str(k): _decode(v) for k, v in early.items()}
            return run
        except (WorkerError, BrokenPipeError, OSError) as e:
            msg = str(e) if isinstance(e, WorkerError) else self._death()
            self.kill()
            return _failed("WorkerCrash", msg, None)
        run = _to_run(reply)
        new = self._note(reply.get("violations") if isinstance(reply, dict) else None)
        if new and run.error is None:  # caught by the student: the case still fails
            run.error_type, run.error_phase = "PermissionError", "forward"
            run.error = f"PermissionError: {new[0]}"
        return run

    def _note(self, found: Any) -> list[str]:
        """Record the sandbox refusals a reply lists; the ones that are new."""
        new = [str(v) for v in found if isinstance(v, str)] if isinstance(found, list) else []
        self.violations += new
        return new

    def kill(self) -> None:
        """Kill the worker's whole process group (it may have started children)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            self.proc.wait()
            for f in (self.proc.stdin, self.proc.stdout):
                if f is not None:
                    f.close()

    def close(self) -> None:
        """Stop the worker and remove its working directory."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                _send(self.proc.stdin, None)
                self.proc.wait(timeout=1)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _io_bytes(b: bytes) -> Any:
    import io
    return io.BytesIO(b)


def _failed(kind: str, message: str, phase: str | None) -> Run:
    return Run(error_type=kind, error=message, error_phase=phase)


def _to_run(reply: Any) -> Run:
    """A worker reply (builtins only) as a `Run`, every field checked for its type."""
    if not isinstance(reply, dict):
        return _failed("WorkerCrash", "unreadable reply from the worker", None)

    def s(key: str) -> str | None:
        v = reply.get(key)
        return v if isinstance(v, str) else None

    outs = reply.get("outputs") if isinstance(reply.get("outputs"), dict) else {}
    mods = reply.get("modified") if isinstance(reply.get("modified"), list) else []
    secs = reply.get("seconds")
    return Run(outputs={str(k): _decode(v) for k, v in outs.items()},
               error_phase=s("error_phase"), error=s("error"), error_type=s("error_type"),
               traceback=s("traceback"), missing=reply.get("missing") is True,
               modified=[str(m) for m in mods],
               seconds=float(secs) if isinstance(secs, int | float) else None)
