"""The float64 truths of student cases, computed once and kept on disk.

A truth depends only on the case, its input arrays, the oracle's code and PyTorch, never on
the submission, so every run and every submission of a course shares it. An entry's key
is the case id, a digest of its input arrays, GRID_VERSION, a digest of the oracle's
source files and the installed torch version (read from the package metadata, so a warm
run never imports torch: PyTorch is imported only on a cache miss).

Where: $LAYERCHECK_CACHE, else $XDG_CACHE_HOME/layercheck, else ~/.cache/layercheck;
`LAYERCHECK_CACHE=off` keeps truths in memory only. A folder that cannot be written, or
an entry that cannot be read, costs a recomputation, never a verdict.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import zipfile
from functools import cache
from importlib import metadata
from pathlib import Path

import numpy as np
from layercheck.cases.case import Case
from layercheck.reference.expected import Expected, Truth

GRID_VERSION = 2  # bump when what a truth means changes outside reference/
_REFERENCE = Path(__file__).resolve().parent  # reference/, the folder of this file
# reference/ modules that do not compute truths: editing them keeps the cache.
_NOT_TRUTH = ("compare", "diagnose", "result", "training", "convnet", "alexnet", "expected")
_memory: dict[str, Truth] = {}
_stats = {"hit": 0, "miss": 0, "memory": 0}


def cache_root() -> Path | None:
    """The cache folder, or None when disk caching is off."""
    env = os.environ.get("LAYERCHECK_CACHE")
    if env is not None and env.strip().lower() in ("off", "0", "none", ""):
        return None
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "layercheck"


@cache
def torch_version() -> str:
    """The installed torch version, from package metadata (no import)."""
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "none"


@cache
def oracle_digest() -> str:
    """A digest of the reference/ sources that compute truths and bounds."""
    h = hashlib.sha256(str(GRID_VERSION).encode())
    for p in sorted(_REFERENCE.glob("*.py")):
        if not p.stem.startswith(_NOT_TRUTH):
            h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


def version_dir() -> Path | None:
    """The folder holding this grid version's entries for this torch."""
    root = cache_root()
    if root is None:
        return None
    return root / "truths" / f"torch-{torch_version()}" / f"grid{GRID_VERSION}-{oracle_digest()}"


def arrays_digest(arrays: dict) -> str:
    """A digest of the input arrays (names, dtypes, shapes and bytes)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = arrays[name]
        h.update(name.encode() + b"\0")
        if a is None:
            h.update(b"None")
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:20]


def _file(case: Case, digest: str) -> Path | None:
    d = version_dir()
    return None if d is None else d / f"{case.id}-{digest}.npz"


def _load(path: Path) -> Truth | None:
    """The entry at `path`, or None when it is absent or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            out: Truth = {}
            for key in z.files:
                if key.endswith(".value"):
                    name, phase = key[:-len(".value")].split(".")
                    out[name] = Expected(phase, z[key], z[f"{name}.{phase}.bound"])
            return out if "__truth__" in z.files else None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return None


def _store(path: Path, truth: Truth) -> None:
    """Write atomically (a temporary file renamed), so readers never see half an entry."""
    arrays = {"__truth__": np.zeros(0)}  # marks a complete entry (a truth may have no output)
    for name, exp in truth.items():
        arrays[f"{name}.{exp.phase}.value"] = np.asarray(exp.value)
        arrays[f"{name}.{exp.phase}.bound"] = np.asarray(exp.bound)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as e:
        _warn_once(f"layercheck: truth cache not written ({e}); truths are recomputed")


@cache
def _warn_once(message: str) -> None:
    print(message, file=sys.stderr)


def compute(case: Case, arrays: dict) -> Truth:
    """The truth from PyTorch (imported here, on first need), one thread."""
    import torch
    from layercheck.reference.oracle import reference

    torch.set_num_threads(1)  # tiny tensors: more threads only spin
    return reference(case, arrays)


def truth(case: Case, arrays: dict, keep: bool = True) -> Truth:
    """The case's truth for these arrays: from memory, from disk, or computed and stored
    (`keep` False: computed and never stored, for arrays drawn once, as hidden cases are)."""
    if not keep:
        _stats["miss"] += 1
        return compute(case, arrays)
    digest = arrays_digest(arrays)
    key = f"{case.id}-{digest}"
    if key in _memory:
        _stats["memory"] += 1
        return _memory[key]
    path = _file(case, digest)
    found = _load(path) if path is not None and path.exists() else None
    if found is not None:
        _stats["hit"] += 1
    else:
        _stats["miss"] += 1
        found = compute(case, arrays)
        if path is not None:
            _store(path, found)
    _memory[key] = found
    return found


def stats() -> dict[str, int]:
    """Counts of truths found in memory, found on disk, and computed, in this process."""
    return dict(_stats)
