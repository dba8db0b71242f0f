"""Finding a submission's layer file and reading it without running it (AST only)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from cases.adapters import CLASS_NAMES

# Functional (CS231n-style) names per layer: (forward, backward) pairs, naive first.
FUNCTION_NAMES = {
    "conv": (("conv_forward_naive", "conv_backward_naive"),
             ("conv_forward_fast", "conv_backward_fast")),
    "pool": (("max_pool_forward_naive", "max_pool_backward_naive"),
             ("max_pool_forward_fast", "max_pool_backward_fast")),
    "affine": (("affine_forward", "affine_backward"),),
    "relu": (("relu_forward", "relu_backward"),),
    "softmax": (("softmax_loss", None),),
}
LAYER_NAMES = (*CLASS_NAMES.values(),
               *(n for pairs in FUNCTION_NAMES.values() for pair in pairs for n in pair if n))
FORBIDDEN = ("torch", "tensorflow", "jax", "keras", "mxnet", "paddle", "cupy")
SKIP_DIRS = {"__pycache__", ".git", ".venv", "venv", "node_modules"}


class LoadError(Exception):
    """The submission cannot be loaded at all (no file, syntax error, ...)."""


@dataclass
class Submission:
    """A student's layer file, the folder its imports resolve from, and what it defines."""

    path: Path
    root: Path
    api: str
    names: set[str] = field(default_factory=set)
    forbidden_imports: list[str] = field(default_factory=list)
    accepts: dict[str, set[str]] = field(default_factory=dict)  # class -> __init__ params

    def layers(self) -> list[str]:
        """Layers the file defines in its API (by name, as read from the source)."""
        if self.api == "class":
            return [k for k, v in CLASS_NAMES.items() if v in self.names]
        return [k for k, pairs in FUNCTION_NAMES.items() if pairs[0][0] in self.names]


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


def parse(path: Path) -> ast.Module:
    """The file's syntax tree; `LoadError` with the line for a syntax error."""
    try:
        source = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise LoadError(f"cannot read {path}: {e.strerror}") from e
    try:
        return ast.parse(source, filename=str(path))
    except SyntaxError as e:
        raise LoadError(f"syntax error in {path.name} line {e.lineno}: {e.msg}") from e


def detect_api(names: set[str]) -> str | None:
    """'class' or 'functional' from the names defined, or None when neither matches."""
    n_class = sum(v in names for v in CLASS_NAMES.values())
    n_func = sum(pairs[0][0] in names for pairs in FUNCTION_NAMES.values())
    if not (n_class or n_func):
        return None
    return "class" if n_class >= n_func else "functional"


def _candidates(folder: Path) -> list[Path]:
    files = []
    for p in sorted(folder.rglob("*.py")):
        if not SKIP_DIRS & set(p.relative_to(folder).parts):
            files.append(p)
    return files


def find_layer_file(folder: Path) -> Path:
    """The file in a submission folder that defines the most layer names."""
    best, best_n = None, 0
    for p in _candidates(folder):
        try:
            names = defined_names(parse(p))
        except LoadError:
            continue
        n = sum(v in names for v in CLASS_NAMES.values()) + sum(
            pairs[0][0] in names for pairs in FUNCTION_NAMES.values())
        if n > best_n:
            best, best_n = p, n
    if best is None:
        raise LoadError(f"no file in {folder} defines any layer "
                        f"({', '.join(CLASS_NAMES.values())} or conv_forward_naive, ...)")
    return best


def scan_forbidden(files: list[Path]) -> list[str]:
    """'file: imports torch' for each forbidden framework imported in the files."""
    found = []
    for p in files:
        try:
            mods = imported_modules(parse(p))
        except LoadError:
            continue
        found += [f"{p.name} imports {m}" for m in sorted(mods & set(FORBIDDEN))]
    return found


def _star_names(tree: ast.Module, root: Path, seen: set[Path] | None = None) -> set[str]:
    """Names a `from sibling import *` brings in from the student's own modules (chained)."""
    names: set[str] = set()
    seen = set() if seen is None else seen
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and any(
                a.name == "*" for a in node.names):
            f = root.joinpath(*node.module.split(".")).with_suffix(".py")
            if f.is_file() and f not in seen:
                seen.add(f)
                sub = parse(f)
                names |= defined_names(sub) | _star_names(sub, root, seen)
    return names


def _local_imports(path: Path, root: Path) -> list[Path]:
    """The student's own modules that `path` imports (root/pkg/** or root/mod.py)."""
    files: list[Path] = []
    for m in imported_modules(parse(path)):
        if (root / m).is_dir():
            files += _candidates(root / m)
        elif (root / f"{m}.py").is_file():
            files.append(root / f"{m}.py")
    return files


def load(target: str | Path, api: str | None = None) -> Submission:
    """Read a submission (a file, or a folder holding one) without executing it."""
    target = Path(target)
    if not target.exists():
        raise LoadError(f"{target}: no such file or folder")
    if target.is_dir():
        path, root = find_layer_file(target), target
    else:
        path, root = target, target.parent
    if path.suffix != ".py":
        raise LoadError(f"{path}: not a Python file")
    tree = parse(path)
    names = defined_names(tree) | _star_names(tree, root)
    found = api or detect_api(names)
    if found is None:
        raise LoadError(f"{path.name} defines no layer: expected the notes' classes "
                        f"({', '.join(CLASS_NAMES.values())}) or CS231n functions "
                        f"(conv_forward_naive, max_pool_forward_naive, affine_forward, ...)")
    siblings = _candidates(root) if target.is_dir() else [path, *_local_imports(path, root)]
    return Submission(path.resolve(), root.resolve(), found, names, scan_forbidden(siblings),
                      init_params(tree))
