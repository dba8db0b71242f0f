"""Finding a submission's layer file and reading it without running it (AST only).

A submission is one path: a file, a notebook, or a folder (a repository, an extracted zip).

- **Import root**: the folder the file's imports resolve from, as Python and pytest find
  it: up through packages (folders with `__init__.py`; relative imports climb only through
  these, as Python's do), and up to the folder where its absolute imports of the student's
  own modules resolve (`from common.util import im2col` from `ch07/` resolves one level
  up; never for standard-library, numpy/scipy or framework names). The file is imported
  as part of its package (`common.layers`), so relative imports work.
- **Volume**: only files whose text mentions a layer (a name or an alias) are parsed to
  choose; more than MAX_PARSED_FILES such files or MAX_PARSED_BYTES of parsed source per
  submission is the student's load error (give the file with `--file`).
- **Which file** in a folder: among the files that *define* layers (def/class, not
  imports), prefer the student's own over a library: a file imported by another
  layer-defining file, or from outside its own folder (the book's `common/layers.py` that
  the student's chapter files use), or lying in a vendored folder (`common/`, `vendor/`,
  `lib/`, ...) is chosen only when nothing else defines layers; then the file defining the
  most layers, the shallowest, the first by name. `--file RELPATH` overrides the choice.
"""

from __future__ import annotations

import ast
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layercheck.cases.adapters import CLASS_NAMES, FUNCTION_NAMES
from layercheck.cases.submission import intake
from layercheck.cases.submission import names as naming
from layercheck.cases.submission.notebook import Cell, NotebookError, cells_module, read_cells
from layercheck.cases.submission.py2 import python2_hint

__all__ = ["FORBIDDEN", "FUNCTION_NAMES", "LAYER_NAMES", "LoadError", "Submission", "load"]

LAYER_NAMES = (*CLASS_NAMES.values(),
               *(n for pairs in FUNCTION_NAMES.values() for pair in pairs for n in pair if n))
FORBIDDEN = ("torch", "tensorflow", "jax", "keras", "mxnet", "paddle", "cupy")
SKIP_DIRS = {"__pycache__", ".git", ".venv", "venv", "node_modules", ".ipynb_checkpoints",
             "site-packages"}
VENDOR_DIRS = {"common", "vendor", "vendored", "third_party", "thirdparty", "external",
               "lib", "libs", "dist-packages"}
MAX_CLIMB = 4  # a single file's import root lies at most this many folders above it
# The grader's own top-level packages: a student package of that name could not be imported
# as such (the file is imported by path instead), and importing them never moves the root.
TAKEN = {"cases", "numpy", "reference", "impl", "reports", "tests", "layercheck"}
# Names that are never the student's own modules, whatever files lie beside the submission.
NOT_OWN = frozenset(set(sys.stdlib_module_names) | set(FORBIDDEN) | TAKEN | {"numpy", "scipy"})
MAX_PARSED_BYTES = 4 << 20  # source parsed for one submission (.py and notebook code)
MAX_PARSED_FILES = 200  # files parsed for one submission
MAX_STAR_FILES = 200  # files a chain of `from x import *` is followed through
MAX_NOTEBOOK_CELLS = 5000  # cells of one notebook (counted before nbformat reads it)


def own_module(name: str) -> bool:
    """Whether a top-level import name may be the student's own module (not the standard
    library, numpy/scipy, a framework or the grader's packages)."""
    return bool(name) and name.isidentifier() and name not in NOT_OWN


class LoadError(Exception):
    """The submission cannot be loaded at all (no file, syntax error, ...)."""


class VolumeError(LoadError):
    """More source than the grader parses for one submission."""


