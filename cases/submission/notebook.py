"""A notebook submission (.ipynb) as the code the grader runs, read as Jupyter would run it.

**Reading** (`code_cells`): the notebook's JSON is read once, in a short-lived child
process limited in memory and CPU time, which sends back only the code cells' sources; the
grader never holds a notebook's outputs, and a notebook too large to read is the student's
load error. Versions 4 and 3 (`worksheets`, `input`) are understood.

**What runs** (`select`): from each code cell, in order, the statements that define
something (imports, `def`, `class`, and `try` blocks of those), plus the assignments the
definitions need, consistently: an assignment is kept when a kept definition or assignment
reads a name it binds; a scratch cell's `x = np.array(...)` and the next cell's
`mask = (x <= 0)` are both left out when nothing defined uses `x`. An assignment with a
call is kept only when a layer (a definition named like one) needs it. Everything else
(training loops, downloads, plots, prints) is blanked out, IPython magics (`%...`,
`%%...` cells) and shell lines (`!...`) too. Line numbers stay those of the cell, and the
worker compiles each cell under the name `NOTEBOOK, cell N`: errors name the cell and line.
A kept statement that no layer needs is *optional* (`Cell.optional`): if it fails while
loading, the worker skips it with a note instead of failing the notebook.
"""

from __future__ import annotations

import ast
import builtins
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from layercheck.cases.submission.py2 import python2_hint

PYTHON_CELL_MAGICS = ("time", "timeit", "capture", "prun")
KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
READER_MEMORY = 768 << 20  # address space of the child reading a notebook's JSON
READER_CPU = 20  # its CPU seconds
READER_TIMEOUT = 40.0  # its wall-clock seconds


class NotebookError(Exception):
    """The notebook cannot be read or one of its definition cells cannot be parsed."""


@dataclass(frozen=True)
class Cell:
    """One code cell as it will run: its number in the notebook and the kept source."""

    number: int  # 1-based position among all cells, as the notebook shows them in order
    source: str
    tree: ast.Module
    optional: tuple[int, ...] = field(default=())  # first lines of statements no layer needs

    def label(self, path: Path | str) -> str:
        """The file name tracebacks and messages use for this cell."""
        return f"{path}, cell {self.number}"


# ---------------------------------------------------------------- reading, bounded

READER = r"""
import json, resource, sys
path, memory, cpu, max_code, max_cells = sys.argv[1], *map(int, sys.argv[2:6])
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
def out(**kw):
    sys.stdout.write(json.dumps(kw))
    sys.exit(0)
try:
    with open(path, "rb") as f:
        nb = json.load(f)
except MemoryError:
    out(error="too large to read (memory)")
except RecursionError:
    out(error="nested too deeply")
except (ValueError, UnicodeDecodeError) as e:
    out(error=f"not valid JSON ({str(e)[:200]})")
except OSError as e:
    out(error=f"unreadable ({e.strerror})")
if not isinstance(nb, dict) or not isinstance(nb.get("nbformat"), int):
    out(error="not a Jupyter notebook (no nbformat version)")
if nb["nbformat"] >= 4:
    cells = nb.get("cells")
else:
    cells = [c for ws in nb.get("worksheets") or [] if isinstance(ws, dict)
             for c in ws.get("cells") or []]
if not isinstance(cells, list):
    out(error="no list of cells")
if len(cells) > max_cells:
    out(error="cells", count=len(cells))
code, total = [], 0
for number, c in enumerate(cells, 1):
    if not isinstance(c, dict) or c.get("cell_type") != "code":
        continue
    src = c.get("source", c.get("input", ""))
    src = "".join(s for s in src if isinstance(s, str)) if isinstance(src, list) else src
    if not isinstance(src, str):
        continue
    total += len(src)
    if total > max_code:
        out(error="code", size=total)
    code.append([number, src])
out(cells=code, count=len(cells))
"""


