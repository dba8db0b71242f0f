"""Taking a submission in: a private copy of its own files, before anything reads it.

Everything after intake (parsing, choosing the file, the import root, hashing, the sandbox's
mounts) works on the copy, never on the original:

- only regular files are copied: no symbolic links (a notebook linked to another student's,
  a .py linked to the instructor's solution), no hard-linked files (st_nlink > 1: a link to
  a grader file), no FIFOs or devices, no names that are not valid UTF-8;
- no bytecode (`__pycache__/`, `*.pyc`): a stale .pyc compiled from another source is never
  imported; no native code (`.so`, ELF files): a few are dropped and reported, more than
  MAX_NATIVE are the student's load error;
- caps: a .py over MAX_SOURCE_BYTES (a notebook over MAX_NOTEBOOK_BYTES), more than
  MAX_FILES files or MAX_TOTAL_BYTES in all are the student's load error (IntakeError),
  never a grader error;
- a file given alone is copied with the student's modules it imports, transitively: the
  imported modules' files and their packages' `__init__.py` (never a whole folder because
  an import name matches one; never a file named like the standard library, numpy/scipy
  or a framework); relative imports climb only through packages (`__init__.py`). Its
  import root may lie above its folder (`climb`, a student checking their own
  repository: every report then says so); without `climb` (several submissions, the
  Gradescope autograder, `--no-climb`) it is the file's own folder;
- a file entry of an `--each` FOLDER (`entry`) is copied alone: everything beside it is
  another submission (an import of one is a warning, and fails as a load error); a folder
  entry is its own tree.

The copy lives in a private temporary folder (mode 0700) that `Intake.close` removes.
The file rules (SKIP_DIRS, suffixes, source caps) and the module graph followed are those
of graph.py, shared with the survey and the sandbox's mounts; reading the imports is
bounded as every parse is (a submission over the parse budget is its IntakeError).

`content_digest` hashes what the intake would keep, by the same rules, before anything
is graded (for --resume): a left-out file (a hard link, a link, bytecode, data over
MAX_DATA_BYTES) counts by its name and size, never its bytes; at most MAX_HASHED_BYTES are
read in all, and the time it took is on the digest (`Digest.seconds`).
"""

from __future__ import annotations

import ast
import errno
import hashlib
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from layercheck.cases.submission import graph
from layercheck.cases.submission.graph import (
    BYTECODE_SUFFIXES,
    MAX_NOTEBOOK_BYTES,
    MAX_SOURCE_BYTES,
    NATIVE_SUFFIXES,
    SKIP_DIRS,
    SOURCE_SUFFIXES,
    TOPS,
    Budget,
    LoadError,
    climb_reason,
    import_root,
    own_module,
    package_inits,
    parse_any,
    wanted_files,
)
from layercheck.cases.text import clean_name

__all__ = ["BYTECODE_SUFFIXES", "MAX_NOTEBOOK_BYTES", "MAX_SOURCE_BYTES", "NATIVE_SUFFIXES",
           "SKIP_DIRS", "SOURCE_SUFFIXES", "TOPS", "Digest", "Intake", "IntakeError",
           "content_digest", "take_in"]

MAX_DATA_BYTES = 8 << 20  # any other file larger than this is left out (and noted)
MAX_TOTAL_BYTES = 64 << 20
MAX_FILES = 5000  # files copied
MAX_ENTRIES = 20000  # folder entries looked at, copied or not
MAX_NATIVE = 50
MAX_NOTES = 20
MAX_HASHED_BYTES = MAX_TOTAL_BYTES  # bytes one content digest reads in all
PREFIX = "layercheck-intake-"
CHUNK = 1 << 20
GRADER_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EMFILE, errno.ENFILE, errno.ENOMEM}
# (SKIP_DIRS, the suffixes, the source caps and TOPS, the private copies in use, are the
# file rules of graph.py, named here too for the callers that read them from the intake)


