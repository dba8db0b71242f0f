"""One pass over a submission's files: the file rules, a bounded parse, and the module graph.

Intake (what is copied), survey (which file, which names) and the sandbox's mounts all read
a submission by these rules, so they agree on what the submission is:

- **File rules**: folders in SKIP_DIRS are never read; only SOURCE_SUFFIXES are parsed;
  a .py over MAX_SOURCE_BYTES (a notebook over MAX_NOTEBOOK_BYTES) is the student's load
  error.
- **Bounded parse**: before a source is parsed its tokens are counted roughly (words and
  punctuation, a vectorised pass over the bytes; a syntax tree has at most about two nodes
  per token). Over MAX_FILE_TOKENS in one file, MAX_PARSED_TOKENS or MAX_PARSE_SECONDS
  for one submission (a `Budget`), or MAX_PARSED_BYTES / MAX_PARSED_FILES, it is the
  student's load error, so the grader's own memory and time per submission stay bounded
  whatever the submission holds. Trees are cached per file version only up to
  MAX_CACHED_TOKENS in all.
- **Module graph** (`Graph`): the graded file, its import root (up through packages and to
  where its absolute imports of the student's own modules resolve, at most MAX_CLIMB levels,
  never above a repository's top, the folder given or a private copy), the student's own
  files it imports transitively as Python would find them (never the standard library,
  numpy/scipy, a framework or the grader's packages), and the names its `from x import *`
  chains bring in. Computed once per submission (`remember`), read again by the sandbox.
"""

from __future__ import annotations

import ast
import os
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from layercheck.cases import registry
from layercheck.cases.adapters import CLASS_NAMES, FUNCTION_NAMES
from layercheck.cases.submission.names import CLASS_ALIASES, normal
from layercheck.cases.submission.notebook import Cell, NotebookError, cells_module, read_cells
from layercheck.cases.submission.py2 import python2_hint
from layercheck.cases.text import clean_text

# ---------------------------------------------------------------- file rules

SKIP_DIRS = {"__pycache__", ".git", ".hg", ".svn", ".venv", "venv", "node_modules",
             ".ipynb_checkpoints", "site-packages"}
SOURCE_SUFFIXES = (".py", ".ipynb")
NATIVE_SUFFIXES = (".so", ".pyd", ".dylib", ".dll", ".o", ".a")
BYTECODE_SUFFIXES = (".pyc", ".pyo")
MAX_SOURCE_BYTES = 512 << 10  # one .py file, or a notebook's code
MAX_NOTEBOOK_BYTES = 32 << 20  # one .ipynb (outputs, images)
MAX_NOTEBOOK_CELLS = 5000
MAX_PARSED_BYTES = 4 << 20  # source parsed for one submission
MAX_PARSED_FILES = 200  # files parsed to choose the graded one
MAX_FILE_TOKENS = 200_000  # rough tokens of one file (~200 MB of syntax tree at worst)
MAX_PARSED_TOKENS = 1_000_000  # rough tokens parsed for one submission
MAX_PARSE_SECONDS = 15.0  # parsing for one submission
MAX_CACHED_TOKENS = 250_000  # trees kept between calls, in rough tokens
MAX_STAR_FILES = 200  # files a chain of `from x import *` is followed through
MAX_GRAPH_FILES = 500  # own modules followed from one file
MAX_CLIMB = 4  # a single file's import root lies at most this many folders above it
MAX_DEPTH = 64  # folders nested inside a submission

FORBIDDEN = ("torch", "tensorflow", "jax", "keras", "mxnet", "paddle", "cupy")
# The grader's own top-level packages: a student package of that name could not be imported
# as such (the file is imported by path instead), and importing them never moves the root.
TAKEN = {"cases", "numpy", "reference", "impl", "reports", "tests", "layercheck"}
NOT_OWN = frozenset(set(sys.stdlib_module_names) | set(FORBIDDEN) | TAKEN | {"numpy", "scipy"})

# the layers' names, then the networks' and optimizers' (SGD, Adam, sgd_momentum, ...)
LAYER_NAMES = (*CLASS_NAMES.values(),
               *(n for pairs in FUNCTION_NAMES.values() for pair in pairs for n in pair if n),
               *registry.unit_names())
_ALIASES = frozenset(a for v in CLASS_ALIASES.values() for a in v)

# Private copies now in use (see intake): nothing above one of these is the student's.
TOPS: set[Path] = set()