class Volume:
    """Source parsed for one submission, within MAX_PARSED_BYTES (and MAX_PARSED_FILES
    files chosen among, see choose_file): over it, the student's load error."""

    def __init__(self) -> None:
        self.files: set[Path] = set()
        self.bytes = 0

    def take(self, path: Path, size: int) -> None:
        """Count one file (once) before it is parsed; VolumeError over the cap."""
        key = path.resolve()
        if key in self.files:
            return
        self.files.add(key)
        self.bytes += size
        if self.bytes > MAX_PARSED_BYTES:
            raise self.error(path)

    @staticmethod
    def error(path: Path) -> VolumeError:
        """The load error for a submission over the caps, at `path`."""
        return VolumeError(f"the submission holds more Python source mentioning layers than "
                            f"the grader parses ({MAX_PARSED_FILES} files or "
                            f"{MAX_PARSED_BYTES >> 20} MB, at {path.name}): give the graded "
                            f"file with --file RELPATH")

    def parse(self, path: Path) -> ast.Module:
        """`_parse_any(path)`, counted."""
        try:
            size = path.stat().st_size
        except OSError as e:
            raise LoadError(f"cannot read {path}: {e.strerror}") from e
        if path.suffix == ".ipynb":
            size = _notebook_stats(path)[0]
        elif size > MAX_SOURCE_BYTES:
            return parse(path)  # never parsed: its own load error names it
        self.take(path, size)
        return _parse_any(path)


@dataclass
class Submission:
    """A student's layer file, the folder its imports resolve from, and what it defines."""

    path: Path
    root: Path
    api: str
    names: set[str] = field(default_factory=set)
    forbidden_imports: list[str] = field(default_factory=list)
    accepts: dict[str, set[str]] = field(default_factory=dict)  # class -> __init__ params
    module: str | None = None  # dotted import name from `root` (None: imported by path)
    given: Path | None = None  # what was given: the file, notebook or folder
    cells: list[Cell] = field(default_factory=list)  # a notebook's kept code cells
    name_map: dict[str, str] = field(default_factory=dict)  # canonical -> student's name
    local_imports: list[Path] = field(default_factory=list)  # own modules it imports

    def layers(self) -> list[str]:
        """Layers the file defines in its API (by name, as read from the source)."""
        have = self.names | set(self.name_map)
        return [k for k, v in naming.canonical_names(self.api).items() if v in have]

    @property
    def graded(self) -> str:
        """The graded file, relative to the folder given (or its name)."""
        base = self.given if self.given is not None and self.given.is_dir() else None
        if base is not None and self.path.is_relative_to(base.resolve()):
            return str(self.path.relative_to(base.resolve()))
        return self.path.name

    def missing_hint(self, name: str) -> str:
        """'; did you mean X? ...' for a required name that is missing, or ''."""
        used = set(self.name_map.values()) | set(naming.canonical_names(self.api).values())
        pool = {n for n in self.names if n[:1].isupper()} if self.api == "class" else {
            n for n in self.names if n[:1].islower()}
        return naming.did_you_mean(name, pool, used)

    def needs_root(self) -> bool:
        """Whether the worker needs the whole import root (a folder; a file whose imports
        resolve above its own folder; a notebook importing the student's own modules), not
        just the file and the modules it imports."""
        if self.given is not None and self.given.is_dir():
            return True
        # a .py file's own imports are followed by the worker's staging; a notebook's are not
        return self.root != self.path.parent or bool(self.cells and self.local_imports)

    def worker_config(self) -> dict[str, Any]:
        """What the worker needs to import the submission (see layercheck.cases.sandbox.inside.importing)."""
        return {"module": self.module, "paths": _search_paths(self.path, self.root),
                "cells": [(c.label(self.path), c.source) for c in self.cells],
                "names": dict(self.name_map)}


def _search_paths(path: Path, root: Path) -> list[str]:
    """sys.path entries for the student: the import root, and the file's own folder (where
    `python file.py` would look first)."""
    return list(dict.fromkeys([str(root), str(path.parent)]))


