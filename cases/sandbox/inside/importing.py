"""Import a submission inside the worker, as its configuration (from the parent) says.

Worker-side: imports only the standard library. The configuration (see
`layercheck.cases.submission.survey.Submission.worker_config`) names the file, its import root and
dotted module name, a notebook's kept cells, and the student's names for the layers.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import linecache
import os
import sys
import types
from typing import Any

STANDINS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "standins")


def add_paths(cfg: dict[str, Any]) -> None:
    """The student's folders first on sys.path, then the display stand-ins (IPython,
    matplotlib, tqdm), so a leftover `import matplotlib.pyplot as plt` costs nothing."""
    paths = [str(p) for p in cfg.get("paths") or [cfg["root"]]]
    standins = str(cfg.get("standins") or STANDINS)
    sys.path[0:0] = list(dict.fromkeys([*paths, standins]))
    tmp = os.getcwd()  # the worker's own temporary folder
    for var in ("MPLCONFIGDIR", "IPYTHONDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        os.environ[var] = tmp
    os.environ["MPLBACKEND"] = "Agg"


def _by_path(path: str) -> types.ModuleType:
    stem = os.path.splitext(os.path.basename(path))[0]
    name = stem if stem.isidentifier() and stem not in sys.modules else f"_student_{stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _by_name(module: str, path: str) -> types.ModuleType:
    """The module imported by its dotted name (relative imports work), unless that name is
    already someone else's (then by path)."""
    if module.split(".")[0] in sys.modules:
        return _by_path(path)
    return importlib.import_module(module)


class Unavailable(types.ModuleType):
    """Stands for a module a notebook imports that the grader cannot offer (pandas, a data
    loader, ...): importing it costs nothing, using it raises a clear error there."""

    def __init__(self, name: str, where: str) -> None:
        super().__init__(name)
        self.__dict__["_where"] = where

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise ModuleNotFoundError(f"{self.__name__} is not available to graded code (imported "
                                  f"at {self._where}); the layers may use only numpy, scipy "
                                  f"and the standard library")


def _bound_names(node: ast.Import | ast.ImportFrom) -> dict[str, str]:
    """{name the statement binds: the module it comes from}."""
    if isinstance(node, ast.Import):
        return {(a.asname or a.name.split(".")[0]): (a.name if a.asname else
                                                     a.name.split(".")[0]) for a in node.names}
    return {(a.asname or a.name): f"{node.module}.{a.name}" for a in node.names
            if a.name != "*"}


def _absent_itself(node: ast.stmt, missing: str) -> bool:
    """Whether `node` is an absolute import (not `*`) of the very module that is missing,
    not of a module that exists and fails inside (that error is the student's to see)."""
    if isinstance(node, ast.Import):
        mods = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom) and not node.level and node.module and all(
            a.name != "*" for a in node.names):
        mods = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    else:
        return False
    return bool(missing) and any(m == missing or m.startswith(missing + ".") for m in mods)


SKIPPED: list[str] = []  # optional notebook statements that failed and were skipped


def run_cells(cells: list[tuple[str, str]], name: str = "notebook",
              optional: dict[str, list[int]] | None = None) -> types.ModuleType:
    """A notebook's kept cells run in order in one module; each statement compiled under its
    cell's label ('NOTEBOOK, cell N'), so tracebacks name the cell and the line. An absolute
    import of a module that is not there binds an `Unavailable` stand-in instead (a notebook
    imports for the whole assignment; the layers rarely need all of it). A statement listed
    in `optional` ({label: first lines}: no layer needs it) that fails is skipped, with a
    note in SKIPPED."""
    mod = types.ModuleType(name)
    mod.__file__ = cells[0][0].rsplit(", cell ", 1)[0] if cells else name
    sys.modules[name] = mod
    for label, source in cells:
        lines = source.splitlines(keepends=True)
        linecache.cache[label] = (len(source), None, lines, label)
        for node in ast.parse(source, label).body:
            code = compile(ast.Module(body=[node], type_ignores=[]), label, "exec")
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            try:
                exec(code, mod.__dict__)  # the student's cells, in order
            except ModuleNotFoundError as e:
                if not _absent_itself(node, e.name or ""):
                    if first in (optional or {}).get(label, ()):
                        SKIPPED.append(_skipped(label, first, e))
                        continue
                    raise
                where = f"{label.rsplit('/', 1)[-1]} line {node.lineno}"
                for bound, module in _bound_names(node).items():
                    mod.__dict__.setdefault(bound, Unavailable(e.name or module, where))
            except Exception as e:
                if first not in (optional or {}).get(label, ()):
                    raise
                SKIPPED.append(_skipped(label, first, e))
    return mod


def _skipped(label: str, line: int, e: BaseException) -> str:
    return (f"{label.rsplit('/', 1)[-1]} line {line}: skipped ({type(e).__name__}: "
            f"{str(e)[:200]}); no graded layer needs it")


def apply_names(mod: types.ModuleType, names: dict[str, str]) -> None:
    """Give the module the canonical names the adapters call (Relu for ReLU, ...)."""
    for canonical, actual in names.items():
        if hasattr(mod, actual):
            setattr(mod, canonical, getattr(mod, actual))


def load_student(cfg: dict[str, Any]) -> types.ModuleType:
    """Import the submission the configuration describes and apply its name map."""
    add_paths(cfg)
    if cfg.get("cells"):
        mod = run_cells([(str(a), str(b)) for a, b in cfg["cells"]], "_student_notebook",
                        cfg.get("optional"))
    elif cfg.get("module"):
        mod = _by_name(str(cfg["module"]), str(cfg["path"]))
    else:
        mod = _by_path(str(cfg["path"]))
    apply_names(mod, dict(cfg.get("names") or {}))
    return mod