def own_module(name: str) -> bool:
    """Whether a top-level import name may be the student's own module (not the standard
    library, numpy/scipy, a framework or the grader's packages)."""
    return bool(name) and name.isidentifier() and name not in NOT_OWN


class LoadError(Exception):
    """The submission cannot be loaded at all (no file, syntax error, too much source, ...):
    always the student's error, never the grader's."""

    def __init__(self, message: str) -> None:  # its text quotes the student's: made clean
        super().__init__(clean_text(message))


class VolumeError(LoadError):
    """More source than the grader parses for one submission."""


class TooDeep(LoadError):
    """Folders nested deeper than MAX_DEPTH."""


def walk(top: str | Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """`os.walk(top)` as every reader of a submission walks it: top down (prune `dirs` in
    place), SKIP_DIRS never entered, links never followed, folders that cannot be read
    skipped, and without
    recursion: a tree nested deeper than MAX_DEPTH is the student's TooDeep, never the
    grader's RecursionError."""
    stack = [(os.fspath(top), 0)]
    while stack:
        d, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise TooDeep(f"the submission's folders are nested more than {MAX_DEPTH} deep")
        dirs: list[str] = []
        names: list[str] = []
        try:
            with os.scandir(d) as entries:
                for e in entries:
                    if not e.is_dir(follow_symlinks=False):
                        names.append(e.name)
                    elif e.name not in SKIP_DIRS:
                        dirs.append(e.name)
        except OSError:
            continue
        yield d, dirs, names
        stack += [(os.path.join(d, x), depth + 1) for x in reversed(dirs)]


def candidates(folder: Path, suffix: str = ".py") -> list[Path]:
    """The folder's regular files ending in `suffix` (links never followed, SKIP_DIRS left
    out), sorted."""
    files = []
    for d, _, names in walk(folder):
        files += [p for n in names if n.endswith(suffix)
                  and not (p := Path(d, n)).is_symlink() and p.is_file()]
    return sorted(files)


# ---------------------------------------------------------------- bounded parse

_WORD = np.zeros(256, bool)
_WORD[[*range(48, 58), *range(65, 91), *range(97, 123), 95, *range(128, 256)]] = True
_BLANK = np.zeros(256, bool)
_BLANK[[32, 9, 13, 12]] = True


def rough_tokens(source: str | bytes) -> int:
    """An upper estimate of the source's tokens: runs of word characters plus every other
    character that is not blank (newlines and `;` count: each ends a statement). A string
    or comment counts its words, so real code reads about 1.5 times its true count."""
    data = source.encode("utf-8", "replace") if isinstance(source, str) else source
    a = np.frombuffer(data, np.uint8)
    if not a.size:
        return 0
    word = _WORD[a]
    starts = int(word[0]) + int(np.count_nonzero(word[1:] & ~word[:-1]))
    return starts + int(np.count_nonzero(~word & ~_BLANK[a]))


def too_many_tokens(name: str, tokens: int) -> LoadError:
    """The load error for one file over MAX_FILE_TOKENS."""
    return VolumeError(f"{name} holds about {tokens:,} tokens of source, over the "
                       f"{MAX_FILE_TOKENS:,} the grader parses in one file (a file of "
                       f"generated statements?): submit the layer code only")


def parse_source(source: str, name: str, filename: str | None = None) -> ast.Module:
    """`ast.parse` of untrusted source within MAX_FILE_TOKENS; every failure is a LoadError
    naming `name` (syntax errors with the line and a Python 2 hint)."""
    tokens = rough_tokens(source)
    if tokens > MAX_FILE_TOKENS:
        raise too_many_tokens(name, tokens)
    try:
        return ast.parse(source, filename=filename or name)
    except SyntaxError as e:
        raise LoadError(f"syntax error in {name} line {e.lineno}: {e.msg}"
                        + python2_hint(e)) from e
    except ValueError as e:  # null bytes
        raise LoadError(f"{name} is not Python source: {e}") from e
    except (MemoryError, RecursionError) as e:  # nesting too deep for the parser
        raise LoadError(f"{name} cannot be parsed: {type(e).__name__} (expressions "
                        f"nested too deeply)") from None


Key = tuple[str, int, int, int, int]
_TREES: dict[object, tuple[object, int]] = {}  # file version -> (tree or cells, rough tokens)
_cached_tokens = 0


def file_key(path: Path) -> Key:
    """A file version: its name, device, inode, size and modification time."""
    st = path.stat()
    return path.name, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def too_big(path: Path, size: int, cap: int = MAX_SOURCE_BYTES) -> LoadError | None:
    """The load error for a file over its byte cap, or None."""
    if size > cap:
        return LoadError(f"{path.name} is {size >> 10} KB, over the {cap >> 10} KB a "
                         f"{path.suffix} file may have")
    return None


def _cache(key: object, tree: object, tokens: int) -> None:
    global _cached_tokens
    if tokens > MAX_CACHED_TOKENS // 4:
        return  # a large tree is never kept
    if _cached_tokens + tokens > MAX_CACHED_TOKENS:
        _TREES.clear()
        _cached_tokens = 0
    _TREES[key] = (tree, tokens)
    _cached_tokens += tokens


def parse(path: Path, budget: Budget | None = None) -> ast.Module:
    """The .py file's syntax tree (cached per file version while small; do not modify it),
    within the file caps and the budget's; `LoadError` otherwise."""
    try:
        key = file_key(path)
    except OSError as e:
        raise LoadError(f"cannot read {path}: {e.strerror}") from e
    if key in _TREES:
        tree, tokens = _TREES[key]
        if budget is not None:
            budget.count(path, key[3], tokens, 0.0)
        return tree
    big = too_big(path, key[3])
    if big is not None:
        raise big
    try:
        data = path.read_bytes()
    except OSError as e:
        raise LoadError(f"cannot read {path}: {e.strerror}") from e
    tokens = rough_tokens(data)
    if tokens > MAX_FILE_TOKENS:
        raise too_many_tokens(path.name, tokens)
    if budget is not None:
        budget.count(path, key[3], tokens, 0.0)
    t0 = time.monotonic()
    tree = parse_source(data.decode("utf-8", "replace"), path.name, str(path))
    if budget is not None:
        budget.count(path, 0, 0, time.monotonic() - t0)
    _cache(key, tree, tokens)
    return tree


class Budget:
    """What parsing one submission may cost the grader: MAX_PARSED_BYTES of source,
    MAX_PARSED_TOKENS rough tokens and MAX_PARSE_SECONDS in all; over it, the student's
    load error (VolumeError)."""

    def __init__(self) -> None:
        self.files: set[Path] = set()
        self.bytes = 0
        self.tokens = 0
        self.seconds = 0.0

    def count(self, path: Path, size: int, tokens: int, seconds: float) -> None:
        """Count one file (its bytes and tokens once) and parse time; VolumeError over."""
        key = path.resolve()
        if key not in self.files and (size or tokens):
            self.files.add(key)
            self.bytes += size
            self.tokens += tokens
        self.seconds += seconds
        if self.bytes > MAX_PARSED_BYTES or self.tokens > MAX_PARSED_TOKENS:
            raise self.error(path)
        if self.seconds > MAX_PARSE_SECONDS:
            raise VolumeError(f"parsing the submission took over {MAX_PARSE_SECONDS:g} s "
                              f"(at {path.name}): give the graded file with --file RELPATH")

    def take(self, path: Path, size: int, tokens: int = 0) -> None:
        """Count one file (once) before it is parsed."""
        self.count(path, size, tokens, 0.0)

    @staticmethod
    def error(path: Path) -> VolumeError:
        """The load error for a submission over the caps, at `path`."""
        return VolumeError(f"the submission holds more Python source mentioning layers than "
                           f"the grader parses ({MAX_PARSED_FILES} files, "
                           f"{MAX_PARSED_BYTES >> 20} MB or {MAX_PARSED_TOKENS:,} tokens, "
                           f"at {path.name}): give the graded file with --file RELPATH")

    def parse(self, path: Path) -> ast.Module:
        """`parse(path)`, counted (a .py file over its byte cap raises its own error)."""
        return parse(path, self)


def is_layer(name: str, explicit: Iterable[str] = ()) -> bool:
    """Whether a definition of that name is a layer (a canonical name, an alias, or a name
    the configuration maps to a layer)."""
    return name in LAYER_NAMES or normal(name) in _ALIASES or name in explicit


def notebook_cells(path: Path, budget: Budget | None = None,
                   explicit: Iterable[str] = ()) -> list[Cell]:
    """A notebook's kept cells (see notebook.py), read once and parsed within MAX_FILE_TOKENS
    and the budget; every failure to read or parse it is a LoadError."""
    try:
        key = (file_key(path), tuple(sorted(explicit)))
    except OSError as e:
        raise LoadError(f"cannot read {path}: {e.strerror}") from e
    big = too_big(path, key[0][3], MAX_NOTEBOOK_BYTES)
    if big is not None:
        raise big
    if key in _TREES:
        cells, tokens = _TREES[key]
        if budget is not None:
            budget.count(path, 0, tokens, 0.0)
        return list(cells)  # type: ignore[call-overload]
    size = tokens = 0

    def bounded(source: str, label: str) -> ast.Module:
        nonlocal size, tokens
        size, tokens = size + len(source), tokens + rough_tokens(source)
        if tokens > MAX_FILE_TOKENS:
            raise too_many_tokens(path.name, tokens)
        return ast.parse(source, filename=label)

    t0 = time.monotonic()
    try:
        cells = read_cells(path, tuple(CLASS_NAMES.values()),
                           is_layer=lambda n: is_layer(n, key[1]), parse=bounded,
                           max_code=MAX_SOURCE_BYTES, max_cells=MAX_NOTEBOOK_CELLS)
    except NotebookError as e:
        raise LoadError(str(e)) from e
    except (MemoryError, RecursionError, ValueError) as e:
        raise LoadError(f"{path.name} cannot be read as a notebook: {type(e).__name__}") from None
    if budget is not None:
        budget.count(path, size, tokens, time.monotonic() - t0)
    _cache(key, cells, tokens)
    return list(cells)


def parse_any(path: Path, budget: Budget | None = None) -> ast.Module:
    """A .py file's tree, or a notebook's kept cells as one tree."""
    if path.suffix == ".ipynb":
        return cells_module(notebook_cells(path, budget))
    return parse(path, budget)


# ---------------------------------------------------------------- reading imports

def imported_modules(tree: ast.AST) -> set[str]:
    """Top-level package names imported anywhere in the tree (including `__import__('x')`)."""
    mods: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            mods.add(node.module.split(".")[0])
        elif _dynamic_import(node):
            mods.add(node.args[0].value.split(".")[0])
    return mods


def _dynamic_import(node: ast.AST) -> bool:
    """`__import__('x')` or `importlib.import_module('x')` with a constant name."""
    return (isinstance(node, ast.Call) and bool(node.args)
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                "__import__", "import_module"))


