"""The import contract: imports between the package's folders run one way, with no circles.

    reports -> reference -> cases        impl alone (only reports imports it)

Every import of ours counts, at module level or inside a function: a function-level import
hides a tie from the reader, not from this test. The package is `layercheck` only: no module
imports `impl`, `cases`, `reference` or `reports` as top-level names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("impl", "cases", "reference", "reports")
# folder -> the folders it may import (besides itself)
ALLOWED = {"impl": set(), "cases": set(), "reference": {"cases"},
           "reports": {"reference", "cases", "impl"}}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    return ".".join(("layercheck", *parts))


def package_modules() -> dict[str, Path]:
    """Every module of the package, by dotted name (stand-ins are the sandbox's, not ours)."""
    files = [ROOT / "__init__.py"]
    for folder in FOLDERS:
        files += [p for p in (ROOT / folder).rglob("*.py") if "standins" not in p.parts]
    return {module_name(p): p for p in files}


def imports_of(source: str, name: str) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the source, resolved to dotted names."""
    out = []
    package = name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base]) if base else ".".join(up)
            out.append((base, node.lineno))
            out += [(f"{base}.{a.name}", node.lineno) for a in node.names]
    return out


def folder_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "layercheck":
        return parts[0] if parts[0] in FOLDERS else None
    return parts[1] if len(parts) > 1 and parts[1] in FOLDERS else "layercheck"


def violations(source: str, name: str) -> list[str]:
    """What breaks the contract in one module's source."""
    here = folder_of(name)
    bad = []
    for target, line in imports_of(source, name):
        top = target.split(".")[0]
        if top in FOLDERS:
            bad.append(f"{name}:{line} imports {target!r}: import it as layercheck.{target}")
            continue
        there = folder_of(target)
        if top != "layercheck" or there in (None, here):
            continue
        if there == "layercheck" or here == "layercheck":
            continue  # the package root imports its API lazily; `from layercheck import x`
        if there not in ALLOWED[here]:
            bad.append(f"{name}:{line} imports {target} ({here}/ -> {there}/ runs back up)")
    return bad


def graph() -> dict[str, set[str]]:
    """module -> the package's modules it imports (anywhere in its source)."""
    mods = package_modules()
    edges: dict[str, set[str]] = {}
    for name, path in mods.items():
        targets = {t for t, _ in imports_of(path.read_text(), name)}
        edges[name] = {t for t in targets if t in mods and t != name}
    return edges


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_imports_between_folders_run_one_way() -> None:
    bad = [v for name, path in package_modules().items()
           for v in violations(path.read_text(), name)]
    assert not bad, "imports against the contract:\n" + "\n".join(bad)


def test_the_package_has_no_import_circles() -> None:
    found = circles(graph())
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


@pytest.mark.parametrize(("name", "source", "word"), [
    ("layercheck.cases.inputs", "from layercheck.reference.oracle import reference\n",
     "runs back up"),
    ("layercheck.cases.inputs", "def f():\n    import layercheck.reports.cli\n", "runs back up"),
    ("layercheck.reference.compare", "from layercheck.reports import render\n", "runs back up"),
    ("layercheck.impl.conv", "from layercheck.cases.case import Case\n", "runs back up"),
    ("layercheck.reference.compare", "from layercheck import impl\n", "runs back up"),
    ("layercheck.reports.cli", "from cases.case import Case\n", "layercheck.cases"),
])
def test_the_contract_check_catches_a_back_arrow(name: str, source: str, word: str) -> None:
    found = violations(source, name)
    assert found and word in found[0], f"{name}: {source!r} should break the contract: {found}"


def test_allowed_imports_pass_the_contract_check() -> None:
    assert violations("from layercheck.cases.case import Case\n",
                      "layercheck.reference.compare") == []
    assert violations("from layercheck import impl\nfrom ..reference import bounds\n",
                      "layercheck.reports.bench") == []


def test_the_circle_check_finds_a_circle() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_every_subpackage_on_disk_is_listed_in_pyproject() -> None:
    """A folder of modules missing from the list would be missing from the wheel."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())
                 ["tool"]["setuptools"]["packages"])
    on_disk = {module_name(p) for p in package_modules().values() if p.name == "__init__.py"}
    assert on_disk == listed, f"not listed: {on_disk - listed}; listed, absent: {listed - on_disk}"