def init_params(tree: ast.Module) -> dict[str, set[str]]:
    """Parameter names of each top-level class's __init__ (as read from the source)."""
    out: dict[str, set[str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                a = item.args
                out[node.name] = {x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)}
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


def own_definitions(tree: ast.Module) -> set[str]:
    """Names the module itself defines with def or class (not imports)."""
    return {n.name for n in tree.body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}


def imported_modules(tree: ast.AST) -> set[str]:
    """Top-level package names imported anywhere in the tree (including `__import__('x')`)."""
    mods: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            mods.add(node.module.split(".")[0])
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                  "__import__", "import_module")):
            mods.add(node.args[0].value.split(".")[0])
    return mods


def _absolute_imports(tree: ast.AST) -> set[str]:
    """Full dotted names of the absolute imports in the tree (`common.util`, `layers`)."""
    mods: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            mods.add(node.module)
    return mods


def _relative_level(tree: ast.AST) -> int:
    """How many package levels the deepest relative import climbs (0: none)."""
    return max((n.level for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)), default=0)


MAX_SOURCE_BYTES = intake.MAX_SOURCE_BYTES  # a larger .py is not parsed (a load error)
_TREES: dict[tuple[str, int, int, int, int], ast.Module] = {}  # parsed once per version
_MAX_TREE_BYTES = 16 << 20  # source bytes whose trees are kept (a tree is ~10x its source)
_tree_bytes = 0


def _key(path: Path) -> tuple[str, int, int, int, int]:
    st = path.stat()
    return path.name, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _too_big(path: Path, size: int, cap: int = MAX_SOURCE_BYTES) -> LoadError | None:
    if size > cap:
        return LoadError(f"{path.name} is {size >> 10} KB, over the {cap >> 10} KB a "
                         f"{path.suffix} file may have")
    return None


_NB_STATS: dict[tuple[str, int, int, int, int], tuple[int, int]] = {}
_CELLS: dict[tuple[tuple[str, int, int, int, int], tuple[str, ...]], list[Cell]] = {}
_MAX_CACHED_NOTEBOOKS = 64


def _notebook_stats(path: Path) -> tuple[int, int]:
    """(characters of code in the code cells, number of cells) of a notebook, read once as
    JSON per file version (nothing parsed); (0, 0) where it cannot be read as JSON."""
    try:
        key = _key(path)
    except OSError:
        return 0, 0
    if key in _NB_STATS:
        return _NB_STATS[key]
    try:
        nb = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError, RecursionError, MemoryError):
        nb = None  # read_cells says what is wrong with it
    cells = nb.get("cells") if isinstance(nb, dict) else None
    cells = cells if isinstance(cells, list) else []
    total = 0
    for c in cells:
        src = c.get("source") if isinstance(c, dict) and c.get("cell_type") == "code" else ""
        total += sum(map(len, src)) if isinstance(src, list) else len(str(src or ""))
    if len(_NB_STATS) >= _MAX_CACHED_NOTEBOOKS:
        _NB_STATS.clear()
    _NB_STATS[key] = (total, len(cells))
    return total, len(cells)


def parse(path: Path) -> ast.Module:
    """The file's syntax tree (parsed once per file version; do not modify it);
    `LoadError` for a syntax error (with the line), a file too large or too deeply nested
    to parse: always the student's load error, never the grader's."""
    try:
        key = _key(path)
    except OSError as e:
        raise LoadError(f"cannot read {path}: {e.strerror}") from e
    if key in _TREES:
        return _TREES[key]
    big = _too_big(path, key[3])
    if big is not None:
        raise big
    try:
        source = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise LoadError(f"cannot read {path}: {e.strerror}") from e
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as e:
        raise LoadError(f"syntax error in {path.name} line {e.lineno}: {e.msg}"
                        + python2_hint(e)) from e
    except ValueError as e:  # null bytes
        raise LoadError(f"{path.name} is not Python source: {e}") from e
    except (MemoryError, RecursionError) as e:  # nesting too deep for the parser
        raise LoadError(f"{path.name} cannot be parsed: {type(e).__name__} (expressions "
                        f"nested too deeply)") from None
    global _tree_bytes
    if _tree_bytes + key[3] > _MAX_TREE_BYTES:
        _TREES.clear()
        _tree_bytes = 0
    _TREES[key] = tree
    _tree_bytes += key[3]
    return tree