def absolute_imports(tree: ast.AST) -> set[str]:
    """Full dotted names of the absolute imports in the tree (`common.util`, `layers`)."""
    mods: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            mods.add(node.module)
    return mods


def relative_level(tree: ast.AST) -> int:
    """How many package levels the deepest relative import climbs (0: none)."""
    return max((n.level for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)), default=0)


def module_file(dotted: str, bases: list[Path], absolute: bool = True) -> Path | None:
    """The student's own file a dotted import names (`common.util` -> common/util.py);
    None for absolute names that are never the student's (numpy, os, torch, ...)."""
    parts = dotted.split(".")
    if absolute and not own_module(parts[0]):
        return None
    for base in bases:
        for n in range(len(parts), 0, -1):
            p = base.joinpath(*parts[:n])
            if p.with_suffix(".py").is_file():
                return p.with_suffix(".py")
            if (p / "__init__.py").is_file():
                return p / "__init__.py"
    return None


def imports_of(path: Path, tree: ast.Module, folder: Path) -> set[Path]:
    """The submission's own files that `path` imports directly (absolute from the folder or
    the file's own folder, and relative), resolved."""
    found = {module_file(m, [path.parent, folder]) for m in absolute_imports(tree)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = path.parents[node.level - 1] if node.level <= len(path.parents) else None
            if base is not None:
                mods = [node.module] if node.module else [a.name for a in node.names]
                found |= {module_file(m, [base], absolute=False) for m in mods}
    return {p.resolve() for p in found if p is not None}


def _module_files(base: Path, parts: list[str]) -> list[Path]:
    """The files a dotted module name may be, from `base`: each package's __init__.py on
    the way, then the module's file (mod.py, or mod/__init__.py)."""
    out, d = [], base
    for i, part in enumerate(parts):
        if not part.isidentifier():
            break
        out.append(d / part / "__init__.py")
        if i == len(parts) - 1:
            out.append(d / f"{part}.py")
        d = d / part
    return out


def wanted_files(tree: ast.Module, here: Path, bases: list[Path]) -> list[Path]:
    """The files the module at `here` may import, as Python would look for them (they may
    not exist): absolute imports from `bases` (never the standard library, numpy/scipy or
    a framework), relative ones from its package (only through folders with __init__.py)."""
    out: list[Path] = []

    def absolute(dotted: str, more: Iterable[str] = ()) -> None:
        parts = dotted.split(".")
        if not own_module(parts[0]):
            return
        for b in bases:
            out.extend(_module_files(b, parts))
            for n in more:
                out.extend(_module_files(b, [*parts, n]))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                absolute(a.name)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            if node.module:
                absolute(node.module, [a.name for a in node.names if a.name != "*"])
        elif isinstance(node, ast.ImportFrom):
            ups = [here.parent, *here.parent.parents][:node.level]
            if len(ups) < node.level or (node.level > 1 and not all(
                    (u / "__init__.py").is_file() for u in ups)):
                continue  # climbs out of its packages: Python refuses it too
            base = ups[-1]
            parts = node.module.split(".") if node.module else []
            out.extend(_module_files(base, parts) if parts else [base / "__init__.py"])
            out.extend(f for a in node.names if a.name != "*"
                       for f in _module_files(base, [*parts, a.name]))
        elif _dynamic_import(node):
            absolute(node.args[0].value)
    return out


def defined_names(tree: ast.Module) -> set[str]:
    """Top-level names a module defines or imports (functions, classes, assignments)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _imported_file(node: ast.ImportFrom, bases: list[Path]) -> Path | None:
    """The student's file a `from X import ...` names; `bases[0]` is the importing file's
    folder, where a relative import starts."""
    if not node.level:
        return module_file(node.module or "", bases)
    up = [bases[0], *bases[0].parents]
    if node.level > len(up):
        return None
    return module_file(node.module or "", [up[node.level - 1]], absolute=False)


def star_names(tree: ast.Module, bases: list[Path], budget: Budget | None = None,
               ) -> tuple[set[str], set[str]]:
    """(names, functions) that `from module import *` chains bring in from the student's own
    modules (through at most MAX_STAR_FILES files, no recursion); `functions` holds the
    functions among them and the tree's own."""
    names: set[str] = set()
    functions = {n.name for n in tree.body
                 if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    seen: set[Path] = set()
    stack = [(tree, bases)]
    while stack:
        here, where = stack.pop()
        for node in here.body:
            if not (isinstance(node, ast.ImportFrom) and node.module
                    and any(a.name == "*" for a in node.names)):
                continue
            f = _imported_file(node, where)
            if f is None or f in seen or len(seen) >= MAX_STAR_FILES:
                continue
            seen.add(f)
            try:
                sub = parse(f, budget)
            except VolumeError:
                raise
            except LoadError:
                continue
            names |= defined_names(sub)
            functions |= {n.name for n in sub.body
                          if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
            stack.append((sub, [f.parent, *where]))
    return names, functions


# ---------------------------------------------------------------- the import root

def ancestors(path: Path, stop: Path | None) -> list[Path]:
    """The file's folder and the folders above it, nearest first: up to `stop` (a folder
    given as the submission), else up to MAX_CLIMB levels or a repository's top (.git)."""
    out = []
    for i, d in enumerate(path.parents):
        out.append(d)
        if d in TOPS:  # a private copy's top: nothing above it is the student's
            break
        if stop is not None:
            if d == stop:
                break
        elif i >= MAX_CLIMB or (d / ".git").exists() or d == Path.home() or d.parent == d:
            break
    return out


def import_root(path: Path, tree: ast.Module, stop: Path | None = None) -> Path:
    """The folder the file's imports resolve from (see the module doc)."""
    levels = ancestors(path, stop)
    root_i = 0
    while root_i + 1 < len(levels) and (levels[root_i] / "__init__.py").is_file():
        root_i += 1  # up through packages, as pytest's rootdir-less "prepend" mode does
    # relative imports climb only through those packages, as Python's do; `from . import x`
    # in a folder without __init__.py names it as a namespace package (nothing above read)
    if relative_level(tree) >= 1:
        root_i = max(root_i, min(1, len(levels) - 1))
    for m in absolute_imports(tree):
        top = m.split(".")[0]
        if not own_module(top):
            continue
        for i, d in enumerate(levels):
            if (d / top).is_dir() or (d / f"{top}.py").is_file():
                root_i = max(root_i, i)
                break
    return levels[root_i]


def climb_reason(path: Path, tree: ast.Module, root: Path) -> str:
    """Why the import root lies above the file's folder: 'it imports common' (its own
    modules found there) or 'it lies in package ch07'."""
    tops = sorted({m.split(".")[0] for m in absolute_imports(tree)
                   if own_module(m.split(".")[0])
                   and ((root / m.split(".")[0]).is_dir()
                        or (root / f"{m.split('.')[0]}.py").is_file())})
    if tops:
        return f"it imports {', '.join(tops[:5])}"
    pkg = ".".join(path.parent.relative_to(root).parts) if path.is_relative_to(root) else ""
    return f"it lies in package {pkg}" if pkg else "its imports resolve there"


def module_name(path: Path, root: Path) -> str | None:
    """The dotted name the file has from `root` (`common.layers`); None where a part is no
    identifier or the top-level name is taken (then it is imported by path)."""
    if path.suffix != ".py" or not path.is_relative_to(root):
        return None
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    if not parts or not all(p.isidentifier() for p in parts):
        return None
    if parts[0] in TAKEN or parts[0] in sys.stdlib_module_names:
        return None
    return ".".join(parts)


# ---------------------------------------------------------------- the module graph

@dataclass(frozen=True)
class Graph:
    """A submission's graded file and the student's own modules it imports."""

    path: Path  # the graded file (resolved)
    root: Path  # its import root (resolved)
    files: tuple[Path, ...]  # the file, its packages' __init__.py, its own modules (all)
    imports: tuple[Path, ...] = ()  # own modules it imports itself (directly)
    star_names: frozenset[str] = field(default_factory=frozenset)  # via `import *` chains
    star_functions: frozenset[str] = field(default_factory=frozenset)


def package_inits(path: Path, root: Path) -> list[Path]:
    """The __init__.py of each package folder between the file and its root."""
    return [d / "__init__.py" for d in path.parents
            if d.is_relative_to(root) and (d / "__init__.py").is_file()]


def own_imports(path: Path, tree: ast.Module, root: Path,
                bases: list[Path] | None = None) -> list[Path]:
    """The student's own files (that exist, within the root, no links) the module at `path`
    imports directly."""
    out = []
    for f in wanted_files(tree, path, bases or list(dict.fromkeys([root, path.parent]))):
        if (f.is_relative_to(root) and f.is_file() and not f.is_symlink()
                and Path(os.path.realpath(f)) == f and f not in out):
            out.append(f)
    return out


def module_graph(path: Path, tree: ast.Module, root: Path,
                 budget: Budget | None = None) -> Graph:
    """The graph of the file `path` (already parsed as `tree`; a notebook's kept cells)
    from its import root: followed breadth-first through at most MAX_GRAPH_FILES files,
    each parsed within the budget (a module that cannot be parsed is kept, not followed)."""
    path, root = path.resolve(), root.resolve()
    bases = list(dict.fromkeys([root, path.parent]))
    direct = own_imports(path, tree, root, bases)
    files = dict.fromkeys([path, *package_inits(path, root), *direct])
    todo = [f for f in files if f != path and f.suffix == ".py"]
    done = {path}
    while todo and len(files) < MAX_GRAPH_FILES:
        f = todo.pop(0)
        if f in done:
            continue
        done.add(f)
        try:
            sub = parse(f, budget)
        except VolumeError:
            raise
        except LoadError:
            continue
        for g in own_imports(f, sub, root, bases):
            if g not in files:
                files[g] = None
                todo.append(g)
    names, functions = star_names(tree, [path.parent, root], budget)
    return Graph(path, root, tuple(sorted(files)), tuple(direct), frozenset(names),
                 frozenset(functions))


_GRAPHS: dict[tuple[Path, Path], tuple[Key, Graph]] = {}
MAX_REMEMBERED = 16


def remember(graph: Graph) -> Graph:
    """Keep the graph for the sandbox's mounts (`own_files`), keyed by its file's version."""
    try:
        key = file_key(graph.path)
    except OSError:
        return graph
    if len(_GRAPHS) >= MAX_REMEMBERED:
        _GRAPHS.pop(next(iter(_GRAPHS)))
    _GRAPHS[(graph.path, graph.root)] = (key, graph)
    return graph


def own_files(path: Path, root: Path) -> list[Path]:
    """A single file's own files as the graph has them: the one computed when the
    submission was surveyed (same file version), else computed now."""
    path, root = Path(path).resolve(), Path(root).resolve()
    hit = _GRAPHS.get((path, root))
    try:
        if hit is not None and hit[0] == file_key(path):
            return list(hit[1].files)
    except OSError:
        pass
    budget = Budget()
    try:
        tree = parse(path, budget) if path.suffix == ".py" else ast.Module([], [])
        return list(module_graph(path, tree, root, budget).files)
    except LoadError:
        return [path, *package_inits(path, root)]
