"""The worker process: imports the student file and serves cases (runs inside the sandbox).

It imports only the standard library, numpy and the worker-side modules listed in
layercheck.cases.sandbox.isolation.WORKER_FILES; its configuration (paths, API, layer names, the
seccomp filter) comes from the grader in the first frame.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util  # the student import uses it: loaded before the guard is on
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
from layercheck.cases import net_cases, optim_cases
from layercheck.cases.adapters import run_class
from layercheck.cases.functional import run_functional
from layercheck.cases.sandbox.inside.guard import install_guard, install_seccomp
from layercheck.cases.sandbox.inside.importing import SKIPPED, load_student
from layercheck.cases.sandbox.wire import (
    MAX_TEXT,
    case_from_dict,
    decode,
    encode,
    outputs,
    read_header,
)

NPROC_LIMIT = 64  # tasks (threads) of the worker's user; new processes are refused anyway


def _reader(f: Any) -> Callable[[], dict | None]:
    def read() -> dict | None:
        head = f.read(16)
        if len(head) < 16:
            return None
        n_json, n_bin = read_header(head)
        body = f.read(n_json + n_bin)
        return decode(body[:n_json], body[n_json:])
    return read


def _sender(fd: int) -> Callable[[dict], None]:
    write, enc = os.write, encode

    def send(msg: dict) -> None:
        data = memoryview(enc(msg))
        while data:
            data = data[write(fd, data):]
    return send


def _cut(s: Any) -> Any:
    return s[:MAX_TEXT] if isinstance(s, str) else s


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


def _one_case(mod: Any, api: str, case: Any, arrays: dict, variant: int,
              send: Callable[[dict], None]) -> dict:
    """Run one case; before backward, a note with forward's outputs goes to the grader, so
    that a hang there is known to be in backward."""
    name = "loss" if case.layer == "softmax" else "out"

    def entering(value: Any) -> None:
        send({"type": "note", "phase": "backward", "outputs": outputs({name: value})})

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
    return {"type": "reply", "outputs": outputs(run.outputs), "error_phase": run.error_phase,
            "error": _cut(run.error), "error_type": _cut(run.error_type),
            "traceback": _cut(run.traceback), "missing": run.missing, "modified": modified,
            "seconds": seconds}


def _one_unit(mod: Any, msg: dict) -> dict:
    """Run one network or optimizer case (message type 'unit') on the student's module."""
    t0 = time.perf_counter()
    if msg["kind"] == "optimizer":
        case = optim_cases.case_from_fields(msg["case"])
        run = optim_cases.run(mod, case, optim_cases.inputs_from_arrays(msg["arrays"]))
        values = optim_cases.run_outputs(run)
        step, phase, grads_dict = run.error_step, None, False
        marks = {"rebound": run.rebound, "returned": run.returned, "notes": []}
    else:
        net = net_cases.case_from_fields(msg["case"])
        nrun = net_cases.run(mod, net, net_cases.inputs_from_arrays(msg["arrays"]))
        run, values = nrun, net_cases.run_outputs(net, nrun)
        step, phase, grads_dict = None, nrun.error_phase, isinstance(nrun.grads, dict)
        marks = {"rebound": [], "returned": [], "notes": nrun.notes}
    seconds = time.perf_counter() - t0
    return {"type": "unit_reply", "outputs": outputs(values), "error": _cut(run.error),
            "error_type": _cut(run.error_type), "error_phase": phase, "error_step": step,
            "traceback": _cut(run.traceback), "missing": run.missing,
            "rebound": [[s, k] for s, k in marks["rebound"]][:64],
            "returned": [[s, _cut(k)] for s, k in marks["returned"]][:64],
            "notes": [_cut(n) for n in marks["notes"]][:20], "grads_dict": grads_dict,
            "seconds": seconds}


def _no_sourceless_bytecode() -> None:
    """Folders on sys.path import .py sources and extension modules, never a bare .pyc
    (a `layers.pyc` shipped without its source)."""
    m = importlib.machinery
    hook = m.FileFinder.path_hook((m.ExtensionFileLoader, m.EXTENSION_SUFFIXES),
                                  (m.SourceFileLoader, m.SOURCE_SUFFIXES))
    sys.path_hooks[:] = [hook if getattr(h, "__name__", "") == "path_hook_for_FileFinder"
                         else h for h in sys.path_hooks]
    sys.path_importer_cache.clear()


def main() -> None:
    """Entry point of the worker process: import the student file, then serve cases."""
    proto_in = os.fdopen(os.dup(0), "rb")
    send = _sender(os.dup(1))
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    read = _reader(proto_in)
    cfg = read()
    if cfg is None:
        return
    sys.dont_write_bytecode = True
    # bytecode is read from (and never written to) an empty folder of the worker's own: a
    # stale __pycache__/*.pyc shipped beside the student's source is never imported
    sys.pycache_prefix = os.path.join(os.environ.get("TMPDIR") or "/tmp", "no-pycache")
    _no_sourceless_bytecode()
    try:
        resource.setrlimit(resource.RLIMIT_NPROC, (NPROC_LIMIT, NPROC_LIMIT))
        if cfg.get("seccomp") is not None:
            install_seccomp(cfg["seccomp"].tobytes())
    except OSError as e:
        send({"type": "hello", "ok": False, "traceback": None,
              "error": f"the worker could not restrict itself: {e}"})
        return
    install_guard(lambda msg: send({"type": "hint", "text": msg}),
                  tuple(cfg.get("native_dirs", ())))
    send({"type": "ready"})  # the last frame before student code runs
    try:
        mod = load_student(cfg)  # package import from its root, notebook cells, name map
    except BaseException as e:  # anything at import time, SystemExit included
        send({"type": "hello", "ok": False, "error": _cut(f"{type(e).__name__}: {e}"),
              "traceback": _cut("".join(traceback.format_exception(e, limit=-6)))})
        return
    has = sorted(n for n in cfg.get("layer_names", ()) if hasattr(mod, n))
    send({"type": "hello", "ok": True, "has": has, "notes": [_cut(n) for n in SKIPPED[:20]]})
    while True:
        msg = read()
        if msg is None or msg.get("type") not in ("case", "unit"):
            return
        if msg["type"] == "unit":
            try:
                reply = _one_unit(mod, msg)
            except BaseException as e:  # SystemExit or a failure in the adapter itself
                reply = {"type": "unit_reply", "outputs": {}, "error_type": type(e).__name__,
                         "error": _cut(f"{type(e).__name__}: {e}"), "error_phase": None,
                         "error_step": None, "traceback": None, "missing": False,
                         "rebound": [], "returned": [], "notes": [], "grads_dict": False,
                         "seconds": None}
            send(reply)
            continue
        case = case_from_dict(msg["case"])
        try:
            reply = _one_case(mod, cfg["api"], case, msg["arrays"], msg["variant"], send)
        except BaseException as e:  # SystemExit or a failure in the adapter itself
            reply = {"type": "reply", "outputs": {}, "error_phase": "forward",
                     "error": _cut(f"{type(e).__name__}: {e}"),
                     "error_type": type(e).__name__, "traceback": None, "missing": False,
                     "modified": [], "seconds": None}
        send(reply)