def _cells(path: Path, wanted: tuple[str, ...] = ()) -> list[Cell]:
    """A notebook's kept cells; every failure to read or parse it is a LoadError."""
    try:
        big = _too_big(path, path.stat().st_size, intake.MAX_NOTEBOOK_BYTES)
    except OSError as e:
        raise LoadError(f"cannot read {path}: {e.strerror}") from e
    if big is not None:
        raise big
    code, count = _notebook_stats(path)
    if count > MAX_NOTEBOOK_CELLS:
        raise LoadError(f"{path.name} holds {count} cells, over the {MAX_NOTEBOOK_CELLS} a "
                        f"notebook may have: submit the cells that define the layers")
    if code > MAX_SOURCE_BYTES:
        raise LoadError(f"{path.name} holds {code >> 10} KB of code, over the "
                        f"{MAX_SOURCE_BYTES >> 10} KB a submission's file may have")
    key = (_key(path), wanted)
    if key in _CELLS:
        return list(_CELLS[key])
    try:
        cells = read_cells(path, wanted) if wanted else read_cells(path)
    except NotebookError as e:
        raise LoadError(str(e)) from e
    except (MemoryError, RecursionError, ValueError) as e:
        raise LoadError(f"{path.name} cannot be read as a notebook: {type(e).__name__}") from None
    if len(_CELLS) >= _MAX_CACHED_NOTEBOOKS:
        _CELLS.clear()
    _CELLS[key] = cells
    return list(cells)


def _parse_any(path: Path) -> ast.Module:
    """A .py file's tree, or a notebook's kept cells as one tree."""
    if path.suffix == ".ipynb":
        return cells_module(_cells(path))
    return parse(path)


def _present(api: str, names: set[str], explicit: dict[str, str] | None = None) -> int:
    """How many layers of the API the names hold (canonical names, aliases, explicit map)."""
    found = naming.resolve(api, names, explicit)
    return sum((found.get(v) or v) in names for v in naming.canonical_names(api).values())


def detect_api(names: set[str], explicit: dict[str, str] | None = None,
               functions: set[str] = frozenset()) -> str | None:
    """'class' or 'functional' from the names defined, or None when neither matches
    (`functions`: names known to be functions, never taken for a class's alias)."""
    n_class = _present("class", names - functions, explicit)
    n_func = _present("functional", names, explicit)
    if not (n_class or n_func):
        return None
    return "class" if n_class >= n_func else "functional"


def _layer_count(tree: ast.Module) -> int:
    """How many layers of either API the module itself defines (aliases included)."""
    classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    return max(_present("class", classes), _present("functional", own_definitions(tree)))


def _candidates(folder: Path, suffix: str = ".py") -> list[Path]:
    """The folder's regular files ending in `suffix` (links never followed, SKIP_DIRS
    left out), sorted."""
    files = []
    for d, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = [x for x in dirs if x not in SKIP_DIRS]
        files += [p for n in names if n.endswith(suffix)
                  and not (p := Path(d, n)).is_symlink() and p.is_file()]
    return sorted(files)


def _module_file(dotted: str, bases: list[Path], absolute: bool = True) -> Path | None:
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