class IntakeError(Exception):
    """The submission cannot be taken in (too large, too many files, ...): the student's
    load error."""


def is_native(name: str, head: bytes) -> bool:
    """Whether a file is native code, by its name or its first bytes (ELF)."""
    return name.endswith(NATIVE_SUFFIXES) or ".so." in name or head[:4] == b"\x7fELF"


def utf8_name(name: str) -> bool:
    """Whether a file name (as os.walk gives it) is valid UTF-8."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(name: str) -> str:
    """A file name safe to print (bytes that are not UTF-8 replaced, controls removed)."""
    return clean_name(os.fsencode(name).decode("utf-8", "replace"), 4096)


@dataclass
class Intake:
    """The private copy of one submission."""

    top: Path  # the private folder (removed by close)
    target: Path  # the submission inside it: a file, a notebook or a folder
    original: Path  # what was given
    base: Path  # the original folder that `top` stands for (for the report's paths)
    native: list[str] = field(default_factory=list)  # native files left out
    notes: list[str] = field(default_factory=list)  # other things left out
    said: list[str] = field(default_factory=list)  # warnings for the report (climbed, ...)
    files: int = 0
    total: int = 0
    seconds: float = 0.0  # time taken to take it in (copying, reading its imports)

    def close(self) -> None:
        """Remove the private copy."""
        TOPS.discard(self.top)
        shutil.rmtree(self.top, ignore_errors=True)

    def __enter__(self) -> Intake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def warnings(self) -> list[str]:
        """One line for what was left out (not natives: those are sandbox policy entries),
        then the intake's own remarks (an import root above the file, an import of another
        entry)."""
        if not self.notes:
            return list(self.said)
        more = f" and {len(self.notes) - MAX_NOTES} more" if len(self.notes) > MAX_NOTES else ""
        return [f"not taken in from the submission (only its own regular files are graded): "
                f"{'; '.join(self.notes[:MAX_NOTES])}{more}", *self.said]

    # ------------------------------------------------------------ copying

    def _note(self, text: str) -> None:
        self.notes.append(text)

    def copy_file(self, src: Path, dest: Path, rel: str) -> bool:
        """Copy one regular file (not a link, not hard-linked) within the caps; False when
        it was left out (and noted)."""
        name = src.name
        if not utf8_name(name):
            self._note(f"{shown(rel)} (a name that is not UTF-8)")
            return False
        if name.endswith(BYTECODE_SUFFIXES):
            self._note(f"{rel} (bytecode)")
            return False
        try:
            st = os.lstat(src)
        except OSError as e:
            self._note(f"{rel} (unreadable: {e.strerror})")
            return False
        if stat.S_ISLNK(st.st_mode):
            self._note(f"{rel} (a symbolic link)")
            return False
        if not stat.S_ISREG(st.st_mode):
            self._note(f"{rel} (not a regular file)")
            return False
        if st.st_nlink > 1:
            self._note(f"{rel} (a hard link to another file)")
            return False
        source = name.endswith(SOURCE_SUFFIXES)
        cap = MAX_NOTEBOOK_BYTES if name.endswith(".ipynb") else MAX_SOURCE_BYTES
        if source and st.st_size > cap:
            raise IntakeError(f"{rel} is {st.st_size >> 10} KB, over the {cap >> 10} KB a "
                              f"{Path(name).suffix} file may have")
        if not source and st.st_size > MAX_DATA_BYTES:
            self._note(f"{rel} ({st.st_size >> 20} MB, over {MAX_DATA_BYTES >> 20} MB)")
            return False
        try:
            fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as e:
            self._note(f"{rel} (unreadable: {e.strerror})")
            return False
        with os.fdopen(fd, "rb") as f:
            st2 = os.fstat(f.fileno())  # what was opened is what was checked
            if not stat.S_ISREG(st2.st_mode) or st2.st_nlink > 1 or st2.st_ino != st.st_ino:
                self._note(f"{rel} (changed while it was taken in)")
                return False
            head = f.read(4)
            if is_native(name, head):
                self.native.append(rel)
                if len(self.native) > MAX_NATIVE:
                    raise IntakeError(f"the submission ships more than {MAX_NATIVE} native "
                                      f"code files ({', '.join(self.native[:3])}, ...): native "
                                      f"code is not graded; submit the Python source only")
                return False
            if self.files + 1 > MAX_FILES:
                raise IntakeError(f"the submission holds more than {MAX_FILES} files")
            if dest.exists():
                return True
            dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            written = 0
            with open(dest, "xb") as out:
                out.write(head)
                written += len(head)
                while chunk := f.read(CHUNK):
                    written += len(chunk)
                    if source and written > cap:
                        raise IntakeError(f"{rel} is over the {cap >> 10} KB a "
                                          f"{Path(name).suffix} file may have")
                    if self.total + written > MAX_TOTAL_BYTES:
                        raise IntakeError(f"the submission holds more than "
                                          f"{MAX_TOTAL_BYTES >> 20} MB of files")
                    out.write(chunk)
        self.files += 1
        self.total += written
        return True

    def copy_tree(self, src: Path, dest: Path, rel0: str = "") -> None:
        """Copy a folder's regular files (see the module doc), links never followed."""
        seen = 0
        for d, dirs, names in _walk(src):
            here = Path(d)
            rel_dir = here.relative_to(src)
            keep = []
            for x in sorted(dirs):  # graph.walk never lists SKIP_DIRS
                if os.path.islink(here / x):
                    self._note(f"{Path(rel0, rel_dir, x)} (a symbolic link)")
                elif not utf8_name(x):
                    self._note(f"{shown(str(Path(rel0, rel_dir, x)))} (a name that is not UTF-8)")
                else:
                    keep.append(x)
            dirs[:] = keep
            seen += len(names) + len(dirs)
            if seen > MAX_ENTRIES:
                raise IntakeError(f"the submission holds more than {MAX_ENTRIES} files and "
                                  f"folders")
            for n in sorted(names):
                self.copy_file(here / n, dest / rel_dir / n, str(Path(rel0, rel_dir, n)))