def code_cells(path: Path, max_code: int, max_cells: int) -> list[tuple[int, str]]:
    """[(cell number, source)] of the notebook's code cells, read once in a limited child
    process; NotebookError when it cannot be read, holds more than `max_cells` cells or
    more than `max_code` characters of code."""
    argv = [sys.executable, "-I", "-S", "-c", READER, os.fspath(path), str(READER_MEMORY),
            str(READER_CPU), str(max_code), str(max_cells)]
    try:
        r = subprocess.run(argv, capture_output=True, timeout=READER_TIMEOUT,
                           env={"LANG": "C.UTF-8"})
        # the reply escapes what is not ASCII: up to 12 bytes a character (an emoji: two
        # \uXXXX escapes); the child stops past max_code characters
        reply = json.loads(r.stdout[: 12 * max_code + (1 << 20)])
    except subprocess.TimeoutExpired:
        raise NotebookError(f"cannot read the notebook {path.name}: it took over "
                            f"{READER_TIMEOUT:g} s") from None
    except ValueError:
        raise NotebookError(f"cannot read the notebook {path.name}: too large to read "
                            f"(its reader stopped, status {r.returncode})") from None
    if reply.get("error") == "cells":
        raise NotebookError(f"{path.name} holds {reply['count']} cells, over the "
                            f"{max_cells} a notebook may have: submit the cells that "
                            f"define the layers")
    if reply.get("error") == "code":
        raise NotebookError(f"{path.name} holds over {max_code >> 10} KB of code, over the "
                            f"{max_code >> 10} KB a submission's file may have")
    if reply.get("error"):
        raise NotebookError(f"cannot read the notebook {path.name}: {reply['error']}")
    return [(int(n), str(s)) for n, s in reply["cells"]]


# ---------------------------------------------------------------- what runs

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


def _runs_code(node: ast.AST) -> bool:
    """Whether evaluating the expression may run code (a call, a comprehension, ...)."""
    return any(isinstance(n, ast.Call | ast.Await | ast.ListComp | ast.DictComp
                          | ast.SetComp | ast.GeneratorExp | ast.Lambda)
               for n in ast.walk(node))


def _definition(node: ast.stmt) -> bool:
    """An import, def or class (or a `try` block made of those): always kept."""
    if isinstance(node, KEPT):
        return True
    if isinstance(node, ast.Try):  # try: import cupy as xp / except ImportError: import numpy
        body = [*node.body, *(s for h in node.handlers for s in h.body), *node.orelse]
        return all(_definition(s) or isinstance(s, ast.Pass) for s in body)
    return False


def _assignment(node: ast.stmt) -> bool:
    """A top-level assignment (plain, annotated or augmented; `if`/`try` blocks of those and
    of definitions too): kept when something kept needs what it binds."""
    if isinstance(node, ast.Assign | ast.AugAssign):
        return True
    if isinstance(node, ast.AnnAssign):
        return node.value is not None
    if isinstance(node, ast.If | ast.Try):
        body = [*node.body, *node.orelse,
                *(s for h in getattr(node, "handlers", []) for s in h.body)]
        return all(_definition(s) or _assignment(s) or isinstance(s, ast.Pass) for s in body)
    return False


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _scope(nodes: list[ast.AST]) -> tuple[set[str], set[str], set[str], set[str]]:
    """(names read here, names read by nested scopes from outside them, names bound here,
    names declared global or nonlocal) of the code in one scope."""
    reads: set[str] = set()
    nested: set[str] = set()
    stores: set[str] = set()
    declared: set[str] = set()
    stack = list(nodes)
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Name):
            (reads if isinstance(n.ctx, ast.Load) else stores).add(n.id)
        elif isinstance(n, ast.Global | ast.Nonlocal):
            declared |= set(n.names)
        elif isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            stores.add(n.name)
            nested |= _free(n)
        elif isinstance(n, (ast.Lambda, *_COMPREHENSIONS)):
            nested |= _free(n)
        else:
            if isinstance(n, ast.Import | ast.ImportFrom):
                stores |= {(a.asname or a.name).split(".")[0] for a in n.names}
            elif isinstance(n, ast.ExceptHandler) and n.name:
                stores.add(n.name)
            stack.extend(ast.iter_child_nodes(n))
    return reads, nested, stores, declared


