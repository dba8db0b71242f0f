"""A notebook submission (.ipynb) as the code the grader runs: definitions only.

Read with nbformat. From each code cell, in order, only the top-level statements that
define something are kept: imports, `def`, `class`, assignments of plain values (no calls)
and `try` blocks made of those. Everything else (training loops, downloads, plots, prints)
is blanked out, IPython magics (`%...`, `%%...` cells) and shell lines (`!...`) too, so no
other cell runs. Line numbers stay those of the cell, and the worker compiles each cell
under the name `NOTEBOOK, cell N`: errors name the cell and the line.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from layercheck.cases.submission.py2 import python2_hint

PYTHON_CELL_MAGICS = ("time", "timeit", "capture", "prun")
KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class NotebookError(Exception):
    """The notebook cannot be read or one of its definition cells cannot be parsed."""


@dataclass(frozen=True)
class Cell:
    """One code cell as it will run: its number in the notebook and the kept source."""

    number: int  # 1-based position among all cells, as the notebook shows them in order
    source: str
    tree: ast.Module

    def label(self, path: Path | str) -> str:
        """The file name tracebacks and messages use for this cell."""
        return f"{path}, cell {self.number}"


def _strip_magics(source: str) -> str:
    """IPython-only lines blanked (line numbers kept). A cell under `%%time`, `%%timeit` or
    `%%capture` keeps its Python; any other cell magic (`%%bash`, `%%writefile`, ...) holds
    no Python for this kernel and drops the cell."""
    lines = source.splitlines()
    first = lines[0].strip() if lines else ""
    if first.startswith("%%"):
        if first[2:].split(" ")[0] not in PYTHON_CELL_MAGICS:
            return ""
        lines[0] = ""
    out = []
    for line in lines:
        s = line.strip()
        magic = s.startswith(("%", "!")) or (s.endswith("?") and not s.startswith("#"))
        out.append("" if magic else line)
    return "\n".join(out)


def _plain_value(node: ast.AST) -> bool:
    """An assignment's value that runs nothing (no call, no comprehension, no await)."""
    return not any(isinstance(n, ast.Call | ast.Await | ast.ListComp | ast.DictComp
                              | ast.SetComp | ast.GeneratorExp | ast.Lambda)
                   for n in ast.walk(node))


def _definition(node: ast.stmt) -> bool:
    if isinstance(node, KEPT):
        return True
    if isinstance(node, ast.Assign | ast.AnnAssign):
        return node.value is not None and _plain_value(node.value)
    if isinstance(node, ast.Try):  # try: import cupy as xp / except ImportError: import numpy
        body = [*node.body, *(s for h in node.handlers for s in h.body), *node.orelse]
        return all(_definition(s) or isinstance(s, ast.Pass) for s in body)
    return False


def _kept_source(source: str, tree: ast.Module) -> str:
    """The cell with every line outside a kept statement blanked."""
    lines = source.splitlines()
    keep = [False] * len(lines)
    for node in tree.body:
        if _definition(node):
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            for i in range(first - 1, node.end_lineno or node.lineno):
                keep[i] = True
    return "\n".join(line if k else "" for line, k in zip(lines, keep, strict=True)) + "\n"


def read_cells(path: Path, wanted: tuple[str, ...] = ()) -> list[Cell]:
    """The notebook's code cells that define or import something, definitions only.

    A cell that cannot be parsed is skipped unless it mentions one of the `wanted` names
    (then it is the student's layer code, and a `NotebookError` names the cell and line).
    """
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as e:  # nbformat raises several kinds for a damaged file
        raise NotebookError(f"cannot read the notebook {path.name}: {e}") from e
    cells = []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        source = _strip_magics(str(cell.get("source", "")))
        if not source.strip():
            continue
        try:
            tree = ast.parse(source, filename=f"{path.name}, cell {number}")
        except SyntaxError as e:
            if any(w in source for w in wanted):
                raise NotebookError(f"syntax error in {path.name}, cell {number}, line "
                                    f"{e.lineno}: {e.msg}{python2_hint(e)}") from e
            continue
        kept = _kept_source(source, tree)
        if kept.strip():
            cells.append(Cell(number, kept, ast.parse(kept)))
    return cells


def cells_module(cells: list[Cell]) -> ast.Module:
    """All kept cells as one module tree (for reading names without running anything)."""
    return ast.Module(body=[s for c in cells for s in c.tree.body], type_ignores=[])