def _imports_of(path: Path, tree: ast.Module, folder: Path) -> set[Path]:
    """The submission's own files that `path` imports (absolute from the folder or the
    file's own folder, and relative)."""
    found = {_module_file(m, [path.parent, folder]) for m in _absolute_imports(tree)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = path.parents[node.level - 1] if node.level <= len(path.parents) else None
            if base is not None:
                mods = [node.module] if node.module else [a.name for a in node.names]
                found |= {_module_file(m, [base], absolute=False) for m in mods}
    return {p.resolve() for p in found if p is not None}


def _mention_words() -> tuple[str, ...]:
    """What a file's text must contain (lower case, underscores removed) to be read as a
    possible layer file: a layer's name or alias."""
    from layercheck.cases.submission.names import CLASS_ALIASES, normal

    words = {normal(n) for n in LAYER_NAMES} | {a for v in CLASS_ALIASES.values() for a in v}
    return tuple(sorted(words, key=len))


_WORDS: tuple[str, ...] = ()


def mentions_layers(path: Path, limit: int = MAX_SOURCE_BYTES) -> bool:
    """Whether the file's text names a layer (any alias, any case, underscores ignored);
    files over `limit` bytes are not read (True: the parser reports them)."""
    global _WORDS
    if not _WORDS:
        _WORDS = _mention_words()
    try:
        if path.stat().st_size > limit:
            return True
        text = path.read_bytes().lower().replace(b"_", b"").decode("utf-8", "replace")
    except OSError:
        return True  # parse() says what is wrong
    return any(w in text for w in _WORDS)


def choose_file(folder: Path, volume: Volume | None = None) -> Path:
    """The file of a submission folder that holds the student's layers (rule: module doc).
    Only files whose text mentions a layer are parsed, within the volume's caps."""
    volume = volume or Volume()
    trees: dict[Path, ast.Module] = {}
    broken: dict[Path, LoadError] = {}
    mentioning = 0
    for p in _candidates(folder):
        if not mentions_layers(p):
            continue
        mentioning += 1
        if mentioning > MAX_PARSED_FILES:
            raise Volume.error(p)
        try:
            trees[p.resolve()] = volume.parse(p)
        except VolumeError:
            raise
        except LoadError as e:
            broken[p] = e
    defining = {p: n for p, t in trees.items() if (n := _layer_count(t))}
    if not defining:
        counts = {p: _safe_count(p, volume) for p in _candidates(folder, ".ipynb")
                  if mentions_layers(p, intake.MAX_NOTEBOOK_BYTES)}
        notebooks = [p for p, n in counts.items() if n]
        if notebooks:
            return max(notebooks, key=counts.__getitem__)
        wanted = [*naming.canonical_names("class").values(),
                  *naming.canonical_names("functional").values()]
        for p, e in broken.items():  # a Python 2 layer file, say: its own error says more
            if p.stat().st_size > MAX_SOURCE_BYTES:
                continue
            text = p.read_text(encoding="utf-8", errors="replace")
            if any(f"class {w}" in text or f"def {w}" in text for w in wanted):
                raise LoadError(f"{p.relative_to(folder)} defines the layers but cannot be "
                                f"parsed: {e}")
        raise LoadError(f"no file in {folder} defines any layer "
                        f"({', '.join(CLASS_NAMES.values())} or conv_forward_naive, ...)")
    root = folder.resolve()
    imported_by: dict[Path, set[Path]] = {}
    for p, t in trees.items():
        for q in _imports_of(p, t, root):
            imported_by.setdefault(q, set()).add(p)

    def library(p: Path) -> bool:
        users = imported_by.get(p, set()) - {p}
        return any(u in defining or not u.is_relative_to(p.parent) for u in users)

    def vendored(p: Path) -> bool:
        return bool(VENDOR_DIRS & set(p.relative_to(root).parts[:-1]))

    return min(defining, key=lambda p: (library(p), vendored(p), -defining[p],
                                        len(p.relative_to(root).parts), str(p)))


def _safe_count(p: Path, volume: Volume | None = None) -> int:
    try:
        tree = volume.parse(p) if volume is not None else _parse_any(p)
    except VolumeError:
        raise
    except LoadError:
        return 0
    return max(_layer_count(tree), _present("functional", defined_names(tree)))


def _mentions_framework(path: Path) -> bool:
    try:
        text = path.read_bytes()
    except OSError:
        return False
    return any(m.encode() in text for m in FORBIDDEN)


def scan_forbidden(files: list[Path], volume: Volume | None = None) -> list[str]:
    """'file: imports torch' for each forbidden framework imported in the files (only files
    whose text names a framework are parsed, counted in `volume`)."""
    found = []
    for p in files:
        if not _mentions_framework(p):
            continue
        try:
            mods = imported_modules(volume.parse(p) if volume is not None else _parse_any(p))
        except VolumeError:
            raise
        except LoadError:
            continue
        found += [f"{p.name} imports {m}" for m in sorted(mods & set(FORBIDDEN))]
    return found


def _imported_file(node: ast.ImportFrom, bases: list[Path]) -> Path | None:
    """The student's file a `from X import ...` names; `bases[0]` is the importing file's
    folder, where a relative import starts."""
    if not node.level:
        return _module_file(node.module or "", bases)
    up = [bases[0], *bases[0].parents]
    if node.level > len(up):
        return None
    return _module_file(node.module or "", [up[node.level - 1]], absolute=False)


def _star_names(tree: ast.Module, bases: list[Path], seen: set[Path] | None = None,
                functions: bool = False, volume: Volume | None = None) -> set[str]:
    """Names a `from module import *` brings in from the student's own modules (chained,
    through at most MAX_STAR_FILES files, no recursion); with `functions`, only the
    functions among them (and the tree's own)."""
    names: set[str] = set()
    if functions:
        names |= {n.name for n in tree.body
                  if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    seen = set() if seen is None else seen
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
                sub = volume.parse(f) if volume is not None else parse(f)
            except VolumeError:
                raise
            except LoadError:
                continue
            names |= ({n.name for n in sub.body
                       if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
                      if functions else defined_names(sub))
            stack.append((sub, [f.parent, *where]))
    return names


def _ancestors(path: Path, stop: Path | None) -> list[Path]:
    """The file's folder and the folders above it, nearest first: up to `stop` (a folder
    given as the submission), else up to MAX_CLIMB levels or a repository's top (.git)."""
    out = []
    for i, d in enumerate(path.parents):
        out.append(d)
        if d in intake.TOPS:  # a private copy's top: nothing above it is the student's
            break
        if stop is not None:
            if d == stop:
                break
        elif i >= MAX_CLIMB or (d / ".git").exists() or d == Path.home() or d.parent == d:
            break
    return out


def import_root(path: Path, tree: ast.Module, stop: Path | None = None) -> Path:
    """The folder the file's imports resolve from (see the module doc)."""
    levels = _ancestors(path, stop)
    root_i = 0
    while root_i + 1 < len(levels) and (levels[root_i] / "__init__.py").is_file():
        root_i += 1  # up through packages, as pytest's rootdir-less "prepend" mode does
    # relative imports climb only through those packages, as Python's do; `from . import x`
    # in a folder without __init__.py names it as a namespace package (nothing above read)
    if _relative_level(tree) >= 1:
        root_i = max(root_i, min(1, len(levels) - 1))
    for m in _absolute_imports(tree):
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
    tops = sorted({m.split(".")[0] for m in _absolute_imports(tree)
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


def _local_imports(path: Path, root: Path, tree: ast.Module) -> list[Path]:
    """The student's own modules that `path` imports (root/pkg/** or root/mod.py)."""
    files: list[Path] = []
    for m in imported_modules(tree):
        if not own_module(m):
            continue
        for base in dict.fromkeys([root, path.parent]):
            if (base / m).is_dir():
                files += _candidates(base / m)
            elif (base / f"{m}.py").is_file():
                files.append(base / f"{m}.py")
    return files


def _pick(target: Path, file: str | None, volume: Volume) -> Path:
    """The graded file of the given path (a folder's chosen file, or `file` inside it)."""
    if file is None:
        return choose_file(target, volume) if target.is_dir() else target
    base = target if target.is_dir() else target.parent
    p = (base / file).resolve()
    if not p.is_relative_to(base.resolve()):
        raise LoadError(f"--file {file}: not inside {base}")
    if not p.is_file():
        found = [str(q.relative_to(base)) for q in _candidates(base)
                 if mentions_layers(q) and _safe_count(q, volume)][:8]
        raise LoadError(f"--file {file}: no such file in {base}"
                        + (f" (files defining layers: {', '.join(found)})" if found else ""))
    return p


def load(target: str | Path, api: str | None = None, file: str | None = None,
         names: dict[str, str] | None = None) -> Submission:
    """Read a submission (a file, a notebook or a folder) without executing it.

    `file` picks the graded file inside a folder; `names` maps layers to the student's
    names explicitly ({"conv": "MyConv"}, see `names.parse_name_map`). A recursion or
    memory error while reading it is the student's load error too.
    """
    try:
        return _load(Path(target), api, file, names, Volume())
    except (RecursionError, MemoryError) as e:
        raise LoadError(f"{Path(target).name} cannot be read: {type(e).__name__} (imports "
                        f"or expressions nested too deeply, or too much source)") from None


def _load(target: Path, api: str | None, file: str | None, names: dict[str, str] | None,
          volume: Volume) -> Submission:
    if not target.exists():
        raise LoadError(f"{target}: no such file or folder")
    if target.suffix.lower() in (".zip", ".tar", ".gz", ".tgz", ".7z", ".rar"):
        raise LoadError(f"{target.name} is an archive: extract it and give the folder "
                        f"(one submission), or --each on a folder of extracted submissions")
    picked = _pick(target, file, volume)
    path = picked.resolve()
    if target.is_dir() and not path.is_relative_to(target.resolve()):
        raise LoadError(f"{picked.name} lies outside the folder given ({target})")
    if path.suffix not in (".py", ".ipynb"):
        raise LoadError(f"{path}: not a Python file or notebook (.py, .ipynb)")
    cells: list[Cell] = []
    if path.suffix == ".ipynb":
        volume.take(path, _notebook_stats(path)[0])
        cells = _cells(path, tuple(naming.canonical_names("class").values()))
        tree = cells_module(cells)
    else:
        tree = volume.parse(path)
    stop = target.resolve() if target.is_dir() else None
    root = import_root(path, tree, stop)
    names_seen = defined_names(tree) | _star_names(tree, [path.parent, root], volume=volume)
    functions = _star_names(tree, [path.parent, root], functions=True, volume=volume)
    found = api or detect_api(names_seen, names, functions)
    if found is None:
        hint = naming.did_you_mean("Convolution", {n for n in names_seen if n[:1].isupper()})
        raise LoadError(f"{path.name} defines no layer: expected the notes' classes "
                        f"({', '.join(CLASS_NAMES.values())}) or CS231n functions "
                        f"(conv_forward_naive, max_pool_forward_naive, affine_forward, ...)"
                        + hint)
    for key, value in (names or {}).items():
        if value not in names_seen:
            near = naming.suggestions(value, names_seen)
            raise LoadError(f"--name {key}={value}: {path.name} defines no {value}"
                            + (f"; did you mean {' or '.join(near)}?" if near else ""))
    name_map = naming.resolve(found, names_seen - functions if found == "class" else
                              names_seen, names)
    accepts = init_params(tree)
    for canonical, actual in name_map.items():
        if actual in accepts:
            accepts[canonical] = accepts[actual]
    local = _local_imports(path, root, tree)
    siblings = _candidates(target) if target.is_dir() else [path, *local]
    return Submission(path, root.resolve(), found, names_seen,
                      scan_forbidden(siblings, volume),
                      accepts, None if cells else module_name(path, root.resolve()),
                      target.resolve(), cells, name_map, local)