def _free(node: ast.AST) -> set[str]:
    """The names a def, class, lambda or comprehension reads from around it: what must be
    defined for it (its parameters and own locals are not)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        a = node.args
        params = {x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs,
                                  *(v for v in (a.vararg, a.kwarg) if v))}
        around: list[ast.AST] = [*a.defaults, *(d for d in a.kw_defaults if d)]
        if not isinstance(node, ast.Lambda):
            around += [*node.decorator_list, *(x.annotation for x in (
                *a.posonlyargs, *a.args, *a.kwonlyargs) if x.annotation)]
            around += [node.returns] if node.returns else []
        body = node.body if isinstance(node.body, list) else [node.body]
        r, n, s, d = _scope(body)
        outer, *_ = _scope(around)
        return outer | ((r | n) - ((s | params) - d))
    if isinstance(node, ast.ClassDef):
        outer, inner, *_ = _scope([*node.decorator_list, *node.bases,
                                   *(k.value for k in node.keywords)])
        r, n, s, d = _scope(node.body)
        return outer | inner | (r - (s - d)) | n  # methods do not see the class's names
    if isinstance(node, _COMPREHENSIONS):
        parts: list[ast.AST] = [g for g in node.generators]
        parts += [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        r, n, s, _ = _scope(parts)
        return (r | n) - s
    r, n, _, _ = _scope([node])
    return r | n


def _facts(node: ast.stmt) -> tuple[set[str], set[str]]:
    """(names the top-level statement binds or changes, names it reads from the notebook's
    globals): a def or class reads what it needs around it, not its own locals; an
    assignment to `w[0]` or `cfg.x` changes `w`/`cfg`."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}, _free(node)
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in node.names}, set()
    reads, nested, stores, _ = _scope([node])
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    for t in targets:
        while isinstance(t, ast.Subscript | ast.Attribute):
            t = t.value
        if isinstance(t, ast.Name):
            stores.add(t.id)
    return stores, reads | nested


@dataclass
class _Stmt:
    cell: int
    node: ast.stmt
    binds: set[str]
    reads: set[str]


def _closure(stmts: list[_Stmt], start: set[str], may_keep: list[bool]) -> set[int]:
    """Indices of the statements that bind a needed name (and may be kept), the names they
    read needed in turn, from the names `start` (a worklist: linear in the names)."""
    binders: dict[str, list[int]] = {}
    for i, s in enumerate(stmts):
        for b in s.binds:
            binders.setdefault(b, []).append(i)
    needed, todo, kept = set(start), list(start), set()
    while todo:
        for i in binders.get(todo.pop(), ()):
            if i in kept or not may_keep[i]:
                continue
            kept.add(i)
            fresh = stmts[i].reads - needed
            needed |= fresh
            todo.extend(fresh)
    return kept


def _consistent(stmts: list[_Stmt], keep: set[int], fixed: set[int]) -> set[int]:
    """`keep` less each statement outside `fixed` that reads a name nothing kept binds (nor
    the builtins), and then whatever read only what those bound."""
    count: dict[str, int] = {}
    readers: dict[str, list[int]] = {}
    for i in keep:
        for b in stmts[i].binds:
            count[b] = count.get(b, 0) + 1
        for r in stmts[i].reads:
            readers.setdefault(r, []).append(i)
    known = set(dir(builtins))
    todo = [i for i in keep - fixed
            if any(r not in known and not count.get(r) for r in stmts[i].reads)]
    keep = set(keep)
    while todo:
        i = todo.pop()
        if i not in keep:
            continue
        keep.discard(i)
        for b in stmts[i].binds:
            count[b] -= 1
            if not count[b] and b not in known:
                todo.extend(j for j in readers.get(b, ()) if j in keep and j not in fixed)
    return keep


