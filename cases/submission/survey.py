"""Finding a submission's layer file and reading it without running it (AST only).

A submission is one path: a file, a notebook, or a folder (a repository, an extracted zip).

- **Import root**: the folder the file's imports resolve from, as Python and pytest find
  it: up through packages (folders with `__init__.py`; relative imports climb only through
  these, as Python's do), and up to the folder where its absolute imports of the student's
  own modules resolve (`from common.util import im2col` from `ch07/` resolves one level
  up; never for standard-library, numpy/scipy or framework names). The file is imported
  as part of its package (`common.layers`), so relative imports work.
- **Volume**: only files whose text mentions a layer (a name or an alias) are parsed to
  choose; more than MAX_PARSED_FILES such files, or more source than a parse `Budget`
  allows (bytes, tokens, seconds: see graph.py) is the student's load error (give the file
  with `--file`).
- **APIs**: every API whose layers the file defines is offered (`Submission.apis`, the
  primary one first, as `api`); an API named by the configuration is the only one.
- **Which file** in a folder: among the files that *define* layers (def/class, not
  imports), prefer the student's own over a library: a file imported by another
  layer-defining file, or from outside its own folder (the book's `common/layers.py` that
  the student's chapter files use), or lying in a vendored folder (`common/`, `vendor/`,
  `lib/`, ...) is chosen only when nothing else defines layers; then the file defining the
  most layers, the shallowest, the first by name. `--file RELPATH` overrides the choice.
"""

from __future__ import annotations

import ast
import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layercheck.cases import registry
from layercheck.cases.adapters import CLASS_NAMES, FUNCTION_NAMES
from layercheck.cases.submission import graph as rules
from layercheck.cases.submission import names as naming
from layercheck.cases.submission.graph import (
    FORBIDDEN,
    LAYER_NAMES,
    MAX_NOTEBOOK_BYTES,
    MAX_SOURCE_BYTES,
    Budget,
    Graph,
    LoadError,
    VolumeError,
    candidates,
    defined_names,
    import_root,
    imported_modules,
    imports_of,
    module_graph,
    module_name,
    notebook_cells,
    own_module,
    parse,
    parse_any,
    remember,
)
from layercheck.cases.submission.notebook import Cell, cells_module

__all__ = ["APIS", "FORBIDDEN", "FUNCTION_NAMES", "LAYER_NAMES", "LoadError", "Submission",
           "VolumeError", "choose_file", "detect_apis", "imported_modules", "load",
           "own_module", "parse"]

APIS = ("class", "functional")
VENDOR_DIRS = {"common", "vendor", "vendored", "third_party", "thirdparty", "external",
               "lib", "libs", "dist-packages"}