def _walk(src: Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """graph.walk, a tree nested too deep being the student's IntakeError."""
    try:
        yield from graph.walk(src)
    except graph.TooDeep as e:
        raise IntakeError(str(e)) from None


def _clean_name(name: str) -> str:
    return shown(name) if not utf8_name(name) else name


def take_in(target: str | Path, entry: bool = False, climb: bool = True) -> Intake:
    """The private copy of a submission (a file, a notebook or a folder); `entry`: one
    entry of an `--each` folder (a file is then copied alone); `climb`: a file's import
    root may lie above its folder (see the module doc). IntakeError: the student's load
    error (the copy is already removed then)."""
    given = Path(target)
    if entry and given.is_symlink():
        raise IntakeError(f"{shown(given.name)} is a symbolic link, not a submission of its own")
    real = Path(os.path.realpath(given))
    if not real.exists():
        raise IntakeError(f"{shown(str(given))}: no such file or folder")
    t0 = time.monotonic()
    top = Path(tempfile.mkdtemp(prefix=PREFIX)).resolve()
    TOPS.add(top)
    name = _clean_name(real.name)
    intake = Intake(top, top / name, given, real.parent)
    try:
        if real.is_dir():
            intake.copy_tree(real, top / name)
            (top / name).mkdir(exist_ok=True, mode=0o700)
        elif real.suffix not in SOURCE_SUFFIXES:
            if not intake.copy_file(real, top / name, name):
                why = "; ".join(intake.notes[-1:]) or f"{name} is native code"
                raise IntakeError(f"{shown(name)} cannot be graded: {why}")
        elif entry:
            _take_in_entry(intake, real)
        else:
            _take_in_file(intake, real, None if climb else real.parent)
    except (RecursionError, MemoryError) as e:  # imports nested too deeply to follow
        intake.close()
        raise IntakeError(f"the submission cannot be taken in: {type(e).__name__} while "
                          f"following its imports") from None
    except OSError as e:  # a name too long, a folder too deep, ...: the submission's
        intake.close()
        if e.errno in GRADER_ERRNOS:
            raise
        raise IntakeError(f"the submission cannot be copied: {shown(str(e))}") from None
    except BaseException:
        intake.close()
        raise
    intake.seconds = time.monotonic() - t0
    return intake


def _take_in_entry(intake: Intake, real: Path) -> None:
    """A file entry of an --each folder: copied alone (its folder holds other submissions).
    An import naming another entry is said in the report (it fails in the worker)."""
    first = intake.top / real.name
    if not intake.copy_file(real, first, real.name):
        raise IntakeError(f"{real.name} cannot be graded: {'; '.join(intake.notes[-1:])}")
    try:
        tree = parse_any(first, Budget())
    except LoadError:
        return  # the loader says what is wrong with it, from the copy
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 1:
            names |= ({node.module.split(".")[0]} if node.module
                      else {a.name for a in node.names})
    folder = real.parent
    others = [n for n in sorted(names) if n != real.stem and own_module(n)
              and ((folder / f"{n}.py").exists() or (folder / n).is_dir())]
    if others:
        what = "another entry" if len(others) == 1 else "other entries"
        intake.said.append(f"{real.name} imports {', '.join(others[:5])}, {what} of the "
                           f"folder: not available (each entry is graded on its own)")


def _take_in_file(intake: Intake, real: Path, stop: Path | None) -> None:
    """A file given on its own: it, its packages' __init__.py and the student's modules its
    imports name (transitively; see `_wanted_files`), copied under its import root; each
    file is copied (caps checked) before it is parsed, and only copies are parsed. `stop`:
    the import root never lies above it (the file's own folder: no climbing)."""
    top = intake.top
    budget = Budget()
    first = top / real.name
    if not intake.copy_file(real, first, real.name):  # caps, links: checked first
        raise IntakeError(f"{real.name} cannot be graded: {'; '.join(intake.notes[-1:])}")
    try:
        tree = parse_any(first, budget)
    except LoadError:
        return  # the loader says what is wrong with it, from the copy
    root = import_root(real, tree, stop)
    intake.base = root
    rel0 = real.relative_to(root)
    if rel0 != Path(real.name):  # under its package folders (the parsed tree goes along)
        (top / rel0).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        first.rename(top / rel0)
        intake.said.append(f"import root: {root} (above the file's folder, because "
                           f"{climb_reason(real, tree, root)}); --no-climb grades the file "
                           f"from its own folder")
    for init in package_inits(real, root):
        r = init.relative_to(root)
        intake.copy_file(init, top / r, str(r))
    bases = list(dict.fromkeys([root, real.parent]))
    todo, seen = [rel0], {rel0}
    while todo:
        rel = todo.pop()
        try:
            tree = parse_any(top / rel, budget)
        except graph.VolumeError as e:
            raise IntakeError(str(e)) from None
        except LoadError:
            continue
        for f in wanted_files(tree, root / rel, bases):
            if (not f.is_relative_to(root) or not f.is_file()
                    or Path(os.path.realpath(f)) != f):  # a link, or under a linked folder
                continue
            r = f.relative_to(root)
            if r in seen:
                continue
            seen.add(r)
            if intake.copy_file(f, top / r, str(r)) and r.suffix == ".py":
                todo.append(r)
    intake.target = top / rel0


# ---------------------------------------------------------------- the content digest

@dataclass(frozen=True)
class Digest:
    """What the intake would keep of a submission, hashed (for --resume): sha256 over the
    kept files' paths and bytes, and the left-out files' paths, sizes and why."""

    sha256: str
    seconds: float  # time it took (the reports count it in the submission's time)
    files: int  # files whose bytes were read
    bytes: int  # bytes read, at most MAX_HASHED_BYTES


def content_digest(target: str | Path, entry: bool = False, climb: bool = True) -> Digest:
    """The digest of what `take_in(target, entry, climb)` would keep, read by the intake's
    rules (no links, no hard-linked files, no bytecode, SKIP_DIRS, the caps): a left-out
    file counts by its name, size and reason, never its bytes, and at most MAX_HASHED_BYTES
    are read in all. A lone .py file counts with the modules it imports. Never raises:
    where the submission cannot be read, a value no report carries."""
    t0 = time.monotonic()
    h = hashlib.sha256()
    state = {"files": 0, "bytes": 0}
    given = Path(target)
    try:
        real = Path(os.path.realpath(given))
        if entry and given.is_symlink():
            h.update(b"a link")
        elif real.is_dir():
            _digest_tree(h, real, state)
        elif real.is_file():
            files = [real]
            if real.suffix == ".py" and not entry:
                files = _lone_file_graph(real, climb)
            base = files[0].parent if len(files) == 1 else Path(os.path.commonpath(files))
            for f in files:
                _digest_file(h, f, str(f.relative_to(base)), state)
        else:
            h.update(b"missing:" + os.fsencode(given))
        sha = h.hexdigest()
    except Exception as e:  # never raises: an unreadable submission's digest matches nothing
        sha = f"unreadable-{os.urandom(8).hex()} ({type(e).__name__})"
    return Digest(sha, time.monotonic() - t0, state["files"], state["bytes"])


def _lone_file_graph(real: Path, climb: bool) -> list[Path]:
    """A lone .py file and the student's modules it imports, as the intake follows them."""
    budget = Budget()
    try:
        tree = graph.parse(real, budget)
        root = import_root(real, tree, None if climb else real.parent)
        return [real, *(f for f in graph.module_graph(real, tree, root, budget).files
                        if f != real)]
    except (LoadError, RecursionError, MemoryError):
        return [real]


def _digest_tree(h: object, src: Path, state: dict[str, int]) -> None:
    seen = 0
    for d, dirs, names in _walk(src):
        here = Path(d)
        dirs[:] = sorted(x for x in dirs if not os.path.islink(here / x) and utf8_name(x))
        seen += len(names) + len(dirs)
        if seen > MAX_ENTRIES:
            h.update(b"too many files")  # type: ignore[attr-defined]
            return
        for n in sorted(names):
            _digest_file(h, here / n, str((here / n).relative_to(src)), state)


def _digest_file(h: object, f: Path, rel: str, state: dict[str, int]) -> None:
    """One file into the digest: its path, then its bytes where the intake keeps them, else
    its size and why it is left out."""
    upd = h.update  # type: ignore[attr-defined]
    upd(os.fsencode(rel) + b"\0")
    name = f.name
    if not utf8_name(name) or name.endswith(BYTECODE_SUFFIXES):
        upd(b"left out\0")
        return
    st = os.lstat(f)
    source = name.endswith(SOURCE_SUFFIXES)
    cap = MAX_NOTEBOOK_BYTES if name.endswith(".ipynb") else MAX_SOURCE_BYTES
    if (not stat.S_ISREG(st.st_mode) or st.st_nlink > 1
            or (source and st.st_size > cap) or (not source and st.st_size > MAX_DATA_BYTES)
            or state["bytes"] + st.st_size > MAX_HASHED_BYTES):
        upd(f"left out {stat.S_IFMT(st.st_mode)} {st.st_nlink > 1} {st.st_size}\0".encode())
        return
    inner = hashlib.sha256()
    fd = os.open(f, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            upd(b"changed\0")
            return
        while chunk := fh.read(CHUNK):
            inner.update(chunk)
            state["bytes"] += len(chunk)
            if state["bytes"] > MAX_HASHED_BYTES:  # grew while read
                break
    state["files"] += 1
    upd(inner.digest())
