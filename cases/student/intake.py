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
- a file is copied with the student's modules it imports, transitively (its packages'
  `__init__.py`, the modules its imports name), never a whole ancestor folder; a file
  given inside `--each` FOLDER (`entry`) never reaches above that folder (its import root
  is its own folder): instructors' solutions and outputs above it are never seen, and of
  the files beside it only those it imports by name.

The copy lives in a private temporary folder (mode 0700) that `Intake.close` removes.
"""

from __future__ import annotations

import ast
import errno
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

MAX_SOURCE_BYTES = 512 << 10  # one .py file (parsing 1 MB of source can take 3 s, 600 MB)
MAX_NOTEBOOK_BYTES = 32 << 20  # one .ipynb (outputs, images); its code: MAX_SOURCE_BYTES
MAX_DATA_BYTES = 8 << 20  # any other file larger than this is left out (and noted)
MAX_TOTAL_BYTES = 64 << 20
MAX_FILES = 5000  # files copied
MAX_ENTRIES = 20000  # folder entries looked at, copied or not
MAX_NATIVE = 50
MAX_NOTES = 20
SOURCE_SUFFIXES = (".py", ".ipynb")
NATIVE_SUFFIXES = (".so", ".pyd", ".dylib", ".dll", ".o", ".a")
SKIP_DIRS = {"__pycache__", ".git", ".hg", ".svn", ".venv", "venv", "node_modules",
             ".ipynb_checkpoints", "site-packages"}
BYTECODE_SUFFIXES = (".pyc", ".pyo")
PREFIX = "layercheck-intake-"
CHUNK = 1 << 20
GRADER_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EMFILE, errno.ENFILE, errno.ENOMEM}

# Private copies now in use: the loader never climbs above one of these folders.
TOPS: set[Path] = set()


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
    """A file name safe to print (bytes that are not UTF-8 replaced)."""
    return os.fsencode(name).decode("utf-8", "replace")


@dataclass
class Intake:
    """The private copy of one submission."""

    top: Path  # the private folder (removed by close)
    target: Path  # the submission inside it: a file, a notebook or a folder
    original: Path  # what was given
    base: Path  # the original folder that `top` stands for (for the report's paths)
    native: list[str] = field(default_factory=list)  # native files left out
    notes: list[str] = field(default_factory=list)  # other things left out
    files: int = 0
    total: int = 0

    def close(self) -> None:
        """Remove the private copy."""
        TOPS.discard(self.top)
        shutil.rmtree(self.top, ignore_errors=True)

    def __enter__(self) -> Intake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def warnings(self) -> list[str]:
        """One line for what was left out (not natives: those are sandbox policy entries)."""
        if not self.notes:
            return []
        more = f" and {len(self.notes) - MAX_NOTES} more" if len(self.notes) > MAX_NOTES else ""
        return [f"not taken in from the submission (only its own regular files are graded): "
                f"{'; '.join(self.notes[:MAX_NOTES])}{more}"]

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
        for d, dirs, names in os.walk(src, followlinks=False):
            here = Path(d)
            rel_dir = here.relative_to(src)
            keep = []
            for x in sorted(dirs):
                if x in SKIP_DIRS:
                    continue
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


def _clean_name(name: str) -> str:
    return shown(name) if not utf8_name(name) else name


def take_in(target: str | Path, entry: bool = False) -> Intake:
    """The private copy of a submission (a file, a notebook or a folder); `entry`: one
    entry of an `--each` folder (a file is then copied alone). IntakeError: the student's
    load error (the copy is already removed then)."""
    given = Path(target)
    if entry and given.is_symlink():
        raise IntakeError(f"{shown(given.name)} is a symbolic link, not a submission of its own")
    real = Path(os.path.realpath(given))
    if not real.exists():
        raise IntakeError(f"{shown(str(given))}: no such file or folder")
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
        else:
            _take_in_file(intake, real, real.parent if entry else None)
    except OSError as e:  # a name too long, a folder too deep, ...: the submission's
        intake.close()
        if e.errno in GRADER_ERRNOS:
            raise
        raise IntakeError(f"the submission cannot be copied: {shown(str(e))}") from None
    except BaseException:
        intake.close()
        raise
    return intake


def _take_in_file(intake: Intake, real: Path, stop: Path | None) -> None:
    """A file given on its own: it, its packages' __init__.py and the student's modules its
    imports name (transitively: in its import root, its own folder, or the package folder a
    relative import names), copied under its import root; each file is copied (caps
    checked) before it is parsed, and only copies are parsed. `stop`: the import root never
    lies above it (an --each entry: its own folder)."""
    from cases.student.loader import LoadError, _parse_any, import_root, imported_modules

    top = intake.top
    first = top / real.name
    if not intake.copy_file(real, first, real.name):  # caps, links: checked first
        raise IntakeError(f"{real.name} cannot be graded: {'; '.join(intake.notes[-1:])}")
    try:
        tree = _parse_any(first)
    except LoadError:
        return  # the loader says what is wrong with it, from the copy
    root = import_root(real, tree, stop)
    intake.base = root
    rel0 = real.relative_to(root)
    if rel0 != Path(real.name):  # under its package folders (the parsed tree goes along)
        (top / rel0).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        first.rename(top / rel0)
    for d in real.parents:
        if not d.is_relative_to(root):
            break
        init = d / "__init__.py"
        if init.is_file():
            r = init.relative_to(root)
            intake.copy_file(init, top / r, str(r))
    todo, seen = [rel0], {rel0}
    while todo:
        rel = todo.pop()
        try:
            tree = _parse_any(top / rel)
        except LoadError:
            continue
        here = root / rel
        wanted = [(b, m) for m in imported_modules(tree)
                  for b in dict.fromkeys([root, real.parent, here.parent])]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                ups = [here.parent, *here.parent.parents]
                if node.level <= len(ups):
                    names = ([node.module.split(".")[0]] if node.module
                             else [a.name for a in node.names])
                    wanted += [(ups[node.level - 1], n) for n in names]
        for base, m in wanted:
            if not m or not m.isidentifier() or not base.is_relative_to(root):
                continue
            f, d = base / f"{m}.py", base / m
            if f.is_file() and not f.is_symlink() and f.relative_to(root) not in seen:
                r = f.relative_to(root)
                seen.add(r)
                if intake.copy_file(f, top / r, str(r)):
                    todo.append(r)
            if d.is_dir() and not d.is_symlink() and d.relative_to(root) not in seen:
                r = d.relative_to(root)
                seen.add(r)
                intake.copy_tree(d, top / r, str(r))
                for q in sorted((top / r).rglob("*.py")):
                    if q.relative_to(top) not in seen:
                        seen.add(q.relative_to(top))
                        todo.append(q.relative_to(top))
    intake.target = top / rel0