def select(cells: list[tuple[int, ast.Module]],
           is_layer: Callable[[str], bool]) -> dict[int, tuple[list[ast.stmt], set[int]]]:
    """{cell number: (kept statements, first lines of the optional ones)} (see the module
    doc). `is_layer(name)`: whether a definition of that name is a layer."""
    stmts = [_Stmt(n, node, *_facts(node)) for n, tree in cells
             for node in tree.body if _definition(node) or _assignment(node)]
    definitions = {i for i, s in enumerate(stmts) if _definition(s.node)}
    layers = {i for i in definitions if any(is_layer(b) for b in stmts[i].binds)
              and not isinstance(stmts[i].node, ast.Import | ast.ImportFrom)}
    # what the layers need, whatever it runs (a failure there is the layers' error)
    start = set().union(*(stmts[i].reads for i in layers))
    essential = _closure(stmts, start, [True] * len(stmts)) | layers
    # what any definition needs, where evaluating it runs nothing (no call)
    reads = set().union(*(stmts[i].reads for i in definitions | essential))
    plain = _closure(stmts, reads, [i in definitions or not _runs_code(s.node)
                                    for i, s in enumerate(stmts)])
    # consistently: an assignment left reading a name nothing kept binds goes too
    keep = _consistent(stmts, definitions | essential | plain, definitions | essential)
    out: dict[int, tuple[list[ast.stmt], set[int]]] = {}
    for i in sorted(keep):
        s = stmts[i]
        nodes, optional = out.setdefault(s.cell, ([], set()))
        nodes.append(s.node)
        if i not in essential:
            optional.add(_first_line(s.node))
    return out


def _first_line(node: ast.stmt) -> int:
    return min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])


def _kept_source(source: str, nodes: list[ast.stmt]) -> str:
    """The cell with every line outside a kept statement blanked."""
    lines = source.splitlines()
    keep = [False] * len(lines)
    for node in nodes:
        for i in range(_first_line(node) - 1, node.end_lineno or node.lineno):
            keep[i] = True
    return "\n".join(line if k else "" for line, k in zip(lines, keep, strict=True)) + "\n"


def read_cells(path: Path, wanted: tuple[str, ...] = (), *,
               is_layer: Callable[[str], bool] | None = None,
               parse: Callable[[str, str], ast.Module] | None = None,
               max_code: int = 512 << 10, max_cells: int = 5000) -> list[Cell]:
    """The notebook's code cells that define or import something, with what runs kept (see
    the module doc).

    A cell that cannot be parsed is skipped unless it mentions one of the `wanted` names
    (then it is the student's layer code, and a `NotebookError` names the cell and line).
    `is_layer`: which definitions are layers (default: the `wanted` names); `parse(source,
    label)`: the parser (a bounded one; default `ast.parse`).
    """
    parse = parse or (lambda source, label: ast.parse(source, filename=label))
    is_layer = is_layer or (lambda name: name in wanted)
    sources: dict[int, str] = {}
    trees: list[tuple[int, ast.Module]] = []
    for number, raw in code_cells(path, max_code, max_cells):
        source = _strip_magics(raw)
        if not source.strip():
            continue
        try:
            tree = parse(source, f"{path.name}, cell {number}")
        except SyntaxError as e:
            if any(w in source for w in wanted):
                raise NotebookError(f"syntax error in {path.name}, cell {number}, line "
                                    f"{e.lineno}: {e.msg}{python2_hint(e)}") from e
            continue
        sources[number] = source
        trees.append((number, tree))
    cells = []
    for number, (nodes, optional) in select(trees, is_layer).items():
        kept = _kept_source(sources[number], nodes)
        cells.append(Cell(number, kept, ast.Module(body=nodes, type_ignores=[]),
                          tuple(sorted(optional))))
    return cells


def cells_module(cells: list[Cell]) -> ast.Module:
    """All kept cells as one module tree (for reading names without running anything)."""
    return ast.Module(body=[s for c in cells for s in c.tree.body], type_ignores=[])