@dataclass
class Submission:
    """A student's layer file, the folder its imports resolve from, and what it defines."""

    path: Path
    root: Path
    api: str  # the primary API (detected, or named by the configuration)
    names: set[str] = field(default_factory=set)
    forbidden_imports: list[str] = field(default_factory=list)
    accepts: dict[str, set[str]] = field(default_factory=dict)  # class -> __init__ params
    module: str | None = None  # dotted import name from `root` (None: imported by path)
    given: Path | None = None  # what was given: the file, notebook or folder
    cells: list[Cell] = field(default_factory=list)  # a notebook's kept code cells
    name_map: dict[str, str] = field(default_factory=dict)  # canonical -> student's name
    local_imports: list[Path] = field(default_factory=list)  # own modules it imports
    apis: tuple[str, ...] = ()  # every API the file offers, `api` first
    graph: Graph | None = None  # its own files, as read once (see graph.py)
    read_seconds: float = 0.0  # time taken to read it here (parsing, the graph)

    def __post_init__(self) -> None:
        if not self.apis:
            self.apis = (self.api,)

    def for_api(self, api: str) -> Submission:
        """The same submission graded as `api` (one of `apis`)."""
        if api not in self.apis:
            raise ValueError(f"{self.path.name} offers no {api} API (only {self.apis})")
        return dataclasses.replace(self, api=api)

    def layers(self, api: str | None = None) -> list[str]:
        """Layers the file defines in an API (default: `api`; by name, from the source)."""
        have = self.names | set(self.name_map)
        return [k for k, v in naming.canonical_names(api or self.api).items() if v in have]

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
        """What the worker needs to import the submission (see
        layercheck.cases.sandbox.inside.importing): a notebook's cells, with the lines of
        the statements no layer needs (skipped with a note if they fail)."""
        labels = [c.label(self.path) for c in self.cells]
        return {"module": self.module, "paths": _search_paths(self.path, self.root),
                "cells": [(label, c.source) for label, c in zip(labels, self.cells,
                                                                   strict=True)],
                "optional": {label: list(c.optional) for label, c in zip(
                    labels, self.cells, strict=True) if c.optional},
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


def own_definitions(tree: ast.Module) -> set[str]:
    """Names the module itself defines with def or class (not imports)."""
    return {n.name for n in tree.body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}


def _present(api: str, names: set[str], explicit: dict[str, str] | None = None) -> int:
    """How many layers of the API the names hold (canonical names, aliases, explicit map)."""
    found = naming.resolve(api, names, explicit)
    return sum((found.get(v) or v) in names for v in naming.canonical_names(api).values())


def _units_present(api: str, names: set[str]) -> int:
    """How many networks and optimizers the names hold under their names in this API only
    (TwoLayerNet, a name of both, tells neither)."""
    other = registry.unit_names("functional" if api == "class" else "class")
    return sum(n in names for n in registry.unit_names(api) if n not in other)


def detect_apis(names: set[str], explicit: dict[str, str] | None = None,
                functions: set[str] = frozenset(),
                classes: set[str] = frozenset()) -> tuple[str, ...]:
    """Every API whose layers the names hold, the primary first (the one with more layers,
    'class' on a tie); () when neither matches (`functions`: names known to be functions,
    never taken for a class's alias; `classes`: names known to be classes, never taken for
    a function)."""
    n_class = _present("class", names - functions, explicit)
    n_func = _present("functional", names - classes, explicit)
    if not n_class and not n_func:  # no layer: the networks and optimizers tell the API
        n_class, n_func = (_units_present(a, names) for a in ("class", "functional"))
    offered = [a for a, n in (("class", n_class), ("functional", n_func)) if n]
    return tuple(sorted(offered, key=lambda a: a != ("class" if n_class >= n_func
                                                          else "functional")))


def detect_api(names: set[str], explicit: dict[str, str] | None = None,
               functions: set[str] = frozenset(),
               classes: set[str] = frozenset()) -> str | None:
    """The primary API of `detect_apis`, or None."""
    apis = detect_apis(names, explicit, functions, classes)
    return apis[0] if apis else None


def _layer_count(tree: ast.Module) -> int:
    """How many layers of either API the module itself defines (aliases included)."""
    classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    return max(_present("class", classes), _present("functional", own_definitions(tree)))


_WORDS = tuple(sorted({naming.normal(n) for n in LAYER_NAMES}
                      | {a for v in naming.CLASS_ALIASES.values() for a in v}, key=len))


_BYTE_WORDS = tuple(w.encode() for w in _WORDS)
_FRAMEWORK_WORDS = tuple(m.encode() for m in FORBIDDEN)
_OVERLAP = 64  # bytes carried from one chunk to the next (longer than any word looked for)


def _text_has(path: Path, words: tuple[bytes, ...], fold: bool) -> bool:
    """Whether the file's bytes hold one of the words, read in chunks (`fold`: lower case,
    underscores removed first)."""
    tail = b""
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            text = tail + (chunk.lower().replace(b"_", b"") if fold else chunk)
            if any(w in text for w in words):
                return True
            tail = text[-_OVERLAP:]
    return False


def mentions_layers(path: Path, limit: int = MAX_SOURCE_BYTES) -> bool:
    """Whether the file's text names a layer (any alias, any case, underscores ignored);
    files over `limit` bytes are not read (True: the parser reports them)."""
    try:
        if path.stat().st_size > limit:
            return True
        return _text_has(path, _BYTE_WORDS, fold=True)
    except OSError:
        return True  # parse() says what is wrong


def choose_file(folder: Path, budget: Budget | None = None) -> Path:
    """The file of a submission folder that holds the student's layers (rule: module doc).
    Only files whose text mentions a layer are parsed, within the budget."""
    budget = budget or Budget()
    trees: dict[Path, ast.Module] = {}
    broken: dict[Path, LoadError] = {}
    mentioning = 0
    for p in candidates(folder):
        if not mentions_layers(p):
            continue
        mentioning += 1
        if mentioning > rules.MAX_PARSED_FILES:
            raise Budget.error(p)
        try:
            trees[p.resolve()] = budget.parse(p)
        except VolumeError:
            raise
        except LoadError as e:
            broken[p] = e
    defining = {p: n for p, t in trees.items() if (n := _layer_count(t))}
    if not defining:
        counts = {p: _safe_count(p, budget) for p in candidates(folder, ".ipynb")
                  if mentions_layers(p, MAX_NOTEBOOK_BYTES)}
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
        for q in imports_of(p, t, root):
            imported_by.setdefault(q, set()).add(p)

    def library(p: Path) -> bool:
        users = imported_by.get(p, set()) - {p}
        return any(u in defining or not u.is_relative_to(p.parent) for u in users)

    def vendored(p: Path) -> bool:
        return bool(VENDOR_DIRS & set(p.relative_to(root).parts[:-1]))

    return min(defining, key=lambda p: (library(p), vendored(p), -defining[p],
                                        len(p.relative_to(root).parts), str(p)))


def _safe_count(p: Path, budget: Budget | None = None) -> int:
    try:
        tree = parse_any(p, budget)
    except VolumeError:
        raise
    except LoadError:
        return 0
    return max(_layer_count(tree), _present("functional", defined_names(tree)))


def _mentions_framework(path: Path) -> bool:
    try:
        return path.stat().st_size <= MAX_NOTEBOOK_BYTES and _text_has(
            path, _FRAMEWORK_WORDS, fold=False)
    except OSError:
        return False


def scan_forbidden(files: list[Path], budget: Budget | None = None) -> list[str]:
    """'file: imports torch' for each forbidden framework imported in the files (only files
    whose text names a framework are parsed, counted in the budget)."""
    found = []
    for p in files:
        if p.suffix not in (".py", ".ipynb") or not _mentions_framework(p):
            continue
        try:
            mods = imported_modules(parse_any(p, budget))
        except VolumeError:
            raise
        except LoadError:
            continue
        found += [f"{p.name} imports {m}" for m in sorted(mods & set(FORBIDDEN))]
    return found


def _pick(target: Path, file: str | None, budget: Budget) -> Path:
    """The graded file of the given path (a folder's chosen file, or `file` inside it)."""
    if file is None:
        return choose_file(target, budget) if target.is_dir() else target
    base = target if target.is_dir() else target.parent
    p = (base / file).resolve()
    if not p.is_relative_to(base.resolve()):
        raise LoadError(f"--file {file}: not inside {base}")
    if not p.is_file():
        found = [str(q.relative_to(base)) for q in candidates(base)
                 if mentions_layers(q) and _safe_count(q, budget)][:8]
        raise LoadError(f"--file {file}: no such file in {base}"
                        + (f" (files defining layers: {', '.join(found)})" if found else ""))
    return p


def load(target: str | Path, api: str | None = None, file: str | None = None,
         names: dict[str, str] | None = None) -> Submission:
    """Read a submission (a file, a notebook or a folder) without executing it.

    `api`: the API the configuration names (then the only one graded); else every API the
    file offers is detected. `file` picks the graded file inside a folder; `names` maps
    layers to the student's names explicitly ({"conv": "MyConv"}, see
    `names.parse_name_map`). A recursion or memory error while reading it, or more source
    than the grader parses, is the student's load error too.
    """
    if api is not None and api not in APIS:
        raise ValueError(f"unknown API {api!r}: one of {', '.join(APIS)}")
    t0 = time.monotonic()
    try:
        sub = _load(Path(target), api, file, names, Budget())
    except (RecursionError, MemoryError) as e:
        raise LoadError(f"{Path(target).name} cannot be read: {type(e).__name__} (imports "
                        f"or expressions nested too deeply, or too much source)") from None
    sub.read_seconds = time.monotonic() - t0
    return sub


def _load(target: Path, api: str | None, file: str | None, names: dict[str, str] | None,
          budget: Budget) -> Submission:
    if not target.exists():
        raise LoadError(f"{target}: no such file or folder")
    if target.suffix.lower() in (".zip", ".tar", ".gz", ".tgz", ".7z", ".rar"):
        raise LoadError(f"{target.name} is an archive: extract it and give the folder "
                        f"(one submission), or --each on a folder of extracted submissions")
    picked = _pick(target, file, budget)
    path = picked.resolve()
    if target.is_dir() and not path.is_relative_to(target.resolve()):
        raise LoadError(f"{picked.name} lies outside the folder given ({target})")
    if path.suffix not in (".py", ".ipynb"):
        raise LoadError(f"{path}: not a Python file or notebook (.py, .ipynb)")
    cells: list[Cell] = []
    if path.suffix == ".ipynb":
        cells = notebook_cells(path, budget, (names or {}).values())
        tree = cells_module(cells)
    else:
        tree = budget.parse(path)
    stop = target.resolve() if target.is_dir() else None
    root = import_root(path, tree, stop).resolve()
    graph = remember(module_graph(path, tree, root, budget))
    names_seen = defined_names(tree) | graph.star_names
    functions = set(graph.star_functions)
    classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    apis = (api,) if api else detect_apis(names_seen, names, functions, classes)
    if not apis:
        missing = unresolved_star_imports(tree, graph.files)
        if missing:
            listed = ", ".join(f"{m} (line {line})" for m, line in missing)
            raise LoadError(f"{path.name} defines no layer of its own: it star-imports "
                            f"{listed}, which is not in the submission: include that file "
                            f"beside it, or submit the whole folder")
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
    name_map: dict[str, str] = {}
    for a in reversed(apis):  # canonical names of the two APIs never collide
        name_map.update(naming.resolve(a, names_seen - (functions if a == "class" else
                                                        classes), names))
    accepts = init_params(tree)
    for canonical, actual in name_map.items():
        if actual in accepts:
            accepts[canonical] = accepts[actual]
    siblings = candidates(target) if target.is_dir() else list(graph.files)
    return Submission(path, root, apis[0], names_seen, scan_forbidden(siblings, budget),
                      accepts, None if cells else module_name(path, root),
                      target.resolve(), cells, name_map, list(graph.imports), apis, graph)


def unresolved_star_imports(tree: ast.Module, files: Iterable[Path]) -> list[tuple[str, int]]:
    """(module, line) of each top-level `from m import *` of the student's own modules that
    no file of the submission provides."""
    found = {f.stem for f in files} | {f.parent.name for f in files}
    return [(n.module, n.lineno) for n in tree.body
            if isinstance(n, ast.ImportFrom) and not n.level and n.module
            and any(a.name == "*" for a in n.names)
            and rules.own_module(n.module.split(".")[0])
            and n.module.split(".")[-1] not in found]
