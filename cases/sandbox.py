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
        "from cases.sandbox import worker_main; worker_main()")
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


# ---------------------------------------------------------------- worker side

def _same(a: Any, b: Any) -> bool:
    return (type(b) is np.ndarray and a.shape == b.shape and a.dtype == b.dtype
            and a.tobytes() == b.tobytes())


class _Layer:
    """Wraps a student's layer object, recording the arrays passed to forward and backward."""

    def __init__(self, layer: Any, seen: dict) -> None:
        self.__dict__["_layer"], self.__dict__["_seen"] = layer, seen

    def forward(self, *args: Any) -> Any:
        self._seen.update(zip(("x", "t"), args, strict=False))
        return self._layer.forward(*args)

    def backward(self, *args: Any) -> Any:
        self._seen.update(zip(("dout",), args, strict=False))
        return self._layer.backward(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._layer, name)


class _Recorder:
    """Stands for the student module: layer classes are wrapped so their inputs are kept."""

    def __init__(self, mod: Any, seen: dict) -> None:
        self._mod, self._seen = mod, seen

    def __getattr__(self, name: str) -> Any:
        cls = getattr(self._mod, name)
        seen = self._seen

        def make(*args: Any, **kw: Any) -> _Layer:
            if name in ("Convolution", "Affine"):
                seen.update(zip(("W", "b"), args[:2], strict=False))
            return _Layer(cls(*args, **kw), seen)
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


def _one_case(mod: Any, api: str, case: Case, arrays: dict, variant: int) -> dict:
    from cases.adapters import run_class
    from cases.functional import run_functional

    seen: dict[str, Any] = {}
    t0 = time.perf_counter()
    if api == "class":
        run = run_class(_Recorder(mod, seen), case, arrays)
    else:
        run = run_functional(mod, case, arrays, variant, seen)
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
    from cases.loader import FORBIDDEN, LAYER_NAMES

    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    cfg = _recv_blocking(proto_in)
    sys.path.insert(0, cfg["root"])
    before = set(sys.modules)
    try:
        mod = _import_student(cfg["path"], cfg["root"])
    except BaseException as e:  # anything at import time, SystemExit included
        import traceback
        _send(proto_out, {"ok": False, "error": f"{type(e).__name__}: {e}",
                          "traceback": "".join(traceback.format_exception(e, limit=-6))})
        return
    loaded = sorted(m for m in FORBIDDEN if m in sys.modules and m not in before)
    has = sorted(n for n in LAYER_NAMES if hasattr(mod, n))
    _send(proto_out, {"ok": True, "forbidden": loaded, "has": has})
    while True:
        try:
            msg = _recv_blocking(proto_in)
        except EOFError:
            return
        if msg is None:
            return
        case, arrays, variant = msg
        try:
            reply = _one_case(mod, cfg["api"], case, arrays, variant)
        except BaseException as e:  # SystemExit or a failure in the adapter itself
            reply = {"outputs": {}, "error_phase": "forward", "error": f"{type(e).__name__}: {e}",
                     "error_type": type(e).__name__, "traceback": None, "missing": False,
                     "modified": [], "seconds": None}
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
                chunk = os.read(fd, max(need - len(buf), 1 << 16))
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
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        env.update({v: "1" for v in THREAD_VARS})
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", BOOT, PROJECT_ROOT],
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
        try:
            _send(self.proc.stdin, (case, arrays, variant))
            reply = self._read(time.monotonic() + limit)
        except TimeoutError:
            self.kill()
            return _failed("Timeout", f"no result within {limit:g} s (an endless loop, or "
                                      f"far too slow)", None)
        except (WorkerError, BrokenPipeError, OSError) as e:
            msg = str(e) if isinstance(e, WorkerError) else self._death()
            self.kill()
            return _failed("WorkerCrash", msg, None)
        return _to_run(reply)

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
